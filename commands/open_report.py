"""The "Open report", suggestion and "Back to summary" buttons: show a flow's summary."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from commands.listening import answer_report_action


async def answer_open_report(
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    logger: logging.Logger,
) -> None:
    """Replace the message with the summary of the flow the button names."""
    value = str(action.get("value", ""))
    await answer_report_action(body, value, context, logger, "summary")
