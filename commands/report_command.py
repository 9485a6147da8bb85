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


async def ack_report_command(ack: AsyncAck, command: dict[str, Any]) -> None:
    """Acknowledge at once: usage and syntax errors go in the ack itself."""
    try:
        request = parse_report_command(command.get("text", ""))
    except CommandSyntaxError as exc:
        await ack(**to_message(build_notice_blocks(str(exc)), str(exc)))
        return
    if isinstance(request, ShowHelp):
        await ack(**to_message(build_usage_blocks(), "How to use /campaign-report"))
        return
    await ack()


async def answer_report_command(
    command: dict[str, Any], context: AsyncBoltContext, logger: logging.Logger
) -> None:
    """After the ack: the list or the summary, sent to the command's ``response_url``."""
    try:
        request = parse_report_command(command.get("text", ""))
    except CommandSyntaxError:
        return  # already answered in the ack
    if isinstance(request, ShowHelp):
        return
    deps = deps_of(context)
    team_id = str(command.get("team_id", ""))
    await answer_later(
        deps,
        command.get("response_url"),
        logger,
        lambda: answer_command(deps, team_id, request),
    )
