"""Shared connector helpers: phone/email normalization, field bounds, request headers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from store.connectors.base import (
    MAX_SIGNATURE_AGE_SECONDS,
    SignatureError,
    WebhookPayloadError,
    WebhookRequest,
    check_fresh,
    free_text,
    identifier,
    normalize_email,
    normalize_phone,
    unix_time,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+919800000001", "+919800000001"),
        ("919800000001", "+919800000001"),
        ("whatsapp:+14155238886", "+14155238886"),
        ("WhatsApp:+1 415-523-8886", "+14155238886"),
        (" +44 (20) 7946.0958 ", "+442079460958"),
        ("16505551234", "+16505551234"),
    ],
)
def test_phone_numbers_become_e164(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "+", "abc", "+0123456789", "+1234", "+1234567890123456", "12-34-ab-56", "++15550000"],
)
def test_junk_phone_numbers_are_refused_naming_the_field(raw: str) -> None:
    with pytest.raises(WebhookPayloadError) as err:
        normalize_phone(raw, field="To")
    assert err.value.field == "To"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" Jane.Doe@Example.COM ", "jane.doe@example.com"), ("a@b", "a@b")],
)
def test_emails_are_stripped_and_lower_cased(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize("raw", ["", "nobody", "a b@c.d", "a@b\x00", "a@" + "b" * 320])
def test_junk_emails_are_refused(raw: str) -> None:
    with pytest.raises(WebhookPayloadError):
        normalize_email(raw, field="email")


def test_identifiers_are_refused_not_cut() -> None:
    assert identifier("  m-1 ", "message_id", 200) == "m-1"
    assert identifier("", "message_id", 200) is None
    assert identifier(131026, "error_code", 64) == "131026"
    with pytest.raises(WebhookPayloadError, match="longer than 5"):
        identifier("abcdef", "error_code", 5)
    with pytest.raises(WebhookPayloadError, match="control"):
        identifier("a\tb", "message_id", 200)
    with pytest.raises(WebhookPayloadError, match="string"):
        identifier({"nested": 1}, "message_id", 200)


def test_free_text_is_cut_and_loses_nul() -> None:
    assert free_text("550 \x00mailbox", "comments", 2000) == "550 mailbox"
    cut = free_text("y" * 10, "comments", 5)
    assert cut == "yyyy…"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1793523600", datetime(2026, 11, 1, 9, 0, tzinfo=UTC)),
        (1793523600, datetime(2026, 11, 1, 9, 0, tzinfo=UTC)),
        (1793523600.5, datetime(2026, 11, 1, 9, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_unix_times_are_aware_utc(value: object, expected: datetime) -> None:
    assert unix_time(value, "timestamp") == expected


@pytest.mark.parametrize("value", [None, True, "soon", float("nan"), float("inf"), -1, 10**13, [1]])
def test_bad_unix_times_are_refused(value: object) -> None:
    with pytest.raises(WebhookPayloadError) as err:
        unix_time(value, "timestamp")
    assert err.value.field == "timestamp"


def test_freshness_window_is_five_minutes_both_ways() -> None:
    now = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    check_fresh(now.timestamp() - MAX_SIGNATURE_AGE_SECONDS, now)
    check_fresh(now.timestamp() + MAX_SIGNATURE_AGE_SECONDS, now)
    with pytest.raises(SignatureError, match="old"):
        check_fresh(now.timestamp() - MAX_SIGNATURE_AGE_SECONDS - 1, now)
    with pytest.raises(SignatureError, match="in the future"):
        check_fresh(now.timestamp() + MAX_SIGNATURE_AGE_SECONDS + 1, now)


def test_request_headers_are_case_insensitive() -> None:
    request = WebhookRequest(body=b"{}", headers={"X-Hub-Signature-256": "sha256=ab"})
    assert request.header("x-hub-signature-256") == "sha256=ab"
    assert request.header("X-HUB-SIGNATURE-256") == "sha256=ab"
    assert request.header("x-twilio-signature") is None
    assert "body" not in repr(request)


def test_errors_say_which_check_failed() -> None:
    err = SignatureError("replayed", "token seen before")
    assert (err.reason, str(err)) == ("replayed", "replayed signature: token seen before")
    payload = WebhookPayloadError("[3].email", "expected an email address")
    assert isinstance(payload, ValueError)
    assert str(payload) == "[3].email: expected an email address"
