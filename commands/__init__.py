"""Slash command and action listeners, wired onto a Bolt app (wiring only)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from sqlalchemy.engine import Engine

from bot.settings import Settings
from commands.blocks import (
    COMMAND,
    DOWNLOAD_REPORT,
    FILTER_CHANNEL,
    OPEN_REPORT,
    SHARE_REPORT,
    SHOW_CHANNEL_STATS,
)
from commands.channel_filter import answer_channel_filter
from commands.channel_stats import answer_channel_stats
from commands.delivery_deps import DeliveryDeps, delivery_middleware
from commands.download_report import answer_download_click
from commands.listening import DEPS_KEY, ack_at_once
from commands.open_report import answer_open_report
from commands.report_command import ack_report_command, answer_report_command
from commands.service import CommandDeps
from commands.share_report import answer_share_report
from commands.subscription_blocks import UNSUBSCRIBE
from commands.subscription_commands import (
    answer_subcommand,
    answer_unsubscribe_click,
    is_subcommand,
)


def register(app: AsyncApp, deps: CommandDeps) -> None:
    """Attach every listener to ``app``; ``deps`` reach them through the context."""

    async def provide_deps(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        context[DEPS_KEY] = deps
        await next()

    app.middleware(provide_deps)
    # ack first, answer later: lazy listeners start after the ack has been sent.
    # Subcommands come first: Bolt runs only the first listener that matches.
    app.command(COMMAND, matchers=[is_subcommand])(ack=ack_at_once, lazy=[answer_subcommand])
    app.command(COMMAND)(ack=ack_report_command, lazy=[answer_report_command])
    app.action(OPEN_REPORT)(ack=ack_at_once, lazy=[answer_open_report])
    app.action(FILTER_CHANNEL)(ack=ack_at_once, lazy=[answer_channel_filter])
    app.action(SHOW_CHANNEL_STATS)(ack=ack_at_once, lazy=[answer_channel_stats])
    app.action(SHARE_REPORT)(ack=ack_at_once, lazy=[answer_share_report])
    app.action(DOWNLOAD_REPORT)(ack=ack_at_once, lazy=[answer_download_click])
    app.action(UNSUBSCRIBE)(ack=ack_at_once, lazy=[answer_unsubscribe_click])


def install_delivery(
    app: AsyncApp, settings: Settings, engine: Engine, wake: Callable[[], None]
) -> None:
    """Give the download and subscription listeners their dependencies."""
    app.middleware(delivery_middleware(DeliveryDeps(settings, engine, wake)))
