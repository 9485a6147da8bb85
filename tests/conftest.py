"""Shared fixtures: a migrated store on SQLite (a file per test) and on PostgreSQL.

The ``store_engine`` fixture runs each test twice, on SQLite and on PostgreSQL. PostgreSQL
tests are skipped, loudly, when the server at ``TEST_POSTGRES_URL`` (default: the local
server, database ``test``) cannot be reached — except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from store.db import create_db_engine, upgrade_database

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
_pg_skip_reason: list[str] = []


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated, dropped at the end."""
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect():
            pass
    except sa.exc.OperationalError as exc:
        reason = f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL}: {exc.orig}"
        if _in_ci():
            pytest.fail(f"{reason} — CI requires the PostgreSQL tests", pytrace=False)
        _pg_skip_reason.append(reason)
        pytest.skip(reason)
    name = f"crb_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    engine = create_db_engine(url)
    upgrade_database(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _truncate_all(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty, migrated store: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "store.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_url")
    yield url
    engine = create_db_engine(url)
    _truncate_all(engine)
    engine.dispose()


@pytest.fixture
def store_engine(store_url: str) -> Iterator[Engine]:
    """An engine on an empty, migrated store (runs on SQLite and on PostgreSQL)."""
    engine = create_db_engine(store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    """An engine on an empty, migrated SQLite store only (its own file, beside ``store_url``'s)."""
    path = tmp_path / "sqlite-only.db"
    shutil.copy(sqlite_template, path)
    engine = create_db_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say plainly when the PostgreSQL half of the suite did not run."""
    if _pg_skip_reason:
        terminalreporter.write_sep("!", "PostgreSQL tests SKIPPED", yellow=True, bold=True)
        terminalreporter.write_line(_pg_skip_reason[0])
