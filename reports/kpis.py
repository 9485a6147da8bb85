"""The KPI engine: every number of a flow's report, read from the store's rollups.

``compute_kpis`` reads a few rows (one per channel, plus the top failure reasons), never the
flow's messages, so its time does not grow with the flow's size. The returned ``FlowReport``
serializes to exactly the contract JSON (DESIGN.md, "KPI JSON"); Block Kit, PDF and email
renderers are pure functions of it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from store.ingest.reporting import load_delivery_channels
from store.models import ALL_CHANNELS, STAT_COUNTERS, FailureReasonStat, Flow, FlowStat

TOP_FAILURE_REASONS = 5


class FlowInfo(BaseModel):
    """The flow a report is about."""

    bot_id: str
    workflow_id: str
    name: str
    status: str
    goal: str | None


class Overview(BaseModel):
    """The seed's "User engagement overview"."""

    engagement_channels: list[str]
    number_of_events: int
    unique_clicks: int
    conversations_initiated: int
    goal_conversion: int | None


class Analysis(BaseModel):
    """The seed's "User engagement analysis"."""

    audience: int
    impressions: int
    delivery_rate: float | None
    reach: int
    engagement: int


class FlowUsers(BaseModel):
    """Users entering, in, leaving the flow and reaching its goal (never channel-filtered)."""

    users_entered_flow: int
    users_in_flow: int
    users_exited_flow: int
    users_achieved_goal: int


class FailureReason(BaseModel):
    """Failed messages grouped by their error code and comment."""

    reason: str
    count: int


class ChannelStats(BaseModel):
    """One channel's notifications and statuses; delivered/read are None where not reported."""

    channel: str
    notifications: int
    share: float
    sent: int
    delivered: int | None
    read: int | None
    failed: int
    failure_reasons: list[FailureReason]


class FlowDetails(BaseModel):
    """Facts about the flow for headers (not part of the KPI JSON)."""

    audience_setting: int | None = None
    channels_setting: list[str] = Field(default_factory=list)
    scheduled_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class FlowReport(BaseModel):
    """A flow's KPIs, optionally for one channel; ``to_json`` gives the contract JSON."""

    flow: FlowInfo
    channel: str | None
    overview: Overview
    analysis: Analysis
    flow_users: FlowUsers
    channels: list[ChannelStats]
    generated_at: datetime
    details: FlowDetails = Field(default_factory=FlowDetails, exclude=True)

    def to_json(self) -> dict[str, Any]:
        """The contract JSON as a dict (``generated_at`` as ``…Z``)."""
        data = self.model_dump(mode="json")
        data["generated_at"] = format_utc(self.generated_at)
        return data

    @property
    def total_notifications(self) -> int:
        """Notifications over every channel (the denominator of ``share``)."""
        return sum(c.notifications for c in self.channels)


