"""The connector registry: kinds, prompts, channels, and verify/parse through it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from store.connectors import KINDS
from store.connectors.base import SignatureError, StatusUpdate, WebhookRequest
from store.connectors.secrets import ConnectorSecret

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def test_kinds_prompts_and_channels_are_the_contract() -> None:
    assert {kind: c.secret_prompts for kind, c in KINDS.items()} == {
        "whatsapp": ("app secret", "verify token"),
        "twilio": ("auth token",),
        "sendgrid": ("verification public key (base64)",),
        "mailgun": ("webhook signing key",),
    }
    assert {kind: c.sources for kind, c in KINDS.items()} == {
        "whatsapp": ("whatsapp",),
        "twilio": ("sms", "whatsapp"),
        "sendgrid": ("email",),
        "mailgun": ("email",),
    }
    assert all(c.kind == kind for kind, c in KINDS.items())


def test_whatsapp_verifies_with_the_app_secret_part() -> None:
    secret = ConnectorSecret("the-app-secret", "the-verify-token")
    body = json.dumps(
        {
            "entry": [
                {
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "statuses": [
                                    {
                                        "id": "wamid.X",
                                        "status": "read",
                                        "timestamp": "1793523600",
                                        "recipient_id": "16505551234",
                                    }
                                ]
                            },
                        }
                    ]
                }
            ]
        }
    ).encode()
    digest = hmac.new(b"the-app-secret", body, hashlib.sha256).hexdigest()
    request = WebhookRequest(body=body, headers={"X-Hub-Signature-256": f"sha256={digest}"})
    connector = KINDS["whatsapp"]
    assert connector.verify(secret, request, now=NOW) is None
    (update,) = connector.parse(request, now=NOW).updates
    assert isinstance(update, StatusUpdate)
    assert (update.message_id, update.status) == ("wamid.X", "read")
    wrong = ConnectorSecret("the-verify-token", "the-app-secret")
    with pytest.raises(SignatureError):
        connector.verify(wrong, request, now=NOW)


def test_mailgun_verify_returns_the_replay_token() -> None:
    token = "e0b5477167110d68991efc6b9f89f0a11066af27834600e123"
    timestamp = str(int(NOW.timestamp()))
    sig = hmac.new(b"signing-key", (timestamp + token).encode(), hashlib.sha256).hexdigest()
    body = json.dumps({"signature": {"timestamp": timestamp, "token": token, "signature": sig}})
    request = WebhookRequest(body=body.encode())
    assert KINDS["mailgun"].verify(ConnectorSecret("signing-key"), request, now=NOW) == token


def test_check_secret_counts_parts_and_validates_keys() -> None:
    with pytest.raises(ValueError, match="app secret, then verify token"):
        KINDS["whatsapp"].check_secret(ConnectorSecret("only-one"))
    KINDS["whatsapp"].check_secret(ConnectorSecret("app", "token"))
    KINDS["twilio"].check_secret(ConnectorSecret("auth"))
    with pytest.raises(ValueError, match="public key"):
        KINDS["sendgrid"].check_secret(ConnectorSecret("not-a-key"))
    der = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    KINDS["sendgrid"].check_secret(ConnectorSecret(base64.b64encode(der).decode()))
