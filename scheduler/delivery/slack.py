"""Slack delivery: the report's files and a short summary (or a notice), by DM or in a channel.

A DM is ``conversations.open`` with the user, then ``files_upload_v2`` of the PDF and the
CSV with the summary as the initial comment (a notice is a ``chat.postMessage``). The text
comes from the formatter the composition root passes in (``commands.blocks.delivery``: all
Slack text is written there). Every call goes through the app's one ``AsyncWebClient`` (base
URL ``SLACK_API_URL``), whose retry handlers already wait out a 429's ``Retry-After`` a few
times; what still fails is sorted into transient and permanent — including answers that are
not Slack's JSON at all (an HTML 502 from a proxy in front of it) and timeouts.

A post to a public channel the bot is not in (``not_in_channel``) joins it
(``conversations.join``, scope ``channels:join``) and tries once more; a channel it cannot
join (private, archived, no scope) fails for good with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
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

BIG_UPLOAD_BYTES = 64 * 1024 * 1024  # report files past this are uploaded one at a time
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


class SlackRefused(PermanentDeliveryError):
    """Slack refused a call for good; ``error`` is its error code (``not_in_channel``…)."""

    def __init__(self, message: str, error: str) -> None:
        super().__init__(message)
        self.error = error


def _status_of(response: Any) -> int:
    """The HTTP status of a ``SlackResponse`` (``status_code``) or of the raw aiohttp
    response slack_sdk attaches when the body was not JSON (``status``)."""
    for name in ("status_code", "status"):
        value = getattr(response, name, None)
        if isinstance(value, int):
            return value
    return 0


def classify_slack_error(exc: Exception, what: str) -> Exception:
    """A ``TransientDeliveryError`` or ``PermanentDeliveryError`` for a failed Web API call."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = _status_of(response)
        data = getattr(response, "data", None)
        error = str(data.get("error") or "") if isinstance(data, dict) else ""
        headers = getattr(response, "headers", None) or {}
        retry_after = headers.get("Retry-After") or headers.get("retry-after")
        seconds = float(retry_after) if str(retry_after or "").isdigit() else None
        if not isinstance(data, dict) or not data:
            # No Slack JSON at all: an edge proxy's error page, a truncated answer. Slack
            # itself always answers JSON, so whatever stood in between may let us by later.
            return TransientDeliveryError(
                f"Slack's answer to {what} was not Slack's JSON (HTTP {status or 'unknown'})",
                retry_after=seconds,
            )
        if status == 429 or status >= 500 or error in TRANSIENT_ERRORS:
            return TransientDeliveryError(
                f"Slack is busy ({what}: {error or status})", retry_after=seconds
            )
        return SlackRefused(f"Slack refused {what}: {error or status}", error)
    if isinstance(exc, TimeoutError):
        return TransientDeliveryError(f"Slack did not answer {what} in time (timed out)")
    return TransientDeliveryError(f"cannot reach Slack ({what}): {str(exc) or type(exc).__name__}")


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
        self._big: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    def _big_upload_slot(self) -> asyncio.Semaphore:
        """One large upload at a time (slack_sdk reads each file whole into memory)."""
        loop = asyncio.get_running_loop()
        if self._big is None or self._big[0] is not loop:
            self._big = (loop, asyncio.Semaphore(1))
        return self._big[1]

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
        try:
            await self._post(channel, delivery.content)
        except SlackRefused as exc:
            if delivery.channel != "slack_channel" or exc.error != "not_in_channel":
                raise
            await self._join(channel)
            await self._post(channel, delivery.content)  # once; a second refusal is final

    async def _join(self, channel: str) -> None:
        """Join a public channel the bot was not in (to post the report there)."""
        try:
            await call_slack(
                "conversations.join", lambda: self.client.conversations_join(channel=channel)
            )
        except SlackRefused as exc:
            raise SlackRefused(
                f"the app is not in channel {channel} and cannot join it ({exc.error}); "
                "invite it to the channel",
                "not_in_channel",
            ) from None

    async def _post(self, channel: str, content: Content) -> None:
        message = self.formatter(content)
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
        big = sum(a.size for a in files) > BIG_UPLOAD_BYTES
        async with self._big_upload_slot() if big else contextlib.nullcontext():
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
