"""The KPI engine: every number of a flow's report, read from the store's rollups.

``compute_kpis`` reads a few rows (one per channel, plus the top failure reasons), never the
flow's messages, so its time does not grow with the flow's size. The returned ``FlowReport``
serializes to exactly the contract JSON (DESIGN.md, "KPI JSON"); Block Kit, PDF and email
renderers are pure functions of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field, computed_field
from sqlalchemy.engine import Connection

from reports.buckets import (
    BUCKET_SLOTS,
    Bucket,
    bucket_starts,
    fixed_offset_slots,
    pick_bucket,
    regular_buckets,
    sum_into_buckets,
)
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

    @computed_field  # type: ignore[prop-decorator]
    @property
    def failure_rate(self) -> float | None:
        """This channel's failed ÷ its notifications × 100 (DESIGN.md, Rates)."""
        return percent(self.failed, self.notifications)


class Rates(BaseModel):
    """The percentages of DESIGN.md's "Rates", channel-filtered like the KPIs they divide."""

    failure_rate: float | None
    click_through_rate: float | None
    read_rate: float | None
    goal_conversion_rate: float | None


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

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rates(self) -> Rates:
        """Failure, click-through, read and goal conversion rates, from the counts above.

        Rates are derived, not stored: a report read back from its JSON (a digest rendered
        earlier) gets the same rates, and no rate can disagree with the counts it divides.
        """
        rows = self.channels
        reporting = [row for row in rows if row.delivered is not None]
        reach = self.analysis.reach
        goals = self.overview.goal_conversion
        return Rates(
            failure_rate=percent(sum(r.failed for r in rows), sum(r.notifications for r in rows)),
            click_through_rate=percent(self.overview.unique_clicks, reach),
            read_rate=percent(
                sum(r.read or 0 for r in reporting), sum(r.delivered or 0 for r in reporting)
            ),
            goal_conversion_rate=None if goals is None else percent(goals, reach),
        )

    def to_json(self) -> dict[str, Any]:
        """The contract JSON as a dict (``generated_at`` as ``…Z``, ``rates`` after
        ``analysis``, each channel's ``failure_rate`` after ``failed``)."""
        data = self.model_dump(mode="json")
        rates = data.pop("rates")
        ordered: dict[str, Any] = {}
        for key, value in data.items():
            ordered[key] = value
            if key == "analysis":
                ordered["rates"] = rates
        ordered["channels"] = [_channel_json(row) for row in data["channels"]]
        ordered["generated_at"] = format_utc(self.generated_at)
        return ordered

    @property
    def total_notifications(self) -> int:
        """Notifications over every channel (the denominator of ``share``)."""
        return sum(c.notifications for c in self.channels)


def _channel_json(row: dict[str, Any]) -> dict[str, Any]:
    failure_rate = row.pop("failure_rate")
    ordered: dict[str, Any] = {}
    for key, value in row.items():
        ordered[key] = value
        if key == "failed":
            ordered["failure_rate"] = failure_rate
    return ordered


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
        flow=flow_info(flow),
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


def failed_with_error_code(conn: Connection, flow_id: int, code: str) -> int:
    """Messages of the flow now failed with error ``code``, over every channel (alerts'
    ``error:CODE``), from the failure-reason rollup.

    A reason is grouped under its text ``"{code} {comments}"`` (``store.ingest.rules.
    failure_reason``), so the code is the reason's first word: the reason is the code, or
    starts with the code and a space. A CSV import keeps that text whole as the comment, so
    its failures count under their code too, as Top failure reasons shows them.
    """
    table = FailureReasonStat.__table__
    reason = table.c.reason
    prefix = sa.func.substr(reason, 1, len(code) + 1)
    total = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(table.c.count), 0)).where(
            table.c.flow_id == flow_id,
            table.c.count > 0,
            sa.or_(reason == code, prefix == code + " "),
        )
    ).scalar_one()
    return int(total)


def known_channels(conn: Connection, flow: Flow) -> list[str]:
    """Channels a filter may name: the flow's connected channels and every source it has seen."""
    assert flow.id is not None
    table = FlowStat.__table__
    rows = conn.execute(
        sa.select(table.c.source).where(table.c.flow_id == flow.id, table.c.source != ALL_CHANNELS)
    )
    return sorted({*flow.channels, *(source for (source,) in rows)})


