"""Twilio status callbacks: X-Twilio-Signature over URL + sorted form, and status mapping."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest

from store.connectors import twilio
from store.connectors.base import (
    ParsedWebhook,
    SignatureError,
    StatusUpdate,
    WebhookPayloadError,
    WebhookRequest,
)

AUTH_TOKEN = "9c1b7e6f0a2d4c8e9b3f5a7d1e0c2b4a"
NOW = datetime(2026, 11, 1, 9, 0, 5, tzinfo=UTC)
CALLBACK_URL = "https://reports.acme.example/webhooks/twilio/cn_7Hq2?workflow_id=wf_42"

# The properties of a status callback request listed in
# https://www.twilio.com/docs/messaging/guides/track-outbound-message-status
# (a subset of the standard request properties plus MessageStatus and ErrorCode), with the
# example numbers Twilio's docs use.
SMS_CALLBACK = [
    ("AccountSid", "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"),
    ("ApiVersion", "2010-04-01"),
    ("From", "+15017122661"),
    ("MessageSid", "SM1f0e8ae6ade43cb3c0ce4525424e404f"),
    ("MessageStatus", "delivered"),
    ("SmsSid", "SM1f0e8ae6ade43cb3c0ce4525424e404f"),
    ("SmsStatus", "delivered"),
    ("To", "+15558675310"),
]
# The same callback for a WhatsApp send: Twilio prefixes both addresses with "whatsapp:".
WHATSAPP_CALLBACK = [
    ("AccountSid", "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"),
    ("ApiVersion", "2010-04-01"),
    ("ChannelPrefix", "whatsapp"),
    ("ErrorCode", "63016"),
    ("From", "whatsapp:+14155238886"),
    ("MessageSid", "SM2a7d5e3f1b8c4d6e9f0a1b2c3d4e5f6a"),
    ("MessageStatus", "undelivered"),
    ("SmsSid", "SM2a7d5e3f1b8c4d6e9f0a1b2c3d4e5f6a"),
    ("SmsStatus", "undelivered"),
    ("To", "whatsapp:+15005550006"),
]


def expected_signature(token: str, url: str, pairs: list[tuple[str, str]]) -> str:
    """Twilio's algorithm written out again here, independently of the module."""
    data = url
    for name in sorted({name for name, _ in pairs}):
        for value in sorted(value for n, value in pairs if n == name):
            data += name + value
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def signed(
    pairs: list[tuple[str, str]], url: str = CALLBACK_URL, token: str = AUTH_TOKEN
) -> WebhookRequest:
    return WebhookRequest(
        body=urlencode(pairs).encode(),
        headers={"X-Twilio-Signature": expected_signature(token, url, pairs)},
        url=url,
    )


def with_fields(base: list[tuple[str, str]], **fields: str) -> list[tuple[str, str]]:
    pairs = [(name, fields.pop(name, value)) for name, value in base]
    return pairs + list(fields.items())


def parse(pairs: list[tuple[str, str]], url: str = CALLBACK_URL) -> ParsedWebhook:
    request = signed(pairs, url)
    twilio.verify(AUTH_TOKEN, request, now=NOW)
    return twilio.parse(request, now=NOW)


# The worked example of Twilio's request validation, as given in the docs of Twilio's own
# twilio-php library (docs/usage/validation.rst, pointing to https://www.twilio.com/docs/security):
# auth token 12345, URL https://mycompany.com/myapp.php?foo=1&bar=2, these POST variables,
# X-Twilio-Signature RSOYDt4T1cUTdK1PDd93/VVr8B8=.
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+14158675309"),
    ("Digits", "1234"),
    ("From", "+14158675309"),
    ("To", "+18005551212"),
]
DOC_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_documented_example_signature_verifies() -> None:
    assert twilio.compute_signature("12345", DOC_URL, DOC_PARAMS) == DOC_SIGNATURE
    body = urlencode(DOC_PARAMS).encode()
    request = WebhookRequest(body=body, headers={"x-twilio-signature": DOC_SIGNATURE}, url=DOC_URL)
    twilio.verify("12345", request, now=NOW)


