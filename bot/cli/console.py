"""Terminal rendering of a ``FlowReport`` with rich (pure: report in, renderables out)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from reports.compare import SECTION_TITLES, Comparison, comparison_rows, flow_labels
from reports.formatting import (
    channel_cells,
    fmt_bucket,
    fmt_int,
    fmt_moment,
    fmt_pct,
    rate_items,
)
from reports.kpis import FlowReport, Timeline

CHANNEL_COLUMNS = (
    "Channel", "Notifications", "Share", "Sent", "Delivered", "Read", "Failed", "Failure rate",
)  # fmt: skip


def _pairs(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False, min_width=48)
    table.add_column("KPI", style="bold")
    table.add_column("Value", justify="right")
    for label, value in rows:
        table.add_row(label, Text(value))  # data, never rich markup
    return table


def render_report(report: FlowReport, zone: ZoneInfo) -> RenderableType:
    """The whole report as rich tables, in the order of the seed's page."""
    flow, overview, analysis, users = (
        report.flow,
        report.overview,
        report.analysis,
        report.flow_users,
    )
    goal = fmt_int(overview.goal_conversion, "no goal set")
    if flow.goal and overview.goal_conversion is not None:
        goal += f" ({flow.goal})"
    scope = f"channel {report.channel}" if report.channel else "all channels"
    heading = Text.assemble(
        (flow.name, "bold"),
        f" — {flow.status.capitalize()} · bot {flow.bot_id} · {flow.workflow_id} · ",
        (scope, "italic"),
        f" · generated {fmt_moment(report.generated_at, zone)}",
    )
    overview_table = _pairs(
        "User engagement overview",
        [
            ("Engagement channels", ", ".join(overview.engagement_channels) or "none"),
            ("Number of events", fmt_int(overview.number_of_events)),
            ("Unique clicks", fmt_int(overview.unique_clicks)),
            ("Conversations initiated", fmt_int(overview.conversations_initiated)),
            ("Goal conversion", goal),
        ],
    )
    analysis_table = _pairs(
        "User engagement analysis",
        [
            ("Audience", fmt_int(analysis.audience)),
            (
                "Impressions",
                f"{fmt_int(analysis.impressions)} "
                f"({fmt_pct(analysis.delivery_rate)} delivery rate)",
            ),
            ("Reach", fmt_int(analysis.reach)),
            ("Engagement", fmt_int(analysis.engagement)),
        ],
    )
    rates_table = _pairs("Rates", rate_items(report))
    users_table = _pairs(
        "Flow users",
        [
            ("Users entered flow", fmt_int(users.users_entered_flow)),
            ("Users in flow", fmt_int(users.users_in_flow)),
            ("Users exited flow", fmt_int(users.users_exited_flow)),
            ("Users who achieved goal", fmt_int(users.users_achieved_goal)),
        ],
    )
    channels = Table(title="Channel statistics", title_justify="left")
    for name in CHANNEL_COLUMNS:
        channels.add_column(name, justify="left" if name == "Channel" else "right")
    reasons = Table(title="Top failure reasons", title_justify="left")
    reasons.add_column("Channel")
    reasons.add_column("Reason")
    reasons.add_column("Messages", justify="right")
    for row in report.channels:
        channels.add_row(Text(row.channel), *channel_cells(row), fmt_pct(row.failure_rate))
        for reason in row.failure_reasons:
            reasons.add_row(Text(row.channel), Text(reason.reason), fmt_int(reason.count))
    parts: list[RenderableType] = [
        heading, overview_table, analysis_table, rates_table, users_table, channels,
    ]  # fmt: skip
    if reasons.row_count:
        parts.append(reasons)
    return Group(*parts)


TIMELINE_COLUMNS = ("Sent", "Delivered", "Read", "Failed", "Clicks", "Goals")


def render_timeline(timeline: Timeline, zone: ZoneInfo) -> RenderableType:
    """The timeline as one table: a row per bucket (local start), a total row at the end."""
    flow = timeline.flow
    scope = f"channel {timeline.channel}" if timeline.channel else "all channels"
    per = "hour" if timeline.bucket == "hour" else "day"
    heading = Text.assemble(
        (flow.name, "bold"),
        f" — per {per} in {timeline.time_zone} · ",
        (scope, "italic"),
        f" · generated {fmt_moment(timeline.generated_at, zone)}",
    )
    table = Table(title="Timeline", title_justify="left", show_footer=bool(timeline.series))
    table.add_column("Starts", footer="Total")
    names = ("sent", "delivered", "read", "failed", "clicks", "goals")
    for label, name in zip(TIMELINE_COLUMNS, names, strict=True):
        values = [getattr(point, name) for point in timeline.series]
        total = None if any(v is None for v in values) else sum(values)
        table.add_column(label, justify="right", footer=fmt_int(total))
    for point in timeline.series:
        table.add_row(
            fmt_bucket(point.start, timeline.bucket),
            *(fmt_int(getattr(point, name)) for name in names),
        )
    if not timeline.series:
        return Group(heading, Text("Nothing sent yet: the timeline is empty."))
    return Group(heading, table)


def render_comparison(comparison: Comparison, zone: ZoneInfo) -> RenderableType:
    """The flows' KPIs and rates side by side; each flow after the first with its difference."""
    heading = Text.assemble(
        (f"{len(comparison.flows)} flows side by side", "bold"),
        f" · all channels · generated {fmt_moment(comparison.generated_at, zone)}",
    )
    table = Table(title="Compared with the first flow", title_justify="left")
    table.add_column("KPI", style="bold")
    for label in flow_labels(comparison, 30):
        table.add_column(Text(label), justify="right")
    section = None
    for row in comparison_rows(comparison):
        if row.section != section:
            section = row.section
            table.add_row(Text(SECTION_TITLES[section], style="italic"), *[""] * len(row.values))
        cells = [
            Text(f"{value} ({difference})" if difference else value)
            for value, difference in zip(row.values, row.differences, strict=True)
        ]
        table.add_row(Text(f"  {row.label}"), *cells)
    return Group(heading, table)
