"""What ``/slack/events`` checks before Bolt sees a request: its signature, and whether it was
seen before (a replay, or Slack's retry of a request already answered). Pure: ``now`` is
passed in; nothing here waits for the store or the network.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections import OrderedDict

SIGNATURE_WINDOW_S = 5 * 60  # Slack: refuse timestamps more than 5 minutes from now
# Slack retries an unanswered request about at once, after 1 minute and after 5 minutes.
RETRY_WINDOW_S = 10 * 60
# ASCII digits only: int() would also take " 12", "1_2" and "١٢" (Arabic-Indic digits).
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


def signature_is_valid(
    secret: str, body: bytes, timestamp: str | None, signature: str | None, now: float
) -> bool:
    """True when ``signature`` is Slack's v0 signature of ``body`` at a fresh ``timestamp``.

    Any header that is missing, malformed (not numeric, not ASCII hex…) or stale is simply
    not a valid signature: the caller answers 401, and nothing is parsed before.
    """
    if timestamp is None or signature is None:
        return False
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        return False
    if abs(now - int(timestamp)) > SIGNATURE_WINDOW_S:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode())


def content_key(body: bytes, event_id: str | None) -> bytes:
    """What a retry has in common with the request it repeats: the Events API's ``event_id``,
    or else the body itself (Slack sends a retry's body unchanged and signs it anew)."""
    if event_id:
        return b"e" + hashlib.sha256(event_id.encode()).digest()
    return b"b" + hashlib.sha256(body).digest()


class ReplayGuard:
    """Remembers the Slack requests this process admitted, to drop their copies.

    * A **replay** — the same signature again — is dropped for as long as its timestamp
      passes the signature check (up to 5 minutes either side of now).
    * A **retry** (``X-Slack-Retry-Num``) of a request already admitted — the same
      ``event_id``, or the same body — is dropped for ``RETRY_WINDOW_S``. A request that was
      not acknowledged (``forget``) may be retried.

    It lives in memory, bounded to ``capacity`` entries (about 200 bytes each); the caller
    answers a dropped copy with 200, so Slack stops retrying. What it does not cover:
    several replicas behind a load balancer (each remembers only the requests it saw, so a
    copy sent to another replica runs there — that needs a shared store, e.g. Redis or a
    table written off the ack path); a restart (a copy arriving after it runs); and more
    than ``capacity`` entries within the windows (the oldest are forgotten first).
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._expires: OrderedDict[bytes, float] = OrderedDict()
        # The event loop is the only caller in ``serve``; the lock keeps the structure whole
        # if another thread (a test, a second loop) ever calls too. It is never held long.
        self._lock = threading.Lock()

    def admit(
        self, *, signature: str, timestamp: int, content: bytes, retry: bool, now: float
    ) -> bool:
        """True, and remembered, for a request seen for the first time; False for a copy."""
        signed = b"s" + bytes.fromhex(signature.removeprefix("v0="))
        with self._lock:
            self._forget_expired(now)
            if self._holds(signed, now) or (retry and self._holds(content, now)):
                return False
            self._remember(signed, timestamp + SIGNATURE_WINDOW_S)
            self._remember(content, now + RETRY_WINDOW_S)
            return True

    def forget(self, content: bytes) -> None:
        """The request was not acknowledged (a 4xx or 5xx answer): Slack's retry may run it.

        Its signature stays remembered: Slack signs a retry anew, so only a replay reuses it.
        """
        with self._lock:
            self._expires.pop(content, None)

    def __len__(self) -> int:
        return len(self._expires)

    def _holds(self, key: bytes, now: float) -> bool:
        return self._expires.get(key, 0.0) > now

    def _remember(self, key: bytes, expires: float) -> None:
        self._expires.pop(key, None)
        while len(self._expires) >= self._capacity:
            self._expires.popitem(last=False)
        self._expires[key] = expires

    def _forget_expired(self, now: float) -> None:
        # Entries are in the order they were remembered; expiries are roughly in that order
        # too, so this stops at the first live one (later stale ones go when they reach the
        # front, and are never counted as held meanwhile).
        while self._expires:
            key, expires = next(iter(self._expires.items()))
            if expires > now:
                return
            del self._expires[key]
