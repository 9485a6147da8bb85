"""Requests as Slack sends them: form-encoded, signed with the signing secret.

Signature (``slack_sdk.signature.SignatureVerifier``): ``v0=`` + HMAC-SHA256 of
``v0:<timestamp>:<body>``; Slack's apps reject timestamps more than 5 minutes old.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

COMMAND = "/campaign-report"


def signed_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack adds to a request with ``body``."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature or "",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def slash_command(
    text: str, *, team_id: str, response_url: str, user_id: str = "U0ALICE"
) -> dict[str, str]:
    """The form fields of ``/campaign-report <text>`` (text escaped as Slack does)."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "team_domain": "acme",
        "channel_id": "C0GENERAL",
        "channel_name": "general",
        "user_id": user_id,
        "user_name": "alice",
        "command": COMMAND,
        "text": escaped,
        "api_app_id": "A0APP",
        "response_url": response_url,
        "trigger_id": "1.2.abc",
    }


def block_action(
    action: dict[str, Any], *, team_id: str, response_url: str, user_id: str = "U0ALICE"
) -> dict[str, str]:
    """The form of a ``block_actions`` interaction with one ``action`` on an ephemeral message."""
    payload = {
        "type": "block_actions",
        "team": {"id": team_id, "domain": "acme"},
        "user": {"id": user_id, "username": "alice", "team_id": team_id},
        "api_app_id": "A0APP",
        "token": "legacy-verification-token",
        "container": {"type": "message", "is_ephemeral": True, "channel_id": "C0GENERAL"},
        "trigger_id": "1.2.abc",
        "channel": {"id": "C0GENERAL", "name": "general"},
        "response_url": response_url,
        "actions": [{"block_id": "b", "action_ts": f"{time.time():.6f}"} | action],
    }
    return {"payload": json.dumps(payload)}


def button(action_id: str, value: str) -> dict[str, Any]:
    """A button click as it appears in ``actions``."""
    return {
        "type": "button",
        "action_id": action_id,
        "value": value,
        "text": {"type": "plain_text", "text": "x"},
    }


def selection(action_id: str, value: str) -> dict[str, Any]:
    """A static select choice as it appears in ``actions``."""
    return {
        "type": "static_select",
        "action_id": action_id,
        "selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": value},
    }


def post_signed(
    client: httpx.Client, url: str, secret: str, form: dict[str, str], timestamp: int | None = None
) -> httpx.Response:
    """POST ``form`` to ``url`` signed with ``secret``."""
    body = urlencode(form).encode()
    return client.post(url, content=body, headers=signed_headers(secret, body, timestamp))
