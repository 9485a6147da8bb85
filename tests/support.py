"""Small builders for events and a one-call way to ingest them and read KPIs back."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session

from reports.flows import find_flow
from reports.kpis import compute_kpis, compute_timeline
from store.events import parse_event
from store.ingest import IngestResult, ingest_events

BOT = "b1"
WF = "wf_42"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
_ids = itertools.count(1)


def flow(**fields: Any) -> dict[str, Any]:
    """A ``flow`` event for wf_42 of bot b1 (completed, goal purchase unless overridden)."""
    return {"type": "flow", "bot_id": BOT, "workflow_id": WF, "name": "Diwali offers",
            "status": "completed", "goal": "purchase"} | fields  # fmt: skip


def msg(message_id: str, user: str, source: str, status: str, at: str = "2026-11-01T09:00:00Z",
        **fields: Any) -> dict[str, Any]:  # fmt: skip
    """A ``message`` status event."""
    return {"type": "message", "bot_id": BOT, "workflow_id": WF, "message_id": message_id,
            "user_id": user, "source": source, "status": status, "at": at} | fields  # fmt: skip


def act(kind: str, user: str, source: str | None = None, **fields: Any) -> dict[str, Any]:
    """A user event (click, reply, goal_achieved, flow_entered…)."""
    event = {"type": kind, "bot_id": BOT, "workflow_id": WF, "user_id": user,
             "at": "2026-11-01T10:00:00Z"} | fields  # fmt: skip
    if source is not None:
        event["source"] = source
    return event


def ingest(engine: Engine, *events: dict[str, Any]) -> IngestResult:
    """Validate and apply events in one transaction."""
    items = [(f"item {i}", parse_event(e, f"item {i}")) for i, e in enumerate(events)]
    return ingest_events(engine, items, now=NOW)


def kpis(engine: Engine, flow_query: str = WF, channel: str | None = None) -> dict[str, Any]:
    """The contract KPI JSON of a flow."""
    with Session(engine) as session:
        found = find_flow(session, flow_query)
        report = compute_kpis(session.connection(), found, channel=channel, now=NOW)
    return report.to_json()


def timeline(
    engine: Engine,
    flow_query: str = WF,
    *,
    zone: str = "UTC",
    bucket: str = "hour",
    channel: str | None = None,
) -> dict[str, Any]:
    """The contract timeline JSON of a flow."""
    with Session(engine) as session:
        found = find_flow(session, flow_query)
        result = compute_timeline(
            session.connection(), found, zone=ZoneInfo(zone), bucket=bucket,  # type: ignore[arg-type]
            channel=channel, now=NOW,
        )  # fmt: skip
    return result.to_json()
