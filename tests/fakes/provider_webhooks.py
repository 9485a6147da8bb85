"""Provider webhooks as each provider sends them: documented payload shapes, signed.

Used by the webhook tests and ``bench/bench_webhooks.py``. Each builder returns the raw body
and the headers; the signing is written out here from the providers' documentation,
independently of ``store.connectors``:

- WhatsApp Cloud API: ``X-Hub-Signature-256: sha256=`` hex HMAC-SHA256(app secret, body);
- Twilio: ``X-Twilio-Signature`` = base64 HMAC-SHA1(auth token, URL + sorted name+value);
- SendGrid: ``X-Twilio-Email-Event-Webhook-Signature`` = base64 DER ECDSA P-256/SHA-256 over
  the ``…-Timestamp`` header value followed by the body;
- Mailgun: ``signature.signature`` = hex HMAC-SHA256(signing key, timestamp + token).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

Signed = tuple[bytes, dict[str, str]]


# -- WhatsApp Cloud API -------------------------------------------------------------------


def whatsapp_status(
    message_id: str,
    status: str,
    *,
    recipient: str = "16505551234",
    at: int | None = None,
    flow: str | None = None,
    error: tuple[int, str] | None = None,
) -> dict[str, Any]:
    """One ``statuses[]`` item, shaped as Meta's status webhook reference shows it."""
    item: dict[str, Any] = {
        "id": message_id,
        "status": status,
        "timestamp": str(at if at is not None else int(time.time())),
        "recipient_id": recipient,
    }
    if status != "failed":
        item["pricing"] = {"billable": True, "pricing_model": "PMP", "type": "regular",
                           "category": "marketing"}  # fmt: skip
    if flow is not None:
        item["biz_opaque_callback_data"] = flow
    if error is not None:
        code, title = error
        item["errors"] = [{"code": code, "title": title, "message": title,
                           "error_data": {"details": title}}]  # fmt: skip
    return item


def whatsapp_payload(*statuses: dict[str, Any]) -> dict[str, Any]:
    """``entry[].changes[].value.statuses[]`` as Meta posts it."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881",
                         "phone_number_id": "106540352242922"},
            "statuses": list(statuses),
        }}]}],
    }  # fmt: skip


def whatsapp_signed(app_secret: str, payload: Any) -> Signed:
    """The raw JSON body and its ``X-Hub-Signature-256``."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}


# -- Twilio -------------------------------------------------------------------------------


def twilio_callback(
    sid: str, status: str, *, to: str = "+15558675310", sender: str = "+15017122661",
    error_code: str | None = None,
) -> list[tuple[str, str]]:  # fmt: skip
    """A status callback's form parameters (Twilio's "track outbound message status" list)."""
    pairs = [
        ("AccountSid", "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"),
        ("ApiVersion", "2010-04-01"),
        ("From", sender),
        ("MessageSid", sid),
        ("MessageStatus", status),
        ("SmsSid", sid),
        ("SmsStatus", status),
        ("To", to),
    ]
    if sender.startswith("whatsapp:"):
        pairs.append(("ChannelPrefix", "whatsapp"))
    if error_code is not None:
        pairs.append(("ErrorCode", error_code))
    return pairs


def twilio_signature(auth_token: str, url: str, pairs: list[tuple[str, str]]) -> str:
    """Twilio's algorithm: the URL, then each parameter name and value, sorted."""
    data = url + "".join(name + value for name, value in sorted(pairs))
    return base64.b64encode(
        hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    ).decode()


def twilio_signed(auth_token: str, url: str, pairs: list[tuple[str, str]]) -> Signed:
    """The form body and its ``X-Twilio-Signature`` for ``url`` as configured at Twilio."""
    return urlencode(pairs).encode(), {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_signature(auth_token, url, pairs),
    }


# -- SendGrid -----------------------------------------------------------------------------


def sendgrid_keys() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A signing key pair: the private key and the verification key as SendGrid shows it."""
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(public).decode()


def sendgrid_event(
    message_id: str, event: str, *, email: str = "example@test.com", at: int | None = None,
    flow: str | None = None, **fields: Any,
) -> dict[str, Any]:  # fmt: skip
    """One event of the Event Webhook's array (SendGrid's event reference)."""
    item: dict[str, Any] = {
        "email": email,
        "timestamp": at if at is not None else int(time.time()),
        "smtp-id": f"<{message_id}@ismtpd-555>",
        "event": event,
        "category": "cat facts",
        "sg_event_id": secrets.token_urlsafe(16),
        "sg_message_id": f"{message_id}.filter0001.16648.5515E0B88.0",
    }
    if flow is not None:
        item["workflow_id"] = flow  # a custom arg: a top-level key of every event
    return item | fields


def sendgrid_signed(
    private_key: ec.EllipticCurvePrivateKey, events: Any, *, timestamp: int | None = None
) -> Signed:
    """The JSON array body, its timestamp header and its ECDSA signature header."""
    body = events if isinstance(events, bytes) else json.dumps(events).encode()
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    signature = private_key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return body, {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
    }


# -- Mailgun ------------------------------------------------------------------------------


def mailgun_event(
    message_id: str, event: str, *, recipient: str = "recipient@sample.mailgun.com",
    at: float | None = None, flow: str | None = None, **fields: Any,
) -> dict[str, Any]:  # fmt: skip
    """``event-data`` as Mailgun's webhook payload reference shows it."""
    data: dict[str, Any] = {
        "id": secrets.token_urlsafe(16),
        "event": event,
        "timestamp": at if at is not None else time.time(),
        "log-level": "info",
        "recipient": recipient,
        "recipient-domain": recipient.split("@")[1],
        "message": {"headers": {"message-id": message_id, "from": "sender@sample.mailgun.com",
                                "to": recipient, "subject": "Diwali offers"}},
        "user-variables": {"workflow_id": flow} if flow is not None else [],
        "tags": [],
    }  # fmt: skip
    return data | fields


def mailgun_signed(
    signing_key: str, event_data: dict[str, Any], *, timestamp: int | None = None,
    token: str | None = None,
) -> Signed:  # fmt: skip
    """The JSON body ``{"signature": {…}, "event-data": {…}}``, signed."""
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    token = token or secrets.token_hex(25)
    signature = hmac.new(signing_key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    body = {"signature": {"timestamp": stamp, "token": token, "signature": signature},
            "event-data": event_data}  # fmt: skip
    return json.dumps(body).encode(), {"Content-Type": "application/json"}
