"""The store side of the alert commands and buttons: a request in, a Slack message out.

``alert <flow|all> …`` stores an alert, ``alerts`` lists them, ``alert remove ID`` ends one,
and an alert message's **Mute for 24 h** mutes it on that flow. Like ``commands.answers``,
these run on ``CommandDeps``' threads after the ack; rules come from ``reports.alerts`` and
``reports.access``, writes from ``store.alerts``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from commands.blocks.alerts import build_alerts_blocks
from commands.blocks.common import COMMAND, ephemeral, section_block
from commands.blocks.notices import REFUSALS, notice_message, refusal_message
from commands.deps import CommandDeps
from commands.grammar import (
    ALL_FLOWS,
    AlertSpec,
    AlertSyntaxError,
    MuteTarget,
    parse_alert,
    parse_alert_id,
)
from commands.mrkdwn import escape_mrkdwn, mrkdwn, recipient_mrkdwn
from reports.access import email_domain_allowed, find_visible_flow, require_grants
from reports.alerts import ALERT_FLOW_STATUSES, Condition, alert_summaries
from reports.flows import FlowNotReportable
from reports.formatting import fmt_moment
from store.alerts import create_alert, end_alert, mute_alert
from store.db import write_session

MUTE_FOR = timedelta(hours=24)
MAX_LISTED = 100


def _check_email_recipients(deps: CommandDeps, spec: AlertSpec) -> None:
    """The subscriptions' rule: email only to the internal or allowed domains."""
    internal, allowed = deps.internal_email_domains, deps.allowed_email_domains
    for recipient in spec.recipients:
        kind, _, address = recipient.partition(":")
        if kind == "email" and not email_domain_allowed(address, internal, allowed):
            shown = ", ".join(sorted({*internal, *allowed})) or "none are configured"
            raise AlertSyntaxError(
                f"to: {address} is outside the domains reports may be emailed to ({shown})"
            )


def add_alert(
    deps: CommandDeps,
    team_id: str,
    user_id: str,
    channel_id: str | None,
    text: str,
    now: datetime,
) -> dict[str, Any]:
    """Store an alert from the ``alert`` text; the confirmation or a one-line reason."""
    try:
        spec = parse_alert(text, user_id, channel_id)
        _check_email_recipients(deps, spec)
    except AlertSyntaxError as exc:
        return notice_message(str(exc))
    with write_session(deps.engine) as session:
        try:
            require_grants(session, team_id)
            flow = None
            if spec.flow.lower() != ALL_FLOWS:
                flow = find_visible_flow(session, team_id, spec.flow)
        except FlowNotReportable as exc:
            return notice_message(
                f"“{exc.flow.name}” is {exc.flow.status}: alerts watch live and scheduled flows."
            )
        except REFUSALS as exc:
            return refusal_message(exc)
        if flow is not None and flow.status not in ALERT_FLOW_STATUSES:
            return notice_message(
                f"“{flow.name}” is {flow.status}: alerts watch live and scheduled flows "
                "(or write all for every one)."
            )
        scope = (
            f"“{mrkdwn(flow.name, 120)}”" if flow is not None else "every live or scheduled flow"
        )
        alert = create_alert(
            session,
            team_id=team_id,
            created_by=user_id,
            flow_id=flow.id if flow is not None else None,
            metric=spec.metric,
            op=spec.op,
            threshold=spec.threshold,
            min_notifications=spec.min_notifications,
            recipients=spec.recipients,
            now=now,
        )
    who = ", ".join(recipient_mrkdwn(*r.partition(":")[::2]) for r in spec.recipients)
    condition = Condition(spec.metric, spec.op, spec.threshold, spec.min_notifications)
    return ephemeral(
        [
            section_block(
                f"Alert *#{alert.id}* set on {scope}: {escape_mrkdwn(condition.describe())}, "
                f"to {who}. I say when it fires and when it resolves. "
                f"List: `{COMMAND} alerts` · remove: `{COMMAND} alert remove {alert.id}`."
            )
        ],
        f"Alert #{alert.id} set",
    )


def list_alerts(deps: CommandDeps, team_id: str, now: datetime) -> dict[str, Any]:
    """The workspace's alerts with their state per flow and Remove buttons."""
    with Session(deps.engine) as session:
        summaries = alert_summaries(session, team_id=team_id, limit=MAX_LISTED)
    return ephemeral(build_alerts_blocks(summaries, now, deps.zone), "Campaign alerts")


def remove_alert(deps: CommandDeps, team_id: str, text: str) -> dict[str, Any]:
    """End alert ``text`` (an id) of this workspace."""
    alert_id = parse_alert_id(text)
    if alert_id is None:
        return notice_message(f"Write: alert remove ID (the number {COMMAND} alerts shows).")
    with write_session(deps.engine) as session:
        if not end_alert(session, alert_id, team_id):
            return notice_message(f"There is no alert #{alert_id} in this workspace.")
    return notice_message(f"Removed alert #{alert_id}: it sends nothing more.")


def mute(deps: CommandDeps, team_id: str, target: MuteTarget, now: datetime) -> dict[str, Any]:
    """Mute an alert on one flow for 24 hours (the alert message's button)."""
    until = now + MUTE_FOR
    with write_session(deps.engine) as session:
        alert = mute_alert(
            session,
            team_id=team_id,
            alert_id=target.alert_id,
            flow_id=target.flow_id,
            until=until,
        )
    if alert is None:
        return notice_message(f"Alert #{target.alert_id} is no longer set in this workspace.")
    return notice_message(
        f"Muted alert #{target.alert_id} on this flow until {fmt_moment(until, deps.zone)}: "
        "it stays judged, and says nothing until then."
    )
