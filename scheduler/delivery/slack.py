"""Slack delivery: the report's files and a short summary, by DM or in a channel.

A DM is ``conversations.open`` with the user, then ``files_upload_v2`` of the PDF and the
CSV with the summary as the initial comment. Every call goes through the app's one
``AsyncWebClient`` (base URL ``SLACK_API_URL``), whose retry handlers already wait out a
429's ``Retry-After`` a few times; what still fails is sorted into transient and permanent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from scheduler.delivery.base import (
    Outgoing,
    PermanentDeliveryError,
    TransientDeliveryError,
)

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
    """Sends reports to a Slack user (``slack_user``) or channel (``slack_channel``)."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def open_dm(self, user_id: str) -> str:
        """The id of the DM channel with ``user_id``."""
        response = await call_slack(
            "conversations.open", lambda: self.client.conversations_open(users=user_id)
        )
        return str(response["channel"]["id"])

    async def send(self, delivery: Outgoing) -> None:
        """Upload the report files with the summary to the recipient."""
        if delivery.channel == "slack_user":
            channel = await self.open_dm(delivery.recipient)
        else:
            channel = delivery.recipient
        content = delivery.content
        uploads = [
            {"file": str(a.path), "filename": a.filename, "title": a.filename}
            for a in (content.pdf, content.csv)
            if a is not None
        ]
        text = content.slack_text
        if content.csv_link is not None:
            link = content.csv_link
            text += f"\nCSV: <{link.url}|{link.filename}> (link valid until {link.expires_text})"
        if not uploads:
            await call_slack(
                "chat.postMessage",
                lambda: self.client.chat_postMessage(channel=channel, text=text),
            )
            return
        await call_slack(
            "files_upload_v2",
            lambda: self.client.files_upload_v2(
                channel=channel,
                file_uploads=uploads,
                initial_comment=text,
                request_file_info=False,
            ),
        )

    async def notify(self, user_id: str, text: str) -> None:
        """Tell ``user_id`` something by DM (used for failed deliveries)."""
        channel = await self.open_dm(user_id)
        await call_slack(
            "chat.postMessage", lambda: self.client.chat_postMessage(channel=channel, text=text)
        )

    async def close(self) -> None:
        """Nothing to release: the Web API client is shared."""
