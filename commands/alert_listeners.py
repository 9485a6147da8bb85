"""Bolt listeners of alerts: the ``alert``/``alerts`` commands and the alert buttons.

Each acknowledges at once (``ack_at_once``) and answers from a lazy listener, as
``commands.listeners`` does. The report buttons of an alert message answer with a new
ephemeral message, so the alert itself stays in the channel.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from commands.alert_answers import add_alert, list_alerts, mute, remove_alert
from commands.answers import View, answer_target
from commands.blocks.common import MAX_BLOCKS
from commands.deps import deps_of
from commands.grammar import (
    BadValue,
    alert_subcommand_of,
    checked_user_id,
    parse_alert_id,
    parse_mute_target,
    parse_target,
)
from commands.listeners import Listener, answer_later
from store.models import utcnow


async def is_alert_command(command: dict[str, Any]) -> bool:
    """Listener matcher: ``alert …`` or ``alerts``."""
    return alert_subcommand_of(str(command.get("text", ""))) is not None


async def answer_alert_command(
    command: dict[str, Any], context: AsyncBoltContext, logger: logging.Logger
) -> None:
    """After the ack: add, list or remove alerts."""
    word, rest = alert_subcommand_of(str(command.get("text", ""))) or ("", "")
    deps = deps_of(context)
    team_id = str(command.get("team_id", ""))
    verb, _, target = rest.partition(" ")
    if word == "alerts" or (word == "alert" and not rest):
        await answer_later(deps, command.get("response_url"), logger,
                           lambda: list_alerts(deps, team_id, utcnow()))  # fmt: skip
        return
    if verb.lower() == "remove":
        await answer_later(deps, command.get("response_url"), logger,
                           lambda: remove_alert(deps, team_id, target), write=True)  # fmt: skip
        return

    def build() -> dict[str, Any]:
        user_id = checked_user_id(command.get("user_id"))
        channel_id = str(command.get("channel_id") or "")
        return add_alert(deps, team_id, user_id, channel_id, rest, utcnow())

    await answer_later(deps, command.get("response_url"), logger, build, write=True)


def _team_of(body: dict[str, Any]) -> str:
    return str((body.get("team") or {}).get("id", ""))


async def answer_remove_alert_click(
    body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext,
    logger: logging.Logger,
) -> None:  # fmt: skip
    """The list's **Remove** button: end the alert and show the list again."""
    deps, team_id, value = deps_of(context), _team_of(body), str(action.get("value", ""))

    def build() -> dict[str, Any]:
        if parse_alert_id(value) is None:
            raise BadValue(f"value: not an alert id: {value[:40]!r}")
        answer = remove_alert(deps, team_id, value)
        listing = list_alerts(deps, team_id, utcnow())
        room = MAX_BLOCKS - len(answer["blocks"])
        listing["blocks"] = answer["blocks"] + listing["blocks"][:room]
        return listing

    await answer_later(deps, body.get("response_url"), logger, build, write=True,
                       replace_original=True)  # fmt: skip


async def answer_mute_click(
    body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext,
    logger: logging.Logger,
) -> None:  # fmt: skip
    """An alert message's **Mute for 24 h**: mute that alert on that flow, say until when."""
    deps, team_id, value = deps_of(context), _team_of(body), str(action.get("value", ""))
    await answer_later(
        deps, body.get("response_url"), logger,
        lambda: mute(deps, team_id, parse_mute_target(value), utcnow()),
        write=True, replace_original=False,
    )  # fmt: skip


def alert_report_action(view: View) -> Listener:
    """A lazy listener for an alert message's **Open report** / **Channel statistics**: the
    view as a new ephemeral message (the alert stays as it was)."""

    async def answer(
        body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext,
        logger: logging.Logger,
    ) -> None:  # fmt: skip
        deps, team_id, value = deps_of(context), _team_of(body), str(action.get("value", ""))
        await answer_later(
            deps, body.get("response_url"), logger,
            lambda: answer_target(deps, team_id, parse_target(value), view),
            replace_original=False,
        )  # fmt: skip

    answer.__name__ = answer.__qualname__ = f"answer_alert_{view}"
    return answer
