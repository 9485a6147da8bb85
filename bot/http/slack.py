"""``POST /slack/events``: Slack's slash commands and interactivity, handed to Bolt."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp

SLACK_EVENTS_PATH = "/slack/events"


def mount_slack(api: FastAPI, slack_app: AsyncApp) -> None:
    """Serve Slack's requests at ``POST /slack/events``."""
    handler = AsyncSlackRequestHandler(slack_app)

    @api.post(SLACK_EVENTS_PATH, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        """Slack's signed requests; a bad or stale signature gets 401 from Bolt."""
        return await handler.handle(request)
