"""One slow recipient or server never holds up another: lanes, timeouts, parallel sends."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import Engine

from bot.wiring import build_runtime, smtp_config
from scheduler.outbox import run_outbox_once
from store.requests import Recipient
from tests.fakes.slack_api import run_fake_slack
from tests.scheduler.conftest import FAST_RETRY, deliveries, load_flow, make_settings
from tests.scheduler.conftest import request_report as queue
from tests.scheduler.smtp import Mailbox, smtp_server

EMAILS = 6


@dataclasses.dataclass
class HungServer:
    """A TCP server that accepts connections and never says a word (no SMTP greeting)."""

    port: int
    accepted: list[float]  # perf_counter() of each connection
    closed: list[float]  # perf_counter() when the client gave up on it


@contextmanager
def hung_smtp_server() -> Iterator[HungServer]:
    listener = socket.create_server(("127.0.0.1", 0))
    server = HungServer(listener.getsockname()[1], [], [])
    stop = threading.Event()

    def hold(conn: socket.socket) -> None:
        with conn:
            while not stop.is_set():
                try:
                    if conn.recv(1024) == b"":  # the client closed it
                        server.closed.append(time.perf_counter())
                        return
                except TimeoutError:
                    continue
                except OSError:
                    return

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            server.accepted.append(time.perf_counter())
            conn.settimeout(0.1)
            threading.Thread(target=hold, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _runtime(engine: Engine, tmp_path: Path, port: int, client: Any = None, **smtp: Any):  # type: ignore[no-untyped-def]
    settings = make_settings(engine, tmp_path, SMTP_PORT=port)
    config = dataclasses.replace(smtp_config(settings), **smtp)
    runtime = build_runtime(settings, engine, client, retry=FAST_RETRY, smtp=config)
    runtime.parallel_sends = 2
    return runtime


async def test_a_hung_mail_server_delays_no_slack_dm_and_its_emails_are_retried(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_flow(sqlite_engine)
    # The emails are older: a runner sending in order would reach the DM after all of them.
    for n in range(EMAILS):
        queue(sqlite_engine, Recipient("email", f"user{n}@partner.example"), f"U0USER{n}")
    queue(sqlite_engine, Recipient("slack_user", "U0ALICE"))
    with run_fake_slack() as fake, hung_smtp_server() as hung:
        client = AsyncWebClient(token=fake.token, base_url=fake.api_url)
        runtime = _runtime(
            sqlite_engine, tmp_path, hung.port, client, connect_timeout=1.5, command_timeout=1.5
        )
        result = await run_outbox_once(runtime)
        [uploaded] = fake.wait_for("files.completeUploadExternal")
    # The DM went out while the mail server still held the first connections open.
    assert hung.closed and uploaded.at < min(hung.closed)
    # Only the sends running when the server proved hung waited for it; the rest of the
    # pass did not try it again (one timeout per pass, not one per email).
    assert len(hung.accepted) == runtime.parallel_sends
    assert result.sent == 1 and result.retried == EMAILS
    emails = [d for d in deliveries(sqlite_engine) if d.channel == "email"]
    assert all(d.state == "pending" and d.attempts == 1 for d in emails)
    errors = [d.last_error or "" for d in emails]
    assert all("cannot reach the mail server" in e and "Timed out" in e for e in errors)
    skipped = [e for e in errors if e.endswith("(earlier in this pass)")]
    assert len(skipped) == EMAILS - runtime.parallel_sends


async def test_the_next_pass_tries_the_mail_server_again(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_flow(sqlite_engine)
    queue(sqlite_engine, Recipient("email", "guest@partner.example"))
    with hung_smtp_server() as hung:
        runtime = _runtime(
            sqlite_engine, tmp_path, hung.port, connect_timeout=0.5, command_timeout=0.5
        )
        assert (await run_outbox_once(runtime)).retried == 1
        await asyncio.sleep(0.1)  # past the first backoff (FAST_RETRY)
        assert (await run_outbox_once(runtime)).retried == 1
    assert len(hung.accepted) == 2
    [delivery] = deliveries(sqlite_engine)
    assert delivery.state == "pending" and delivery.attempts == 2


async def test_a_slow_recipient_does_not_hold_up_the_next_one(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_flow(sqlite_engine)
    queue(sqlite_engine, Recipient("email", "slow@partner.example"), "U0SLOW")
    queue(sqlite_engine, Recipient("email", "quick@partner.example"), "U0QUICK")
    quick_arrived = asyncio.Event()
    arrivals: list[str] = []

    async def hold_the_slow_one(session: Any) -> bool:
        # Runs on aiosmtpd's own loop: the slow recipient's DATA waits for the quick one.
        if session.peer == first_peer.get("slow"):
            for _ in range(100):
                if arrivals:
                    break
                await asyncio.sleep(0.05)
        return True

    first_peer: dict[str, Any] = {}
    box = Mailbox(before_accept=hold_the_slow_one)
    original = box.handle_RCPT

    async def remember(server: Any, session: Any, envelope: Any, address: str,
                       options: list[str]) -> str:  # fmt: skip
        if address.startswith("slow@"):
            first_peer["slow"] = session.peer
        return await original(server, session, envelope, address, options)

    box.handle_RCPT = remember  # type: ignore[method-assign]
    original_data = box.handle_DATA

    async def record(server: Any, session: Any, envelope: Any) -> str:
        answer = await original_data(server, session, envelope)
        arrivals.append(envelope.rcpt_tos[0])
        quick_arrived.set()
        return answer

    box.handle_DATA = record  # type: ignore[method-assign]
    with smtp_server(mailbox=box):
        runtime = _runtime(sqlite_engine, tmp_path, box.port)
        result = await run_outbox_once(runtime)
        box.wait_for(2)
    assert result.sent == 2
    assert arrivals == ["quick@partner.example", "slow@partner.example"]


async def test_a_server_that_stops_answering_after_data_fails_the_send_in_bounded_time(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_flow(sqlite_engine)
    queue(sqlite_engine, Recipient("email", "guest@partner.example"))
    release = threading.Event()

    async def never_answer(session: Any) -> bool:
        while not release.is_set():  # DATA received, the final reply never comes
            await asyncio.sleep(0.02)
        return False

    with smtp_server(mailbox=Mailbox(before_accept=never_answer)) as box:
        runtime = _runtime(sqlite_engine, tmp_path, box.port, command_timeout=0.5)
        try:
            result = await run_outbox_once(runtime)
        finally:
            release.set()
    [delivery] = deliveries(sqlite_engine)
    assert result.retried == 1 and delivery.state == "pending"
    assert "did not answer in time" in (delivery.last_error or "")
