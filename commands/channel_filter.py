"""The channel select menu: re-render the summary for the chosen channel."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from commands.listening import answer_report_action


async def answer_channel_filter(
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    logger: logging.Logger,
) -> None:
    """Replace the summary with one filtered to the selected channel (or all channels)."""
    value = str((action.get("selected_option") or {}).get("value", ""))
    await answer_report_action(body, value, context, logger, "summary")
