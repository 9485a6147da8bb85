"""Shared types and checks for provider webhooks (DESIGN.md, Connectors): pure, no I/O.

A provider module turns a verified webhook into ``StatusUpdate`` / ``ClickUpdate`` values in
our vocabulary. Field rules, shared by every provider:

- identifiers (``message_id``, ``event_id``, ``error_code``, ``workflow_id``, ``user_id``) are
  stripped; one that is too long for its store column or holds a control character is
  *refused* with ``WebhookPayloadError`` naming the field (they are keys: cutting one would
  merge distinct messages);
- free text (``comments``, ``url``) is *truncated* to its column (ending in "…") and loses NUL
  characters: it is what a remote server said, and losing its tail loses nothing we count.
"""

from __future__ import annotations

import hmac
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

# Column limits of the store (store/events.py and the message/user-event tables).
MAX_MESSAGE_ID = 200
MAX_EVENT_ID = 200
MAX_ERROR_CODE = 64
MAX_COMMENTS = 2000
MAX_URL = 2000
MAX_WORKFLOW_ID = 128
MAX_USER_ID = 320

# Where a provider signs a timestamp, one further than this from now is stale (contract).
MAX_SIGNATURE_AGE_SECONDS = 300

CANONICAL_STATUSES = ("queued", "sent", "failed", "delivered", "read")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_E164_DIGITS = re.compile(r"^[1-9][0-9]{5,14}$")
_LATEST_UNIX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z, the last time datetime can hold

SignatureReason = Literal["missing", "malformed", "bad", "stale", "replayed"]


class SignatureError(Exception):
    """A webhook that is not provably from the provider: the route answers 401 (403 for GET).

    ``reason`` is one of missing, malformed, bad, stale, replayed; the message says which and
    why, and never includes a secret or the expected signature.
    """

    def __init__(self, reason: SignatureReason, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason} signature: {detail}")


class WebhookPayloadError(ValueError):
    """Malformed JSON or form data, or a field we cannot store: the route answers 400."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class StatusUpdate:
    """A message status from a provider, in our vocabulary (``status`` is canonical)."""

    message_id: str
    status: str
    at: datetime
    source: str
    event_id: str
    error_code: str | None = None
    comments: str | None = None
    workflow_id: str | None = None
    user_id: str | None = None


@dataclass(frozen=True)
class ClickUpdate:
    """A tracked link click reported by a provider (becomes a ``click`` user event)."""

    message_id: str | None
    user_id: str | None
    source: str
    url: str | None
    at: datetime
    event_id: str
    workflow_id: str | None = None


Update = StatusUpdate | ClickUpdate


def email_update(
    *,
    source: str,
    message_id: str,
    user_id: str | None,
    at: datetime,
    event_id: str,
    workflow_id: str | None,
    click_url: str | None = None,
    status: str | None = None,
    error_code: str | None = None,
    comments: str | None = None,
) -> Update:
    """A click (``status`` None, with its URL) or a status update of an email event."""
    if status is None:
        return ClickUpdate(
            message_id=message_id,
            user_id=user_id,
            source=source,
            url=click_url,
            at=at,
            event_id=event_id,
            workflow_id=workflow_id,
        )
    return StatusUpdate(
        message_id=message_id,
        status=status,
        at=at,
        source=source,
        event_id=event_id,
        error_code=error_code,
        comments=comments,
        workflow_id=workflow_id,
        user_id=user_id,
    )


@dataclass(frozen=True)
class ParsedWebhook:
    """Everything one webhook delivery yields, in payload order.

    ``ignored`` counts provider events we do not map (inbound messages, temporary failures,
    unsubscribes…): they are acknowledged, never errors.
    """

    updates: list[Update] = field(default_factory=list)
    ignored: int = 0


@dataclass(frozen=True)
class WebhookRequest:
    """What a verifier needs from the HTTP request, framework-free.

    ``headers`` is copied with lower-cased keys so lookups are case-insensitive; ``url`` is the
    full public URL as configured under PUBLIC_BASE_URL, query string included (Twilio signs
    it); ``form`` holds already-decoded POST pairs when the framework decoded them (Twilio).
    """

    body: bytes = field(repr=False)
    headers: Mapping[str, str] = field(default_factory=dict)
    url: str = ""
    form: list[tuple[str, str]] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        lowered = {str(k).lower(): str(v) for k, v in self.headers.items()}
        object.__setattr__(self, "headers", lowered)

    def header(self, name: str) -> str | None:
        """One header's value, looked up case-insensitively; None when absent."""
        return self.headers.get(name.lower())


def constant_time_equal(expected: str | bytes, given: str | bytes) -> bool:
    """``hmac.compare_digest`` on UTF-8 bytes (it refuses non-ASCII ``str`` otherwise)."""
    a = expected.encode() if isinstance(expected, str) else expected
    b = given.encode() if isinstance(given, str) else given
    return hmac.compare_digest(a, b)