# -- timeline (DESIGN.md, Timeline) ------------------------------------------------------------


@dataclass(slots=True)
class TimelinePoint:
    """One bucket of the timeline: what happened from ``start`` (local, with its offset).

    A plain dataclass, not a model: a timeline of a year of hours has 8,760 of them.
    """

    start: datetime
    sent: int
    delivered: int | None
    read: int | None
    failed: int
    clicks: int
    goals: int


class Timeline(BaseModel):
    """A flow's sent/delivered/read/failed, clicks and goals per local hour or day."""

    flow: FlowInfo
    channel: str | None
    bucket: Bucket
    time_zone: str
    series: list[TimelinePoint]
    generated_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The contract JSON as a dict (``start`` with its offset, ``generated_at`` as ``…Z``)."""
        return {
            "flow": self.flow.model_dump(),
            "channel": self.channel,
            "bucket": self.bucket,
            "time_zone": self.time_zone,
            "series": [
                {
                    "start": p.start.isoformat(),
                    "sent": p.sent,
                    "delivered": p.delivered,
                    "read": p.read,
                    "failed": p.failed,
                    "clicks": p.clicks,
                    "goals": p.goals,
                }
                for p in self.series
            ],
            "generated_at": format_utc(self.generated_at),
        }


def flow_info(flow: Flow) -> FlowInfo:
    """The ``flow`` object of the KPI and timeline JSON."""
    return FlowInfo(
        bot_id=flow.bot_id,
        workflow_id=flow.workflow_id,
        name=flow.name,
        status=flow.status,
        goal=flow.goal,
    )


TimelineRows = list[tuple[int, int, int, int, int, int, int]]
TIMELINE_SERIES = ("sent", "delivered", "read", "failed", "clicks", "goals")


def _slot_range(conn: Connection, flow: Flow, channel: str | None) -> tuple[int, int] | None:
    """The first and last slot the flow's (or channel's) rollup rows have, or None."""
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    # Statements here are this module's text and the driver's placeholder; values are bound.
    first, last = conn.exec_driver_sql(
        "SELECT min(slot), max(slot) FROM flow_timeline "  # noqa: S608
        f"WHERE bot_id = {mark} AND flow_id = {mark} AND source = {mark}",
        (flow.bot_id, flow.id, ALL_CHANNELS if channel is None else channel),
    ).one()
    return None if first is None else (first, last)


def _load_timeline_rows(
    conn: Connection, flow: Flow, channel: str | None, group: tuple[int, int] | None = None
) -> TimelineRows:
    """Sent, delivered, read, failed, clicks, goals per 15-minute slot with anything in it,
    in slot order; with ``group = (offset, width)`` per ``(slot + offset) // width`` instead
    (whole local hours or days of a fixed UTC offset, summed by the database).

    One channel: its rows. All channels: the flow's rows (``source = ""``), with delivered and
    read summed over the channels that report delivery instead. Each is one range of the
    rollup's key.
    """
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    head = f"FROM flow_timeline WHERE bot_id = {mark} AND flow_id = {mark} AND source"
    key: tuple[Any, ...] = (flow.bot_id, flow.id)
    if group is None:
        unit, grouped, extra = "slot", "", ()
    else:  # the slots are from 1970 on here: integer division is floor division
        unit, grouped, extra = f"(slot + {mark}) / {mark}", " GROUP BY 1", group
    sums = ", ".join(f"sum({name})" if group else name for name in TIMELINE_SERIES)
    # Plain driver statements: a year of slots is 35,000 rows, read as tuples.
    rows = conn.exec_driver_sql(
        f"SELECT {unit}, {sums} {head} = {mark}{grouped} ORDER BY 1",
        (*extra, *key, ALL_CHANNELS if channel is None else channel),
    ).fetchall()
    if channel is not None:
        return [tuple(row) for row in rows if any(row[1:])]  # type: ignore[misc]
    reported: dict[int, list[int]] = {row[0]: [0, 0] for row in rows}
    channels = sorted(load_delivery_channels(conn))  # the set the rollups were counted with
    if channels:
        marks = ", ".join([mark] * len(channels))
        delivered_read = "sum(delivered), sum(read)" if group else "delivered, read"
        receipts = conn.exec_driver_sql(
            f"SELECT {unit}, {delivered_read} {head} IN ({marks}){grouped}",
            (*extra, *key, *channels),
        ).fetchall()
        for unit_key, delivered, read in receipts:
            pair = reported.get(unit_key)
            if pair is None:
                # Only a goal puts a slot in a channel's rows and not in the flow's (a user's
                # first goal on a channel may come after their first goal anywhere); a
                # message is in both, so such a slot holds no receipts.
                continue
            pair[0] += delivered
            pair[1] += read
    merged = []
    for unit_key, sent, _, _, failed, clicks, goals in rows:
        delivered, read = reported[unit_key]
        # A slot whose counts all went back to 0 (its messages moved to an earlier slot) is
        # left out, so it never stretches the timeline.
        if sent or delivered or read or failed or clicks or goals:
            merged.append((unit_key, sent, delivered, read, failed, clicks, goals))
    return merged


def _timeline_totals(
    conn: Connection, flow: Flow, channel: str | None, zone: tzinfo, bucket: Bucket
) -> list[tuple[datetime, list[int]]]:
    """Every bucket's local start and counts, from the first to the last non-empty one."""
    span = _slot_range(conn, flow, channel)
    if span is None:
        return []
    offset = fixed_offset_slots(zone, *span)
    if offset is not None:  # one UTC offset all along: the database sums whole buckets
        width = BUCKET_SLOTS[bucket]
        rows = _load_timeline_rows(conn, flow, channel, (offset, width))
        return regular_buckets(rows, offset, width, zone)
    rows = _load_timeline_rows(conn, flow, channel)  # a DST change inside: sum slots here
    if not rows:
        return []
    starts = bucket_starts(rows[0][0], rows[-1][0], zone, bucket)
    totals = sum_into_buckets(rows, [slot for slot, _ in starts], len(TIMELINE_SERIES))
    return [(start, counts) for (_, start), counts in zip(starts, totals, strict=True)]


