"""The **Share in channel** button: post the same summary for everyone in the channel."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from commands.listening import answer_report_action


async def answer_share_report(
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    logger: logging.Logger,
) -> None:
    """Post the summary ``in_channel``; the private copy stays as it is."""
    value = str(action.get("value", ""))
    await answer_report_action(body, value, context, logger, "share", share=True)
