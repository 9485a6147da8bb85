"""The command line and the store: a read command never creates one, a file that is not a
store is one line, and ``--version`` / ``-h`` (issue 10, #17).

Run in-process (``typer.testing.CliRunner``: the same app the console script runs, without
an interpreter start per command); ``tests/bot/test_cli.py`` runs the real console script.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from bot.cli import app


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's, and ./var is the test's


def run(tmp_path: Path, *args: str, url: str | None = None) -> Result:
    env = {"DATABASE_URL": url or f"sqlite:///{tmp_path}/cli.db", "COLUMNS": "160"}
    return CliRunner().invoke(app, list(args), env=env, prog_name="campaign-bot")


READERS = [["kpis", "wf_42"], ["kpis", "wf_42", "--json"], ["export", "wf_42"]]


@pytest.mark.parametrize("args", READERS, ids=lambda a: " ".join(a))
def test_a_read_command_on_a_missing_store_says_so_and_creates_nothing(
    tmp_path: Path, args: list[str]
) -> None:
    store = tmp_path / "var" / "missing.db"
    result = run(tmp_path, *args, url=f"sqlite:///{store}")
    assert result.exit_code == 1
    assert result.stderr == f"error: no store at {store} (run `campaign-bot demo` or `import`)\n"
    assert not store.exists() and not store.parent.exists()


@pytest.mark.parametrize(
    "args", [["db", "upgrade"], ["api-key", "create", "b1"]], ids=lambda a: " ".join(a)
)
def test_a_command_that_writes_creates_the_store(tmp_path: Path, args: list[str]) -> None:
    store = tmp_path / "var" / "new.db"
    result = run(tmp_path, *args, url=f"sqlite:///{store}")
    assert result.exit_code == 0, result.output
    assert store.is_file()
    kpis = run(tmp_path, "kpis", "wf_42", url=f"sqlite:///{store}")
    assert (kpis.exit_code, kpis.stderr.splitlines()[0]) == (1, "error: No flow matches 'wf_42'.")


@pytest.mark.parametrize(
    "args",
    [["kpis", "wf_42"], ["db", "upgrade"], ["workspace", "grant", "T0X", "b1"]],
    ids=lambda a: " ".join(a),
)
def test_a_database_url_at_a_file_that_is_not_sqlite_is_one_line(
    tmp_path: Path, args: list[str]
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list\n" * 200)
    result = run(tmp_path, *args, url=f"sqlite:///{notes}")
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: DATABASE_URL: {notes} is not a SQLite database (file is not a database)\n"
    )
    assert notes.read_text() == "shopping list\n" * 200


def test_version_and_short_help(tmp_path: Path) -> None:
    shown = run(tmp_path, "--version")
    assert (shown.exit_code, shown.stdout) == (
        0,
        f"campaign-bot {version('campaign-report-bot')}\n",
    )
    for args in (["-h"], ["--help"], ["kpis", "-h"], ["db", "-h"]):
        helped = run(tmp_path, *args)
        assert helped.exit_code == 0, (args, helped.stderr)
        assert "Usage: campaign-bot" in helped.stdout
    assert "--version" in run(tmp_path, "-h").stdout
    assert not (tmp_path / "cli.db").exists()  # neither touches the store
