"""SendGrid Event Webhook: ECDSA P-256 signature over timestamp + body, and event mapping."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from store.connectors import sendgrid
from store.connectors.base import (
    ClickUpdate,
    ParsedWebhook,
    SignatureError,
    StatusUpdate,
    WebhookPayloadError,
    WebhookRequest,
)

SIGNED_AT = 1793523605  # 2026-11-01T09:00:05Z
NOW = datetime.fromtimestamp(SIGNED_AT + 30, UTC)
PRIVATE_KEY = ec.generate_private_key(ec.SECP256R1())
# SendGrid shows the verification key as base64 of the DER SubjectPublicKeyInfo.
PUBLIC_KEY_B64 = base64.b64encode(
    PRIVATE_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()

# The per-event examples of https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event
# (also sendgrid/docs content/docs/for-developers/tracking-events/event.md), one of each kind,
# batched in one array as SendGrid posts them, with a custom arg workflow_id on the first
# events (custom args appear as top-level keys of each event).
MESSAGE = "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"
BATCH: list[dict[str, Any]] = [
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "pool": {"name": "new_MY_test", "id": 210},
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": "processed",
        "category": "cat facts",
        "sg_event_id": "rbtnWrG1DVDGGGFHFyun0A==",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.000000000000000000000",
        "workflow_id": "wf_42",
    },
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": "deferred",
        "category": "cat facts",
        "sg_event_id": "t7LEShmowp86DTdUW8M-GQ==",
        "sg_message_id": MESSAGE,
        "response": "400 try again later",
        "attempt": "5",
        "workflow_id": "wf_42",
    },
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": "delivered",
        "category": "cat facts",
        "sg_event_id": "rWVYmVk90MjZJ9iohOBa3w==",
        "sg_message_id": MESSAGE,
        "response": "250 OK",
    },
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": "open",
        "category": "cat facts",
        "sg_event_id": "FOTFFO0ecsBE-zxFXfs6WA==",
        "sg_message_id": MESSAGE,
        "useragent": "Mozilla/4.0 (compatible; MSIE 6.1; Windows XP; .NET CLR 1.1.4322; .NET CLR 2.0.50727)",
        "ip": "255.255.255.255",
    },
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": "click",
        "category": "cat facts",
        "sg_event_id": "kCAi1KttyQdEKHhdC-nuEA==",
        "sg_message_id": MESSAGE,
        "useragent": "Mozilla/4.0 (compatible; MSIE 6.1; Windows XP; .NET CLR 1.1.4322; .NET CLR 2.0.50727)",
        "ip": "255.255.255.255",
        "url": "http://www.sendgrid.com/",
    },
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": "bounce",
        "category": "cat facts",
        "sg_event_id": "6g4ZI7SA-xmRDv57GoPIPw==",
        "sg_message_id": MESSAGE,
        "reason": "500 unknown recipient",
        "status": "5.0.0",
        "type": "bounce",
    },
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": "dropped",
        "category": "cat facts",
        "sg_event_id": "zmzJhfJgAfUSOW80yEbPyw==",
        "sg_message_id": MESSAGE,
        "reason": "Bounced Address",
        "status": "5.0.0",
    },
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": "spamreport",
        "category": "cat facts",
        "sg_event_id": "37nvH5QBz858KGVYCM4uOA==",
        "sg_message_id": MESSAGE,
    },
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": "unsubscribe",
        "category": "cat facts",
        "sg_event_id": "zz_BjPgU_5pS-J8vlfB1sg==",
        "sg_message_id": MESSAGE,
    },
]


def sign(timestamp: str, body: bytes, key: ec.EllipticCurvePrivateKey = PRIVATE_KEY) -> str:
    """Sign as SendGrid does: ECDSA P-256/SHA-256 over timestamp + body, DER, base64."""
    return base64.b64encode(key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()


def signed(events: Any, timestamp: int = SIGNED_AT) -> WebhookRequest:
    body = json.dumps(events).encode()
    return WebhookRequest(
        body=body,
        headers={
            "X-Twilio-Email-Event-Webhook-Signature": sign(str(timestamp), body),
            "X-Twilio-Email-Event-Webhook-Timestamp": str(timestamp),
        },
    )


def parse(events: Any) -> ParsedWebhook:
    request = signed(events)
    sendgrid.verify(PUBLIC_KEY_B64, request, now=NOW)
    return sendgrid.parse(request, now=NOW)


def event(index: int, **fields: Any) -> dict[str, Any]:
    item = copy.deepcopy(BATCH[index])
    item.update(fields)
    return item


AT = datetime(2017, 12, 15, 0, 59, 29, tzinfo=UTC)


def test_documented_batch_maps_every_event_in_order() -> None:
    parsed = parse(BATCH)
    short = "14c5d75ce93"
    assert parsed.ignored == 2  # spamreport and unsubscribe
    assert parsed.updates == [
        StatusUpdate(
            short,
            "queued",
            AT,
            "email",
            "rbtnWrG1DVDGGGFHFyun0A==",
            None,
            None,
            "wf_42",
            "example@test.com",
        ),
        StatusUpdate(
            short,
            "queued",
            AT,
            "email",
            "t7LEShmowp86DTdUW8M-GQ==",
            None,
            None,
            "wf_42",
            "example@test.com",
        ),
        StatusUpdate(
            short,
            "delivered",
            AT,
            "email",
            "rWVYmVk90MjZJ9iohOBa3w==",
            None,
            None,
            None,
            "example@test.com",
        ),
        StatusUpdate(
            short,
            "read",
            AT,
            "email",
            "FOTFFO0ecsBE-zxFXfs6WA==",
            None,
            None,
            None,
            "example@test.com",
        ),
        ClickUpdate(
            short,
            "example@test.com",
            "email",
            "http://www.sendgrid.com/",
            AT,
            "kCAi1KttyQdEKHhdC-nuEA==",
            None,
        ),
        StatusUpdate(
            short,
            "failed",
            AT,
            "email",
            "6g4ZI7SA-xmRDv57GoPIPw==",
            "5.0.0",
            "500 unknown recipient",
            None,
            "example@test.com",
        ),
        StatusUpdate(
            short,
            "failed",
            AT,
            "email",
            "zmzJhfJgAfUSOW80yEbPyw==",
            "5.0.0",
            "Bounced Address",
            None,
            "example@test.com",
        ),
    ]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("processed", "queued"),
        ("deferred", "queued"),
        ("delivered", "delivered"),
        ("open", "read"),
        ("bounce", "failed"),
        ("dropped", "failed"),
        ("blocked", "failed"),
    ],
)
def test_status_mapping(kind: str, expected: str) -> None:
    (update,) = parse([event(2, event=kind)]).updates
    assert isinstance(update, StatusUpdate)
    assert update.status == expected


@pytest.mark.parametrize(
    "kind", ["spamreport", "unsubscribe", "group_unsubscribe", "group_resubscribe"]
)
def test_other_events_are_ignored(kind: str) -> None:
    assert parse([event(7, event=kind)]) == ParsedWebhook([], 1)


def test_documented_blocked_bounce_is_a_failure() -> None:
    # The "Blocked" example of the same page: event bounce with type blocked.
    (update,) = parse([event(5, type="blocked")]).updates
    assert isinstance(update, StatusUpdate)
    assert (update.status, update.error_code) == ("failed", "5.0.0")


def test_asynchronous_bounce_without_message_id_is_ignored() -> None:
    # The page notes sg_message_id is unavailable for asynchronous bounces.
    bounce = event(5)
    del bounce["sg_message_id"]
    assert parse([bounce, event(2)]) == ParsedWebhook(parse([event(2)]).updates, 1)


def test_email_is_lower_cased_and_long_click_url_truncated() -> None:
    (click,) = parse(
        [event(4, email=" Jane.Doe@Example.COM ", url="https://a.example/" + "x" * 3000)]
    ).updates
    assert isinstance(click, ClickUpdate)
    assert click.user_id == "jane.doe@example.com"
    assert click.url is not None
    assert len(click.url) == 2000


# --- signature ---------------------------------------------------------------------------


def test_pem_key_is_accepted_too() -> None:
    pem = (
        PRIVATE_KEY.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    sendgrid.verify(pem, signed(BATCH), now=NOW)


def test_another_key_is_refused() -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    body = json.dumps(BATCH).encode()
    request = WebhookRequest(
        body=body,
        headers={
            "x-twilio-email-event-webhook-signature": sign(str(SIGNED_AT), body, other),
            "x-twilio-email-event-webhook-timestamp": str(SIGNED_AT),
        },
    )
    with pytest.raises(SignatureError) as err:
        sendgrid.verify(PUBLIC_KEY_B64, request, now=NOW)
    assert err.value.reason == "bad"


def test_tampered_body_is_refused() -> None:
    request = signed(BATCH)
    body = request.body.replace(b'"bounce"', b'"delivered"')
    with pytest.raises(SignatureError) as err:
        sendgrid.verify(PUBLIC_KEY_B64, WebhookRequest(body, request.headers), now=NOW)
    assert err.value.reason == "bad"


def test_tampered_timestamp_is_refused() -> None:
    request = signed(BATCH)
    headers = {**request.headers, "x-twilio-email-event-webhook-timestamp": str(SIGNED_AT + 1)}
    with pytest.raises(SignatureError) as err:
        sendgrid.verify(PUBLIC_KEY_B64, WebhookRequest(request.body, headers), now=NOW)
    assert err.value.reason == "bad"


@pytest.mark.parametrize("offset", [timedelta(minutes=6), timedelta(minutes=-6)])
def test_stale_or_future_timestamp_is_refused(offset: timedelta) -> None:
    with pytest.raises(SignatureError) as err:
        sendgrid.verify(PUBLIC_KEY_B64, signed(BATCH), now=NOW + offset)
    assert err.value.reason == "stale"


def test_four_minutes_old_is_still_fresh() -> None:
    sendgrid.verify(PUBLIC_KEY_B64, signed(BATCH), now=NOW + timedelta(minutes=4))


@pytest.mark.parametrize(
    ("drop", "reason"),
    [
        ("x-twilio-email-event-webhook-signature", "missing"),
        ("x-twilio-email-event-webhook-timestamp", "missing"),
    ],
)
def test_missing_headers_are_refused(drop: str, reason: str) -> None:
    request = signed(BATCH)
    headers = {k: v for k, v in request.headers.items() if k != drop}
    with pytest.raises(SignatureError) as err:
        sendgrid.verify(PUBLIC_KEY_B64, WebhookRequest(request.body, headers), now=NOW)
    assert err.value.reason == reason


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("x-twilio-email-event-webhook-signature", "not base64!"),
        ("x-twilio-email-event-webhook-timestamp", "2026-11-01T09:00:05Z"),
    ],
)
def test_malformed_headers_are_refused(header: str, value: str) -> None:
    request = signed(BATCH)
    headers = {**request.headers, header: value}
    with pytest.raises(SignatureError) as err:
        sendgrid.verify(PUBLIC_KEY_B64, WebhookRequest(request.body, headers), now=NOW)
    assert err.value.reason == "malformed"


def test_unusable_key_is_refused_at_add_time_and_at_verify_time() -> None:
    rsa_like = base64.b64encode(b"not a key").decode()
    with pytest.raises(ValueError, match="public key"):
        sendgrid.check_secret(rsa_like)
    p384 = (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ValueError, match="P-256"):
        sendgrid.check_secret(base64.b64encode(p384).decode())
    with pytest.raises(SignatureError):
        sendgrid.verify(rsa_like, signed(BATCH), now=NOW)


# --- malformed payloads ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [(b"[{]", "body"), (b'{"event": "delivered"}', "body"), (b'["delivered"]', "[0]")],
)
def test_malformed_json_is_a_payload_error(body: bytes, field: str) -> None:
    with pytest.raises(WebhookPayloadError) as err:
        sendgrid.parse(WebhookRequest(body=body), now=NOW)
    assert err.value.field == field


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"sg_event_id": None}, "[0].sg_event_id"),
        ({"timestamp": "soon"}, "[0].timestamp"),
        ({"timestamp": True}, "[0].timestamp"),
        ({"email": "nobody"}, "[0].email"),
        ({"sg_message_id": "\x07bell.filter"}, "[0].sg_message_id"),
        ({"workflow_id": "w" * 129}, "[0].workflow_id"),
        ({"status": "5" * 65, "event": "bounce"}, "[0].status"),
    ],
)
def test_bad_fields_are_refused_naming_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(WebhookPayloadError) as err:
        parse([event(2, **fields)])
    assert err.value.field == field
