"""The ``campaign-bot`` command line, run as a user runs it: a subprocess on a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import act, flow, msg

CLI = str(Path(sys.executable).with_name("campaign-bot"))


def run(tmp_path: Path, *args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DATABASE_URL": url or f"sqlite:///{tmp_path}/cli.db", "COLUMNS": "160"}
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )


@pytest.fixture
def loaded(tmp_path: Path) -> Path:
    events = [
        flow(channels=["whatsapp", "sms"], audience=10),
        flow(workflow_id="wf_43", name="Diwali reminders", status="completed"),
        flow(workflow_id="wf_44", name="Diwali drafts", status="draft"),
        flow(bot_id="b2", workflow_id="wf_42", name="Other bot's flow"),
        msg("m1", "+919800000001", "whatsapp", "read"),
        msg(
            "m2", "+919800000002", "sms", "failed", error_code="30007", comments="Carrier filtered"
        ),
        act("click", "+919800000001", "whatsapp"),
    ]
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    result = run(tmp_path, "import", str(path))
    assert result.returncode == 0, result.stderr
    return tmp_path


def test_kpis_json_is_the_contract_json(loaded: Path) -> None:
    result = run(loaded, "kpis", "b1/wf_42", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["flow"]["name"] == "Diwali offers"
    assert data["overview"]["engagement_channels"] == ["sms", "whatsapp"]
    assert data["analysis"] == {"audience": 10, "impressions": 1, "delivery_rate": 50.0,
                                "reach": 1, "engagement": 1}  # fmt: skip
    sms = next(row for row in data["channels"] if row["channel"] == "sms")
    assert sms["failure_reasons"] == [{"reason": "30007 Carrier filtered", "count": 1}]
    assert (sms["delivered"], sms["read"]) == (None, None)


def test_kpis_by_name_any_case_with_channel_filter(loaded: Path) -> None:
    result = run(loaded, "kpis", "DIWALI OFFERS", "--channel", "WhatsApp", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["channel"], data["analysis"]["impressions"]) == ("whatsapp", 1)


def test_kpis_table_shows_sections(loaded: Path) -> None:
    result = run(loaded, "kpis", "Diwali offers")
    assert result.returncode == 0, result.stderr
    for text in ("User engagement overview", "User engagement analysis", "Flow users",
                 "Channel statistics", "50.0% delivery rate", "30007 Carrier filtered"):  # fmt: skip
        assert text in result.stdout


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("diwli ofers", "No flow matches 'diwli ofers'. Did you mean: Diwali offers (wf_42)"),
        ("wf_42", "'wf_42' matches 2 flows: b1/wf_42 (Diwali offers), b2/wf_42"),
        ("Diwali drafts", "'Diwali drafts' is draft: reports exist only for scheduled"),
    ],
)
def test_kpis_bad_flow_exits_nonzero_with_one_line(loaded: Path, query: str, message: str) -> None:
    result = run(loaded, "kpis", query)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {message}")
    assert result.stderr.count("\n") == 1


def test_kpis_unknown_channel_lists_the_flows_channels(loaded: Path) -> None:
    result = run(loaded, "kpis", "b1/wf_42", "--channel", "fax")
    assert result.returncode == 1
    assert "has no channel 'fax'; its channels: sms, whatsapp" in result.stderr


def test_import_bad_file_exits_nonzero_and_names_line(loaded: Path) -> None:
    path = loaded / "bad.ndjson"
    path.write_text(json.dumps(msg("m9", "u9", "sms", "sent", at="later")) + "\n")
    result = run(loaded, "import", str(path))
    assert result.returncode == 1
    assert "bad.ndjson:1: at: expected an ISO 8601 time" in result.stderr
    assert "1 of 1 file(s) had errors and were not imported" in result.stderr


def test_import_missing_file(tmp_path: Path) -> None:
    result = run(tmp_path, "import", "nope.ndjson")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: nope.ndjson: no such file"


def test_demo_loads_once_and_prints_the_demo_flow(tmp_path: Path) -> None:
    first = run(tmp_path, "demo", "--messages", "300")
    assert first.returncode == 0, first.stderr
    assert "Diwali offers" in first.stdout
    assert "User engagement overview" in first.stdout
    before = json.loads(run(tmp_path, "kpis", "wf_42", "--json").stdout)
    again = run(tmp_path, "demo", "--messages", "300")
    assert again.returncode == 0, again.stderr
    assert "1,811 already loaded" in again.stderr
    kpis_json = json.loads(run(tmp_path, "kpis", "wf_42", "--json").stdout)
    assert {**kpis_json, "generated_at": None} == {**before, "generated_at": None}
    assert sorted(kpis_json["overview"]["engagement_channels"]) == [
        "email", "push", "sms", "voice", "whatsapp"
    ]  # fmt: skip
    assert kpis_json["channels"][0]["channel"] == "whatsapp"
    assert kpis_json["overview"]["number_of_events"] > 300


def test_bad_setting_stops_with_its_name(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("REPORT_TIMEZONE=Mars/Olympus\n")
    result = run(tmp_path, "kpis", "x")
    assert result.returncode == 1
    assert "REPORT_TIMEZONE: unknown time zone 'Mars/Olympus'" in result.stderr


def test_workspace_grant_needs_a_known_bot(loaded: Path) -> None:
    assert run(loaded, "workspace", "grant", "T0TEST1", "b1").returncode == 0
    result = run(loaded, "workspace", "grant", "T0TEST1", "nobody")
    assert result.returncode == 1
    assert "unknown bot 'nobody'" in result.stderr
