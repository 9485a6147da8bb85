"""DELIVERY_REPORTING_CHANNELS from the command line: refused until the rollups are rebuilt."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from tests.support import flow, msg

EVENTS = [
    flow(channels=["whatsapp", "sms"]),
    msg("w1", "+919800000001", "whatsapp", "sent"),
    msg("s1", "+919800000002", "sms", "delivered"),
    msg("s2", "+919800000003", "sms", "sent"),
]


def run(tmp_path: Path, *args: str, channels: str | None = None) -> tuple[int, str, str]:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "DELIVERY_REPORTING_CHANNELS": channels}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def kpis(tmp_path: Path, channels: str | None) -> dict:
    code, stdout, stderr = run(tmp_path, "kpis", "wf_42", "--json", channels=channels)
    assert code == 0, stderr
    return json.loads(stdout)


def test_a_changed_set_is_refused_until_the_rollups_are_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    assert run(tmp_path, "import", str(path))[0] == 0
    before = kpis(tmp_path, None)
    sms = next(r for r in before["channels"] if r["channel"] == "sms")
    assert (sms["delivered"], sms["read"], before["analysis"]["impressions"]) == (None, None, 2)

    code, _, stderr = run(tmp_path, "kpis", "wf_42", channels="sms, WhatsApp")
    assert code == 1
    assert stderr.strip() == (
        "error: DELIVERY_REPORTING_CHANNELS is 'sms,whatsapp' but the store's impressions and "
        "reach were counted for 'whatsapp': run `campaign-bot db rebuild-rollups` (or set it back)"
    )
    code, stdout, stderr = run(tmp_path, "db", "rebuild-rollups", channels="sms,whatsapp")
    assert code == 0, stderr
    assert stdout.strip() == (
        "Rollups rebuilt over 3 messages: delivery-reporting channels whatsapp → sms,whatsapp."
    )
    after = kpis(tmp_path, "sms,whatsapp")
    sms = next(r for r in after["channels"] if r["channel"] == "sms")
    assert (sms["delivered"], sms["read"]) == (1, 0)
    assert after["analysis"] | {"audience": None} == {
        "audience": None, "impressions": 1, "delivery_rate": 33.3, "reach": 1, "engagement": 0,
    }  # fmt: skip
    assert run(tmp_path, "kpis", "wf_42")[0] == 1  # the old setting is now the stale one


def test_an_empty_store_takes_the_set_at_once(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    code, _, stderr = run(tmp_path, "import", str(path), channels="sms,whatsapp")
    assert code == 0, stderr
    report = kpis(tmp_path, "sms,whatsapp")
    assert report["analysis"]["impressions"] == 1
    assert next(r for r in report["channels"] if r["channel"] == "sms")["delivered"] == 1


def test_a_malformed_set_is_named(tmp_path: Path) -> None:
    code, _, stderr = run(tmp_path, "kpis", "wf_42", channels="sms,what's app")
    assert code == 1
    assert stderr.startswith("error: bad setting(s): DELIVERY_REPORTING_CHANNELS: invalid source")
