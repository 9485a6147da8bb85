"""Connector rows: the writes ``campaign-bot connector …`` and the webhook routes share.

A connector is one provider's webhook into one bot, named by a random URL-safe id. Its
secret is stored only encrypted (``SecretBox``, bound to the kind and id); nothing here
returns it in clear except ``unlock_secret``, for the signature check.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from store.connectors import KINDS
from store.connectors.secrets import (
    ConnectorSecret,
    ConnectorSecretError,
    SecretBox,
    SecretKeyChanged,
)
from store.db import write_transaction
from store.ingest.bulk import dialect_insert
from store.ingest.waiting import TOKEN_KEEP
from store.models import Bot, WaitingStatus, WebhookConnector, WebhookToken, utcnow

ID_PREFIX = "cn_"
CONNECTOR_ID = re.compile(r"^cn_[A-Za-z0-9_-]{22}$")
_BOT_ID = re.compile(r"^[^\x00-\x1f]{1,128}$")

_connector = WebhookConnector.__table__
_waiting = WaitingStatus.__table__
_token = WebhookToken.__table__
_bot = Bot.__table__


class ConnectorError(ValueError):
    """A connector command cannot be done; the message names the argument (never a secret)."""


@dataclass(frozen=True)
class StoredConnector:
    """A connector as a webhook needs it: who it is and its still-encrypted secret."""

    id: str
    kind: str
    bot_id: str
    sealed_secret: str = field(repr=False)


@dataclass(frozen=True)
class ConnectorInfo:
    """One row of ``connector list``; ``secret_problem`` says why the secret is unusable."""

    id: str
    kind: str
    bot_id: str
    events_taken: int
    events_refused: int
    waiting: int
    created_at: datetime
    secret_problem: str | None


@dataclass(frozen=True)
class RemovedConnector:
    """What ``remove_connector`` deleted."""

    id: str
    kind: str
    bot_id: str
    waiting_dropped: int


def new_connector_id() -> str:
    """``cn_`` and 128 random bits, URL-safe: the webhook URL is unguessable."""
    return ID_PREFIX + secrets.token_urlsafe(16)


def secret_context(kind: str, connector_id: str) -> str:
    """What a connector's ciphertext is bound to: moved to another row, it will not decrypt."""
    return f"{kind}:{connector_id}"


