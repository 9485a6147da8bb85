"""The **Channel statistics** button: Sent/Delivered/Read/Failed per channel."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from commands.listening import answer_later, deps_of
from commands.requests import parse_target
from commands.service import answer_target


async def answer_channel_stats(
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    logger: logging.Logger,
) -> None:
    """Replace the summary with the per-channel view (same channel filter)."""
    deps = deps_of(context)
    value = str(action.get("value", ""))
    team_id = str((body.get("team") or {}).get("id", ""))
    await answer_later(
        deps,
        body.get("response_url"),
        logger,
        lambda: answer_target(deps, team_id, parse_target(value), "stats"),
        replace_original=True,
    )
