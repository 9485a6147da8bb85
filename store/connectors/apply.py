"""Applying a verified webhook (DESIGN.md, Connectors): one transaction, one bot's data only.

Every update of a delivery becomes one of our events, or waits:

- the bot already has a message with that id → the update applies to it, with the stored
  message's workflow, user and source (a provider's own spelling of them cannot conflict);
- otherwise a status with a flow hint and a user creates the message, as a ``message`` event
  would; a click with both becomes a ``click`` event;
- otherwise it waits in ``waiting_status`` until the message arrives (``store.ingest.waiting``).

Event ids are the contract's (``id:status``, ``sg_event_id``…), claimed as receipts by the
``Ingestor``; a waiting update is keyed by the same id, so a webhook delivered twice counts
once whether or not its message was there yet. Messages are looked up after the ingestion
lock is taken, so nothing can be stored between the look-up and the decision to wait.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.engine import Engine

from store.connectors.base import (
    ClickUpdate,
    ParsedWebhook,
    SignatureError,
    StatusUpdate,
    Update,
    WebhookPayloadError,
)
from store.connectors.records import StoredConnector, claim_token, count_taken
from store.db import write_transaction
from store.events import AnyEvent, EventError, MessageEvent, UserActionEvent
from store.events import describe_validation_error as describe
from store.ingest import Ingestor
from store.ingest.bulk import BulkSql, dialect_insert
from store.models import WaitingStatus

# (workflow_id, user_id, source) of a message
Identity = tuple[str, str, str]

_waiting = WaitingStatus.__table__
_STORED = (
    "SELECT m.message_id, f.workflow_id, m.user_id, m.source FROM message m "
    "JOIN flow f ON f.id = m.flow_id WHERE m.bot_id = {mark} AND m.message_id IN ({{}})"
)


@dataclass
class WebhookSummary:
    """The answer to a webhook (contract): what was applied, repeated, skipped, held back."""

    accepted: int = 0
    duplicates: int = 0
    ignored: int = 0
    waiting: int = 0

    def to_json(self) -> dict[str, int]:
        """``{"accepted", "duplicates", "ignored", "waiting"}``."""
        return asdict(self)


def apply_webhook(
    engine: Engine,
    connector: StoredConnector,
    parsed: ParsedWebhook,
    *,
    token: str | None,
    now: datetime,
) -> WebhookSummary:
    """Apply a verified delivery in one write transaction (or nothing, on any error).

    ``token`` is a replay token to claim (Mailgun): one seen before raises
    ``SignatureError('replayed')`` and the transaction writes nothing.
    """
    with write_transaction(engine) as conn:
        ingestor = Ingestor(conn, now=now)
        ingestor.lock()
        if token is not None and not claim_token(conn, connector, token, now):
            raise SignatureError("replayed", "signature.token was used before")
        summary = apply_updates(ingestor, connector, parsed.updates, now=now)
        summary.ignored += parsed.ignored
        count_taken(conn, connector, len(parsed.updates) + parsed.ignored)
    return summary


def apply_updates(
    ingestor: Ingestor, connector: StoredConnector, updates: Sequence[Update], *, now: datetime
) -> WebhookSummary:
    """Turn updates into events (or waiting rows) for the connector's bot, and apply them."""
    summary = WebhookSummary()
    bot_id = connector.bot_id
    known = _stored_messages(ingestor.sql, bot_id, {u.message_id for u in updates if u.message_id})
    for update in updates:  # a hinted status creates its message for the rest of the delivery
        if isinstance(update, StatusUpdate) and update.workflow_id and update.user_id:
            known.setdefault(update.message_id, (update.workflow_id, update.user_id, update.source))
    items: list[tuple[str, AnyEvent]] = []
    waits: dict[str, dict[str, Any]] = {}
    for index, update in enumerate(updates):
        identity = known.get(update.message_id) if update.message_id else None
        if identity is None and update.workflow_id and update.user_id:
            identity = (update.workflow_id, update.user_id, update.source)  # a hinted click
        if identity is not None:
            items.append((f"update {index}", _event(bot_id, update, identity, f"update {index}")))
        elif update.message_id is None:
            summary.ignored += 1  # a click naming no message and no flow: nothing to count it in
        elif update.event_id in waits:
            summary.duplicates += 1
        else:
            waits[update.event_id] = _waiting_row(connector, update, now)
    summary.waiting = _hold(ingestor, list(waits.values()))
    summary.duplicates += len(waits) - summary.waiting
    try:
        result = ingestor.apply(items)
    except EventError as exc:  # the stored identity is used, so this is a payload problem
        raise WebhookPayloadError(exc.field or exc.where, exc.message) from None
    summary.accepted = result.accepted
    summary.duplicates += result.duplicates
    return summary


def _stored_messages(sql: BulkSql, bot_id: str, message_ids: set[str]) -> dict[str, Identity]:
    if not message_ids:
        return {}
    rows = sql.select_in(_STORED.format(mark=sql.mark), (bot_id,), sorted(message_ids))
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


def _event(bot_id: str, update: Update, identity: Identity, where: str) -> AnyEvent:
    workflow_id, user_id, source = identity
    common = {
        "bot_id": bot_id,
        "workflow_id": workflow_id,
        "user_id": user_id,
        "source": source,
        "message_id": update.message_id,
        "at": update.at,
        "event_id": update.event_id,
    }
    try:
        if isinstance(update, ClickUpdate):
            return UserActionEvent.model_validate(common | {"type": "click", "url": update.url})
        return MessageEvent.model_validate(
            common
            | {
                "type": "message",
                "status": update.status,
                "error_code": update.error_code,
                "comments": update.comments,
            }
        )
    except ValidationError as exc:
        field, message = describe(exc)
        raise WebhookPayloadError(f"{where}.{field}" if field else where, message) from None


def _waiting_row(connector: StoredConnector, update: Update, now: datetime) -> dict[str, Any]:
    status = update if isinstance(update, StatusUpdate) else None
    return {
        "bot_id": connector.bot_id,
        "event_id": update.event_id,
        "connector_id": connector.id,
        "message_id": update.message_id,
        "type": "message" if status else "click",
        "status": status.status if status else None,
        "at": update.at,
        "source": update.source,
        "error_code": status.error_code if status else None,
        "comments": status.comments if status else None,
        "url": update.url if isinstance(update, ClickUpdate) else None,
        "workflow_id": update.workflow_id,
        "user_id": update.user_id,
        "arrived_at": now,
    }


def _hold(ingestor: Ingestor, rows: list[dict[str, Any]]) -> int:
    """Insert waiting rows; how many were new (an id already waiting is a duplicate)."""
    if not rows:
        return 0
    conn = ingestor.conn
    stmt = (
        dialect_insert(conn)(_waiting)
        .on_conflict_do_nothing(index_elements=["bot_id", "event_id"])
        .returning(_waiting.c.event_id)
    )
    return len(conn.execute(stmt, rows).all())
