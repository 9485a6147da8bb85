"""The **Channel statistics** button: Sent/Delivered/Read/Failed per channel."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from commands.listening import answer_report_action


async def answer_channel_stats(
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    logger: logging.Logger,
) -> None:
    """Replace the summary with the per-channel view (same channel filter)."""
    value = str(action.get("value", ""))
    await answer_report_action(body, value, context, logger, "stats")
