"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from store.db import alembic_config, is_up_to_date, upgrade_database
from tests.support import act, flow, ingest, msg


def test_migrated_schema_matches_models(store_engine: Engine) -> None:
    with store_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_upgrade_is_idempotent(store_engine: Engine) -> None:
    assert is_up_to_date(store_engine)
    before = upgrade_database(store_engine)
    assert before is not None
    assert is_up_to_date(store_engine)


def _snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    queries = {
        "flow_timeline": "SELECT * FROM flow_timeline ORDER BY bot_id, flow_id, source, slot",
        "message": "SELECT message_id, first_sent_at, first_delivered_at, first_read_at, "
        "first_failed_at FROM message ORDER BY message_id",
        "flow_user": "SELECT user_id, first_goal_at FROM flow_user ORDER BY user_id",
        "flow_user_channel": "SELECT user_id, source, first_goal_at FROM flow_user_channel "
        "ORDER BY user_id, source",
    }
    with engine.connect() as conn:
        return {
            name: [tuple(row) for row in conn.exec_driver_sql(sql)] for name, sql in queries.items()
        }


def test_0005_fills_the_timeline_of_existing_data_as_ingestion_would(store_engine: Engine) -> None:
    # One event per message (all a store from before 0005 kept of a message), clicks on and
    # off a channel, a user's goals on two channels, across slots and days.
    ingest(
        store_engine,
        flow(),
        msg("m1", "u1", "whatsapp", "read", at="2026-11-01T09:05:00Z"),
        msg("m2", "u2", "whatsapp", "failed", at="2026-11-01T09:20:00Z", error_code="1408"),
        msg("m3", "u3", "sms", "sent", at="2026-11-01T18:31:00Z"),
        msg("m4", "u4", "email", "queued", at="2026-11-02T00:00:00Z"),
        act("click", "u1", "whatsapp", at="2026-11-01T09:40:00Z"),
        act("click", "u3", at="2026-11-01T19:00:00Z"),
        act("goal_achieved", "u1", "whatsapp", at="2026-11-01T10:00:00Z"),
        act("goal_achieved", "u1", "sms", at="2026-11-01T08:00:00Z"),
    )
    kept = _snapshot(store_engine)
    # Flow-wide and per channel: 08:00 (u1's first goal, on sms), 09:00 and 09:15 (whatsapp
    # messages), 09:30 (a whatsapp click), 18:30 (the sms message); on whatsapp only: 10:00
    # (u1's first goal there); flow-wide only: 19:00 (a click without a channel).
    assert len(kept["flow_timeline"]) == 12
    with store_engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0004")
    with store_engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    assert _snapshot(store_engine) == kept
