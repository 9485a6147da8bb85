"""What the report routes (``…/kpis``, ``…/timeline``) share: the key's bot's reportable flow
and the channel filter, refused the same way by both."""

from __future__ import annotations

from fastapi import HTTPException
from sqlalchemy.engine import Connection
from sqlmodel import Session

from bot.http.batches import BatchRejected, ItemError
from reports.access import InvalidChannel, UnknownChannel, bot_flow, check_channel
from reports.flows import FlowNotReportable
from store.models import Flow
from store.vocabulary import REPORTABLE_FLOW_STATUSES


def reportable_flow(session: Session, bot_id: str, workflow_id: str) -> Flow:
    """The bot's flow with a report: 404 when the bot has no such flow, 409 without reports."""
    flow = bot_flow(session, bot_id, workflow_id)
    if flow is None:
        raise HTTPException(404, f"bot {bot_id!r} has no flow {workflow_id!r}")
    if flow.status not in REPORTABLE_FLOW_STATUSES:
        raise HTTPException(409, str(FlowNotReportable(flow)))
    return flow


def channel_filter(conn: Connection, flow: Flow, channel: str | None) -> str | None:
    """The ``channel`` query parameter, normalized; a 422 naming it when the flow lacks it."""
    try:
        return check_channel(conn, flow, channel)
    except InvalidChannel as exc:
        error = ItemError(field="channel", message=exc.reason)
        raise BatchRejected("invalid channel", [error]) from None
    except UnknownChannel as exc:
        listed = ", ".join(exc.channels) or "none"
        message = f"the flow has no channel {exc.channel!r}; its channels: {listed}"
        raise BatchRejected(
            "unknown channel", [ItemError(field="channel", message=message)]
        ) from None
