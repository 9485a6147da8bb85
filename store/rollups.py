"""Keeping the rollups' delivery-reporting channels in step with the setting (the writes).

``store.ingest.reporting`` says why the set is recorded with the rollups. The composition
root calls ``check_delivery_channels`` with DELIVERY_REPORTING_CHANNELS when a process
starts, and ``rebuild_rollups`` for ``campaign-bot db rebuild-rollups``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.db import write_transaction
from store.ingest import Ingestor
from store.ingest.reporting import (
    format_channels,
    load_delivery_channels,
    rebuild_impressions,
    record_delivery_channels,
)
from store.models import Message


class RollupsOutOfDate(Exception):
    """The rollups were built for another DELIVERY_REPORTING_CHANNELS; rebuild them first."""

    def __init__(self, recorded: frozenset[str], wanted: frozenset[str]) -> None:
        self.recorded = recorded
        self.wanted = wanted
        super().__init__(
            f"DELIVERY_REPORTING_CHANNELS is {format_channels(wanted) or '(none)'!r} but the "
            f"store's impressions and reach were counted for "
            f"{format_channels(recorded) or '(none)'!r}: run `campaign-bot db rebuild-rollups` "
            "(or set it back)"
        )


@dataclass(frozen=True)
class Rebuilt:
    """What ``rebuild_rollups`` did."""

    before: frozenset[str]
    after: frozenset[str]
    messages: int


def check_delivery_channels(engine: Engine, wanted: frozenset[str], *, now: datetime) -> None:
    """Raise ``RollupsOutOfDate`` unless the rollups are built for ``wanted``.

    A store without messages has nothing counted yet, so it takes ``wanted`` as it is.
    """
    with engine.connect() as conn:
        if load_delivery_channels(conn) == wanted:
            return
    with write_transaction(engine) as conn:
        Ingestor(conn).lock()
        recorded = load_delivery_channels(conn)
        if recorded == wanted:
            return
        if conn.execute(sa.select(Message.__table__.c.id).limit(1)).first() is not None:
            raise RollupsOutOfDate(recorded, wanted)
        record_delivery_channels(conn, wanted, now)


def rebuild_rollups(engine: Engine, channels: frozenset[str], *, now: datetime) -> Rebuilt:
    """Recount impressions and reach of every flow for ``channels``, then record the set.

    One write transaction under the ingestion lock: ingestion elsewhere waits, then counts
    with the new set; a report read meanwhile sees the old numbers or the new ones.
    """
    with write_transaction(engine) as conn:
        Ingestor(conn).lock()
        before = load_delivery_channels(conn)
        rebuild_impressions(conn, channels)
        record_delivery_channels(conn, channels, now)
        messages = conn.execute(sa.select(sa.func.count()).select_from(Message.__table__))
        return Rebuilt(before=before, after=channels, messages=int(messages.scalar_one()))
