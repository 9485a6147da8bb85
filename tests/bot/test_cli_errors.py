"""Failures a user can cause get one line on stderr, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bot.test_cli import run
from tests.support import flow, msg


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("notaurl", "error: DATABASE_URL: Could not parse SQLAlchemy URL"),
        ("mysql://u@localhost/db", "error: DATABASE_URL: expected a sqlite:/// or postgresql://"),
    ],
)
def test_bad_database_url_is_named(tmp_path: Path, url: str, message: str) -> None:
    result = run(tmp_path, "kpis", "x", url=url)
    assert result.returncode == 1
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.stderr


def test_markup_like_data_prints_as_written(tmp_path: Path) -> None:
    events = [
        flow(goal="[/bold] x"),
        msg("m1", "u1", "sms", "failed", comments="[/] closing [link=https://evil]tag"),
    ]
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    assert run(tmp_path, "import", str(path)).returncode == 0
    result = run(tmp_path, "kpis", "wf_42")
    assert result.returncode == 0, result.stderr
    assert "[/] closing [link=https://evil]tag" in result.stdout
    assert "([/bold] x)" in result.stdout


def test_workspace_grant_checks_the_team_id(tmp_path: Path) -> None:
    result = run(tmp_path, "workspace", "grant", "not a team" * 5, "b1")
    assert result.returncode == 1
    assert result.stderr.startswith("error: TEAM_ID: 'not a teamnot a team")
