"""WhatsApp Cloud API webhooks (Meta): signature, verification GET and status mapping.

Built from Meta's documentation:
- payload: https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/status/
  (``entry[].changes[].value.statuses[]`` with ``id``, ``status``, ``timestamp`` (Unix
  seconds as a string), ``recipient_id``, optional ``biz_opaque_callback_data``, and
  ``errors[]`` with ``code``/``title`` on failures; group sends add ``recipient_type:
  "group"`` and ``recipient_participant_id``);
- signature and GET verification: https://developers.facebook.com/docs/graph-api/webhooks/getting-started/
  (``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, payload)>``; ``hub.mode=
  subscribe``, ``hub.verify_token``, ``hub.challenge``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from store.connectors.base import (
    MAX_COMMENTS,
    MAX_ERROR_CODE,
    MAX_EVENT_ID,
    MAX_MESSAGE_ID,
    ParsedWebhook,
    SignatureError,
    StatusUpdate,
    Update,
    WebhookPayloadError,
    WebhookRequest,
    constant_time_equal,
    free_text,
    identifier,
    json_list,
    json_object,
    load_json,
    normalize_phone,
    required_identifier,
    unix_time,
    workflow_hint,
)

SOURCE = "whatsapp"
SIGNATURE_HEADER = "X-Hub-Signature-256"
_STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed"}
_HEX_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
# Meta documents the challenge as an int; we echo it, so anything exotic is refused.
_CHALLENGE = re.compile(r"^[A-Za-z0-9._~-]{1,256}$")


def verify(secret: str, request: WebhookRequest, *, now: datetime) -> None:
    """Check ``X-Hub-Signature-256`` on the raw body (Meta signs no timestamp: ``now`` unused)."""
    header = request.header(SIGNATURE_HEADER)
    if not header:
        raise SignatureError("missing", f"no {SIGNATURE_HEADER} header")
    algorithm, _, given = header.strip().partition("=")
    if algorithm.lower() != "sha256" or not _HEX_SHA256.match(given):
        raise SignatureError("malformed", f"{SIGNATURE_HEADER} is not sha256=<64 hex digits>")
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    if not constant_time_equal(expected, given.lower()):
        raise SignatureError("bad", f"{SIGNATURE_HEADER} does not match the body")


def verify_challenge(verify_token_expected: str, params: Mapping[str, str]) -> str:
    """Answer Meta's subscription GET: the ``hub.challenge`` to echo, or SignatureError (403)."""
    if params.get("hub.mode") != "subscribe":
        raise SignatureError("malformed", "hub.mode is not 'subscribe'")
    token = params.get("hub.verify_token")
    if not token:
        raise SignatureError("missing", "no hub.verify_token")
    if not constant_time_equal(verify_token_expected, token):
        raise SignatureError("bad", "hub.verify_token does not match")
    challenge = params.get("hub.challenge") or ""
    if not _CHALLENGE.match(challenge):
        raise SignatureError("malformed", "hub.challenge is missing or not a plain token")
    return challenge


def parse(request: WebhookRequest, *, now: datetime) -> ParsedWebhook:
    """Map every ``statuses[]`` item of every entry and change, in payload order."""
    payload = load_json(request.body)
    if not isinstance(payload, dict):
        raise WebhookPayloadError("body", "expected a JSON object")
    updates: list[Update] = []
    ignored = 0
    for e, entry in enumerate(json_list(payload, "entry", "entry")):
        where = f"entry[{e}]"
        changes = json_list(json_object(entry, where), "changes", f"{where}.changes")
        for c, change in enumerate(changes):
            found, skipped = _change(change, f"{where}.changes[{c}]")
            updates.extend(found)
            ignored += skipped
    return ParsedWebhook(updates=updates, ignored=ignored)


def _change(change: Any, where: str) -> tuple[list[Update], int]:
    """One ``changes[]`` item: its statuses, and how many other events it carried."""
    value = json_object(change, where).get("value")
    if change.get("field", "messages") != "messages" or not isinstance(value, dict):
        return [], 1  # account, template or other webhooks: not message statuses
    updates: list[Update] = []
    ignored = len(json_list(value, "messages", f"{where}.value.messages"))  # inbound messages
    ignored += len(json_list(value, "errors", f"{where}.value.errors"))  # errors not about a send
    for s, status in enumerate(json_list(value, "statuses", f"{where}.value.statuses")):
        path = f"{where}.value.statuses[{s}]"
        update = _status(json_object(status, path), path)
        if update is None:
            ignored += 1
        else:
            updates.append(update)
    return updates, ignored


def _status(item: dict[str, Any], where: str) -> StatusUpdate | None:
    """One status object; None for statuses we do not map (e.g. ``deleted``, ``played``)."""
    raw_status = str(item.get("status") or "").strip().lower()
    status = _STATUSES.get(raw_status)
    if status is None:
        return None
    message_id = required_identifier(item.get("id"), f"{where}.id", MAX_MESSAGE_ID)
    error = _first_error(item, where)
    return StatusUpdate(
        message_id=message_id,
        status=status,
        at=unix_time(item.get("timestamp"), f"{where}.timestamp"),
        source=SOURCE,
        event_id=required_identifier(
            f"{message_id}:{raw_status}", f"{where}.id:status", MAX_EVENT_ID
        ),
        error_code=identifier(error.get("code"), f"{where}.errors[0].code", MAX_ERROR_CODE),
        comments=free_text(error.get("title"), f"{where}.errors[0].title", MAX_COMMENTS),
        workflow_id=workflow_hint(
            item.get("biz_opaque_callback_data"), f"{where}.biz_opaque_callback_data"
        ),
        user_id=_recipient(item, where),
    )


def _first_error(item: dict[str, Any], where: str) -> dict[str, Any]:
    errors = json_list(item, "errors", f"{where}.errors")
    return json_object(errors[0], f"{where}.errors[0]") if errors else {}


def _recipient(item: dict[str, Any], where: str) -> str | None:
    """The user's phone: ``recipient_id``, or the participant's for a group send."""
    if item.get("recipient_type") == "group":
        participant = item.get("recipient_participant_id")
        if not participant:
            return None
        return normalize_phone(str(participant), field=f"{where}.recipient_participant_id")
    recipient = item.get("recipient_id")
    return normalize_phone(str(recipient), field=f"{where}.recipient_id") if recipient else None
