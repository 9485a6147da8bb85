"""Sessions that write: on SQLite they start with ``BEGIN IMMEDIATE``.

A deferred SQLite transaction that reads and then writes fails with "database is locked"
when another connection (the scheduler updating its jobs, the outbox recording a delivery)
wrote in between; taking the write lock first makes it wait its turn instead. PostgreSQL
ignores the option.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session


def immediate(engine: Engine) -> Engine:
    """``engine`` whose transactions take SQLite's write lock at ``BEGIN``."""
    return engine.execution_options(sqlite_immediate=True)


def write_session(engine: Engine) -> Session:
    """A ``Session`` for a unit of work that writes."""
    return Session(immediate(engine))
