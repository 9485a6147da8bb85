"""Slack delivery: the report's files and a short summary (or a notice), by DM or in a channel.

A DM is ``conversations.open`` with the user, then ``files_upload_v2`` of the PDF and the
CSV with the summary as the initial comment (a notice is a ``chat.postMessage``). The text
comes from the formatter the composition root passes in (``commands.blocks.delivery``: all
Slack text is written there). Every call goes through the app's one ``AsyncWebClient`` (base
URL ``SLACK_API_URL``), whose retry handlers already wait out a 429's ``Retry-After`` a few
times; what still fails is sorted into transient and permanent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from reports.content import Content, ReportContent
from scheduler.delivery.base import (
    Outgoing,
    PermanentDeliveryError,
    TransientDeliveryError,
)

# Content → a Slack message payload ({"text": mrkdwn, optionally "blocks"}).
SlackFormatter = Callable[[Content], dict[str, Any]]

# Errors that no retry can fix: the address is wrong or the bot may not post there.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "user_not_found",
        "user_disabled",
        "cannot_dm_bot",
        "restricted_action",
        "not_allowed_token_type",
        "missing_scope",
        "invalid_arguments",
        "file_uploads_disabled",
        "file_upload_size_restricted",
    }
)
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


def classify_slack_error(exc: Exception, what: str) -> Exception:
    """A ``TransientDeliveryError`` or ``PermanentDeliveryError`` for a failed Web API call."""
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        error = str(exc.response.get("error", "")) if exc.response.data else ""
        if status == 429 or status >= 500 or error in TRANSIENT_ERRORS:
            retry_after = exc.response.headers.get("Retry-After") or exc.response.headers.get(
                "retry-after"
            )
            seconds = float(retry_after) if str(retry_after or "").isdigit() else None
            return TransientDeliveryError(
                f"Slack is busy ({what}: {error or status})", retry_after=seconds
            )
        return PermanentDeliveryError(f"Slack refused {what}: {error or status}")
    return TransientDeliveryError(f"cannot reach Slack ({what}): {exc or type(exc).__name__}")


async def call_slack(what: str, call: Callable[[], Awaitable[Any]]) -> Any:
    """Run one Web API call, turning its failures into delivery errors."""
    try:
        return await call()
    except (TimeoutError, SlackApiError, SlackClientError, aiohttp.ClientError) as exc:
        raise classify_slack_error(exc, what) from None
    except OSError as exc:
        raise classify_slack_error(exc, what) from None


class SlackChannel:
    """Sends content to a Slack user (``slack_user``) or channel (``slack_channel``)."""

    def __init__(self, client: AsyncWebClient, formatter: SlackFormatter) -> None:
        self.client = client
        self.formatter = formatter

    async def open_dm(self, user_id: str) -> str:
        """The id of the DM channel with ``user_id``."""
        response = await call_slack(
            "conversations.open", lambda: self.client.conversations_open(users=user_id)
        )
        return str(response["channel"]["id"])

    async def send(self, delivery: Outgoing) -> None:
        """Format the content, then post it (with the report files, if any) to the recipient."""
        if delivery.channel == "slack_user":
            channel = await self.open_dm(delivery.recipient)
        else:
            channel = delivery.recipient
        message = self.formatter(delivery.content)
        content = delivery.content
        files = content.files if isinstance(content, ReportContent) else []
        if not files:
            await call_slack(
                "chat.postMessage",
                lambda: self.client.chat_postMessage(channel=channel, **message),
            )
            return
        uploads = [
            {"file": str(a.path), "filename": a.filename, "title": a.filename} for a in files
        ]
        await call_slack(
            "files_upload_v2",
            lambda: self.client.files_upload_v2(
                channel=channel,
                file_uploads=uploads,
                initial_comment=message["text"],
                request_file_info=False,
            ),
        )

    async def close(self) -> None:
        """Nothing to release: the Web API client is shared."""
