"""Migration 0004 on a SQLite store written before it: payloads become text, kept."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from store.db import alembic_config, create_db_engine, upgrade_database
from tests.support import flow, ingest, kpis, msg


def test_upgrading_keeps_every_message_and_turns_stored_numbers_into_json_text(
    tmp_path: Path,
) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path}/old.db")
    upgrade_database(engine)
    ingest(
        engine,
        flow(),
        msg("m-1", "u1", "sms", "read", custom_payload=1.5),
        msg("m-2", "u2", "sms", "sent", custom_payload={"k": [1, "x"]}),
        msg("m-3", "u3", "sms", "sent", custom_payload="text"),
        msg("m-4", "u4", "sms", "sent"),
    )
    report = kpis(engine)  # read at the newest schema: the KPI engine needs its tables
    # Ingestion writes the newest schema's columns, so the store of before 0004 is made by
    # going back to 0003: the JSON column's NUMERIC affinity turns '1.5' into a REAL again.
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0003")
    query = sa.text(
        "SELECT message_id, typeof(custom_payload), custom_payload FROM message ORDER BY id"
    )
    with engine.connect() as conn:
        before = conn.execute(query).all()
    assert before[0][1:] == ("real", 1.5)  # what NUMERIC affinity made of the text '1.5'

    assert upgrade_database(engine) == "0003"
    with engine.connect() as conn:
        after = conn.execute(query).all()
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
    assert after == [
        ("m-1", "text", "1.5"),
        ("m-2", "text", before[1][2]),
        ("m-3", "text", before[2][2]),
        ("m-4", "null", None),
    ]
    assert kpis(engine) | {"generated_at": ""} == report | {"generated_at": ""}
    engine.dispose()
