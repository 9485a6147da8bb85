"""Twilio SendGrid Event Webhook: signed event webhook (ECDSA P-256) and event mapping.

Built from SendGrid's documentation:
- signature: https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features
  (``X-Twilio-Email-Event-Webhook-Signature``: base64 of an ASN.1/DER ECDSA signature over
  SHA-256 of the ``X-Twilio-Email-Event-Webhook-Timestamp`` header value followed by the raw
  body; the verification key is shown as base64 of the DER SubjectPublicKeyInfo, which is
  what SendGrid's own helpers wrap in PEM armour);
- events: https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event (a JSON
  array; ``email``, ``timestamp`` (Unix seconds), ``event``, ``sg_event_id`` (unique, for
  deduplication), ``sg_message_id`` (absent for asynchronous bounces), ``reason``, ``status``,
  ``type`` (bounce or blocked), ``url`` for clicks; custom args appear as top-level keys).
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

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
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
_STATUSES = {
    "processed": "queued",
    "deferred": "queued",
    "delivered": "delivered",
    "open": "read",
    "bounce": "failed",
    "dropped": "failed",
    "blocked": "failed",
}
_UNIX_SECONDS = re.compile(r"^[0-9]{1,12}$")


@functools.lru_cache(maxsize=64)
def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """SendGrid's verification key: base64 DER SubjectPublicKeyInfo, or the same in PEM."""
    try:
        if "-----BEGIN" in text:
            key = serialization.load_pem_public_key(text.strip().encode())
        else:
            key = serialization.load_der_public_key(
                base64.b64decode("".join(text.split()), validate=True)
            )
    except (ValueError, binascii.Error, UnsupportedAlgorithm):
        raise ValueError("not a base64 (DER) or PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not an ECDSA P-256 public key")
    return key


def check_secret(text: str) -> None:
    """Refuse, at ``connector add`` time, a verification key that cannot verify anything."""
    load_public_key(text)


def verify(secret: str, request: WebhookRequest, *, now: datetime) -> None:
    """Check the ECDSA signature over timestamp + raw body, then that the timestamp is fresh."""
    signature_b64 = (request.header(SIGNATURE_HEADER) or "").strip()
    timestamp = (request.header(TIMESTAMP_HEADER) or "").strip()
    if not signature_b64:
        raise SignatureError("missing", f"no {SIGNATURE_HEADER} header")
    if not timestamp:
        raise SignatureError("missing", f"no {TIMESTAMP_HEADER} header")
    if not _UNIX_SECONDS.match(timestamp):
        raise SignatureError("malformed", f"{TIMESTAMP_HEADER} is not a Unix time in seconds")
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except binascii.Error:
        raise SignatureError("malformed", f"{SIGNATURE_HEADER} is not base64") from None
    try:
        key = load_public_key(secret)
    except ValueError as exc:
        raise SignatureError(
            "bad", f"the connector's verification key is unusable: {exc}"
        ) from None
    try:
        key.verify(signature, timestamp.encode() + request.body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SignatureError(
            "bad", f"{SIGNATURE_HEADER} does not match timestamp and body"
        ) from None
    check_fresh(int(timestamp), now, what=TIMESTAMP_HEADER)


def parse(request: WebhookRequest, *, now: datetime) -> ParsedWebhook:
    """Map every event of the batch, in order; unmapped event types count as ignored."""
    events = load_json(request.body)
    if not isinstance(events, list):
        raise WebhookPayloadError("body", "expected a JSON array of events")
    updates: list[Update] = []
    ignored = 0
    for index, event in enumerate(events):
        update = _event(json_object(event, f"[{index}]"), f"[{index}]")
        if update is None:
            ignored += 1
        else:
            updates.append(update)
    return ParsedWebhook(updates=updates, ignored=ignored)


def _event(event: dict[str, Any], where: str) -> Update | None:
    """One event; None for types we do not map, and for events without a message id."""
    kind = str(event.get("event") or "").strip().lower()
    if kind != "click" and kind not in _STATUSES:
        return None
    message_id = _message_id(event.get("sg_message_id"), f"{where}.sg_message_id")
    if message_id is None:
        return None  # an asynchronous bounce names no message: nothing to attach it to
    at = unix_time(event.get("timestamp"), f"{where}.timestamp")
    event_id = required_identifier(event.get("sg_event_id"), f"{where}.sg_event_id", MAX_EVENT_ID)
    flow = workflow_hint(event.get("workflow_id"), f"{where}.workflow_id")  # a custom arg
    user_id = _email(event.get("email"), f"{where}.email")
    if kind == "click":
        url = free_text(event.get("url"), f"{where}.url", MAX_URL)
        return email_update(
            source=SOURCE, message_id=message_id, user_id=user_id, at=at, event_id=event_id,
            workflow_id=flow, click_url=url,
        )  # fmt: skip
    status = _STATUSES[kind]
    error_code, comments = _failure(event, where) if status == "failed" else (None, None)
    return email_update(
        source=SOURCE, message_id=message_id, user_id=user_id, at=at, event_id=event_id,
        workflow_id=flow, status=status, error_code=error_code, comments=comments,
    )  # fmt: skip


def _failure(event: dict[str, Any], where: str) -> tuple[str | None, str | None]:
    """A bounce's or drop's ``status`` (e.g. 5.0.0) and ``reason`` (the server's words)."""
    code = identifier(event.get("status"), f"{where}.status", MAX_ERROR_CODE)
    return code, free_text(event.get("reason"), f"{where}.reason", MAX_COMMENTS)


def _message_id(value: Any, where: str) -> str | None:
    """``sg_message_id`` up to its first '.', the id SendGrid's send API returned."""
    full = identifier(value, where, 10 * MAX_MESSAGE_ID)
    if full is None:
        return None
    return identifier(full.split(".", 1)[0], where, MAX_MESSAGE_ID)


def _email(value: Any, where: str) -> str | None:
    return normalize_email(value, field=where) if value else None