def build_timeline(
    flow: Flow,
    totals: list[tuple[datetime, list[int]]],
    *,
    zone: tzinfo,
    bucket: Bucket,
    channel: str | None,
    reporting: frozenset[str],
    now: datetime,
) -> Timeline:
    """The timeline of ``totals`` (local bucket starts and their counts); ``reporting`` is the
    set of delivery-reporting channels (a filtered timeline of another channel has no
    delivered or read)."""
    reports_delivery = channel is None or channel in reporting
    series = [
        TimelinePoint(
            start,
            sent,
            delivered if reports_delivery else None,
            read if reports_delivery else None,
            failed,
            clicks,
            goals,
        )
        for start, (sent, delivered, read, failed, clicks, goals) in totals
    ]
    return Timeline.model_construct(  # the engine's own counts: nothing to validate
        flow=flow_info(flow),
        channel=channel,
        bucket=bucket,
        time_zone=getattr(zone, "key", None) or str(zone),
        series=series,
        generated_at=now,
    )


def compute_timeline(
    conn: Connection,
    flow: Flow,
    *,
    zone: tzinfo,
    bucket: Bucket = "hour",
    channel: str | None = None,
    now: datetime,
) -> Timeline:
    """``flow``'s timeline (DESIGN.md) from the ``flow_timeline`` rollup: at most one row per
    15-minute slot is read (per bucket, where the zone keeps one offset), never the messages,
    so its time follows the span, not the flow's size."""
    assert flow.id is not None
    totals = _timeline_totals(conn, flow, channel, zone, bucket)
    reporting = load_delivery_channels(conn)
    return build_timeline(
        flow, totals, zone=zone, bucket=bucket, channel=channel, reporting=reporting, now=now
    )


def report_timeline(
    conn: Connection, flow: Flow, *, zone: tzinfo, channel: str | None = None, now: datetime
) -> Timeline:
    """The timeline for a chart: hours when the flow's data spans up to 3 days, else days."""
    assert flow.id is not None
    span = _slot_range(conn, flow, channel)
    bucket = pick_bucket(*span) if span else "hour"
    return compute_timeline(conn, flow, zone=zone, bucket=bucket, channel=channel, now=now)
