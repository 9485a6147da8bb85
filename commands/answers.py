"""The store side of every answer: a parsed request in, a Slack message out (synchronous).

Listeners run these on ``CommandDeps.run``'s thread after ``ack()``, so the event loop never
waits on the database. Access rules come from ``reports.access``, writes from ``store``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from sqlmodel import Session

from commands.blocks.common import COMMAND, ephemeral, section_block, to_message
from commands.blocks.compare import build_compare_blocks
from commands.blocks.notices import (
    REFUSALS,
    build_flow_list_blocks,
    notice_message,
    refusal_message,
)
from commands.blocks.report import build_channel_stats_blocks, build_summary_blocks, summary_text
from commands.blocks.subscriptions import (
    SubscriptionLine,
    build_subscriptions_blocks,
    describe_subscription,
)
from commands.deps import CommandDeps
from commands.grammar import (
    ALL_FLOWS,
    CompareRequest,
    ListFlows,
    ShowReport,
    SubscriptionError,
    SubscriptionSpec,
    Target,
    parse_subscribe,
    unescape_slack,
)
from commands.mrkdwn import escape_mrkdwn
from reports.access import (
    check_channel,
    email_domain_allowed,
    find_visible_flow,
    recent_visible_flows,
    require_grants,
    visible_flow,
)
from reports.compare import CompareError, compare_flows
from reports.formatting import truncate
from reports.kpis import compute_kpis, known_channels
from reports.schedules import next_run
from store.db import write_session
from store.models import Flow, Subscription, utcnow
from store.requests import Recipient, create_download_request
from store.subscriptions import active_subscriptions, create_subscription, end_subscription

View = Literal["summary", "stats", "share"]
DELIVERY_DEADLINE = timedelta(hours=24)
MAX_LISTED = 100


# -- reports ---------------------------------------------------------------------------------


def _render(
    session: Session,
    flow: Flow,
    channel: str | None,
    deps: CommandDeps,
    now: datetime,
    view: View,
    user_id: str | None = None,
) -> dict[str, Any]:
    assert flow.id is not None
    conn = session.connection()
    report = compute_kpis(conn, flow, channel=channel, now=now)
    if view == "stats":
        blocks = build_channel_stats_blocks(report, flow_id=flow.id, zone=deps.zone)
        return ephemeral(blocks, summary_text(report))
    shared_by = user_id if view == "share" else None
    blocks = build_summary_blocks(
        report,
        flow_id=flow.id,
        channels=known_channels(conn, flow),
        zone=deps.zone,
        shared_by=shared_by,
    )
    response_type = "in_channel" if view == "share" else "ephemeral"
    return to_message(blocks, summary_text(report), response_type=response_type)


def answer_command(
    deps: CommandDeps, team_id: str, request: ListFlows | ShowReport, now: datetime | None = None
) -> dict[str, Any]:
    """The message answering a ``list`` or ``<flow> [channel:<c>]`` command."""
    now = now or utcnow()
    with Session(deps.engine) as session:
        try:
            if isinstance(request, ListFlows):
                flows = recent_visible_flows(session, team_id)
                return ephemeral(build_flow_list_blocks(flows, now), "Recent flows")
            flow = find_visible_flow(session, team_id, request.flow)
            channel = check_channel(session.connection(), flow, request.channel)
        except REFUSALS as exc:
            return refusal_message(exc)
        return _render(session, flow, channel, deps, now, "summary")


def answer_target(
    deps: CommandDeps,
    team_id: str,
    target: Target,
    view: View,
    *,
    user_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The message for a button or menu choice: a summary, the channel view or a share."""
    now = now or utcnow()
    with Session(deps.engine) as session:
        try:
            flow = visible_flow(session, team_id, target.flow_id)
            channel = check_channel(session.connection(), flow, target.channel)
        except REFUSALS as exc:
            return refusal_message(exc)
        return _render(session, flow, channel, deps, now, view, user_id)


def answer_compare(
    deps: CommandDeps, team_id: str, request: CompareRequest, now: datetime | None = None
) -> dict[str, Any]:
    """The flows of ``compare A vs B…`` side by side, among those the workspace may see."""
    now = now or utcnow()
    with Session(deps.engine) as session:
        try:
            flows = [find_visible_flow(session, team_id, query) for query in request.flows]
        except REFUSALS as exc:
            return refusal_message(exc)
        try:
            comparison = compare_flows(session.connection(), flows, now=now)
        except CompareError as exc:
            return notice_message(f"Cannot compare those: {exc}.")
    names = " vs ".join(report.flow.name for report in comparison.flows)
    return ephemeral(build_compare_blocks(comparison), truncate(f"Compare {names}", 300))


# -- downloads ---------------------------------------------------------------------------------


