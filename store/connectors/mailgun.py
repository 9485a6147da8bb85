"""Mailgun webhooks: signature (in the JSON body), replay token and event mapping.

Built from Mailgun's documentation:
- signature: https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks
  (body ``{"signature": {"timestamp", "token", "signature"}, "event-data": {…}}``;
  ``signature`` = hex HMAC-SHA256 with the webhook signing key over timestamp + token; cache
  tokens to refuse replays, check the timestamp is near now; subaccount events add a
  ``parent-signature`` made with the primary account's key, which we also accept);
- events: https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/webhook-payloads
  and https://documentation.mailgun.com/docs/mailgun/user-manual/events/event-types
  (``event-data``: ``id``, ``event``, ``timestamp`` (float seconds), ``recipient``,
  ``message.headers.message-id``, ``user-variables``, and for ``failed`` a ``severity`` of
  permanent or temporary with ``delivery-status.code`` / ``.message``; ``url`` on clicks).

Mailgun signs only timestamp + token, not ``event-data``: the signature proves a request
came from Mailgun recently and (with the recorded token) only once, but it does not
authenticate the event fields themselves; TLS on the webhook URL is what protects them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime
from typing import Any

from store.connectors.base import (
    MAX_COMMENTS,
    MAX_ERROR_CODE,
    MAX_EVENT_ID,
    MAX_MESSAGE_ID,
    MAX_URL,
    ParsedWebhook,
    SignatureError,
    Update,
    WebhookPayloadError,
    WebhookRequest,
    check_fresh,
    constant_time_equal,
    email_update,
    free_text,
    identifier,
    json_object,
    load_json,
    normalize_email,
    required_identifier,
    unix_time,
    workflow_hint,
)

SOURCE = "email"
MAX_TOKEN = 200
_STATUSES = {"accepted": "queued", "delivered": "delivered", "failed": "failed", "opened": "read"}
_HEX_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_UNIX_SECONDS = re.compile(r"^[0-9]{1,12}$")


def signature_of(body: bytes) -> dict[str, str]:
    """The ``signature`` object of a body, checked for shape (parsed minimally: no mapping)."""
    payload = load_json(body)
    if not isinstance(payload, dict):
        raise WebhookPayloadError("body", "expected a JSON object")
    signed = payload.get("signature")
    if not isinstance(signed, dict):
        raise SignatureError("missing", "no signature object in the body")
    result: dict[str, str] = {}
    for key in ("timestamp", "token", "signature", "parent-signature"):
        value = signed.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # the timestamp is documented as an int, sent as a string
        if isinstance(value, str) and value.strip():
            result[key] = value.strip()
        elif key != "parent-signature":
            raise SignatureError("missing", f"no signature.{key}")
    return result


def token_of(body: bytes) -> str:
    """The replay token of a body (``signature.token``), for the caller to record once."""
    return signature_of(body)["token"]


def verify(secret: str, request: WebhookRequest, *, now: datetime) -> str:
    """Check signature and freshness; return the token the caller must refuse if seen before.

    Raises ``SignatureError``, or ``WebhookPayloadError`` when the body is not a JSON object
    (the signature lives inside it). Replays need storage, so they are the caller's check.
    """
    signed = signature_of(request.body)
    timestamp, token = signed["timestamp"], signed["token"]
    if not _UNIX_SECONDS.match(timestamp):
        raise SignatureError("malformed", "signature.timestamp is not a Unix time in seconds")
    if len(token) > MAX_TOKEN or not token.isprintable():
        raise SignatureError("malformed", "signature.token is too long or not printable")
    expected = hmac.new(secret.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    given = [signed[key] for key in ("signature", "parent-signature") if key in signed]
    if not any(_HEX_SHA256.match(value) for value in given):
        raise SignatureError("malformed", "signature.signature is not 64 hex digits")
    if not any(constant_time_equal(expected, value.lower()) for value in given):
        raise SignatureError("bad", "signature.signature does not match timestamp and token")
    check_fresh(int(timestamp), now, what="signature.timestamp")
    return token


def parse(request: WebhookRequest, *, now: datetime) -> ParsedWebhook:
    """Map the one event a Mailgun webhook carries; unmapped ones count as ignored."""
    payload = load_json(request.body)
    if not isinstance(payload, dict):
        raise WebhookPayloadError("body", "expected a JSON object")
    data = json_object(payload.get("event-data"), "event-data")
    update = _event(data, "event-data")
    return ParsedWebhook(updates=[update] if update else [], ignored=0 if update else 1)


def _event(data: dict[str, Any], where: str) -> Update | None:
    """The mapped event; None for other events and for temporary failures (Mailgun retries)."""
    kind = str(data.get("event") or "").strip().lower()
    if kind == "failed" and str(data.get("severity") or "").lower() != "permanent":
        return None
    if kind != "clicked" and kind not in _STATUSES:
        return None
    message_id = _message_id(data, where)
    at = unix_time(data.get("timestamp"), f"{where}.timestamp")
    event_id = required_identifier(data.get("id"), f"{where}.id", MAX_EVENT_ID)
    flow = _flow_hint(data.get("user-variables"), f"{where}.user-variables.workflow_id")
    recipient = data.get("recipient")
    user_id = normalize_email(recipient, field=f"{where}.recipient") if recipient else None
    if kind == "clicked":
        url = free_text(data.get("url"), f"{where}.url", MAX_URL)
        return email_update(
            source=SOURCE, message_id=message_id, user_id=user_id, at=at, event_id=event_id,
            workflow_id=flow, click_url=url,
        )  # fmt: skip
    status = _STATUSES[kind]
    error_code, comments = _failure(data, where) if kind == "failed" else (None, None)
    return email_update(
        source=SOURCE, message_id=message_id, user_id=user_id, at=at, event_id=event_id,
        workflow_id=flow, status=status, error_code=error_code, comments=comments,
    )  # fmt: skip


def _message_id(data: dict[str, Any], where: str) -> str:
    """``message.headers.message-id``, without the angle brackets the send API puts around it."""
    message = json_object(data.get("message") or {}, f"{where}.message")
    headers = json_object(message.get("headers") or {}, f"{where}.message.headers")
    where = f"{where}.message.headers.message-id"
    text = required_identifier(headers.get("message-id"), where, MAX_MESSAGE_ID + 2)
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    return required_identifier(text, where, MAX_MESSAGE_ID)


def _flow_hint(variables: Any, where: str) -> str | None:
    """``user-variables.workflow_id`` (Mailgun sends ``[]`` when a message has none)."""
    return (
        workflow_hint(variables.get("workflow_id"), where) if isinstance(variables, dict) else None
    )


def _failure(data: dict[str, Any], where: str) -> tuple[str | None, str | None]:
    """``delivery-status.code`` and ``.message`` (its ``description`` when message is empty)."""
    where = f"{where}.delivery-status"
    status = json_object(data.get("delivery-status") or {}, where)
    code = identifier(status.get("code"), f"{where}.code", MAX_ERROR_CODE)
    reason = free_text(status.get("message"), f"{where}.message", MAX_COMMENTS)
    return code, reason or free_text(
        status.get("description"), f"{where}.description", MAX_COMMENTS
    )
