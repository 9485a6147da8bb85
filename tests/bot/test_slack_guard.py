"""The checks ``/slack/events`` makes before Bolt: signatures and the replay guard (pure)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from bot.http.slack_guard import (
    RETRY_WINDOW_S,
    SIGNATURE_WINDOW_S,
    ReplayGuard,
    content_key,
    signature_is_valid,
)

SECRET = "s3cret"
NOW = 1_800_000_000.0
BODY = b"command=%2Fcampaign-report&text=help"


def sign(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


GOOD = sign(BODY, str(int(NOW)))


@pytest.mark.parametrize(
    ("timestamp", "signature", "valid"),
    [
        (str(int(NOW)), GOOD, True),
        (str(int(NOW) - SIGNATURE_WINDOW_S), sign(BODY, str(int(NOW) - SIGNATURE_WINDOW_S)), True),
        (str(int(NOW) - SIGNATURE_WINDOW_S - 1), sign(BODY, str(int(NOW) - SIGNATURE_WINDOW_S - 1)), False),
        (str(int(NOW) + SIGNATURE_WINDOW_S + 1), sign(BODY, str(int(NOW) + SIGNATURE_WINDOW_S + 1)), False),
        (str(int(NOW)), sign(BODY, str(int(NOW)), "other"), False),
        (str(int(NOW)), GOOD.upper(), False),
        (None, GOOD, False),
        (str(int(NOW)), None, False),
        ("soon", GOOD, False),
        (f" {int(NOW)}", GOOD, False),
        ("1e9", GOOD, False),
        ("١٨٠٠٠٠٠٠٠٠", GOOD, False),  # int() reads Arabic-Indic digits; Slack never sends them
        ("9" * 400, GOOD, False),
        (str(int(NOW)), "v0=é" + GOOD[4:], False),  # compare_digest refuses non-ASCII str
        (str(int(NOW)), GOOD + "00", False),
    ],
)  # fmt: skip
def test_signature_checks_refuse_anything_malformed(
    timestamp: str | None, signature: str | None, valid: bool
) -> None:
    assert signature_is_valid(SECRET, BODY, timestamp, signature, NOW) is valid


def test_a_replay_is_dropped_until_its_timestamp_goes_stale() -> None:
    guard = ReplayGuard()
    key = content_key(BODY, None)
    request = {"signature": GOOD, "timestamp": int(NOW), "content": key, "retry": False}
    assert guard.admit(**request, now=NOW) is True
    assert guard.admit(**request, now=NOW + 1) is False
    assert guard.admit(**request, now=NOW + SIGNATURE_WINDOW_S - 1) is False
    # Past the window the signature check refuses it anyway; the guard may forget it.
    assert guard.admit(**request, now=NOW + SIGNATURE_WINDOW_S + 1) is True


def test_a_retry_is_dropped_only_when_the_original_was_admitted() -> None:
    guard = ReplayGuard()
    key = content_key(BODY, None)
    later = sign(BODY, str(int(NOW) + 60))
    assert guard.admit(signature=GOOD, timestamp=int(NOW), content=key, retry=False, now=NOW)
    retry = {"signature": later, "timestamp": int(NOW) + 60, "content": key, "retry": True}
    assert guard.admit(**retry, now=NOW + 60) is False
    # The original was not acknowledged after all: Slack's next retry runs.
    guard.forget(key)
    third = sign(BODY, str(int(NOW) + 300))
    assert guard.admit(**retry | {"signature": third}, now=NOW + 300) is True
    # … and retries of it are dropped for the retry window, then forgotten.
    fourth = sign(BODY, str(int(NOW) + 301))
    assert not guard.admit(**retry | {"signature": fourth}, now=NOW + 301)
    fifth = sign(BODY, str(int(NOW) + 300 + RETRY_WINDOW_S + 1))
    assert guard.admit(**retry | {"signature": fifth}, now=NOW + 300 + RETRY_WINDOW_S + 1)


def test_the_same_body_without_a_retry_header_is_a_new_request() -> None:
    guard = ReplayGuard()
    key = content_key(BODY, None)
    assert guard.admit(signature=GOOD, timestamp=int(NOW), content=key, retry=False, now=NOW)
    again = sign(BODY, str(int(NOW) + 1))
    assert guard.admit(signature=again, timestamp=int(NOW) + 1, content=key, retry=False, now=NOW)


def test_events_api_retries_are_matched_by_event_id() -> None:
    assert content_key(b'{"event_id": "Ev1", "x": 1}', "Ev1") == content_key(b"{}", "Ev1")
    assert content_key(BODY, None) != content_key(BODY + b"&x=1", None)


def test_memory_is_bounded_oldest_first() -> None:
    guard = ReplayGuard(capacity=10)
    for n in range(20):
        signature = sign(BODY, str(n))
        content = content_key(BODY + str(n).encode(), None)
        assert guard.admit(
            signature=signature, timestamp=int(NOW), content=content, retry=False, now=NOW
        )
    assert len(guard) == 10
    newest = sign(BODY, "19")
    content = content_key(BODY + b"19", None)
    assert not guard.admit(
        signature=newest, timestamp=int(NOW), content=content, retry=False, now=NOW
    )
