"""SIGKILL while deliveries are pending, then a restart: every email arrives exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from store.requests import Recipient
from tests.scheduler.conftest import deliveries, load_flow, request_report
from tests.scheduler.smtp import Mailbox, smtp_server

RECIPIENTS = 6
KILL_ON = 3  # the process dies while the mail server holds the 3rd message


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


def _count(engine: Engine, state: str) -> int:
    return sum(d.state == state for d in deliveries(engine))


def test_sigkill_mid_batch_then_restart_delivers_each_once(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_flow(sqlite_engine)
    for n in range(RECIPIENTS):
        request_report(sqlite_engine, Recipient("email", f"user{n}@partner.example"), f"U0USER{n}")
    holding = threading.Event()
    release = threading.Event()
    arrivals = {"count": 0}

    async def hold_third(session: Any) -> bool:
        arrivals["count"] += 1
        if arrivals["count"] == KILL_ON:
            holding.set()
            while not release.is_set():  # the client's death cancels this wait
                await asyncio.sleep(0.02)
        return True

    with smtp_server(mailbox=Mailbox(before_accept=hold_third)) as box:
        env = os.environ | {
            "DATABASE_URL": sqlite_engine.url.render_as_string(hide_password=False),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(box.port),
            "MAIL_FROM": "Campaign reports <reports@acme.example>",
            "REPORTS_DIR": str(tmp_path / "reports"),
            "SECRET_KEY": "test-secret-key",
            "SLACK_BOT_TOKEN": "",
            "ALLOWED_EMAIL_DOMAINS": "partner.example",
        }
        log = tmp_path / "serve.log"
        first = _serve(env, log)
        try:
            assert holding.wait(60), log.read_text()
            # Recipients are sent to a few at once: the others go through (and are recorded)
            # while the server holds the 3rd.
            box.wait_for(RECIPIENTS - 1)
            _wait(lambda: _count(sqlite_engine, "sent") == RECIPIENTS - 1, "the others sent")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            release.set()
            first.kill()
        states = sorted(d.state for d in deliveries(sqlite_engine))
        # The one cut off mid-send is still claimed ("sending"): the next leader sends it.
        assert states == ["sending"] + ["sent"] * (RECIPIENTS - 1)
        assert len(box.messages) == RECIPIENTS - 1

        second = _serve(env, log)
        try:
            box.wait_for(RECIPIENTS, timeout=60)
            _wait(lambda: all(d.state == "sent" for d in deliveries(sqlite_engine)), "all sent")
        finally:
            second.terminate()
            second.wait(10)
    recipients = sorted(to for _, [to] in box.envelopes)
    assert recipients == sorted(f"user{n}@partner.example" for n in range(RECIPIENTS))
    ids = [m["Message-ID"] for m in box.messages]
    assert len(set(ids)) == RECIPIENTS
    assert all(d.sent_at is not None for d in deliveries(sqlite_engine))
