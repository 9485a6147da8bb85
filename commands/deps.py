"""What the listeners need, passed in by the composition root, and how they reach it.

One ``CommandDeps`` per app, put into every request's Bolt context by one middleware.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.webhook.async_client import AsyncWebhookClient
from sqlalchemy.engine import Engine

DEPS_KEY = "campaign_report_deps"


class SlackResponseError(Exception):
    """Slack did not accept a message sent to a ``response_url``."""


def _no_wake() -> None:
    """Nobody to wake: the scheduler's own poll picks new work up."""


@dataclass(frozen=True)
class CommandDeps:
    """The store, the report settings the answers need, and how to answer Slack."""

    engine: Engine
    zone: ZoneInfo  # REPORT_TIMEZONE: times in answers, default zone of subscriptions
    internal_email_domains: tuple[str, ...] = ()
    allowed_email_domains: tuple[str, ...] = ()
    wake: Callable[[], None] = _no_wake  # run the outbox / subscription sync now (if we lead)
    retry_handlers: list[AsyncRetryHandler] = field(default_factory=list)
    # Few threads on purpose: report work holds the GIL, and every extra thread delays the
    # event loop that must send other users' acks within Slack's 3 seconds.
    # (Measured with bench/bench_slack.py: 1 thread gave the best ack and summary times.)
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="report")
    )
    # Writes (a download request, a subscription) have a thread of their own: one waiting
    # for the database's write lock (SQLite waits up to 30 s for another writer) then holds
    # up only other writes, never the reports everyone else is waiting for. Reads never
    # wait for a writer (SQLite WAL, PostgreSQL MVCC).
    writer: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-write")
    )

    def __deepcopy__(self, memo: dict[int, Any]) -> CommandDeps:
        # Bolt deep-copies the request context for lazy listeners; these are process-wide.
        return self

    async def run(self, work: Callable[[], Any]) -> Any:
        """Run blocking store reads off the event loop, on the report threads."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, work)

    async def run_write(self, work: Callable[[], Any]) -> Any:
        """Run blocking store work that writes off the event loop, on the write thread."""
        return await asyncio.get_running_loop().run_in_executor(self.writer, work)

    async def respond(self, response_url: str, message: dict[str, Any]) -> None:
        """POST ``message`` to a ``response_url``, retrying 429s and connection errors."""
        client = AsyncWebhookClient(url=response_url, retry_handlers=self.retry_handlers)
        response = await client.send_dict(message)
        if response.status_code != 200:
            raise SlackResponseError(
                f"response_url answered {response.status_code}: {response.body[:200]}"
            )


def deps_middleware(
    deps: CommandDeps,
) -> Callable[[AsyncBoltContext, Callable[[], Awaitable[None]]], Awaitable[None]]:
    """A Bolt middleware putting ``deps`` in every request's context."""

    async def provide_deps(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        context[DEPS_KEY] = deps
        await next()

    return provide_deps


def deps_of(context: AsyncBoltContext) -> CommandDeps:
    """The ``CommandDeps`` the app's middleware put in the request context."""
    deps = context.get(DEPS_KEY)
    if not isinstance(deps, CommandDeps):
        raise RuntimeError("commands.register() was not called on this app")
    return deps