def test_documented_example_with_a_predecoded_form_verifies() -> None:
    request = WebhookRequest(
        body=b"", headers={"X-Twilio-Signature": DOC_SIGNATURE}, url=DOC_URL, form=DOC_PARAMS
    )
    twilio.verify("12345", request, now=NOW)


def test_sms_delivered_callback_maps_with_the_flow_hint_and_receipt_time() -> None:
    assert parse(SMS_CALLBACK) == ParsedWebhook(
        updates=[
            StatusUpdate(
                message_id="SM1f0e8ae6ade43cb3c0ce4525424e404f",
                status="delivered",
                at=NOW,
                source="sms",
                event_id="SM1f0e8ae6ade43cb3c0ce4525424e404f:delivered",
                error_code=None,
                comments=None,
                workflow_id="wf_42",
                user_id="+15558675310",
            )
        ],
        ignored=0,
    )


def test_whatsapp_undelivered_callback_is_a_whatsapp_failure_with_its_error_code() -> None:
    (update,) = parse(WHATSAPP_CALLBACK).updates
    assert isinstance(update, StatusUpdate)
    assert (update.source, update.status, update.error_code, update.user_id) == (
        "whatsapp",
        "failed",
        "63016",
        "+15005550006",
    )
    assert update.event_id == "SM2a7d5e3f1b8c4d6e9f0a1b2c3d4e5f6a:undelivered"


@pytest.mark.parametrize(
    ("provider_status", "expected"),
    [
        ("accepted", "queued"),
        ("scheduled", "queued"),
        ("queued", "queued"),
        ("sending", "queued"),
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("read", "read"),
        ("undelivered", "failed"),
        ("failed", "failed"),
    ],
)
def test_status_mapping(provider_status: str, expected: str) -> None:
    (update,) = parse(with_fields(SMS_CALLBACK, MessageStatus=provider_status)).updates
    assert isinstance(update, StatusUpdate)
    assert update.status == expected


@pytest.mark.parametrize("provider_status", ["canceled", "partially_delivered", "received"])
def test_unmapped_statuses_are_ignored(provider_status: str) -> None:
    assert parse(with_fields(SMS_CALLBACK, MessageStatus=provider_status)) == ParsedWebhook([], 1)


def test_no_flow_hint_without_the_query_parameter() -> None:
    url = "https://reports.acme.example/webhooks/twilio/cn_7Hq2"
    (update,) = parse(SMS_CALLBACK, url).updates
    assert isinstance(update, StatusUpdate)
    assert update.workflow_id is None


def test_receipt_time_is_normalized_to_utc() -> None:
    request = signed(SMS_CALLBACK)
    ist = NOW.astimezone(timezone(timedelta(hours=5, minutes=30)))
    (update,) = twilio.parse(request, now=ist).updates
    assert update.at == NOW
    assert update.at.tzinfo == UTC


# --- signature ---------------------------------------------------------------------------


def test_wrong_token_is_refused() -> None:
    request = signed(SMS_CALLBACK, token="not-the-auth-token")
    with pytest.raises(SignatureError) as err:
        twilio.verify(AUTH_TOKEN, request, now=NOW)
    assert err.value.reason == "bad"
    assert AUTH_TOKEN not in str(err.value)


def test_missing_header_is_refused() -> None:
    request = WebhookRequest(body=urlencode(SMS_CALLBACK).encode(), url=CALLBACK_URL)
    with pytest.raises(SignatureError, match="missing signature: no X-Twilio-Signature"):
        twilio.verify(AUTH_TOKEN, request, now=NOW)


def test_tampered_parameter_is_refused() -> None:
    request = signed(SMS_CALLBACK)
    body = request.body.replace(b"MessageStatus=delivered", b"MessageStatus=read")
    tampered = WebhookRequest(body=body, headers=dict(request.headers), url=CALLBACK_URL)
    with pytest.raises(SignatureError):
        twilio.verify(AUTH_TOKEN, tampered, now=NOW)


