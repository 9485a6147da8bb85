"""SIGKILL between an alert's transition and its post, then a restart: exactly one message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from store.alerts import create_alert
from store.models import AlertEvent, AlertState, Delivery, Flow, utcnow
from tests.fakes.slack_api import run_fake_slack
from tests.slack.conftest import grant
from tests.support import flow, ingest, msg

HANG_S = 6  # conversations.open is held this long: the process is killed meanwhile


def _serve(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [str(Path(sys.executable).with_name("campaign-bot")), "serve", "--port", "0"]
    with log.open("ab") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _rows(engine: Engine, model: Any) -> list[Any]:
    with Session(engine) as session:
        return list(session.exec(select(model)))


def test_sigkill_after_the_transition_then_restart_posts_the_alert_once(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    ingest(
        sqlite_engine,
        flow(status="live"),
        *[msg(f"m-{n}", f"+91{n:05d}", "whatsapp", "failed" if n < 30 else "read") for n in range(120)],
    )  # fmt: skip
    grant(sqlite_engine)
    with Session(sqlite_engine) as session:
        wf_42 = session.exec(select(Flow)).one()
        create_alert(
            session, team_id="T0TEST", created_by="U0ALICE", flow_id=wf_42.id,
            metric="failure_rate", op=">", threshold=10, min_notifications=100,
            recipients=["slack_user:U0ALICE"], now=utcnow(),
        )  # fmt: skip
    with run_fake_slack() as fake:
        fake.hang("conversations.open", HANG_S)  # the first DM: the post never happens
        env = os.environ | {
            "DATABASE_URL": sqlite_engine.url.render_as_string(hide_password=False),
            "SLACK_BOT_TOKEN": fake.token,
            "SLACK_SIGNING_SECRET": "test-signing-secret",
            "SLACK_API_URL": fake.api_url,
            "REPORTS_DIR": str(tmp_path / "reports"),
            "ALERT_INTERVAL": "1",
        }
        log = tmp_path / "serve.log"
        first = _serve(env, log)
        try:
            _wait(
                lambda: [d.state for d in _rows(sqlite_engine, Delivery)] == ["sending"],
                "the alert's delivery to be claimed",
            )
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            first.kill()
        [state] = _rows(sqlite_engine, AlertState)
        assert (state.state, state.transitions, state.value) == ("firing", 1, 25.0)
        assert [e.id for e in _rows(sqlite_engine, AlertEvent)] == ["1.1.1"]
        assert fake.calls_to("chat.postMessage") == []

        checks_before = log.read_text().count("alert check:")
        second = _serve(env, log)
        try:
            [post] = fake.wait_for("chat.postMessage", timeout=60)
            _wait(lambda: log.read_text().count("alert check:") >= checks_before + 1, "checks")
            _wait(lambda: [d.state for d in _rows(sqlite_engine, Delivery)] == ["sent"], "sent")
        finally:
            second.terminate()
            second.wait(10)
    assert post.data["channel"] == "DU0ALICE"
    assert post.data["blocks"][0]["text"]["text"] == "🚨 Alert: Diwali offers"
    assert len(fake.calls_to("chat.postMessage")) == 1
    assert [e.id for e in _rows(sqlite_engine, AlertEvent)] == ["1.1.1"]
    [state] = _rows(sqlite_engine, AlertState)
    assert (state.state, state.transitions) == ("firing", 1)
