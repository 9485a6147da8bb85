"""``/campaign-report``: usage, ``list``, a flow's summary, a channel-filtered summary."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from commands.blocks import build_notice_blocks, build_usage_blocks, to_message
from commands.listening import answer_later, deps_of
from commands.requests import CommandSyntaxError, ShowHelp, parse_report_command
from commands.service import answer_command


async def handle_report_command(
    ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext, logger: logging.Logger
) -> None:
    """Acknowledge at once; usage and syntax errors go in the ack, reports follow later."""
    try:
        request = parse_report_command(command.get("text", ""))
    except CommandSyntaxError as exc:
        await ack(**to_message(build_notice_blocks(str(exc)), str(exc)))
        return
    if isinstance(request, ShowHelp):
        await ack(**to_message(build_usage_blocks(), "How to use /campaign-report"))
        return
    await ack()
    deps = deps_of(context)
    team_id = str(command.get("team_id", ""))
    await answer_later(
        deps,
        command.get("response_url"),
        logger,
        lambda: answer_command(deps, team_id, request),
    )
