"""``campaign-bot timeline`` and ``campaign-bot compare``, run through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from bot.cli import app
from tests.support import act, flow, ingest, kpis, msg, timeline


@pytest.fixture
def run(sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    env = {
        "DATABASE_URL": sqlite_engine.url.render_as_string(hide_password=False),
        "REPORT_TIMEZONE": "Asia/Kolkata",
    }
    ingest(
        sqlite_engine,
        flow(),
        msg("m1", "u1", "whatsapp", "read", at="2026-11-01T03:35:00Z"),  # 09:05 IST
        msg("m2", "u2", "sms", "failed", at="2026-11-01T05:40:00Z"),  # 11:10 IST
        act("click", "u1", "whatsapp", at="2026-11-01T03:50:00Z"),
        flow(workflow_id="wf_43", name="New year teaser"),
        msg("n1", "u9", "sms", "sent", workflow_id="wf_43"),
    )
    return lambda *args: CliRunner().invoke(app, list(args), env=env)


def test_timeline_json_is_the_contract_json(run, sqlite_engine: Engine) -> None:
    result = run("timeline", "Diwali offers", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    expected = timeline(sqlite_engine, zone="Asia/Kolkata")
    assert data | {"generated_at": ""} == expected | {"generated_at": ""}
    assert [(p["start"], p["sent"], p["failed"], p["clicks"]) for p in data["series"]] == [
        ("2026-11-01T09:00:00+05:30", 1, 0, 1),
        ("2026-11-01T10:00:00+05:30", 0, 0, 0),
        ("2026-11-01T11:00:00+05:30", 0, 1, 0),
    ]


def test_timeline_table_per_day_for_one_channel(run) -> None:
    result = run("timeline", "wf_42", "--bucket", "day", "--channel", "WhatsApp")
    assert result.exit_code == 0, result.output
    assert "per day in Asia/Kolkata" in result.stdout and "channel whatsapp" in result.stdout
    assert "Sun 1 Nov 2026" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["timeline", "wf_42", "--bucket", "week"], "--bucket: 'week' is not a bucket"),
        (["timeline", "wf_42", "--channel", "fax"], "has no channel 'fax'"),
        (["compare", "wf_42"], "compare 2 to 5 flows, not 1"),
        (["compare", "wf_42", "Diwali offers"], "'Diwali offers' is named twice"),
        (["compare", "wf_42", "wf_99"], "No flow matches 'wf_99'"),
    ],
)
def test_failures_are_one_line_and_non_zero(run, args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_compare_json_holds_each_flows_kpi_json(run, sqlite_engine: Engine) -> None:
    result = run("compare", "wf_42", "New year teaser", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data) == ["flows", "generated_at"]
    expected = [kpis(sqlite_engine, "wf_42"), kpis(sqlite_engine, "wf_43")]
    strip = {"generated_at": ""}
    assert [f | strip for f in data["flows"]] == [e | strip for e in expected]
    assert data["flows"][0]["rates"]["failure_rate"] == 50.0


def test_compare_table_shows_differences_to_the_first_flow(run) -> None:
    result = run("compare", "wf_42", "wf_43")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if "Failure rate" in line)
    assert "50.0%" in line and "0.0% (−50.0 pp)" in line


def test_timeline_and_compare_never_create_an_empty_store(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    env = {"DATABASE_URL": f"sqlite:///{missing}"}
    for args in (["timeline", "wf_42"], ["compare", "wf_42", "wf_43"]):
        result = CliRunner().invoke(app, args, env=env)
        assert result.exit_code == 1 and "no store at" in result.stderr
    assert not missing.exists()
