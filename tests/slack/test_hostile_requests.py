"""Hostile requests to ``/slack/events``: huge, slow, cut-off and malformed bodies get a 4xx,
never a 500, and leave no traceback in the log (issue 10, #9 and #10)."""

from __future__ import annotations

import hashlib
import hmac
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit

import pytest

from bot.http import slack as slack_http
from tests.fakes.slack_requests import slash_command
from tests.slack.conftest import SECRET, Harness
from tests.slack.server_log import Records
from tests.slack.server_log import server_log as capture_server_log
from tests.slack.test_summary import texts

CAP = 1024 * 1024  # the documented cap on a Slack request's body


@pytest.fixture
def server_log() -> Iterator[Records]:
    with capture_server_log() as records:
        yield records


def _connect(bot: Harness) -> socket.socket:
    url = urlsplit(bot.base_url)
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    return sock


def _head(length: str | None = None, chunked: bool = False) -> bytes:
    lines = [
        "POST /slack/events HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp: 1",
        "X-Slack-Signature: v0=00",
    ]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _status(sock: socket.socket) -> int:
    """The status code of the response on ``sock`` (waits for it, up to the socket timeout)."""
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


def test_a_body_declared_larger_than_the_cap_is_refused_before_it_is_sent(
    bot: Harness, server_log: Records
) -> None:
    with _connect(bot) as sock:
        sock.sendall(_head(length=str(200 * 1024 * 1024)))  # and not one byte of it
        assert _status(sock) == 413
    assert server_log.problems() == []


def test_a_chunked_body_is_cut_off_once_it_passes_the_cap(
    bot: Harness, server_log: Records
) -> None:
    chunk = b"a" * (64 * 1024)
    with _connect(bot) as sock:
        sock.sendall(_head(chunked=True))
        for _ in range(CAP // len(chunk) + 1):  # one chunk past the cap, and no last chunk
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        assert _status(sock) == 413
    assert server_log.problems() == []


def test_a_body_that_stops_arriving_times_out(
    bot: Harness, server_log: Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slack_http, "BODY_TIMEOUT_S", 0.5)
    with _connect(bot) as sock:
        sock.sendall(_head(length="1000") + b"command=%2Fcampaign")
        assert _status(sock) == 408
    assert server_log.problems() == []


def test_a_client_that_disconnects_mid_body_leaves_no_traceback(
    bot: Harness, server_log: Records
) -> None:
    with _connect(bot) as sock:
        sock.sendall(_head(length="1000") + b"command=%2Fcampaign")
    assert server_log.wait_for("disconnected before sending the whole body")
    ack, _ = bot.command("help")  # the server carries on
    assert "recent flows" in texts(ack.json())
    assert server_log.problems() == []


def _form(text: str = "help") -> bytes:
    return urlencode(slash_command(text, team_id="T0TEST", response_url="http://x/")).encode()


def _signed(body: bytes, **headers: str) -> dict[str, str]:
    """Slack's headers for ``body``, signed by hand: slack_sdk cannot sign bytes that are not
    UTF-8 (which is why such a body must be refused before Bolt reads it)."""
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    } | headers


MALFORMED = [
    # (why, body, headers) — unsigned or badly signed: 401 before anything is parsed
    ("timestamp not a number", _form(), {"X-Slack-Request-Timestamp": "soon",
                                         "X-Slack-Signature": "v0=00"}),
    ("timestamp in exponent form", _form(), {"X-Slack-Request-Timestamp": "1e10",
                                             "X-Slack-Signature": "v0=00"}),
    ("timestamp in Arabic-Indic digits", _form(), {"X-Slack-Request-Timestamp": "١٧٠٠٠٠٠٠٠٠",
                                                   "X-Slack-Signature": "v0=00"}),
    ("signature not ASCII", _form(), {"X-Slack-Request-Timestamp": str(int(time.time())),
                                      "X-Slack-Signature": "v0=é"}),
    ("no signature headers", _form(), {}),
    ("payload not JSON, unsigned", b"payload=%7Bnope", {"X-Slack-Request-Timestamp": "1",
                                                        "X-Slack-Signature": "v0=00"}),
    ("invalid UTF-8, unsigned", b"text=\xff\xfe", {"X-Slack-Request-Timestamp": "1",
                                                   "X-Slack-Signature": "v0=00"}),
]  # fmt: skip
SIGNED_MALFORMED = [
    # (why, body, content type) — rightly signed but unreadable: 400
    ("payload not JSON", b"payload=%7Bnope", "application/x-www-form-urlencoded"),
    ("payload not an object", b"payload=%5B1%5D", "application/x-www-form-urlencoded"),
    ("invalid UTF-8", b"text=\xff\xfe&command=%2Fcampaign-report", "application/x-www-form-urlencoded"),
    ("JSON body not JSON", b"{nope", "application/json"),
    ("JSON body not an object", b"[1, 2]", "application/json"),
]  # fmt: skip


@pytest.mark.parametrize(("why", "body", "headers"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_unauthenticated_requests_get_401_and_no_traceback(
    bot: Harness, server_log: Records, why: str, body: bytes, headers: dict[str, str]
) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"} | headers
    raw = {name: value.encode() for name, value in headers.items()}  # UTF-8 on the wire
    response = bot.http.post(bot.events_url, content=body, headers=raw)
    assert response.status_code == 401, response.text
    assert server_log.problems() == []
    assert bot.fake.calls_to("response_url", status=None) == []


@pytest.mark.parametrize(
    ("why", "body", "content_type"), SIGNED_MALFORMED, ids=[m[0] for m in SIGNED_MALFORMED]
)
def test_signed_but_unreadable_requests_get_400_and_no_traceback(
    bot: Harness, server_log: Records, why: str, body: bytes, content_type: str
) -> None:
    headers = _signed(body, **{"Content-Type": content_type})
    response = bot.http.post(bot.events_url, content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert server_log.problems() == []
