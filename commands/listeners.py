"""Bolt listeners: acknowledge at once, then answer from a lazy listener.

Acks carry only what needs no database (usage, syntax errors); everything else is built by
``commands.answers`` on the report thread and posted to the request's ``response_url``. A
failure is logged and the user gets one plain sentence instead of silence.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from commands.answers import (
    View,
    answer_command,
    answer_compare,
    answer_target,
    download_flow,
    list_subscriptions,
    queue_download,
    subscribe,
    unsubscribe,
)
from commands.blocks.common import MAX_BLOCKS, to_message
from commands.blocks.notices import build_notice_blocks, build_usage_blocks, notice_message
from commands.deps import CommandDeps, deps_of
from commands.grammar import (
    BadValue,
    CommandSyntaxError,
    ShowHelp,
    checked_user_id,
    parse_compare,
    parse_download,
    parse_report_command,
    parse_target,
    subcommand_of,
)
from store.requests import Recipient

FAILURE = "Sorry, that report could not be produced. Please try again in a minute."
Listener = Callable[..., Any]


class RecipientUnknown(Exception):
    """Slack could not tell us who clicked, or the guest has no email address."""


async def ack_at_once(ack: AsyncAck) -> None:
    """Acknowledge an interaction; its answer follows from a lazy listener."""
    await ack()


async def answer_later(
    deps: CommandDeps,
    response_url: str | None,
    logger: logging.Logger,
    build: Callable[[], dict[str, Any]],
    *,
    write: bool = False,
    **fields: Any,
) -> None:
    """Build a message off the event loop (``write``: on the write thread), send it to
    ``response_url``."""
    if not response_url:
        logger.error("no response_url in the request; nothing can be answered")
        return
    try:
        message = await (deps.run_write(build) if write else deps.run(build))
    except BadValue as exc:
        # Bad input in the request (a tampered value, an odd user id): say which field.
        logger.warning("rejected a request: %s", exc)
        text = f"That request could not be read ({exc})."
        message = to_message(build_notice_blocks(text), text, response_type="ephemeral")
    except Exception:
        logger.exception("building a campaign report answer failed")
        message = to_message(build_notice_blocks(FAILURE), FAILURE, response_type="ephemeral")
    try:
        await deps.respond(response_url, message | fields)
    except Exception:
        logger.exception("sending the answer to Slack's response_url failed")


# -- /campaign-report ------------------------------------------------------------------------


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
        deps, command.get("response_url"), logger, lambda: answer_command(deps, team_id, request)
    )


async def is_subcommand(command: dict[str, Any]) -> bool:
    """Listener matcher: the text starts with a subcommand word."""
    return subcommand_of(str(command.get("text", ""))) is not None


async def answer_subcommand(
    command: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    logger: logging.Logger,
) -> None:
    """After the ack: answer ``download``, ``subscribe``, ``subscriptions``, ``unsubscribe``."""
    word, rest = subcommand_of(str(command.get("text", ""))) or ("", "")
    deps = deps_of(context)
    team_id = str(command.get("team_id", ""))
    if word == "download":
        try:
            wanted = parse_download(rest)
        except CommandSyntaxError as exc:
            message = notice_message(str(exc))
            await answer_later(deps, command.get("response_url"), logger, lambda: message)
            return
        await request_download(
            deps,
            client,
            logger,
            team_id=team_id,
            user=command.get("user_id"),
            response_url=command.get("response_url"),
            find_flow=lambda: download_flow(deps, team_id, query=wanted.flow),
            formats=wanted.formats,
        )
        return

    def build() -> dict[str, Any]:
        if word == "compare":
            try:
                return answer_compare(deps, team_id, parse_compare(rest))
            except CommandSyntaxError as exc:
                return notice_message(str(exc))
        if word == "subscriptions":
            return list_subscriptions(deps, team_id)
        if word == "unsubscribe":
            return unsubscribe(deps, team_id, rest)
        return subscribe(deps, team_id, checked_user_id(command.get("user_id")), rest)

    write = word != "subscriptions"
    await answer_later(deps, command.get("response_url"), logger, build, write=write)


# -- report buttons and menus -------------------------------------------------------------------


def _team_of(body: dict[str, Any]) -> str:
    return str((body.get("team") or {}).get("id", ""))


def _user_of(body: dict[str, Any]) -> Any:
    return (body.get("user") or {}).get("id")


def _button_value(action: dict[str, Any]) -> str:
    return str(action.get("value", ""))


def _selected_value(action: dict[str, Any]) -> str:
    return str((action.get("selected_option") or {}).get("value", ""))


def report_action(view: View, *, selected: bool = False) -> Listener:
    """A lazy listener answering a report button (or the channel menu, ``selected``).

    It shows ``view`` for the flow and channel the action's value names. The message is
    replaced in place (``replace_original``), except a share, which posts a new
    ``in_channel`` message and leaves the private copy as it is.
    """
    value_of = _selected_value if selected else _button_value
    share = view == "share"

    async def answer(
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        logger: logging.Logger,
    ) -> None:
        deps, team_id, value = deps_of(context), _team_of(body), value_of(action)

        def build() -> dict[str, Any]:
            user = checked_user_id(_user_of(body)) if share else None
            return answer_target(deps, team_id, parse_target(value), view, user_id=user)

        await answer_later(
            deps, body.get("response_url"), logger, build, replace_original=not share
        )

    answer.__name__ = answer.__qualname__ = f"answer_{view}{'_menu' if selected else ''}"
    return answer


# -- Download report ---------------------------------------------------------------------------


async def find_recipient(client: AsyncWebClient, user_id: str) -> Recipient:
    """Members get a DM; guests (restricted users) get email at their profile address."""
    try:
        response = await client.users_info(user=user_id)
    except Exception:
        # The details (a Web API URL, Slack's answer) are for the log, not for the user.
        logging.getLogger("campaign_report.slack").exception("users.info %s failed", user_id)
        raise RecipientUnknown(
            "Slack could not tell me who you are; please try again in a minute"
        ) from None
    user: dict[str, Any] = response.get("user") or {}
    if user.get("is_restricted") or user.get("is_ultra_restricted"):
        email = str((user.get("profile") or {}).get("email") or "")
        if "@" not in email:
            raise RecipientUnknown("your Slack profile has no email address to send it to")
        return Recipient("email", email)
    return Recipient("slack_user", user_id)


async def request_download(
    deps: CommandDeps,
    client: AsyncWebClient,
    logger: logging.Logger,
    *,
    team_id: str,
    user: Any,
    response_url: str | None,
    find_flow: Callable[[], Any],
    formats: str = "csv,pdf",
) -> None:
    """Shared by the buttons and the subcommand: after the ack, queue and answer."""
    try:
        user_id = checked_user_id(user)
        found = await deps.run(find_flow)
        if isinstance(found, dict):
            answer: Any = found
        else:
            recipient = await find_recipient(client, user_id)
            answer = await deps.run_write(
                lambda: queue_download(deps, team_id, user_id, found, recipient, formats)
            )
    except BadValue as exc:
        answer = notice_message(f"That request could not be read ({exc}).")
    except RecipientUnknown as exc:
        answer = notice_message(f"The report cannot be sent: {exc}.")
    await answer_later(deps, response_url, logger, lambda: answer, replace_original=False)


def download_click(formats: str) -> Listener:
    """A lazy listener for the summary's **Download report** (``csv,pdf``) or **Download
    Excel** (``pdf,xlsx``) button."""

    async def answer(
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        logger: logging.Logger,
    ) -> None:
        deps, team_id, value = deps_of(context), _team_of(body), _button_value(action)
        await request_download(
            deps,
            client,
            logger,
            team_id=team_id,
            user=_user_of(body),
            response_url=body.get("response_url"),
            find_flow=lambda: download_flow(deps, team_id, flow_id=parse_target(value).flow_id),
            formats=formats,
        )

    answer.__name__ = answer.__qualname__ = f"answer_download_{formats.replace(',', '_')}"
    return answer


answer_download_click = download_click("csv,pdf")
answer_download_excel_click = download_click("pdf,xlsx")


# -- subscriptions -------------------------------------------------------------------------------


async def answer_unsubscribe_click(
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    logger: logging.Logger,
) -> None:
    """The list's **Unsubscribe** button: end it and show the list again (after the ack)."""
    deps, team_id, value = deps_of(context), _team_of(body), _button_value(action)

    def build() -> dict[str, Any]:
        if not value.isdigit():
            raise BadValue(f"value: not a subscription id: {value[:40]!r}")
        answer = unsubscribe(deps, team_id, value)
        listing = list_subscriptions(deps, team_id)
        room = MAX_BLOCKS - len(answer["blocks"])
        listing["blocks"] = answer["blocks"] + listing["blocks"][:room]
        return listing

    await answer_later(
        deps, body.get("response_url"), logger, build, write=True, replace_original=True
    )
