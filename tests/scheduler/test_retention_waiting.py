"""The daily retention job also drops provider statuses that waited over 7 days."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.settings import Settings
from bot.wiring import build_runtime
from scheduler.jobs import delete_old_reports
from scheduler.runtime import install_runtime
from store.connectors.apply import apply_webhook
from store.connectors.base import ParsedWebhook, StatusUpdate
from store.connectors.records import create_connector, list_connectors
from store.connectors.secrets import ConnectorSecret, SecretBox
from tests.support import NOW

BOX = SecretBox("retention-test-key")


def waiting(engine: Engine) -> int:
    return sum(c.waiting for c in list_connectors(engine=engine, box=BOX))


async def test_the_retention_job_drops_week_old_waiting_statuses(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    connector = create_connector(engine=sqlite_engine, kind="twilio", bot_id="b1",
                                 secret=ConnectorSecret("token"), box=BOX)  # fmt: skip
    update = StatusUpdate(
        message_id="SM1", status="sent", at=NOW, source="sms", event_id="SM1:sent"
    )
    apply_webhook(sqlite_engine, connector, ParsedWebhook([update]), token=None, now=NOW)
    assert waiting(sqlite_engine) == 1
    settings = Settings(_env_file=None, REPORTS_DIR=tmp_path)  # type: ignore[call-arg]
    clock = [NOW + timedelta(days=6)]
    install_runtime(build_runtime(settings, sqlite_engine, None, clock=lambda: clock[0]))
    try:
        await delete_old_reports()
        assert waiting(sqlite_engine) == 1
        clock[0] = NOW + timedelta(days=7, seconds=1)
        await delete_old_reports()
        assert waiting(sqlite_engine) == 0
    finally:
        install_runtime(None)
