"""Mailgun webhooks: HMAC over timestamp + token, freshness, replay token, event mapping."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from store.connectors import mailgun
from store.connectors.base import (
    ClickUpdate,
    ParsedWebhook,
    SignatureError,
    StatusUpdate,
    WebhookPayloadError,
    WebhookRequest,
)

SIGNING_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
# The signature object example of
# https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks
TOKEN = "e0b5477167110d68991efc6b9f89f0a11066af27834600e123"
TIMESTAMP = "1770920772"
NOW = datetime.fromtimestamp(int(TIMESTAMP) + 20, UTC)

# The "Accepted Event" example of
# https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/webhook-payloads
# (note "user-variables": [] when a message has none).
ACCEPTED: dict[str, Any] = {
    "account": {"id": "1234567890303a4bd1f33898"},
    "api-key-id": "12345678-87654321",
    "domain": {"name": "sample.mailgun.com"},
    "envelope": {
        "sender": "sender@sample.mailgun.com",
        "targets": "recipient@sample.mailgun.com",
        "transport": "smtp",
    },
    "event": "accepted",
    "flags": {"is-authenticated": True, "is-test-mode": False},
    "id": "CCXMjJ7nQi2N3BPigGOdgQ",
    "log-level": "info",
    "message": {
        "headers": {
            "from": "Sample Sender <sender@sample.mailgun.com>",
            "message-id": "20260203192638.000be97f99f8cea1@sample.mailgun.com",
            "subject": "Sample webhook payload",
            "to": "recipient@sample.mailgun.com",
        },
        "size": 341,
    },
    "method": "HTTP",
    "recipient": "recipient@sample.mailgun.com",
    "recipient-domain": "sample.mailgun.com",
    "storage": {
        "key": "XXXXAQVV4uE1s5YYj9ZJq7Ge6flueUXXXX",
        "url": "https://storage-us-west1.api.mailgun.net/v3/domains/sample.mailgun.com/messages/BAABAQcQSe_CqzXJ2_tP9JxkOh_fa1aQZA",
    },
    "tags": ["webhook_payload"],
    "timestamp": 1770146798.372891,
    "user-variables": [],
}

# The Failed (permanent), Opened and Clicked records of Mailgun's event reference
# (mailgun/documentation source/api-events.rst, "Per Event Result"; webhooks carry the same
# structure as event-data), each with the "id" current payloads carry and our flow hint in
# user-variables as X-Mailgun-Variables / v:workflow_id puts it there.
FAILED: dict[str, Any] = {
    "id": "G9Bn5sl1TC6nu79C8C0bwg",
    "severity": "permanent",
    "tags": [],
    "envelope": {
        "transport": "smtp",
        "sender": "postmaster@samples.mailgun.org",
        "sending-ip": "184.173.153.199",
    },
    "delivery-status": {"message": "Relay Not Permitted", "code": 550, "description": None},
    "campaigns": [],
    "reason": "bounce",
    "user-variables": {"workflow_id": "wf_42"},
    "flags": {"is-authenticated": True, "is-test-mode": False},
    "timestamp": 1377198389.769129,
    "message": {
        "headers": {
            "to": "recipient@example.com",
            "message-id": "20130822185902.31528.73196@samples.mailgun.org",
            "from": "John Doe <sender@example.com>",
            "subject": "Test Subject",
        },
        "attachments": [],
        "recipients": ["recipient@example.com"],
        "size": 557,
    },
    "recipient": "recipient@example.com",
    "event": "failed",
}
OPENED: dict[str, Any] = {
    "id": "Ase7i2zsRYeDXztHGENqRA",
    "geolocation": {"country": "US", "region": "Texas", "city": "Austin"},
    "tags": [],
    "timestamp": 1377047343.042277,
    "campaigns": [],
    "user-variables": {},
    "ip": "111.111.111.111",
    "client-info": {
        "client-type": "mobile browser",
        "client-os": "iOS",
        "device-type": "mobile",
        "client-name": "Mobile Safari",
        "user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 6_1 like Mac OS X) AppleWebKit/536.26 (KHTML, like Gecko) Mobile/10B143",
    },
    "message": {"headers": {"message-id": "20130821005614.19826.35976@samples.mailgun.org"}},
    "recipient": "recipient@example.com",
    "event": "opened",
}
CLICKED: dict[str, Any] = {
    "id": "Ase7i2zsRYeDXztHGENqRB",
    "geolocation": {"country": "US", "region": "TX", "city": "Austin"},
    "tags": [],
    "url": "http://google.com",
    "ip": "127.0.0.1",
    "campaigns": [],
    "user-variables": {"workflow_id": "wf_42"},
    "timestamp": 1377075564.094891,
    "client-info": {
        "client-type": "browser",
        "client-os": "Linux",
        "device-type": "desktop",
        "client-name": "Chromium",
        "user-agent": "Mozilla/5.0 (X11; Linux i686) AppleWebKit/537.36 (KHTML, like Gecko) Ubuntu Chromium/28.0.1500.71 Chrome/28.0.1500.71 Safari/537.36",
    },
    "message": {"headers": {"message-id": "20130821085807.30688.67706@samples.mailgun.org"}},
    "recipient": "recipient@example.com",
    "event": "clicked",
}


def signature(timestamp: str = TIMESTAMP, token: str = TOKEN, key: str = SIGNING_KEY) -> str:
    return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def body(event_data: Any, **signature_fields: Any) -> bytes:
    signed = {"timestamp": TIMESTAMP, "token": TOKEN, "signature": signature()}
    signed.update(signature_fields)
    return json.dumps({"signature": signed, "event-data": event_data}).encode()


def parse(event_data: Any) -> ParsedWebhook:
    request = WebhookRequest(body=body(event_data))
    assert mailgun.verify(SIGNING_KEY, request, now=NOW) == TOKEN
    return mailgun.parse(request, now=NOW)


def test_documented_accepted_event_is_queued() -> None:
    assert parse(ACCEPTED) == ParsedWebhook(
        updates=[
            StatusUpdate(
                message_id="20260203192638.000be97f99f8cea1@sample.mailgun.com",
                status="queued",
                at=datetime.fromtimestamp(1770146798.372891, UTC),
                source="email",
                event_id="CCXMjJ7nQi2N3BPigGOdgQ",
                error_code=None,
                comments=None,
                workflow_id=None,
                user_id="recipient@sample.mailgun.com",
            )
        ],
        ignored=0,
    )


def test_permanent_failure_takes_code_message_and_flow_hint() -> None:
    (update,) = parse(FAILED).updates
    assert update == StatusUpdate(
        message_id="20130822185902.31528.73196@samples.mailgun.org",
        status="failed",
        at=datetime.fromtimestamp(1377198389.769129, UTC),
        source="email",
        event_id="G9Bn5sl1TC6nu79C8C0bwg",
        error_code="550",
        comments="Relay Not Permitted",
        workflow_id="wf_42",
        user_id="recipient@example.com",
    )


def test_temporary_failure_is_ignored() -> None:
    # The "temporary" record of the same reference (Mailgun retries: not a final failure).
    temporary = copy.deepcopy(FAILED)
    temporary.update(severity="temporary", reason="generic")
    temporary["delivery-status"] = {"code": 498, "message": "No MX for [example.com]"}
    assert parse(temporary) == ParsedWebhook([], 1)


def test_clicked_is_a_click_with_its_url() -> None:
    assert parse(CLICKED).updates == [
        ClickUpdate(
            message_id="20130821085807.30688.67706@samples.mailgun.org",
            user_id="recipient@example.com",
            source="email",
            url="http://google.com",
            at=datetime.fromtimestamp(1377075564.094891, UTC),
            event_id="Ase7i2zsRYeDXztHGENqRB",
            workflow_id="wf_42",
        )
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({**ACCEPTED, "event": "accepted"}, "queued"),
        ({**ACCEPTED, "event": "delivered"}, "delivered"),
        ({**FAILED, "severity": "permanent"}, "failed"),
        (OPENED, "read"),
    ],
)
def test_status_mapping(data: dict[str, Any], expected: str) -> None:
    (update,) = parse(data).updates
    assert isinstance(update, StatusUpdate)
    assert update.status == expected


@pytest.mark.parametrize("kind", ["rejected", "unsubscribed", "complained", "stored"])
def test_other_events_are_ignored(kind: str) -> None:
    assert parse({**ACCEPTED, "event": kind}) == ParsedWebhook([], 1)


def test_angle_brackets_around_the_message_id_are_dropped() -> None:
    data = copy.deepcopy(ACCEPTED)
    data["message"]["headers"]["message-id"] = (
        "<20260203192638.000be97f99f8cea1@sample.mailgun.com>"
    )
    (update,) = parse(data).updates
    assert update.message_id == "20260203192638.000be97f99f8cea1@sample.mailgun.com"


def test_empty_delivery_message_falls_back_to_the_description() -> None:
    data = copy.deepcopy(FAILED)
    data["delivery-status"] = {
        "code": 605,
        "message": "",
        "description": "Not delivering to previously bounced address",
    }
    (update,) = parse(data).updates
    assert isinstance(update, StatusUpdate)
    assert (update.error_code, update.comments) == (
        "605",
        "Not delivering to previously bounced address",
    )


# --- signature ---------------------------------------------------------------------------


def test_token_of_returns_the_replay_token() -> None:
    assert mailgun.token_of(body(ACCEPTED)) == TOKEN


def test_wrong_key_is_refused() -> None:
    request = WebhookRequest(body=body(ACCEPTED))
    with pytest.raises(SignatureError) as err:
        mailgun.verify("key-another", request, now=NOW)
    assert err.value.reason == "bad"
    assert SIGNING_KEY not in str(err.value) and signature() not in str(err.value)


@pytest.mark.parametrize("field", ["timestamp", "token"])
def test_tampered_signed_field_is_refused(field: str) -> None:
    tampered = {"timestamp": str(int(TIMESTAMP) + 1), "token": TOKEN[:-1] + "4"}[field]
    request = WebhookRequest(body=body(ACCEPTED, **{field: tampered}))
    with pytest.raises(SignatureError) as err:
        mailgun.verify(SIGNING_KEY, request, now=NOW)
    assert err.value.reason == "bad"


def test_signature_does_not_cover_event_data() -> None:
    # Mailgun's documented scheme signs timestamp + token only: an altered event-data still
    # verifies. Pinned here so no caller believes otherwise (TLS and the token guard it).
    altered = {**ACCEPTED, "event": "delivered"}
    assert mailgun.verify(SIGNING_KEY, WebhookRequest(body=body(altered)), now=NOW) == TOKEN


@pytest.mark.parametrize("offset", [timedelta(minutes=6), timedelta(minutes=-6)])
def test_stale_timestamp_is_refused(offset: timedelta) -> None:
    with pytest.raises(SignatureError) as err:
        mailgun.verify(SIGNING_KEY, WebhookRequest(body=body(ACCEPTED)), now=NOW + offset)
    assert err.value.reason == "stale"


def test_integer_timestamp_and_upper_case_hex_verify() -> None:
    request = WebhookRequest(
        body=body(ACCEPTED, timestamp=int(TIMESTAMP), signature=signature().upper())
    )
    assert mailgun.verify(SIGNING_KEY, request, now=NOW) == TOKEN


def test_subaccount_parent_signature_verifies() -> None:
    # Subaccount events add parent-signature, made with the primary account's key.
    primary_key = "key-primary-account"
    request = WebhookRequest(
        body=body(
            ACCEPTED,
            signature=signature(key="key-subaccount"),
            **{"parent-signature": signature(key=primary_key)},
        )
    )
    assert mailgun.verify(primary_key, request, now=NOW) == TOKEN


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"event-data": ACCEPTED}, "missing"),
        ({"signature": "abc", "event-data": ACCEPTED}, "missing"),
        (
            {"signature": {"timestamp": TIMESTAMP, "token": TOKEN}, "event-data": ACCEPTED},
            "missing",
        ),
        ({"signature": {"timestamp": TIMESTAMP, "token": TOKEN, "signature": "xyz"}}, "malformed"),
        (
            {"signature": {"timestamp": "soon", "token": TOKEN, "signature": signature()}},
            "malformed",
        ),
        (
            {"signature": {"timestamp": TIMESTAMP, "token": "t\nt", "signature": signature()}},
            "malformed",
        ),
    ],
)
def test_missing_or_malformed_signature_is_refused(payload: dict[str, Any], reason: str) -> None:
    with pytest.raises(SignatureError) as err:
        mailgun.verify(SIGNING_KEY, WebhookRequest(body=json.dumps(payload).encode()), now=NOW)
    assert err.value.reason == reason


# --- malformed payloads ------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"signature=abc", b"[1, 2]", b""])
def test_body_that_is_not_a_json_object_is_a_payload_error(raw: bytes) -> None:
    with pytest.raises(WebhookPayloadError):
        mailgun.verify(SIGNING_KEY, WebhookRequest(body=raw), now=NOW)
    with pytest.raises(WebhookPayloadError):
        mailgun.parse(WebhookRequest(body=raw), now=NOW)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event-data": None}, "event-data"),
        ({"id": None}, "event-data.id"),
        ({"timestamp": "later"}, "event-data.timestamp"),
        ({"recipient": "recipient at example.com"}, "event-data.recipient"),
        ({"message": {"headers": {}}}, "event-data.message.headers.message-id"),
        (
            {"message": {"headers": {"message-id": "m\x00"}}},
            "event-data.message.headers.message-id",
        ),
        ({"user-variables": {"workflow_id": "w" * 129}}, "event-data.user-variables.workflow_id"),
    ],
)
def test_bad_fields_are_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    data = None if "event-data" in change else {**FAILED, **change}
    raw = json.dumps({"signature": {}, "event-data": data}).encode()
    with pytest.raises(WebhookPayloadError) as err:
        mailgun.parse(WebhookRequest(body=raw), now=NOW)
    assert err.value.field == field
