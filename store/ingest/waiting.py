"""Provider statuses waiting for their message (DESIGN.md, Connectors): release and expiry.

A connector's status or click that names a message we do not have, with no flow hint to
create it from, waits in ``waiting_status``. Whatever path then brings the message — the API,
``campaign-bot import``, the demo, a webhook with a flow hint — runs through
``Ingestor.apply``, which calls ``take_waiting`` for the messages of its batch: the waiting
rows are deleted and come back as ordinary events, taking the stored message's workflow,
user and source, and keeping their own ``event_id`` (so each counts once).

Rows only ever wait for messages that were not stored when they arrived (ingestion is
serialized, and a webhook looks its messages up under the same lock), so looking for the
batch's message ids finds exactly the statuses of the messages it created.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.db import write_transaction
from store.events import AnyEvent, MessageEvent, UserActionEvent
from store.ingest.bulk import BulkSql, chunks
from store.models import WaitingStatus, WebhookToken

WAITING_DAYS = 7  # contract: a status waits up to 7 days for its message
# A Mailgun token is refused as stale once its signed time is 5 minutes from now either way;
# kept past the widest window (arrival up to 5 min before the signed time, then 5 min more).
TOKEN_KEEP = timedelta(minutes=11)

_waiting = WaitingStatus.__table__
_token = WebhookToken.__table__

_RELEASE = (
    "SELECT w.event_id, w.message_id, w.type, w.status, w.at, w.error_code, w.comments, w.url, "
    "f.workflow_id, m.user_id, m.source "
    "FROM waiting_status w JOIN message m ON m.bot_id = w.bot_id AND m.message_id = w.message_id "
    "JOIN flow f ON f.id = m.flow_id "
    "WHERE w.bot_id = {mark} AND w.message_id IN ({{}})"
)


def take_waiting(sql: BulkSql, keys: Iterable[tuple[str, str]]) -> list[tuple[str, AnyEvent]]:
    """Delete and return, as events, what waited for these ``(bot_id, message_id)`` messages."""
    by_bot: dict[str, set[str]] = defaultdict(set)
    for bot_id, message_id in keys:
        by_bot[bot_id].add(message_id)
    if not by_bot or not _any_waiting(sql, sorted(by_bot)):
        return []
    query = _RELEASE.format(mark=sql.mark)
    released: list[tuple[str, AnyEvent]] = []
    for bot_id, message_ids in sorted(by_bot.items()):
        rows = sorted(
            sql.select_in(query, (bot_id,), sorted(message_ids)),
            key=lambda row: (sql.read_time(row[4]), row[0]),
        )
        if not rows:
            continue
        event_ids = [row[0] for row in rows]
        for chunk in chunks(event_ids):
            sql.conn.execute(
                _waiting.delete().where(
                    _waiting.c.bot_id == bot_id, _waiting.c.event_id.in_(list(chunk))
                )
            )
        released.extend(
            (f"waiting status {row[0]}", _event(bot_id, row, sql.read_time(row[4]))) for row in rows
        )
    return released


def _any_waiting(sql: BulkSql, bot_ids: list[str]) -> bool:
    """One cheap look first: an import of a bot with nothing waiting pays for this only."""
    found = sql.conn.execute(
        sa.select(_waiting.c.event_id).where(_waiting.c.bot_id.in_(bot_ids)).limit(1)
    ).first()
    return found is not None


def _event(bot_id: str, row: tuple[Any, ...], at: datetime | None) -> AnyEvent:
    event_id, message_id, kind, status, _, error_code, comments, url = row[:8]
    workflow_id, user_id, source = row[8:]
    common = {
        "bot_id": bot_id,
        "workflow_id": workflow_id,
        "user_id": user_id,
        "source": source,
        "message_id": message_id,
        "at": at,
        "event_id": event_id,
    }
    if kind == "click":
        return UserActionEvent.model_validate(common | {"type": "click", "url": url})
    return MessageEvent.model_validate(
        common
        | {"type": "message", "status": status, "error_code": error_code, "comments": comments}
    )


def drop_expired_waiting(engine: Engine, now: datetime) -> int:
    """Drop statuses that waited over 7 days, and spent replay tokens; how many statuses."""
    with write_transaction(engine) as conn:
        dropped = conn.execute(
            _waiting.delete().where(_waiting.c.arrived_at < now - timedelta(days=WAITING_DAYS))
        ).rowcount
        conn.execute(_token.delete().where(_token.c.seen_at < now - TOKEN_KEEP))
    return int(dropped)