def mask_email(address: str) -> str:
    """``g***@partner.example``: enough to recognise, not enough to harvest."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def download_flow(
    deps: CommandDeps, team_id: str, *, flow_id: int | None = None, query: str | None = None
) -> Flow | dict[str, Any]:
    """The visible flow a click (``flow_id``) or ``download <flow>`` names, or the refusal."""
    with Session(deps.engine) as session:
        try:
            if flow_id is not None:
                flow = visible_flow(session, team_id, flow_id)
            else:
                flow = find_visible_flow(session, team_id, query or "")
        except REFUSALS as exc:
            return refusal_message(exc)
        session.expunge(flow)
        return flow


FILES_TEXT = {
    "csv,pdf": "CSV and PDF",
    "pdf,xlsx": "Excel and PDF",
    "csv,pdf,xlsx": "CSV, Excel and PDF",
}


def queue_download(
    deps: CommandDeps,
    team_id: str,
    user_id: str,
    flow: Flow,
    recipient: Recipient,
    formats: str = "csv,pdf",
) -> dict[str, Any]:
    """Store the request (or reuse a recent identical one) and say where the report goes.

    A guest's profile address outside the allowed email domains gets nothing, and is told so.
    """
    if recipient.channel == "email" and not email_domain_allowed(
        recipient.address, deps.internal_email_domains, deps.allowed_email_domains
    ):
        return notice_message(
            f"The report cannot be emailed to {mask_email(recipient.address)}: reports go only "
            "to addresses in the domains this workspace allows. Ask a workspace admin to add "
            "yours, or a colleague to share the report with you."
        )
    with write_session(deps.engine) as session:
        created = create_download_request(
            session,
            flow=flow,
            team_id=team_id,
            user_id=user_id,
            recipient=recipient,
            now=utcnow(),
            deadline=DELIVERY_DEADLINE,
            formats=formats,
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
        files = FILES_TEXT.get(formats, "PDF")
        text = f"Preparing the full report of “{name}” ({files}). It will arrive {where}."
    return notice_message(text)


# -- subscriptions ------------------------------------------------------------------------------


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
        formats=subscription.formats,
    )


def _check_email_recipients(deps: CommandDeps, spec: SubscriptionSpec) -> None:
    internal, allowed = deps.internal_email_domains, deps.allowed_email_domains
    for recipient in spec.recipients:
        kind, _, address = recipient.partition(":")
        if kind == "email" and not email_domain_allowed(address, internal, allowed):
            shown = ", ".join(sorted({*internal, *allowed})) or "none are configured"
            raise SubscriptionError(
                f"to: {address} is outside the domains reports may be emailed to ({shown})"
            )


def _mrkdwn_notice(text: str) -> dict[str, Any]:
    return ephemeral([section_block(text)], "Subscriptions")


def subscribe(deps: CommandDeps, team_id: str, user_id: str, text: str) -> dict[str, Any]:
    """Store a subscription from the ``subscribe`` text; the confirmation or the problem."""
    try:
        spec = parse_subscribe(text, user_id, deps.zone.key)
        _check_email_recipients(deps, spec)
    except SubscriptionError as exc:
        return notice_message(str(exc))
    with write_session(deps.engine) as session:
        query = unescape_slack(spec.flow)
        try:
            require_grants(session, team_id)
            flow = (
                None if query.lower() == ALL_FLOWS else find_visible_flow(session, team_id, query)
            )
        except REFUSALS as exc:
            return refusal_message(exc)
        subscription = create_subscription(
            session,
            team_id=team_id,
            created_by=user_id,
            flow_id=flow.id if flow is not None else None,
            now=utcnow(),
            **spec.stored_fields(),
        )
        line = _line(session, subscription)
    deps.wake()
    return _mrkdwn_notice(
        f"Subscribed: {describe_subscription(line)}. "
        f"Stop it with `{COMMAND} unsubscribe {line.id}`."
    )


def list_subscriptions(deps: CommandDeps, team_id: str) -> dict[str, Any]:
    """The workspace's active subscriptions with Unsubscribe buttons."""
    with Session(deps.engine) as session:
        rows = active_subscriptions(session, team_id=team_id, limit=MAX_LISTED)
        lines = [_line(session, s) for s in rows]
    return ephemeral(build_subscriptions_blocks(lines), "Report subscriptions")


def unsubscribe(deps: CommandDeps, team_id: str, text: str) -> dict[str, Any]:
    """End subscription ``text`` (an id) of this workspace."""
    raw = text.strip().lstrip("#")
    if not raw.isdigit() or len(raw) > 18:
        return notice_message(
            f"Write: unsubscribe ID (the number shown by {COMMAND} subscriptions)."
        )
    with write_session(deps.engine) as session:
        if not end_subscription(session, int(raw), team_id):
            return notice_message(f"There is no subscription #{raw} in this workspace.")
    deps.wake()
    return notice_message(f"Unsubscribed #{raw}: no more digests from it.")
