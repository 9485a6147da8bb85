"""Who may see what: the one home of every access rule the surfaces share.

* A Slack workspace sees the flows of the bots granted to it (``campaign-bot workspace
  grant``) and nothing else: never listed, matched, suggested or confirmed to exist.
* An API key acts for one bot and addresses that bot's flows by exact workflow id.
* A report may be filtered to a channel the flow has (its connected channels and every
  source it has seen).
* Reports are emailed only to addresses in the internal or allowed domains.

Slash commands, buttons, downloads, subscriptions, the API and the CLI all ask here.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.engine import Connection
from sqlmodel import Session, select

from reports.flows import FlowLookupError, FlowNotReportable, find_flow, recent_flows
from reports.kpis import known_channels
from store.models import Flow, Subscription, WorkspaceGrant
from store.vocabulary import REPORTABLE_FLOW_STATUSES, normalize_source


class NoGrants(Exception):
    """The workspace was not granted any bot yet."""

    def __init__(self, team_id: str) -> None:
        self.team_id = team_id
        super().__init__(f"workspace {team_id} has not been given access to any bot's campaigns")


class FlowUnavailable(FlowLookupError):
    """The flow a button names is gone or belongs to a bot the workspace may not see.

    Both cases get the same answer: another tenant's flow is never confirmed to exist.
    """

    def __init__(self) -> None:
        super().__init__("That flow is no longer available to this workspace.")


class UnknownChannel(ValueError):
    """A channel filter naming a channel the flow has never had."""

    def __init__(self, flow: Flow, channel: str, channels: Sequence[str]) -> None:
        self.flow = flow
        self.channel = channel
        self.channels = list(channels)
        super().__init__(
            f"flow {flow.name!r} has no channel {channel!r}; "
            f"its channels: {', '.join(channels) or 'none'}"
        )


class InvalidChannel(UnknownChannel):
    """A channel filter that is not a channel name at all; ``reason`` says why."""

    def __init__(self, flow: Flow, channel: str, channels: Sequence[str], reason: str) -> None:
        super().__init__(flow, channel, channels)
        self.reason = reason


def granted_bot_ids(session: Session, team_id: str) -> set[str]:
    """The bots whose flows the Slack workspace ``team_id`` may see."""
    rows = session.exec(select(WorkspaceGrant.bot_id).where(WorkspaceGrant.team_id == team_id))
    return set(rows)


def require_grants(session: Session, team_id: str) -> set[str]:
    """The bots ``team_id`` may see; ``NoGrants`` when there are none."""
    bot_ids = granted_bot_ids(session, team_id)
    if not bot_ids:
        raise NoGrants(team_id)
    return bot_ids


def find_visible_flow(session: Session, team_id: str, query: str) -> Flow:
    """The reportable flow ``query`` names among those ``team_id`` may see (or raise)."""
    return find_flow(session, query, bot_ids=require_grants(session, team_id))


def visible_flow(session: Session, team_id: str, flow_id: int) -> Flow:
    """The reportable flow with row id ``flow_id`` if ``team_id`` may see it (or raise)."""
    bot_ids = require_grants(session, team_id)
    flow = session.get(Flow, flow_id)
    if flow is None or flow.bot_id not in bot_ids:
        raise FlowUnavailable()
    if flow.status not in REPORTABLE_FLOW_STATUSES:
        raise FlowNotReportable(flow)
    return flow


def recent_visible_flows(session: Session, team_id: str, limit: int = 10) -> list[Flow]:
    """The reportable flows ``team_id`` may see that most recently received data."""
    return recent_flows(session, bot_ids=require_grants(session, team_id), limit=limit)


def reportable_flows(session: Session, bot_ids: Collection[str]) -> list[Flow]:
    """Every reportable flow of ``bot_ids``, by row id."""
    flows = session.exec(
        select(Flow).where(
            Flow.bot_id.in_(sorted(bot_ids)),  # type: ignore[attr-defined]
            Flow.status.in_(sorted(REPORTABLE_FLOW_STATUSES)),  # type: ignore[attr-defined]
        )
    )
    return sorted(flows, key=lambda f: f.id or 0)


def subscription_flows(session: Session, subscription: Subscription) -> list[Flow]:
    """The flows a digest covers now: its flow, or every reportable flow the workspace sees.

    Grants are checked at every digest: a workspace whose grant was withdrawn gets nothing.
    """
    bot_ids = granted_bot_ids(session, subscription.team_id)
    if subscription.flow_id is None:
        return reportable_flows(session, bot_ids)
    flow = session.get(Flow, subscription.flow_id)
    if flow is None or flow.bot_id not in bot_ids:
        return []
    return [flow] if flow.status in REPORTABLE_FLOW_STATUSES else []


def bot_flow(session: Session, bot_id: str, workflow_id: str) -> Flow | None:
    """The bot's flow with exactly this workflow id (the API: no name matching)."""
    query = select(Flow).where(Flow.bot_id == bot_id, Flow.workflow_id == workflow_id)
    return session.exec(query).first()


def check_channel(conn: Connection, flow: Flow, channel: str | None) -> str | None:
    """``channel`` normalized (``WhatsApp`` → ``whatsapp``) when the flow has it, else raise.

    ``InvalidChannel`` for text that is no channel name, ``UnknownChannel`` for a channel the
    flow never had; None (all channels) passes.
    """
    if channel is None:
        return None
    channels = known_channels(conn, flow)
    try:
        normalized = normalize_source(channel)
    except ValueError as exc:
        raise InvalidChannel(flow, channel, channels, str(exc)) from None
    if normalized not in channels:
        raise UnknownChannel(flow, normalized, channels)
    return normalized


def email_domain(address: str) -> str | None:
    """The domain of a valid address in its ASCII (IDNA) lower-case form; None if invalid.

    ``email-validator`` parses the address as mail servers do, so quoted local parts holding
    an ``@``, trailing dots, IP literals and control characters never reach a comparison.
    """
    try:
        parsed = validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return None
    return parsed.ascii_domain.lower()


def email_domain_allowed(address: str, internal: Collection[str], allowed: Collection[str]) -> bool:
    """True when ``address``'s domain is exactly one of the internal or allowed domains.

    Both sides are compared in IDNA form after case folding (``Bücher.example`` matches
    ``xn--bcher-kva.example``); a domain only ending in an allowed one
    (``acme.example.evil.com``) does not match it.
    """
    domain = email_domain(address)
    permitted = {email_domain(f"postmaster@{name.strip()}") for name in (*internal, *allowed)}
    return domain is not None and domain in permitted
