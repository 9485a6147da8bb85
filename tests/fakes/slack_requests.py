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


def main() -> None:
    """Send a signed slash command or button click to a running ``campaign-bot serve``."""
    import argparse

    parser = argparse.ArgumentParser(description="Act as Slack towards campaign-bot serve.")
    parser.add_argument("text", nargs="?", default="", help="the /campaign-report text")
    parser.add_argument("--app", default="http://127.0.0.1:8000/slack/events")
    parser.add_argument("--secret", required=True, help="SLACK_SIGNING_SECRET of the app")
    parser.add_argument("--team", default="T0TEST", help="Slack team id (see workspace grant)")
    parser.add_argument("--response-url", default="http://127.0.0.1:3001/response/demo")
    parser.add_argument("--action", help="click: the control's action id instead of a command")
    parser.add_argument("--value", default="", help="click: the button's or option's value")
    args = parser.parse_args()
    if args.action:
        control = (selection if args.action == "filter_channel" else button)(
            args.action, args.value
        )
        form = block_action(control, team_id=args.team, response_url=args.response_url)
    else:
        form = slash_command(args.text, team_id=args.team, response_url=args.response_url)
    with httpx.Client(timeout=10) as client:
        reply = post_signed(client, args.app, args.secret, form)
    print(f"ack: HTTP {reply.status_code} {reply.text[:2000]}")


if __name__ == "__main__":
    main()
