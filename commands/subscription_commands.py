"""``/campaign-report download|subscribe|subscriptions|unsubscribe`` and the Unsubscribe button.

These subcommands are matched before the report command (see ``commands.register``); a flow
whose name starts with one of these words can still be opened by quoting its name.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session, select

from commands.blocks import (
    lookup_failure_message,
    notice_message,
    to_message,
)
from commands.delivery_deps import DeliveryDeps, delivery_deps_of
from commands.download_report import download_command
from commands.formatting import unescape_slack
from commands.listening import answer_later, checked_user_id, deps_of
from commands.requests import BadValue
from commands.service import granted_bot_ids
from commands.subscription_blocks import (
    SubscriptionLine,
    build_subscriptions_blocks,
    describe_subscription,
)
from reports.flows import FlowLookupError, find_flow
from scheduler.sessions import write_session
from scheduler.subscriptions import (
    ALL_FLOWS,
    SubscriptionError,
    check_email_domains,
    create_subscription,
    next_run,
    parse_subscribe,
)
from store.models import Flow, Subscription, utcnow

SUBCOMMANDS = ("download", "subscribe", "subscriptions", "unsubscribe")
MAX_LISTED = 100


def subcommand_of(text: str) -> tuple[str, str] | None:
    """``("subscribe", rest)`` when the command text starts with one of ``SUBCOMMANDS``."""
    word, _, rest = (text or "").strip().partition(" ")
    if word.lower() in SUBCOMMANDS:
        return word.lower(), rest.strip()
    return None


async def is_subcommand(command: dict[str, Any]) -> bool:
    """Listener matcher: the text starts with a subcommand word."""
    return subcommand_of(str(command.get("text", ""))) is not None


def _line(session: Session, subscription: Subscription) -> SubscriptionLine:
    flow = session.get(Flow, subscription.flow_id) if subscription.flow_id else None
    assert subscription.id is not None
    return SubscriptionLine(
        id=subscription.id,
        flow=flow.name if flow is not None else "all flows",
        schedule=subscription.schedule,
        timezone=subscription.timezone,
        recipients=subscription.recipients,
        next_run=next_run(subscription, utcnow()),
        skip_unchanged=subscription.skip_unchanged,
    )


def subscribe(deps: DeliveryDeps, team_id: str, user_id: str, text: str) -> dict[str, Any]:
    """Store a subscription from the ``subscribe`` text; the confirmation or the problem."""
    settings = deps.settings
    try:
        spec = parse_subscribe(text, user_id, settings.REPORT_TIMEZONE)
        check_email_domains(
            spec.recipients, settings.INTERNAL_EMAIL_DOMAINS, settings.ALLOWED_EMAIL_DOMAINS
        )
    except SubscriptionError as exc:
        return notice_message(str(exc))
    with write_session(deps.engine) as session:
        bots = granted_bot_ids(session, team_id)
        if not bots:
            return notice_message("This workspace cannot see any bot's flows yet.")
        flow: Flow | None = None
        if unescape_slack(spec.flow).lower() != ALL_FLOWS:
            try:
                flow = find_flow(session, unescape_slack(spec.flow), bot_ids=bots)
            except FlowLookupError as exc:
                return lookup_failure_message(exc)
        subscription = create_subscription(
            session, spec, team_id=team_id, user_id=user_id, flow=flow, now=utcnow()
        )
        line = _line(session, subscription)
    deps.wake()
    return _notice_mrkdwn(
        f"Subscribed: {describe_subscription(line)}. "
        f"Stop it with `/campaign-report unsubscribe {line.id}`."
    )


def _notice_mrkdwn(text: str) -> dict[str, Any]:
    return to_message([SectionBlock(text=MarkdownTextObject(text=text))], "Subscriptions",
                      response_type="ephemeral")  # fmt: skip


def list_subscriptions(deps: DeliveryDeps, team_id: str) -> dict[str, Any]:
    """The workspace's active subscriptions with Unsubscribe buttons."""
    with Session(deps.engine) as session:
        rows = session.exec(
            select(Subscription)
            .where(Subscription.team_id == team_id, Subscription.active)
            .order_by(Subscription.id)
            .limit(MAX_LISTED)
        ).all()
        lines = [_line(session, s) for s in rows]
    return to_message(build_subscriptions_blocks(lines), "Report subscriptions",
                      response_type="ephemeral")  # fmt: skip


def unsubscribe(deps: DeliveryDeps, team_id: str, text: str) -> dict[str, Any]:
    """End subscription ``text`` (an id) of this workspace."""
    raw = text.strip().lstrip("#")
    if not raw.isdigit() or len(raw) > 18:
        return notice_message(
            "Write: unsubscribe ID (the number shown by /campaign-report subscriptions)."
        )
    with write_session(deps.engine) as session:
        subscription = session.get(Subscription, int(raw))
        if subscription is None or subscription.team_id != team_id or not subscription.active:
            return notice_message(f"There is no subscription #{raw} in this workspace.")
        subscription.active = False
        session.add(subscription)
        session.commit()
    deps.wake()
    return notice_message(f"Unsubscribed #{raw}: no more digests from it.")


async def answer_subcommand(
    command: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    logger: logging.Logger,
) -> None:
    """After the ack: answer ``download``, ``subscribe``, ``subscriptions``, ``unsubscribe``."""
    word, rest = subcommand_of(str(command.get("text", ""))) or ("", "")
    if word == "download":
        await download_command(unescape_slack(rest), command, context, client, logger)
        return
    deps, delivery = deps_of(context), delivery_deps_of(context)
    team_id = str(command.get("team_id", ""))

    def build() -> dict[str, Any]:
        if word == "subscriptions":
            return list_subscriptions(delivery, team_id)
        if word == "unsubscribe":
            return unsubscribe(delivery, team_id, rest)
        return subscribe(delivery, team_id, checked_user_id(command.get("user_id")), rest)

    await answer_later(deps, command.get("response_url"), logger, build)


async def answer_unsubscribe_click(
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    logger: logging.Logger,
) -> None:
    """The list's **Unsubscribe** button: end it and show the list again (after the ack)."""
    deps, delivery = deps_of(context), delivery_deps_of(context)
    team_id = str((body.get("team") or {}).get("id", ""))
    value = str(action.get("value", ""))

    def build() -> dict[str, Any]:
        if not value.isdigit():
            raise BadValue(f"value: not a subscription id: {value[:40]!r}")
        answer = unsubscribe(delivery, team_id, value)
        listing = list_subscriptions(delivery, team_id)
        listing["blocks"] = answer["blocks"] + listing["blocks"][: 50 - len(answer["blocks"])]
        return listing

    await answer_later(deps, body.get("response_url"), logger, build, replace_original=True)