def format_utc(moment: datetime) -> str:
    """``2026-11-27T09:00:00Z``: second precision, UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def percent(part: int, whole: int) -> float | None:
    """``part / whole × 100`` to one decimal, halves rounded up; None when ``whole`` is 0."""
    if not whole:
        return None
    value = (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return float(value)


def _load_stats(conn: Connection, flow_id: int) -> dict[str, dict[str, int]]:
    table = FlowStat.__table__
    rows = conn.execute(
        sa.select(table.c.source, *(table.c[name] for name in STAT_COUNTERS)).where(
            table.c.flow_id == flow_id
        )
    )
    return {row[0]: dict(zip(STAT_COUNTERS, row[1:], strict=True)) for row in rows}


def _load_failure_reasons(conn: Connection, flow_id: int) -> dict[str, list[FailureReason]]:
    table = FailureReasonStat.__table__
    rank = (
        sa.func.row_number()
        .over(partition_by=table.c.source, order_by=(table.c.count.desc(), table.c.reason))
        .label("rank")
    )
    ranked = (
        sa.select(table.c.source, table.c.reason, table.c.count, rank)
        .where(table.c.flow_id == flow_id, table.c.count > 0)
        .subquery()
    )
    rows = conn.execute(
        sa.select(ranked.c.source, ranked.c.reason, ranked.c.count)
        .where(ranked.c.rank <= TOP_FAILURE_REASONS)
        .order_by(ranked.c.source, ranked.c.rank)
    )
    reasons: dict[str, list[FailureReason]] = {}
    for source, reason, count in rows:
        reasons.setdefault(source, []).append(FailureReason(reason=reason, count=count))
    return reasons


def _channel_stats(
    source: str,
    stat: dict[str, int],
    total: int,
    reasons: list[FailureReason],
    reporting: frozenset[str],
) -> ChannelStats:
    reports_delivery = source in reporting
    return ChannelStats(
        channel=source,
        notifications=stat["notifications"],
        share=percent(stat["notifications"], total) or 0.0,
        sent=stat["sent"],
        delivered=stat["delivered"] if reports_delivery else None,
        read=stat["read"] if reports_delivery else None,
        failed=stat["failed"],
        failure_reasons=reasons,
    )


def compute_kpis(
    conn: Connection, flow: Flow, *, channel: str | None = None, now: datetime
) -> FlowReport:
    """Every KPI of ``flow`` (DESIGN.md's table), filtered to ``channel`` when given."""
    assert flow.id is not None
    stats = _load_stats(conn, flow.id)
    empty = dict.fromkeys(STAT_COUNTERS, 0)
    overall = stats.get(ALL_CHANNELS, empty)
    sources = sorted(s for s, stat in stats.items() if s != ALL_CHANNELS and stat["messages"])
    channels_connected = sorted(flow.channels) if flow.channels else sources
    total = sum(stats[s]["notifications"] for s in sources)
    reasons = _load_failure_reasons(conn, flow.id)
    # The set the rollups were counted with (``store.ingest.reporting``), so delivered/read
    # shown or not always agree with the impressions beside them.
    reporting = load_delivery_channels(conn)
    channel_rows = [
        _channel_stats(s, stats[s], total, reasons.get(s, []), reporting)
        for s in sources
        if channel is None or s == channel
    ]
    channel_rows.sort(key=lambda row: (-row.notifications, row.channel))

    scope = overall if channel is None else stats.get(channel, empty)
    if channel is None:
        engagement_channels = channels_connected
        audience = flow.audience if flow.audience is not None else overall["audience_users"]
    else:
        engagement_channels = [channel] if channel in channels_connected else []
        audience = scope["audience_users"]
    return FlowReport(
        flow=FlowInfo(
            bot_id=flow.bot_id,
            workflow_id=flow.workflow_id,
            name=flow.name,
            status=flow.status,
            goal=flow.goal,
        ),
        channel=channel,
        overview=Overview(
            engagement_channels=engagement_channels,
            number_of_events=scope["events"],
            unique_clicks=scope["click_users"],
            conversations_initiated=scope["conversation_users"],
            goal_conversion=scope["goal_users"] if flow.goal else None,
        ),
        analysis=Analysis(
            audience=audience,
            impressions=scope["impressions"],
            delivery_rate=percent(scope["impressions"], scope["notifications"]),
            reach=scope["reach_users"],
            engagement=scope["engagement"],
        ),
        flow_users=FlowUsers(
            users_entered_flow=overall["entered_users"],
            users_in_flow=overall["in_flow_users"],
            users_exited_flow=overall["exited_users"],
            users_achieved_goal=overall["goal_users"],
        ),
        channels=channel_rows,
        generated_at=now,
        details=FlowDetails(
            audience_setting=flow.audience,
            channels_setting=list(flow.channels),
            scheduled_at=flow.scheduled_at,
            created_at=flow.created_at,
            updated_at=flow.updated_at,
        ),
    )


def known_channels(conn: Connection, flow: Flow) -> list[str]:
    """Channels a filter may name: the flow's connected channels and every source it has seen."""
    assert flow.id is not None
    table = FlowStat.__table__
    rows = conn.execute(
        sa.select(table.c.source).where(table.c.flow_id == flow.id, table.c.source != ALL_CHANNELS)
    )
    return sorted({*flow.channels, *(source for (source,) in rows)})
