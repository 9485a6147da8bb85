"""Applying validated events from a request: one transaction, refusals that write nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, HTTPException, Request
from sqlalchemy.engine import Engine

from bot.http.batches import BatchRejected, ItemError
from store.db import is_sqlite
from store.events import AnyEvent, EventError
from store.ingest import IngestResult, ingest_events


def get_ingest_lock(request: Request) -> threading.Lock:
    """The process's SQLite writer turn (``include_api`` makes it)."""
    lock: threading.Lock = request.app.state.ingest_lock
    return lock


IngestLockDep = Annotated[threading.Lock, Depends(get_ingest_lock)]


@contextmanager
def ingest_slot(engine: Engine, lock: threading.Lock) -> Iterator[None]:
    """On SQLite, writers take turns in-process: SQLite's busy handler polls with sleeps."""
    if not is_sqlite(engine):
        yield  # PostgreSQL: the store's advisory lock serializes writers, across processes too
        return
    with lock:
        yield


def apply_events(
    engine: Engine,
    lock: threading.Lock,
    items: list[tuple[str, AnyEvent]],
    lines: list[int | None] | None = None,
) -> IngestResult:
    """Apply validated events in one transaction; a rule broken while applying is a 422."""
    try:
        with ingest_slot(engine, lock):
            return ingest_events(engine, items)
    except EventError as exc:
        index = line = None
        if lines is not None and exc.where.startswith("item "):
            index = int(exc.where.removeprefix("item "))
            line = lines[index]
        error = ItemError(index=index, line=line, field=exc.field, message=exc.message)
        raise BatchRejected(
            "an event conflicts with the store; nothing was written", [error]
        ) from None
    except sa.exc.OperationalError:
        # Another writer (say a long `campaign-bot import`) held the store past the busy
        # timeout, or the database is down: the batch was not applied and may be sent again.
        raise HTTPException(
            503,
            "the store is busy or unavailable; nothing was written, retry",
            {"Retry-After": "5"},
        ) from None
    except (sa.exc.DataError, sa.exc.IntegrityError, OverflowError):
        # A value the event format accepts but the database cannot hold (store.events refuses
        # the known ones earlier); still the client's data, not a server failure.
        error = ItemError(message="a value does not fit the store (a number out of range?)")
        raise BatchRejected(
            "an event holds a value the store cannot keep; nothing was written", [error]
        ) from None