def check_secret(kind: str, secret: ConnectorSecret) -> None:
    """``ConnectorError`` unless ``kind`` is known and can use ``secret``."""
    connector = KINDS.get(kind)
    if connector is None:
        raise ConnectorError(f"KIND: unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    try:
        connector.check_secret(secret)
    except ValueError as exc:
        raise ConnectorError(f"secret: {exc}") from None


def create_connector(
    *, engine: Engine, kind: str, bot_id: str, secret: ConnectorSecret, box: SecretBox
) -> StoredConnector:
    """Store a new connector for ``bot_id`` (creating the bot when new), secret encrypted."""
    kind = kind.strip().lower()
    bot_id = bot_id.strip()
    if not _BOT_ID.match(bot_id):
        raise ConnectorError("BOT_ID: expected 1 to 128 characters without control characters")
    check_secret(kind, secret)
    connector_id = new_connector_id()
    sealed = box.encrypt(secret, context=secret_context(kind, connector_id))
    with write_transaction(engine) as conn:
        conn.execute(
            dialect_insert(conn)(_bot)
            .values(bot_id=bot_id, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["bot_id"])
        )
        conn.execute(
            _connector.insert().values(
                bot_id=bot_id,
                id=connector_id,
                kind=kind,
                secret=sealed,
                key_id=box.key_id,
                events_taken=0,
                events_refused=0,
                created_at=utcnow(),
            )
        )
    return StoredConnector(connector_id, kind, bot_id, sealed)


def set_connector_secret(
    *, engine: Engine, connector_id: str, secret: ConnectorSecret, box: SecretBox
) -> StoredConnector:
    """Replace a connector's secret (after a SECRET_KEY change, or the provider's rotation)."""
    with write_transaction(engine) as conn:
        found = find_connector(conn, connector_id=connector_id)
        if found is None:
            raise ConnectorError(f"ID: no connector {connector_id!r}")
        check_secret(found.kind, secret)
        sealed = box.encrypt(secret, context=secret_context(found.kind, found.id))
        conn.execute(
            _connector.update()
            .where(_connector.c.bot_id == found.bot_id, _connector.c.id == found.id)
            .values(secret=sealed, key_id=box.key_id)
        )
    return StoredConnector(found.id, found.kind, found.bot_id, sealed)


def find_connector(
    conn: Connection, *, connector_id: str, kind: str | None = None
) -> StoredConnector | None:
    """The connector with this id (and kind, when given); None for anything else."""
    if not CONNECTOR_ID.match(connector_id):
        return None
    query = sa.select(
        _connector.c.id, _connector.c.kind, _connector.c.bot_id, _connector.c.secret
    ).where(_connector.c.id == connector_id)
    if kind is not None:
        query = query.where(_connector.c.kind == kind)
    row = conn.execute(query).first()
    return None if row is None else StoredConnector(row[0], row[1], row[2], row[3])


def unlock_secret(connector: StoredConnector, box: SecretBox | None) -> ConnectorSecret:
    """The connector's secret in clear; ``ConnectorSecretError`` when it cannot be had."""
    if box is None:
        raise SecretKeyChanged("SECRET_KEY is not set, so no connector secret can be read")
    return box.decrypt(
        connector.sealed_secret, context=secret_context(connector.kind, connector.id)
    )


def list_connectors(*, engine: Engine, box: SecretBox | None) -> list[ConnectorInfo]:
    """Every connector, oldest first, with its counters and statuses waiting."""
    with engine.connect() as conn:
        waiting = dict(
            conn.execute(
                sa.select(_waiting.c.connector_id, sa.func.count()).group_by(
                    _waiting.c.connector_id
                )
            ).all()
        )
        rows = conn.execute(
            sa.select(_connector).order_by(_connector.c.created_at, _connector.c.id)
        ).all()
    infos = []
    for row in rows:
        stored = StoredConnector(row.id, row.kind, row.bot_id, row.secret)
        problem = _secret_problem(stored, box)
        infos.append(
            ConnectorInfo(
                id=row.id,
                kind=row.kind,
                bot_id=row.bot_id,
                events_taken=row.events_taken,
                events_refused=row.events_refused,
                waiting=waiting.get(row.id, 0),
                created_at=row.created_at,
                secret_problem=problem,
            )
        )
    return infos


def _secret_problem(connector: StoredConnector, box: SecretBox | None) -> str | None:
    """Why the connector's secret cannot be read now, or None when it can."""
    if box is None:
        return "SECRET_KEY is not set"
    try:
        unlock_secret(connector, box)
    except SecretKeyChanged:
        return "SECRET_KEY changed since the secret was entered"
    except ConnectorSecretError:
        return "the stored secret is damaged"
    return None


def remove_connector(*, engine: Engine, connector_id: str) -> RemovedConnector:
    """Delete a connector, with its waiting statuses and replay tokens."""
    with write_transaction(engine) as conn:
        found = find_connector(conn, connector_id=connector_id)
        if found is None:
            raise ConnectorError(f"ID: no connector {connector_id!r}")
        mine = (_waiting.c.bot_id == found.bot_id) & (_waiting.c.connector_id == found.id)
        dropped = conn.execute(_waiting.delete().where(mine)).rowcount
        conn.execute(
            _token.delete().where(
                _token.c.bot_id == found.bot_id, _token.c.connector_id == found.id
            )
        )
        conn.execute(
            _connector.delete().where(
                _connector.c.bot_id == found.bot_id, _connector.c.id == found.id
            )
        )
    return RemovedConnector(found.id, found.kind, found.bot_id, int(dropped))


def count_taken(conn: Connection, connector: StoredConnector, events: int) -> None:
    """Add ``events`` provider events to what the connector took (in the webhook's transaction)."""
    conn.execute(
        _connector.update()
        .where(_connector.c.bot_id == connector.bot_id, _connector.c.id == connector.id)
        .values(events_taken=_connector.c.events_taken + events)
    )


def count_refusal(engine: Engine, connector: StoredConnector) -> None:
    """Count one refused webhook delivery (its own transaction: the delivery wrote nothing)."""
    with write_transaction(engine) as conn:
        conn.execute(
            _connector.update()
            .where(_connector.c.bot_id == connector.bot_id, _connector.c.id == connector.id)
            .values(events_refused=_connector.c.events_refused + 1)
        )


def claim_token(conn: Connection, connector: StoredConnector, token: str, now: datetime) -> bool:
    """Record a replay token; False when it was taken before (a replay)."""
    conn.execute(
        _token.delete().where(
            _token.c.bot_id == connector.bot_id, _token.c.seen_at < now - TOKEN_KEEP
        )
    )
    claimed = conn.execute(
        dialect_insert(conn)(_token)
        .values(bot_id=connector.bot_id, token=token, connector_id=connector.id, seen_at=now)
        .on_conflict_do_nothing(index_elements=["bot_id", "token"])
        .returning(_token.c.token)
    ).first()
    return claimed is not None
