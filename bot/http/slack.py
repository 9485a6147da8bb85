"""``POST /slack/events``: Slack's slash commands and interactivity, handed to Bolt.

Every request is hostile until its signature says otherwise. In order:

1. the body is read whole, at most ``MAX_BODY_BYTES`` (413 as soon as it passes, whatever it
   declares) within ``BODY_TIMEOUT_S`` (408); a client that disconnects meanwhile is logged
   as one line;
2. the signature is checked on those raw bytes (401 for a missing, malformed, wrong or stale
   one) — nothing has been decoded or parsed yet;
3. the body is decoded and parsed as Bolt will (400 for a signed body Slack would never send:
   not UTF-8, a ``payload`` that is not a JSON object…);
4. a copy of a request already admitted (a replay, or Slack's retry) gets an empty 200 and
   runs nothing (``slack_guard.ReplayGuard``);
5. Bolt dispatches it (and verifies the signature once more).

None of this touches the store: the ack path never waits for the database.
"""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest

from bot.http.bodies import ClientGone, read_body
from bot.http.slack_guard import ReplayGuard, content_key, signature_is_valid
from bot.settings import Settings

SLACK_EVENTS_PATH = "/slack/events"
# Slack's requests are small: a slash command is a few hundred bytes; the largest, a
# block_actions payload quoting its message (at most 50 blocks, 40,000 characters of text) or
# its view (100 blocks), stays well under 1 MiB even form-encoded.
MAX_BODY_BYTES = 1024 * 1024
BODY_TIMEOUT_S = 10.0  # Slack sends its few KiB at once and gives up on us after 3 s
NO_RETRY = {"X-Slack-No-Retry": "1"}  # a retry of a request we cannot read would fail alike
logger = logging.getLogger("campaign_report.slack")


def _bolt_request(request: Request, body: bytes) -> AsyncBoltRequest | None:
    """The request as Bolt reads it, or None when a (signed) body is not what Slack sends."""
    try:
        parsed = AsyncBoltRequest(
            body=body.decode("utf-8"),
            query=request.query_params,  # type: ignore[arg-type]
            headers=request.headers,  # type: ignore[arg-type]
        )
    except (ValueError, TypeError, AttributeError, KeyError, IndexError):
        # UnicodeDecodeError and JSONDecodeError are ValueErrors; the others come from
        # Bolt reading ids out of a JSON value of the wrong shape.
        return None
    return parsed if isinstance(parsed.body, dict) else None


def mount_slack(api: FastAPI, slack_app: AsyncApp) -> None:
    """Serve Slack's requests at ``POST /slack/events``."""
    settings: Settings = api.state.settings
    secret = (
        settings.SLACK_SIGNING_SECRET.get_secret_value() if settings.SLACK_SIGNING_SECRET else ""
    )
    guard = ReplayGuard()

    @api.post(SLACK_EVENTS_PATH, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        """Slack's signed requests: checked, de-duplicated, then handed to Bolt."""
        try:
            body = await read_body(request, MAX_BODY_BYTES, BODY_TIMEOUT_S)
        except ClientGone:
            return Response(status_code=400)  # nobody is left to read it
        timestamp = request.headers.get("x-slack-request-timestamp")
        signature = request.headers.get("x-slack-signature")
        if not secret or not signature_is_valid(secret, body, timestamp, signature, time.time()):
            return JSONResponse({"error": "invalid request"}, status_code=401)
        assert timestamp is not None and signature is not None  # checked just above
        bolt_request = _bolt_request(request, body)
        if bolt_request is None:
            return JSONResponse(
                {"error": "not a request Slack sends"}, status_code=400, headers=NO_RETRY
            )
        event_id = bolt_request.body.get("event_id")
        content = content_key(body, event_id if isinstance(event_id, str) else None)
        retry = "x-slack-retry-num" in request.headers
        admitted = guard.admit(
            signature=signature,
            timestamp=int(timestamp),
            content=content,
            retry=retry,
            now=time.time(),
        )
        if not admitted:
            logger.info(
                "dropped a %s of a Slack request already admitted", "retry" if retry else "replay"
            )
            return Response(status_code=200)
        answer = await slack_app.async_dispatch(bolt_request)
        if not 200 <= answer.status < 300:
            guard.forget(content)  # not acknowledged: Slack's retry may run it
        return to_starlette_response(answer)
