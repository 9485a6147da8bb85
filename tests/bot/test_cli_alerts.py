"""``campaign-bot alerts list`` and ``campaign-bot alerts check``, run through the CLI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner, Result

from bot.cli import app
from store.alerts import create_alert
from store.models import Flow, utcnow
from tests.fakes.slack_api import FakeSlack, run_fake_slack
from tests.slack.conftest import grant
from tests.support import flow, ingest, msg


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with run_fake_slack() as stand_in:
        yield stand_in


@pytest.fixture
def run(
    sqlite_engine: Engine, tmp_path: Path, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    monkeypatch.chdir(tmp_path)
    env = {
        "DATABASE_URL": sqlite_engine.url.render_as_string(hide_password=False),
        "SLACK_BOT_TOKEN": fake.token,
        "SLACK_API_URL": fake.api_url,
        "COLUMNS": "250",  # one table row per line
    }
    statuses = ["failed"] * 30 + ["read"] * 90
    ingest(
        sqlite_engine,
        flow(status="live"),
        *[msg(f"m-{n}", f"+91{n:05d}", "whatsapp", s, error_code="131049" if s == "failed" else None) for n, s in enumerate(statuses)],
    )  # fmt: skip
    grant(sqlite_engine)
    with Session(sqlite_engine) as session:
        wf_42 = session.exec(select(Flow)).one()
        create_alert(
            session, team_id="T0TEST", created_by="U0ALICE", flow_id=wf_42.id,
            metric="failure_rate", op=">", threshold=10, min_notifications=100,
            recipients=["slack_channel:C0OPS"], now=utcnow(),
        )  # fmt: skip
    return lambda *args: CliRunner().invoke(app, list(args), env=env)


def test_check_judges_prints_and_sends_then_stays_quiet(run, fake: FakeSlack) -> None:
    listed = run("alerts", "list")
    assert listed.exit_code == 0, listed.output
    assert "failure_rate > 10% (min 100 notifications)" in listed.stdout
    assert "not judged yet" in listed.stdout

    checked = run("alerts", "check")
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.splitlines() == [
        "#1 Diwali offers (b1/wf_42): failure_rate > 10% (min 100 notifications): value 25.0%, "
        "120 notifications → firing (was ok); firing message 1.1.1 queued for 1 recipient",
        "1.1.1 slack_channel C0OPS: sent",
    ]
    [post] = fake.calls_to("chat.postMessage")
    assert post.data["channel"] == "C0OPS"

    again = run("alerts", "check")
    assert again.stdout.splitlines() == [
        "#1 Diwali offers (b1/wf_42): failure_rate > 10% (min 100 notifications): value 25.0%, "
        "120 notifications → firing; no change: no message"
    ]
    assert len(fake.calls_to("chat.postMessage")) == 1

    listed = run("alerts", "list")
    row = next(line for line in listed.stdout.splitlines() if "T0TEST" in line)
    assert "slack_channel:C0OPS" in row
    assert "Diwali offers (b1/wf_42): firing at 25.0%, since " in row


def test_a_message_slack_refuses_makes_check_fail_with_the_reason(run, fake: FakeSlack) -> None:
    fake.fail("chat.postMessage", "channel_not_found")
    checked = run("alerts", "check")
    assert checked.exit_code == 1
    assert (
        "1.1.1 slack_channel C0OPS: failed (Slack refused chat.postMessage: channel_not_found)"
        in checked.stdout
    )
    assert "error: 1 alert message(s) could not be delivered" in checked.stderr
