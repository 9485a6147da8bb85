"""DESIGN.md "Processes": a busy store delays only the work that needs it.

The app runs with its scheduler on (as plain ``serve`` does) while the test holds the
database's write lock — on SQLite ``BEGIN IMMEDIATE`` from another connection, as another
process or a long import would; on PostgreSQL an exclusive lock on the job store's and the
report requests' tables. Meanwhile the scheduler polls its job store, and a download request
(a store write) waits for the lock. ``/healthz`` and another user's summary must answer
before the lock is released; the download's answer only after.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import Engine

from tests.scheduler.bot_harness import running_bot_with_scheduler, wait_until_leading
from tests.slack.conftest import load_campaigns


@contextmanager
def write_lock_held(engine: Engine) -> Iterator[None]:
    """Hold the store's write lock (SQLite) or lock the tables the test needs (PostgreSQL)."""
    url = engine.url
    if engine.dialect.name == "sqlite":
        conn = sqlite3.connect(str(url.database), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        conn.execute("LOCK TABLE apscheduler_jobs, report_request IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.rollback()


def test_a_locked_store_stalls_neither_health_nor_other_users_summaries(
    store_engine: Engine, tmp_path: Path
) -> None:
    load_campaigns(store_engine)
    with running_bot_with_scheduler(store_engine, tmp_path, poll_seconds=0.2) as (bot, _box):
        wait_until_leading(bot)
        with write_lock_held(store_engine):
            ack, download = bot.command("download Diwali offers")
            assert ack.status_code == 200
            time.sleep(1.0)  # the scheduler's polls and the download now wait for the lock
            health = bot.http.get(f"{bot.base_url}/healthz", timeout=5)
            summary = bot.ask("Diwali offers")
            answered_early = any(
                c.path == f"/response/{download}" for c in bot.fake.calls_to("response_url")
            )
        later = bot.answer(download)
    assert health.status_code == 200
    assert "Diwali offers" in summary["text"]
    assert not answered_early  # the write waited for the lock, as it must
    assert "Preparing the full report of “Diwali offers”" in str(later)
