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
from commands.channel_filter import handle_channel_filter
from commands.channel_stats import handle_channel_stats
from commands.delivery_deps import DeliveryDeps, delivery_middleware
from commands.download_report import handle_download_click
from commands.listening import DEPS_KEY
from commands.open_report import handle_open_report
from commands.report_command import handle_report_command
from commands.service import CommandDeps
from commands.share_report import handle_share_report
from commands.subscription_blocks import UNSUBSCRIBE
from commands.subscription_commands import (
    handle_subcommand,
    handle_unsubscribe_click,
    is_subcommand,
)


def register(app: AsyncApp, deps: CommandDeps) -> None:
    """Attach every listener to ``app``; ``deps`` reach them through the context."""

    async def provide_deps(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        context[DEPS_KEY] = deps
        await next()

    app.middleware(provide_deps)
    # Subcommands first: Bolt runs the first listener that matches.
    app.command(COMMAND, matchers=[is_subcommand])(handle_subcommand)
    app.command(COMMAND)(handle_report_command)
    app.action(OPEN_REPORT)(handle_open_report)
    app.action(FILTER_CHANNEL)(handle_channel_filter)
    app.action(SHOW_CHANNEL_STATS)(handle_channel_stats)
    app.action(SHARE_REPORT)(handle_share_report)
    app.action(DOWNLOAD_REPORT)(handle_download_click)
    app.action(UNSUBSCRIBE)(handle_unsubscribe_click)


def install_delivery(
    app: AsyncApp, settings: Settings, engine: Engine, wake: Callable[[], None]
) -> None:
    """Give the download and subscription listeners their dependencies."""
    app.middleware(delivery_middleware(DeliveryDeps(settings, engine, wake)))
