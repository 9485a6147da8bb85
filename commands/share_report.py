"""The **Share in channel** button: post the same summary for everyone in the channel."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from commands.listening import answer_later, checked_user_id, deps_of
from commands.requests import parse_target
from commands.service import answer_target


async def answer_share_report(
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    logger: logging.Logger,
) -> None:
    """Post the summary ``in_channel``; the private copy stays as it is."""
    deps = deps_of(context)
    value = str(action.get("value", ""))
    user = (body.get("user") or {}).get("id")
    team_id = str((body.get("team") or {}).get("id", ""))
    await answer_later(
        deps,
        body.get("response_url"),
        logger,
        lambda: answer_target(
            deps, team_id, parse_target(value), "share", user_id=checked_user_id(user)
        ),
        replace_original=False,
    )
