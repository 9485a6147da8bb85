"""Bodies that stall or stop halfway: 408, or a note in the log — never a traceback."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

from bot.http import bodies
from tests.api.conftest import sqlite_only
from tests.slack.server_log import server_log


def _send_partial(base_url: str, api_key: str, *, close: bool) -> int | None:
    url = urlsplit(base_url)
    head = (
        "POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {api_key}\r\nContent-Type: application/json\r\n"
        "Content-Length: 5000\r\n\r\n[{"
    )
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(head.encode())
        if close:
            return None
        return int(sock.recv(4096).split(b" ", 2)[1])


@sqlite_only
def test_a_stalled_batch_gets_408(
    base_url: str, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bodies, "API_BODY_TIMEOUT_S", 0.5)
    assert _send_partial(base_url, api_key, close=False) == 408


@sqlite_only
def test_a_client_leaving_mid_batch_is_one_log_line(base_url: str, api_key: str) -> None:
    with server_log() as log:
        _send_partial(base_url, api_key, close=True)
        assert log.wait_for("disconnected before sending the whole body")
        assert log.problems() == []
