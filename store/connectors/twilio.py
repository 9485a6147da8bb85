"""Twilio Programmable Messaging status callbacks (SMS and WhatsApp): signature and mapping.

Built from Twilio's documentation:
- signature: https://www.twilio.com/docs/usage/webhooks/webhooks-security and
  https://www.twilio.com/docs/usage/security (``X-Twilio-Signature`` = base64 HMAC-SHA1 with
  the auth token over the full URL Twilio called, query string included, followed by each
  POST parameter name and value, sorted by name); the helper libraries Twilio points to
  (twilio-python ``RequestValidator``) also sort repeated names by value and accept the URL
  with or without its port, since Twilio's signing is inconsistent about standard ports;
- callbacks: https://www.twilio.com/docs/messaging/guides/track-outbound-message-status and
  https://www.twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks
  (form-encoded POST; ``MessageSid``, ``MessageStatus``, ``ErrorCode``, ``From``, ``To``…;
  statuses accepted, scheduled, queued, sending, sent, delivered, undelivered, failed, read,
  and others such as canceled that we do not map).

A status callback carries no time of its own, so an update's ``at`` is the ``now`` passed in
(the time we received it). ``comments`` stays None: the callback has an error code only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import parse_qs, parse_qsl, urlsplit, urlunsplit

from store.connectors.base import (
    MAX_ERROR_CODE,
    MAX_EVENT_ID,
    MAX_MESSAGE_ID,
    ParsedWebhook,
    SignatureError,
    StatusUpdate,
    WebhookPayloadError,
    WebhookRequest,
    aware_utc,
    constant_time_equal,
    identifier,
    normalize_phone,
    required_identifier,
    workflow_hint,
)

SIGNATURE_HEADER = "X-Twilio-Signature"
# Present when a Twilio "Webhooks Rule" signs with its own shared key instead of the token.
SIGNATURE_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
_STATUSES = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
}
_READ_FIELDS = ("MessageSid", "MessageStatus", "ErrorCode", "From", "To")


def form_pairs(request: WebhookRequest) -> list[tuple[str, str]]:
    """The POST parameters: ``request.form`` if decoded already, else the body, strictly."""
    if request.form is not None:
        return list(request.form)
    try:
        text = request.body.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise WebhookPayloadError(
            "body", "not valid form data (application/x-www-form-urlencoded)"
        ) from None


def signature_payload(url: str, pairs: Iterable[tuple[str, str]]) -> str:
    """What Twilio signs: the URL, then every name+value, by name and then by value."""
    return url + "".join(name + value for name, value in sorted(pairs))


def compute_signature(auth_token: str, url: str, pairs: Iterable[tuple[str, str]]) -> str:
    """The ``X-Twilio-Signature`` Twilio would send for this URL and these parameters."""
    digest = hmac.new(auth_token.encode(), signature_payload(url, pairs).encode(), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode()


def verify(secret: str, request: WebhookRequest, *, now: datetime) -> None:
    """Check ``X-Twilio-Signature`` over the configured URL and the form (no timestamp signed).

    Raises ``SignatureError``; ``WebhookPayloadError`` when a signed body is not form data
    (the form must be decoded to be verified).
    """
    given = (request.header(SIGNATURE_HEADER) or "").strip()
    if not given:
        raise SignatureError("missing", f"no {SIGNATURE_HEADER} header")
    if request.header(SIGNATURE_SETTINGS_HEADER):
        raise SignatureError(
            "malformed", "signed by a Twilio Webhooks Rule key, not the auth token; remove the rule"
        )
    pairs = form_pairs(request)
    matches = [
        constant_time_equal(compute_signature(secret, url, pairs), given)
        for url in _url_variants(request.url)
    ]
    if not any(matches):
        raise SignatureError("bad", f"{SIGNATURE_HEADER} does not match the URL and parameters")


def parse(request: WebhookRequest, *, now: datetime) -> ParsedWebhook:
    """Map one status callback; a status we do not map counts as ignored."""
    fields = _fields(form_pairs(request))
    message_id = required_identifier(fields.get("MessageSid"), "MessageSid", MAX_MESSAGE_ID)
    raw_status = (fields.get("MessageStatus") or "").strip().lower()
    if not raw_status:
        raise WebhookPayloadError("MessageStatus", "required field is missing")
    status = _STATUSES.get(raw_status)
    if status is None:
        return ParsedWebhook(updates=[], ignored=1)
    sender = (fields.get("From") or "").strip()
    recipient = fields.get("To")
    update = StatusUpdate(
        message_id=message_id,
        status=status,
        at=aware_utc(now),
        source="whatsapp" if sender.lower().startswith("whatsapp:") else "sms",
        event_id=required_identifier(
            f"{message_id}:{raw_status}", "MessageSid:MessageStatus", MAX_EVENT_ID
        ),
        error_code=identifier(fields.get("ErrorCode"), "ErrorCode", MAX_ERROR_CODE),
        workflow_id=_flow_hint(request.url),
        user_id=normalize_phone(recipient, field="To") if recipient else None,
    )
    return ParsedWebhook(updates=[update], ignored=0)


def _fields(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """The parameters we read, each at most once (a repeated one is ambiguous)."""
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in _READ_FIELDS:
            if name in fields:
                raise WebhookPayloadError(name, "given more than once")
            fields[name] = value
    return fields


def _flow_hint(url: str) -> str | None:
    """The ``workflow_id`` query parameter of the status callback URL, if any."""
    values = parse_qs(urlsplit(url).query).get("workflow_id")
    return workflow_hint(values[0], "workflow_id") if values else None


def _url_variants(url: str) -> list[str]:
    """The URL as configured, without its port and with the scheme's port made explicit."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return [url]
    userinfo, at, hostport = parts.netloc.rpartition("@")
    host = hostport if port is None else hostport[: hostport.rfind(":")]
    default = 443 if parts.scheme == "https" else 80
    without = urlunsplit(parts._replace(netloc=f"{userinfo}{at}{host}"))
    explicit = urlunsplit(parts._replace(netloc=f"{userinfo}{at}{host}:{port or default}"))
    return list(dict.fromkeys([url, without, explicit]))