def check_fresh(timestamp: int | float, now: datetime, *, what: str = "timestamp") -> None:
    """Raise ``SignatureError('stale')`` when a signed time is over 5 minutes from ``now``."""
    skew = abs(now.timestamp() - timestamp)
    if skew > MAX_SIGNATURE_AGE_SECONDS:
        direction = "old" if timestamp < now.timestamp() else "in the future"
        raise SignatureError(
            "stale", f"{what} is {int(skew)} s {direction} (limit {MAX_SIGNATURE_AGE_SECONDS} s)"
        )


def aware_utc(now: datetime) -> datetime:
    """``now`` in UTC; a naive time is refused (it would silently mean local time)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    return now.astimezone(UTC)


def load_json(body: bytes, *, where: str = "body") -> Any:
    """Decode a JSON body, or raise ``WebhookPayloadError`` (also for absurd nesting)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError included
        raise WebhookPayloadError(where, "not valid JSON") from None


def json_object(value: Any, where: str) -> dict[str, Any]:
    """``value`` when it is a JSON object, else ``WebhookPayloadError`` naming ``where``."""
    if not isinstance(value, dict):
        raise WebhookPayloadError(where, "expected a JSON object")
    return value


def json_list(container: dict[str, Any], key: str, where: str) -> list[Any]:
    """``container[key]`` as a list: absent or null is empty, anything else is refused."""
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise WebhookPayloadError(where, "expected a JSON array")
    return value


def unix_time(value: Any, field_name: str) -> datetime:
    """A Unix time (int, float or decimal string, in seconds) as an aware UTC datetime."""
    if isinstance(value, bool):
        raise WebhookPayloadError(field_name, "expected a Unix time in seconds")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise WebhookPayloadError(field_name, "expected a Unix time in seconds") from None
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise WebhookPayloadError(field_name, "expected a Unix time in seconds")
    if not 0 <= value <= _LATEST_UNIX_SECONDS:
        raise WebhookPayloadError(field_name, "Unix time out of range")
    return datetime.fromtimestamp(value, UTC)


def text_or_none(value: Any, field_name: str) -> str | None:
    """A JSON/form value as stripped text; numbers become text, empty becomes None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise WebhookPayloadError(field_name, "expected a string")
    text = str(value).strip()
    return text or None


def identifier(value: Any, field_name: str, limit: int) -> str | None:
    """An id-like value: refused when longer than ``limit`` or holding control characters."""
    text = text_or_none(value, field_name)
    if text is None:
        return None
    if len(text) > limit:
        raise WebhookPayloadError(field_name, f"longer than {limit} characters")
    if _CONTROL.search(text):
        raise WebhookPayloadError(field_name, "control characters are not allowed")
    return text


def required_identifier(value: Any, field_name: str, limit: int) -> str:
    """Like ``identifier`` but the value must be present and non-empty."""
    text = identifier(value, field_name, limit)
    if text is None:
        raise WebhookPayloadError(field_name, "required field is missing")
    return text


def free_text(value: Any, field_name: str, limit: int) -> str | None:
    """Free text (comments, url): NUL removed, truncated to ``limit`` ending in "…"."""
    text = text_or_none(value, field_name)
    if text is None:
        return None
    text = text.replace("\x00", "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def normalize_phone(text: str, *, field: str = "phone") -> str:
    """A phone number in E.164 with '+': drops ``whatsapp:``, spaces, dashes, dots, brackets."""
    if not isinstance(text, str):
        raise WebhookPayloadError(field, "expected a phone number")
    number = text.strip()
    if number.lower().startswith("whatsapp:"):
        number = number[len("whatsapp:") :]
    number = _PHONE_SEPARATORS.sub("", number).removeprefix("+")
    if not _E164_DIGITS.match(number):
        raise WebhookPayloadError(field, "expected a phone number in E.164 form (+ and digits)")
    return "+" + number


def normalize_email(text: str, *, field: str = "email") -> str:
    """An email address stripped and lower-cased; refused when it cannot be one."""
    if not isinstance(text, str):
        raise WebhookPayloadError(field, "expected an email address")
    email = text.strip().lower()
    if "@" not in email or _CONTROL.search(email) or any(c.isspace() for c in email):
        raise WebhookPayloadError(field, "expected an email address")
    if len(email) > MAX_USER_ID:
        raise WebhookPayloadError(field, f"longer than {MAX_USER_ID} characters")
    return email


def workflow_hint(value: Any, field_name: str) -> str | None:
    """The flow hint a sender attached to a message (None when the provider sent none)."""
    return identifier(value, field_name, MAX_WORKFLOW_ID)
