"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from store.db import is_up_to_date, upgrade_database


def test_migrated_schema_matches_models(store_engine: Engine) -> None:
    with store_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_upgrade_is_idempotent(store_engine: Engine) -> None:
    assert is_up_to_date(store_engine)
    before = upgrade_database(store_engine)
    assert before is not None
    assert is_up_to_date(store_engine)