def test_another_url_or_flow_hint_is_refused() -> None:
    request = signed(SMS_CALLBACK)
    moved = WebhookRequest(
        body=request.body,
        headers=dict(request.headers),
        url=CALLBACK_URL.replace("wf_42", "wf_43"),
    )
    with pytest.raises(SignatureError):
        twilio.verify(AUTH_TOKEN, moved, now=NOW)


@pytest.mark.parametrize(
    ("configured", "signed_as"),
    [
        ("https://reports.acme.example/hook?a=1", "https://reports.acme.example:443/hook?a=1"),
        ("https://reports.acme.example:443/hook?a=1", "https://reports.acme.example/hook?a=1"),
    ],
)
def test_url_with_or_without_the_standard_port_verifies(configured: str, signed_as: str) -> None:
    request = signed(SMS_CALLBACK, signed_as)
    twilio.verify(AUTH_TOKEN, WebhookRequest(request.body, request.headers, configured), now=NOW)


def test_repeated_parameters_are_sorted_by_value() -> None:
    pairs = [
        *SMS_CALLBACK,
        ("MediaUrl", "https://b.example/2"),
        ("MediaUrl", "https://a.example/1"),
    ]
    twilio.verify(AUTH_TOKEN, signed(pairs), now=NOW)


def test_blank_values_are_signed_too() -> None:
    pairs = [*SMS_CALLBACK, ("ErrorMessage", "")]
    twilio.verify(AUTH_TOKEN, signed(pairs), now=NOW)


def test_webhooks_rule_signatures_are_refused_with_a_reason() -> None:
    request = signed(SMS_CALLBACK)
    headers = {
        **request.headers,
        "X-Twilio-Webhooks-Signature-Settings": "key=KS1,algorithm=HMAC_SHA256",
    }
    with pytest.raises(SignatureError, match="Webhooks Rule"):
        twilio.verify(AUTH_TOKEN, WebhookRequest(request.body, headers, CALLBACK_URL), now=NOW)


# --- malformed forms ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [b'{"MessageSid": "SM1"}', b"MessageSid=SM1&\xff=1", b"MessageSid=%ff%fe"]
)
def test_malformed_form_is_a_payload_error(body: bytes) -> None:
    with pytest.raises(WebhookPayloadError) as err:
        twilio.parse(WebhookRequest(body=body, url=CALLBACK_URL), now=NOW)
    assert err.value.field == "body"


@pytest.mark.parametrize(
    ("pairs", "field"),
    [
        ([("MessageStatus", "sent")], "MessageSid"),
        ([("MessageSid", "SM1")], "MessageStatus"),
        ([("MessageSid", "SM1"), ("MessageSid", "SM2"), ("MessageStatus", "sent")], "MessageSid"),
        ([("MessageSid", "SM\x01"), ("MessageStatus", "sent")], "MessageSid"),
        ([("MessageSid", "SM1"), ("MessageStatus", "sent"), ("To", "+1 (abc)")], "To"),
        ([("MessageSid", "SM1"), ("MessageStatus", "sent"), ("ErrorCode", "9" * 65)], "ErrorCode"),
    ],
)
def test_bad_fields_are_refused_naming_the_field(pairs: list[tuple[str, str]], field: str) -> None:
    request = WebhookRequest(body=urlencode(pairs).encode(), url=CALLBACK_URL)
    with pytest.raises(WebhookPayloadError) as err:
        twilio.parse(request, now=NOW)
    assert err.value.field == field


def test_overlong_flow_hint_is_refused() -> None:
    url = CALLBACK_URL.replace("wf_42", "w" * 129)
    with pytest.raises(WebhookPayloadError) as err:
        parse(SMS_CALLBACK, url)
    assert err.value.field == "workflow_id"


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        twilio.parse(signed(SMS_CALLBACK), now=datetime(2026, 11, 1, 9, 0))
