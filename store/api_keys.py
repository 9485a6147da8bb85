"""API keys for the ingestion API: created once, shown once, stored as SHA-256 digests.

A key is ``crb_`` followed by 43 URL-safe characters from ``secrets`` (256 bits), so a plain
SHA-256 is enough: unlike passwords, such keys cannot be guessed, and a slow hash would only
slow every request down. The first characters (``prefix``) are stored in clear so that a key
can be found and named without its secret; the digest is then compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from store.db import write_transaction
from store.models import ApiKey, Bot, utcnow

KEY_PREFIX = "crb_"
PREFIX_LENGTH = len(KEY_PREFIX) + 8
_KEY_PATTERN = re.compile(r"^crb_[A-Za-z0-9_-]{43}$")
_BOT_ID_PATTERN = re.compile(r"^[^\x00-\x1f]{1,128}$")

_api_key = ApiKey.__table__
_bot = Bot.__table__


@dataclass(frozen=True)
class CreatedKey:
    """A new key: ``token`` is the secret, available only at creation."""

    token: str
    prefix: str
    bot_id: str
    bot_created: bool


def digest_of(token: str) -> str:
    """Hex SHA-256 of a key, as stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_key(engine: Engine, bot_id: str) -> CreatedKey:
    """Create a key for ``bot_id`` (creating the bot when new); returns the only clear copy."""
    bot_id = bot_id.strip()
    if not _BOT_ID_PATTERN.match(bot_id):
        raise ValueError("BOT_ID: expected 1 to 128 characters without control characters")
    token = KEY_PREFIX + secrets.token_urlsafe(32)
    with write_transaction(engine) as conn:
        # A key usually comes before the bot's first event, so the key brings the bot along.
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        inserted = conn.execute(
            insert(_bot)
            .values(bot_id=bot_id, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["bot_id"])
        ).rowcount
        conn.execute(
            _api_key.insert().values(
                bot_id=bot_id,
                prefix=token[:PREFIX_LENGTH],
                digest=digest_of(token),
                created_at=utcnow(),
            )
        )
    return CreatedKey(
        token=token, prefix=token[:PREFIX_LENGTH], bot_id=bot_id, bot_created=bool(inserted)
    )


def verify_api_key(conn: Connection, token: str) -> str | None:
    """The bot a presented key belongs to, or None when it is not a valid key."""
    if not _KEY_PATTERN.match(token):
        return None
    presented = digest_of(token)
    rows = conn.execute(
        sa.select(_api_key.c.digest, _api_key.c.bot_id).where(
            _api_key.c.prefix == token[:PREFIX_LENGTH]
        )
    )
    bot_id = None
    for digest, candidate in rows:
        if hmac.compare_digest(digest, presented):
            bot_id = candidate
    return bot_id
