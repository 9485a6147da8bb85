"""**Download report** and ``/campaign-report download <flow>``: queue the full report.

The click is acknowledged at once; then the requester is looked up (members get a Slack
DM, guests an email at their profile address), a report request is stored (or a recent
identical one reused) and the requester is told where the report is going.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session

from commands.blocks import (
    build_not_reportable_blocks,
    lookup_failure_message,
    notice_message,
    to_message,
)
from commands.delivery_deps import DeliveryDeps, delivery_deps_of
from commands.formatting import escape_mrkdwn, truncate
from commands.listening import answer_later, checked_user_id, deps_of
from commands.requests import BadValue, parse_target
from commands.service import granted_bot_ids
from reports.flows import FlowLookupError, find_flow
from scheduler.requests import Recipient, create_download_request
from scheduler.sessions import write_session
from store.models import Flow, utcnow
from store.vocabulary import REPORTABLE_FLOW_STATUSES

DELIVERY_DEADLINE = timedelta(hours=24)


class RecipientUnknown(Exception):
    """Slack could not tell us who clicked, or the guest has no email address."""


def mask_email(address: str) -> str:
    """``g***@partner.example``: enough to recognise, not enough to harvest."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


async def find_recipient(client: AsyncWebClient, user_id: str) -> Recipient:
    """Members get a DM; guests (restricted users) get email at their profile address."""
    try:
        response = await client.users_info(user=user_id)
    except Exception as exc:
        raise RecipientUnknown(f"Slack could not look you up ({exc})") from None
    user: dict[str, Any] = response.get("user") or {}
    if user.get("is_restricted") or user.get("is_ultra_restricted"):
        email = str((user.get("profile") or {}).get("email") or "")
        if "@" not in email:
            raise RecipientUnknown("your Slack profile has no email address to send it to")
        return Recipient("email", email)
    return Recipient("slack_user", user_id)


def queue_download(
    deps: DeliveryDeps, team_id: str, user_id: str, flow: Flow, recipient: Recipient
) -> dict[str, Any]:
    """Store the request and say where the report goes."""
    with write_session(deps.engine) as session:
        created = create_download_request(
            session,
            flow=flow,
            team_id=team_id,
            user_id=user_id,
            recipient=recipient,
            now=utcnow(),
            deadline=DELIVERY_DEADLINE,
        )
    deps.wake()
    name = escape_mrkdwn(truncate(flow.name, 120))
    target = created.recipients[0] if created.recipients else recipient
    where = (
        "as a Slack DM from me"
        if target.channel == "slack_user"
        else f"by email to {mask_email(target.address)}"  # escaped by notice_message
    )
    if created.reused:
        text = f"You asked for the report of “{name}” a moment ago; it is on its way {where}."
    else:
        text = f"Preparing the full report of “{name}” (CSV and PDF). It will arrive {where}."
    return notice_message(text)


def _visible_flow(deps: DeliveryDeps, team_id: str, flow_id: int) -> Flow | dict[str, Any]:
    with Session(deps.engine) as session:
        bots = granted_bot_ids(session, team_id)
        flow = session.get(Flow, flow_id)
        if flow is None or flow.bot_id not in bots:
            return notice_message("That flow is no longer available to this workspace.")
        if flow.status not in REPORTABLE_FLOW_STATUSES:
            return to_message(build_not_reportable_blocks(flow), "No report for that flow.")
        session.expunge(flow)
        return flow


def _named_flow(deps: DeliveryDeps, team_id: str, query: str) -> Flow | dict[str, Any]:
    with Session(deps.engine) as session:
        bots = granted_bot_ids(session, team_id)
        try:
            flow = find_flow(session, query, bot_ids=bots)
        except FlowLookupError as exc:
            return lookup_failure_message(exc)
        session.expunge(flow)
        return flow


async def request_download(
    context: AsyncBoltContext,
    client: AsyncWebClient,
    logger: logging.Logger,
    *,
    team_id: str,
    user: Any,
    response_url: str | None,
    flow_of: Any,
) -> None:
    """Shared by the button and the subcommand: after the ack, queue and answer."""
    deps, delivery = deps_of(context), delivery_deps_of(context)
    try:
        user_id = checked_user_id(user)
        found = await deps.run(lambda: flow_of(delivery))
        if isinstance(found, dict):
            answer: Any = found
        else:
            recipient = await find_recipient(client, user_id)
            answer = await deps.run(
                lambda: queue_download(delivery, team_id, user_id, found, recipient)
            )
    except BadValue as exc:
        answer = notice_message(f"That request could not be read ({exc}).")
    except RecipientUnknown as exc:
        answer = notice_message(f"The report cannot be sent: {exc}.")
    await answer_later(deps, response_url, logger, lambda: answer, replace_original=False)


async def answer_download_click(
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    logger: logging.Logger,
) -> None:
    """The summary's **Download report** button (after the ack)."""
    value = str(action.get("value", ""))
    team_id = str((body.get("team") or {}).get("id", ""))

    def flow_of(delivery: DeliveryDeps) -> Flow | dict[str, Any]:
        return _visible_flow(delivery, team_id, parse_target(value).flow_id)

    await request_download(
        context,
        client,
        logger,
        team_id=team_id,
        user=(body.get("user") or {}).get("id"),
        response_url=body.get("response_url"),
        flow_of=flow_of,
    )


async def download_command(
    query: str,
    command: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    logger: logging.Logger,
) -> None:
    """``/campaign-report download <flow>`` (already acknowledged)."""
    team_id = str(command.get("team_id", ""))
    await request_download(
        context,
        client,
        logger,
        team_id=team_id,
        user=command.get("user_id"),
        response_url=command.get("response_url"),
        flow_of=lambda delivery: _named_flow(delivery, team_id, query),
    )
