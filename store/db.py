"""Engine, sessions and schema migrations.

One engine per process. SQLite runs in WAL mode with a busy timeout, and write transactions
start with ``BEGIN IMMEDIATE`` so that two writers queue on the lock instead of failing with
"database is locked" when one upgrades its read lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
DEFAULT_DATABASE_URL = "sqlite:///./var/campaign-report.db"
SQLITE_BUSY_TIMEOUT_S = 30


class DatabaseUrlError(ValueError):
    """``DATABASE_URL`` is not a usable SQLite or PostgreSQL URL; the message names it."""


def normalize_url(url: str) -> str:
    """Point plain ``postgresql://`` URLs at psycopg 3, the driver we ship."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_db_engine(url: str = DEFAULT_DATABASE_URL, **kwargs: Any) -> Engine:
    """Build the process's engine for ``url`` (SQLite file or PostgreSQL)."""
    url = normalize_url(url)
    try:
        parsed = sa.engine.make_url(url)
        if parsed.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError("expected a sqlite:/// or postgresql:// URL")
        if parsed.get_backend_name() != "sqlite":
            return sa.create_engine(url, pool_pre_ping=True, **kwargs)
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    except (sa.exc.ArgumentError, ImportError, OSError, ValueError) as exc:
        raise DatabaseUrlError(f"DATABASE_URL: {exc}") from None
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, **kwargs)
    _configure_sqlite(engine)
    return engine


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite ``url`` names (None for PostgreSQL, in-memory or unparsable URLs)."""
    try:
        parsed = sa.engine.make_url(normalize_url(url))
    except sa.exc.ArgumentError:
        return None  # create_db_engine says what is wrong with it
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser()


def describe_open_error(engine: Engine, exc: sa.exc.DBAPIError) -> str:
    """Why the store at ``engine`` cannot be opened, in one line (the password hidden)."""
    reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig)
    path = sqlite_file(engine.url.render_as_string(hide_password=False))
    if path is not None and "file is not a database" in str(exc.orig):
        return f"{path} is not a SQLite database ({reason})"
    return f"cannot open {engine.url.render_as_string(hide_password=True)}: {reason}"


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB of page cache for large imports
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_sqlite(engine: Engine | Connection) -> bool:
    """True when the store is a SQLite database."""
    return engine.dialect.name == "sqlite"


def immediate(engine: Engine) -> Engine:
    """``engine`` whose transactions take SQLite's write lock at ``BEGIN`` (PostgreSQL ignores it).

    A deferred SQLite transaction that reads and then writes fails with "database is locked"
    when another connection wrote in between; taking the write lock first makes it wait its
    turn instead.
    """
    return engine.execution_options(sqlite_immediate=True)


def write_session(engine: Engine) -> Session:
    """A ``Session`` for a unit of work that reads, then writes."""
    return Session(immediate(engine))


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction: committed on success, rolled back on error."""
    with engine.connect() as conn:
        conn = conn.execution_options(sqlite_immediate=True)
        with conn.begin():
            yield conn


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configuration pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_database(engine: Engine) -> str | None:
    """Bring the schema to the newest migration; returns the revision it was at before."""
    with engine.connect() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        if before == head:
            return before
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    return before


def is_up_to_date(engine: Engine) -> bool:
    """True when the schema is at the newest migration."""
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current == ScriptDirectory.from_config(alembic_config()).get_current_head()
