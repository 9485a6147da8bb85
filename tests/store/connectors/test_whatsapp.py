"""WhatsApp Cloud API webhooks: X-Hub-Signature-256, the verification GET, status mapping."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from store.connectors import whatsapp
from store.connectors.base import (
    ParsedWebhook,
    SignatureError,
    StatusUpdate,
    WebhookPayloadError,
    WebhookRequest,
)

APP_SECRET = "6a1f0c2e9b7d4e8fa3c5b1d0e2f4a6c8"
NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

# Shaped exactly as the status webhook syntax of
# https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/status/
# (example ids from that page's parameter table: WABA 102290129340398, display number
# 15550783881, phone number id 106540352242922; pricing as documented for a sent status).
SENT: dict[str, Any] = {
    "object": "whatsapp_business_account",
    "entry": [
        {
            "id": "102290129340398",
            "changes": [
                {
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {
                            "display_phone_number": "15550783881",
                            "phone_number_id": "106540352242922",
                        },
                        "statuses": [
                            {
                                "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MTE5MjA3NTFEMDA3OTFDQzEA",
                                "status": "sent",
                                "timestamp": "1793523600",
                                "recipient_id": "16505551234",
                                "biz_opaque_callback_data": "wf_42",
                                "pricing": {
                                    "billable": True,
                                    "pricing_model": "PMP",
                                    "type": "regular",
                                    "category": "marketing",
                                },
                            }
                        ],
                    },
                    "field": "messages",
                }
            ],
        }
    ],
}

# A failed status carries errors[] (same syntax page); the error object is the documented
# example of https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/errors
FAILED_STATUS: dict[str, Any] = {
    "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA",
    "status": "failed",
    "timestamp": "1793523605",
    "recipient_id": "16505551234",
    "errors": [
        {
            "code": 130429,
            "title": "Rate limit hit",
            "message": "Rate limit hit",
            "error_data": {
                "details": "Message failed to send because there were too many messages sent "
                "from this phone number in a short period of time"
            },
            "href": "/documentation/business-messaging/whatsapp/support/error-codes",
        }
    ],
}

# The incoming text message example of
# https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages
INBOUND_VALUE: dict[str, Any] = {
    "messaging_product": "whatsapp",
    "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
    "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
    "messages": [
        {
            "from": "16505551234",
            "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
            "timestamp": "1749416383",
            "type": "text",
            "text": {"body": "Does it come in another color?"},
        }
    ],
}


def signed(payload: Any, secret: str = APP_SECRET) -> WebhookRequest:
    """A request as Meta sends it: raw JSON body and its sha256= HMAC header."""
    body = json.dumps(payload).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return WebhookRequest(body=body, headers={"X-Hub-Signature-256": f"sha256={signature}"})


def with_statuses(*statuses: dict[str, Any]) -> dict[str, Any]:
    payload = copy.deepcopy(SENT)
    payload["entry"][0]["changes"][0]["value"]["statuses"] = list(statuses)
    return payload


def status(**fields: Any) -> dict[str, Any]:
    item = copy.deepcopy(SENT["entry"][0]["changes"][0]["value"]["statuses"][0])
    item.update(fields)
    return item


def parse(payload: Any) -> ParsedWebhook:
    request = signed(payload)
    whatsapp.verify(APP_SECRET, request, now=NOW)
    return whatsapp.parse(request, now=NOW)


def test_documented_sent_status_maps_to_our_vocabulary() -> None:
    assert parse(SENT) == ParsedWebhook(
        updates=[
            StatusUpdate(
                message_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MTE5MjA3NTFEMDA3OTFDQzEA",
                status="sent",
                at=datetime(2026, 11, 1, 9, 0, tzinfo=UTC),
                source="whatsapp",
                event_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MTE5MjA3NTFEMDA3OTFDQzEA:sent",
                error_code=None,
                comments=None,
                workflow_id="wf_42",
                user_id="+16505551234",
            )
        ],
        ignored=0,
    )


def test_failed_status_takes_error_code_and_title() -> None:
    (update,) = parse(with_statuses(FAILED_STATUS)).updates
    assert isinstance(update, StatusUpdate)
    assert (update.status, update.error_code, update.comments) == (
        "failed",
        "130429",
        "Rate limit hit",
    )
    assert update.workflow_id is None  # sent without biz_opaque_callback_data
    assert update.event_id.endswith(":failed")


@pytest.mark.parametrize(
    ("provider_status", "expected"),
    [
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("read", "read"),
        ("failed", "failed"),
        ("DELIVERED", "delivered"),
    ],
)
def test_statuses_map_as_is(provider_status: str, expected: str) -> None:
    (update,) = parse(with_statuses(status(status=provider_status))).updates
    assert isinstance(update, StatusUpdate)
    assert update.status == expected
    assert update.event_id.endswith(":" + provider_status.lower())


@pytest.mark.parametrize("provider_status", ["deleted", "played", "warning", ""])
def test_other_statuses_are_ignored_not_errors(provider_status: str) -> None:
    assert parse(with_statuses(status(status=provider_status))) == ParsedWebhook([], 1)


def test_multi_entry_payload_yields_every_status_in_order_and_ignores_inbound() -> None:
    payload = with_statuses(
        status(id="wamid.A", status="sent"), status(id="wamid.A", status="read")
    )
    second = copy.deepcopy(payload["entry"][0])
    second["changes"][0]["value"]["statuses"] = [FAILED_STATUS]
    inbound = {"value": INBOUND_VALUE, "field": "messages"}
    second["changes"].append(inbound)
    payload["entry"].append(second)
    parsed = parse(payload)
    assert all(isinstance(u, StatusUpdate) for u in parsed.updates)
    assert [(u.message_id, getattr(u, "status", None)) for u in parsed.updates] == [
        ("wamid.A", "sent"),
        ("wamid.A", "read"),
        (FAILED_STATUS["id"], "failed"),
    ]
    assert parsed.ignored == 1  # the inbound text message


def test_inbound_only_and_other_fields_count_as_ignored() -> None:
    payload = copy.deepcopy(SENT)
    payload["entry"][0]["changes"] = [
        {"value": INBOUND_VALUE, "field": "messages"},
        {"value": {"event": "APPROVED"}, "field": "message_template_status_update"},
    ]
    assert parse(payload) == ParsedWebhook([], 2)


def test_group_send_uses_the_participant() -> None:
    group = status(
        recipient_id="120363044772193843",
        recipient_type="group",
        recipient_participant_id="16505550000",
    )
    (update,) = parse(with_statuses(group)).updates
    assert update.user_id == "+16505550000"


# --- signature ---------------------------------------------------------------------------


def test_wrong_secret_is_refused() -> None:
    with pytest.raises(SignatureError) as err:
        whatsapp.verify("another-app-secret", signed(SENT), now=NOW)
    assert err.value.reason == "bad"
    assert "another-app-secret" not in str(err.value)


def test_missing_header_is_refused() -> None:
    request = WebhookRequest(body=json.dumps(SENT).encode(), headers={})
    with pytest.raises(SignatureError, match="missing signature: no X-Hub-Signature-256"):
        whatsapp.verify(APP_SECRET, request, now=NOW)


def test_tampered_body_is_refused() -> None:
    request = signed(SENT)
    tampered = WebhookRequest(
        body=request.body.replace(b'"sent"', b'"read"'), headers=dict(request.headers)
    )
    with pytest.raises(SignatureError) as err:
        whatsapp.verify(APP_SECRET, tampered, now=NOW)
    assert err.value.reason == "bad"


@pytest.mark.parametrize("header", ["sha1=abc", "sha256=zz", "sha256=", "deadbeef"])
def test_malformed_header_is_refused(header: str) -> None:
    request = WebhookRequest(body=b"{}", headers={"x-hub-signature-256": header})
    with pytest.raises(SignatureError) as err:
        whatsapp.verify(APP_SECRET, request, now=NOW)
    assert err.value.reason == "malformed"


def test_header_lookup_is_case_insensitive_and_hex_case_does_not_matter() -> None:
    request = signed(SENT)
    upper = request.headers["x-hub-signature-256"].replace("sha256=", "").upper()
    shouting = WebhookRequest(body=request.body, headers={"X-HUB-SIGNATURE-256": "sha256=" + upper})
    whatsapp.verify(APP_SECRET, shouting, now=NOW)


# --- verification GET --------------------------------------------------------------------
# https://developers.facebook.com/docs/graph-api/webhooks/getting-started/ (sample request:
# hub.mode=subscribe, hub.challenge=1158201444, hub.verify_token=meatyhamhock)


def test_challenge_is_answered_with_the_right_token() -> None:
    params = {
        "hub.mode": "subscribe",
        "hub.challenge": "1158201444",
        "hub.verify_token": "meatyhamhock",
    }
    assert whatsapp.verify_challenge("meatyhamhock", params) == "1158201444"


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": "nope"}, "bad"),
        ({"hub.mode": "subscribe", "hub.challenge": "1"}, "missing"),
        ({"hub.mode": "unsubscribe", "hub.challenge": "1", "hub.verify_token": "t"}, "malformed"),
        ({"hub.mode": "subscribe", "hub.verify_token": "meatyhamhock"}, "malformed"),
        (
            {
                "hub.mode": "subscribe",
                "hub.challenge": "<script>",
                "hub.verify_token": "meatyhamhock",
            },
            "malformed",
        ),
    ],
)
def test_challenge_is_refused(params: dict[str, str], reason: str) -> None:
    with pytest.raises(SignatureError) as err:
        whatsapp.verify_challenge("meatyhamhock", params)
    assert err.value.reason == reason
    assert "meatyhamhock" not in str(err.value)


# --- malformed payloads ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[]", "body"),
        (json.dumps({"entry": {}}).encode(), "entry"),
        (json.dumps({"entry": [{"changes": "x"}]}).encode(), "entry[0].changes"),
    ],
)
def test_malformed_json_is_a_payload_error(body: bytes, field: str) -> None:
    with pytest.raises(WebhookPayloadError) as err:
        whatsapp.parse(WebhookRequest(body=body), now=NOW)
    assert err.value.field == field


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"id": None}, "statuses[0].id", "required"),
        ({"id": "wamid.\x00x"}, "statuses[0].id", "control characters"),
        ({"id": "w" * 201}, "statuses[0].id", "longer than 200"),
        ({"id": "w" * 196}, "statuses[0].id:status", "longer than 200"),
        ({"timestamp": "yesterday"}, "statuses[0].timestamp", "Unix time"),
        ({"recipient_id": "not-a-phone"}, "statuses[0].recipient_id", "E.164"),
        ({"biz_opaque_callback_data": "f" * 129}, "biz_opaque_callback_data", "longer than 128"),
    ],
)
def test_bad_fields_are_refused_naming_the_field(
    fields: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(WebhookPayloadError) as err:
        parse(with_statuses(status(**fields)))
    assert err.value.field.startswith("entry[0].changes[0].value.")
    assert err.value.field.endswith(field)
    assert message in err.value.message


def test_long_error_title_is_truncated_not_refused() -> None:
    failing = copy.deepcopy(FAILED_STATUS)
    failing["errors"][0]["title"] = "x" * 5000
    (update,) = parse(with_statuses(failing)).updates
    assert isinstance(update, StatusUpdate)
    assert update.comments is not None
    assert len(update.comments) == 2000
    assert update.comments.endswith("…")
