"""The PDF report: a pure function of a ``FlowReport`` (no queries), rendered with reportlab.

Layout (MOCKUPS.md): title block → overview KPI tiles → analysis table → flow-users funnel →
channel statistics (pie of notifications beside a grouped Sent/Delivered/Read/Failed bar
chart, then a per-channel table) → top failure reasons. Every page has a header and a
"Page N of M · generated …" footer. Text is set in DejaVu Sans (shipped in ``fonts/``) so
flow names in Latin, Cyrillic and Greek render; text from the store is escaped before it
reaches reportlab's paragraph markup.
"""

from __future__ import annotations

import io
import os
from datetime import tzinfo
from functools import cache
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.charts.piecharts import Pie
from reportlab.graphics.charts.textlabels import NA_Label
from reportlab.graphics.shapes import Circle, Drawing, Rect, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from reports.compare import SECTION_TITLES, Comparison, comparison_rows, flow_labels
from reports.formatting import (
    channel_cells,
    channel_label,
    fmt_bucket,
    fmt_int,
    fmt_moment,
    fmt_pct,
    rate_items,
    top_failure_reasons,
)
from reports.kpis import ChannelStats, FlowReport, Timeline, TimelinePoint

PageSize = Literal["A4", "Letter"]
PAGE_SIZES: dict[str, tuple[float, float]] = {"A4": A4, "Letter": LETTER}
FONT_DIR = Path(__file__).with_name("fonts")
FONT, FONT_BOLD = "DejaVuSans", "DejaVuSans-Bold"
MARGIN = 16 * mm
TOP_FAILURE_REASONS = 10

INK = colors.HexColor("#1f2933")
MUTED = colors.HexColor("#616e7c")
RULE = colors.HexColor("#d9e2ec")
TILE = colors.HexColor("#f0f4f8")
ACCENT = colors.HexColor("#2563eb")
# One colour per channel, the same in the pie, the bars' categories and the table.
CHANNEL_COLOURS = [
    colors.HexColor(c)
    for c in ("#25d366", "#2563eb", "#f59e0b", "#8b5cf6", "#ef4444", "#14b8a6", "#64748b")
]
# Sent / Delivered / Read / Failed.
STATUS_SERIES = (
    ("Sent", colors.HexColor("#3b82f6")),
    ("Delivered", colors.HexColor("#10b981")),
    ("Read", colors.HexColor("#8b5cf6")),
    ("Failed", colors.HexColor("#ef4444")),
)


@cache
def register_fonts() -> None:
    """Register the embedded Unicode fonts with reportlab (once per process)."""
    pdfmetrics.registerFont(TTFont(FONT, str(FONT_DIR / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(FONT_DIR / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD)


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12, textColor=INK)
    return {
        "body": base,
        "muted": ParagraphStyle("muted", parent=base, textColor=MUTED, fontSize=8, leading=10),
        "title": ParagraphStyle(
            "title", parent=base, fontName=FONT_BOLD, fontSize=20, leading=25, spaceAfter=2
        ),
        "h2": ParagraphStyle(
            "h2", parent=base, fontName=FONT_BOLD, fontSize=13, leading=17, spaceBefore=10,
            spaceAfter=5, textColor=ACCENT,
        ),
        "tile_value": ParagraphStyle(
            "tile_value", parent=base, fontName=FONT_BOLD, fontSize=15, leading=19,
            alignment=TA_CENTER,
        ),
        "tile_label": ParagraphStyle(
            "tile_label", parent=base, fontSize=7.5, leading=9.5, textColor=MUTED,
            alignment=TA_CENTER,
        ),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8.5, leading=11),
    }  # fmt: skip


def _table_style(*extra: tuple[Any, ...]) -> TableStyle:
    return TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), FONT, 8.5),
            ("FONT", (0, 0), (-1, 0), FONT_BOLD, 8.5),
            ("TEXTCOLOR", (0, 0), (-1, -1), INK),
            ("BACKGROUND", (0, 0), (-1, 0), TILE),
            ("LINEBELOW", (0, 0), (-1, -1), 0.5, RULE),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 4),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            *extra,
        ]
    )


# -- sections -------------------------------------------------------------------------------


def _title_block(report: FlowReport, zone: tzinfo, st: dict[str, ParagraphStyle]) -> list[Any]:
    flow, details = report.flow, report.details
    scope = channel_label(report.channel) + " only" if report.channel else "All channels"
    facts = [
        ("Bot", flow.bot_id),
        ("Workflow ID", flow.workflow_id),
        ("Status", flow.status.capitalize()),
        ("Goal", flow.goal or "No goal set"),
        ("Scheduled", fmt_moment(details.scheduled_at, zone)),
        ("Last data received", fmt_moment(details.updated_at, zone)),
        ("Channels", scope),
        ("Report time zone", getattr(zone, "key", None) or str(zone)),
        ("Generated at", fmt_moment(report.generated_at, zone)),
    ]
    cells = [
        [Paragraph(escape(label), st["muted"]), Paragraph(escape(value), st["body"])]
        for label, value in facts
    ]
    # Two columns of label/value pairs keep the block short.
    half = (len(cells) + 1) // 2
    rows = [
        left + (cells[half + i] if half + i < len(cells) else ["", ""])
        for i, left in enumerate(cells[:half])
    ]
    table = Table(rows, colWidths=[30 * mm, 55 * mm, 32 * mm, None], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return [
        Paragraph("Flow campaign report", st["muted"]),
        Paragraph(escape(flow.name), st["title"]),
        table,
    ]


def _tiles(items: list[tuple[str, str]], width: float, st: dict[str, ParagraphStyle]) -> Table:
    cells = [[Paragraph(escape(value), st["tile_value"]) for _, value in items]]
    cells.append([Paragraph(escape(label), st["tile_label"]) for label, _ in items])
    gap = 2 * mm
    table = Table(cells, colWidths=[(width - gap * (len(items) - 1)) / len(items)] * len(items))
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), TILE),
                ("LINEAFTER", (0, 0), (-2, -1), gap, colors.white),
                ("TOPPADDING", (0, 0), (-1, 0), 8),
                ("BOTTOMPADDING", (0, -1), (-1, -1), 8),
            ]
        )
    )
    return table


def _overview(report: FlowReport, width: float, st: dict[str, ParagraphStyle]) -> list[Any]:
    overview, goal = report.overview, report.flow.goal
    channels = ", ".join(channel_label(c) for c in overview.engagement_channels) or "none"
    goal_label = f"Goal conversion ({goal})" if goal else "Goal conversion"
    tiles = [
        ("Number of events", fmt_int(overview.number_of_events)),
        ("Unique clicks", fmt_int(overview.unique_clicks)),
        ("Conversations initiated", fmt_int(overview.conversations_initiated)),
        (goal_label, fmt_int(overview.goal_conversion, "no goal set")),
    ]
    return [
        Paragraph("User engagement overview", st["h2"]),
        Paragraph(f"<b>Engagement channels:</b> {escape(channels)}", st["body"]),
        Spacer(1, 2 * mm),
        _tiles(tiles, width, st),
    ]


def _analysis(report: FlowReport, width: float, st: dict[str, ParagraphStyle]) -> list[Any]:
    analysis = report.analysis
    scope = channel_label(report.channel) if report.channel else "All channels"
    rows = [
        ["KPI", "Value", "What it means"],
        ["Audience", fmt_int(analysis.audience), "Size of the flow's audience"],
        [
            "Impressions",
            f"{fmt_int(analysis.impressions)} ({fmt_pct(analysis.delivery_rate)} delivery rate)",
            "Notifications delivered to users, and their share of all notifications",
        ],
        ["Reach", fmt_int(analysis.reach), "Unique users the campaign reached"],
        ["Engagement", fmt_int(analysis.engagement), "Clicks, replies, likes, shares, comments"],
    ]
    cells = [
        [row[0], row[1], Paragraph(escape(row[2]), st["muted"]) if i else row[2]]
        for i, row in enumerate(rows)
    ]
    table = Table(cells, colWidths=[30 * mm, 55 * mm, width - 85 * mm], hAlign="LEFT")
    table.setStyle(_table_style(("FONT", (1, 1), (1, -1), FONT_BOLD, 9)))
    return [
        Paragraph(f"User engagement analysis · {escape(scope)}", st["h2"]),
        table,
        Spacer(1, 3 * mm),
        _tiles(rate_items(report), width, st),
        Paragraph(
            "Failure rate: failed ÷ notifications. Click-through and goal conversion rates: "
            "users who clicked or reached the goal ÷ reach. Read rate: read ÷ delivered, on the "
            "channels that report delivery.",
            st["muted"],
        ),
    ]


def build_funnel(report: FlowReport, width: float) -> Drawing:
    """Flow users as funnel bars: entered → in flow → exited → achieved goal."""
    users = report.flow_users
    steps = [
        ("Users entered flow", users.users_entered_flow),
        ("Users in flow", users.users_in_flow),
        ("Users exited flow", users.users_exited_flow),
        ("Users who achieved goal", users.users_achieved_goal),
    ]
    bar_h, gap, label_w = 14, 6, 42 * mm
    drawing = Drawing(width, len(steps) * (bar_h + gap))
    biggest = max(value for _, value in steps) or 1
    span = width - label_w - 30 * mm
    shades = ["#1d4ed8", "#3b82f6", "#93c5fd", "#10b981"]
    for i, (label, value) in enumerate(steps):
        y = drawing.height - (i + 1) * (bar_h + gap) + gap / 2
        drawing.add(String(0, y + 4, label, fontName=FONT, fontSize=8.5, fillColor=INK))
        bar_w = span * value / biggest
        # Centred bars narrow like a funnel as the counts fall.
        x = label_w + (span - bar_w) / 2
        drawing.add(Rect(label_w, y, span, bar_h, fillColor=TILE, strokeColor=None))
        if value:
            fill = colors.HexColor(shades[i])
            drawing.add(Rect(x, y, bar_w, bar_h, fillColor=fill, strokeColor=None))
        share = f" ({value / biggest:.0%})" if i and users.users_entered_flow else ""
        drawing.add(
            String(
                label_w + span + 3 * mm, y + 4, f"{value:,}{share}", fontName=FONT_BOLD,
                fontSize=8.5, fillColor=INK,
            )
        )  # fmt: skip
    return drawing


def _flow_users(report: FlowReport, width: float, st: dict[str, ParagraphStyle]) -> list[Any]:
    return [
        Paragraph("Flow users", st["h2"]),
        build_funnel(report, width),
        Paragraph(
            "In flow: entered and neither exited nor reached the goal. Percentages are of the "
            "users who entered.",
            st["muted"],
        ),
    ]


def build_channel_pie(channels: list[ChannelStats], size: float) -> Drawing:
    """Pie of notifications per channel, one slice per channel, labelled with its share."""
    drawing = Drawing(size * 1.6, size)
    if not any(row.notifications for row in channels):
        # Nothing sent yet (only queued messages): an empty ring, not a division by zero.
        radius = size * 0.3
        drawing.add(Circle(drawing.width / 2, size / 2, radius, fillColor=TILE, strokeColor=RULE))
        drawing.add(
            String(
                drawing.width / 2, size / 2 - 3, "No notifications yet", fontName=FONT,
                fontSize=8, fillColor=MUTED, textAnchor="middle",
            )
        )  # fmt: skip
        return drawing
    pie = Pie()
    radius = size * 0.3
    pie.x, pie.y = drawing.width / 2 - radius, size / 2 - radius
    pie.width = pie.height = radius * 2
    pie.data = [row.notifications for row in channels]
    pie.labels = [f"{channel_label(row.channel)} {fmt_pct(row.share)}" for row in channels]
    pie.sideLabels = True  # labels in two columns beside the pie never overlap small slices
    pie.slices.strokeColor = colors.white
    pie.slices.strokeWidth = 1
    pie.slices.fontName = FONT
    pie.slices.fontSize = 7.5
    pie.slices.fontColor = INK
    for i in range(len(channels)):
        pie.slices[i].fillColor = CHANNEL_COLOURS[i % len(CHANNEL_COLOURS)]
    drawing.add(pie, name="pie")
    return drawing


def build_status_bars(channels: list[ChannelStats], width: float, height: float) -> Drawing:
    """Grouped bars of Sent / Delivered / Read / Failed, one group per channel (n/a shown)."""
    drawing = Drawing(width, height)
    chart = VerticalBarChart()
    chart.x, chart.y = 34, 34
    chart.width, chart.height = width - 44, height - 74
    chart.data = [
        [row.sent for row in channels],
        [row.delivered for row in channels],
        [row.read for row in channels],
        [row.failed for row in channels],
    ]
    chart.categoryAxis.categoryNames = [channel_label(row.channel) for row in channels]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 7.5
    chart.valueAxis.valueMin = 0
    chart.valueAxis.rangeRound = "ceiling"  # the top gridline sits above the tallest bar
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.labelTextFormat = lambda value: f"{value:,.0f}"
    chart.valueAxis.gridStrokeColor = RULE
    chart.valueAxis.visibleGrid = True
    chart.barSpacing = 0.5
    chart.groupSpacing = 6
    for i, (_, colour) in enumerate(STATUS_SERIES):
        chart.bars[i].fillColor = colour
        chart.bars[i].strokeColor = None
    # Delivered and Read exist only for channels that report them (the seed: WhatsApp).
    na = NA_Label()
    na.text = "n/a"
    na.fontName = FONT
    na.fontSize = 5.5
    na.fillColor = MUTED
    na.boxAnchor = "w"
    na.angle = 90
    na.dy = 2
    chart.naLabel = na
    drawing.add(chart, name="bars")
    legend = Legend()
    legend.x, legend.y = 34, height - 4
    legend.alignment = "right"
    legend.columnMaximum = 2  # two rows of two: four in a row do not fit beside the pie
    legend.fontName = FONT
    legend.fontSize = 7.5
    legend.dx = legend.dy = 7
    legend.deltax = 0  # each column as wide as its own text
    legend.autoXPadding = 10
    legend.deltay = 11
    legend.strokeColor = None
    legend.strokeWidth = 0
    legend.colorNamePairs = [(colour, name) for name, colour in STATUS_SERIES]
    drawing.add(legend, name="legend")
    return drawing


def _channel_charts(report: FlowReport, width: float, st: dict[str, ParagraphStyle]) -> Any:
    """The pie beside the status bars; a sentence when nothing was sent (charts of zeros)."""
    if not report.total_notifications:
        return Paragraph("No notifications have been sent yet.", st["body"])
    pie_size = 62 * mm
    charts = Table(
        [
            [
                Paragraph("Total notifications sent — channel wise", st["muted"]),
                Paragraph("User count by message status", st["muted"]),
            ],
            [
                build_channel_pie(report.channels, pie_size),
                build_status_bars(report.channels, width - pie_size * 1.6, pie_size),
            ],
        ],
        colWidths=[pie_size * 1.6, None],
    )
    charts.setStyle(
        TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("VALIGN", (0, 0), (-1, -1), "TOP")])
    )
    return charts


def _channels(report: FlowReport, width: float, st: dict[str, ParagraphStyle]) -> list[Any]:
    channels = report.channels
    heading = Paragraph("Channel statistics", st["h2"])
    if not channels:
        return [heading, Paragraph("No notifications have been sent yet.", st["body"])]
    charts = _channel_charts(report, width, st)
    header = [
        "Channel", "Notifications", "Share", "Sent", "Delivered", "Read", "Failed", "Failure rate",
    ]  # fmt: skip
    rows: list[list[Any]] = [header]
    for row in channels:
        rows.append([channel_label(row.channel), *channel_cells(row), fmt_pct(row.failure_rate)])
    total = report.total_notifications
    rows.append(
        ["All channels", fmt_int(total), "100.0%" if total else "—", "", "", "", "",
         fmt_pct(report.rates.failure_rate)]
    )  # fmt: skip
    table = Table(rows, colWidths=[width * 0.16] + [width * 0.12] * 7, hAlign="LEFT")
    swatches = [
        ("TEXTCOLOR", (0, i + 1), (0, i + 1), CHANNEL_COLOURS[i % len(CHANNEL_COLOURS)])
        for i in range(len(channels))
    ]
    table.setStyle(
        _table_style(
            ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
            ("FONT", (0, 1), (0, -1), FONT_BOLD, 8.5),
            ("FONT", (0, -1), (-1, -1), FONT_BOLD, 8.5),
            *swatches,
            ("TEXTCOLOR", (0, -1), (0, -1), INK),
        )
    )
    note = Paragraph(
        "Delivered and Read are reported by WhatsApp only; other channels show n/a.", st["muted"]
    )
    # The heading stays with its charts: never alone at the foot of a page.
    return [KeepTogether([heading, charts]), Spacer(1, 3 * mm), table, note]


def _failure_reasons(report: FlowReport, width: float, st: dict[str, ParagraphStyle]) -> list[Any]:
    reasons = top_failure_reasons(report, TOP_FAILURE_REASONS)
    heading = Paragraph("Top failure reasons", st["h2"])
    if not reasons:
        return [heading, Paragraph("No failed messages.", st["body"])]
    rows: list[list[Any]] = [["Channel", "Reason", "Failed messages"]]
    for ranked in reasons:
        rows.append(
            [
                channel_label(ranked.channel),
                Paragraph(escape(ranked.reason), st["cell"]),
                f"{ranked.count:,}",
            ]
        )
    table = Table(rows, colWidths=[28 * mm, width - 63 * mm, 35 * mm], hAlign="LEFT")
    table.setStyle(_table_style(("ALIGN", (2, 0), (2, -1), "RIGHT")))
    return [heading, table]


# -- timeline ---------------------------------------------------------------------------------

ENGAGEMENT_SERIES = (
    ("Clicks", colors.HexColor("#f59e0b")),
    ("Goals", colors.HexColor("#14b8a6")),
)
MAX_AXIS_LABELS = 8


def _category_names(timeline: Timeline) -> list[str]:
    """Bucket labels for the x axis, thinned to at most ``MAX_AXIS_LABELS`` (the rest blank)."""
    points = timeline.series
    every = max(1, -(-len(points) // MAX_AXIS_LABELS))  # ceiling division
    names = []
    for index, point in enumerate(points):
        if index % every:
            names.append("")
        elif timeline.bucket == "day":
            names.append(f"{point.start.day} {point.start:%b}")
        else:
            names.append(f"{point.start.day} {point.start:%b %H:%M}")
    return names


def _legend(x: float, y: float, pairs: list[tuple[Any, str]]) -> Legend:
    legend = Legend()
    legend.x, legend.y = x, y
    legend.alignment = "right"
    legend.columnMaximum = 1
    legend.fontName = FONT
    legend.fontSize = 7.5
    legend.dx = legend.dy = 7
    legend.deltax = 0
    legend.autoXPadding = 10
    legend.strokeColor = None
    legend.strokeWidth = 0
    legend.colorNamePairs = pairs
    return legend


def _style_axes(chart: Any, names: list[str]) -> None:
    chart.categoryAxis.categoryNames = names
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 6.5
    chart.categoryAxis.labels.boxAnchor = "n"
    chart.valueAxis.valueMin = 0
    chart.valueAxis.rangeRound = "ceiling"
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.labelTextFormat = lambda value: f"{value:,.0f}"
    chart.valueAxis.gridStrokeColor = RULE
    chart.valueAxis.visibleGrid = True


def build_timeline_chart(timeline: Timeline, width: float, height: float) -> Drawing:
    """Lines of Sent / Delivered / Read / Failed per bucket (Delivered and Read only where the
    channels report them)."""
    drawing = Drawing(width, height)
    series: list[tuple[str, Any, list[int]]] = []
    for (name, colour), key in zip(
        STATUS_SERIES, ("sent", "delivered", "read", "failed"), strict=True
    ):
        values = [getattr(point, key) for point in timeline.series]
        if all(value is not None for value in values):
            series.append((name, colour, values))
    chart = HorizontalLineChart()
    chart.x, chart.y = 40, 22
    chart.width, chart.height = width - 50, height - 40
    chart.data = [values for _, _, values in series]
    chart.joinedLines = 1
    _style_axes(chart, _category_names(timeline))
    for i, (_, colour, _) in enumerate(series):
        chart.lines[i].strokeColor = colour
        chart.lines[i].strokeWidth = 1.4
    drawing.add(chart, name="lines")
    drawing.add(_legend(40, height - 4, [(colour, name) for name, colour, _ in series]))
    return drawing


def build_engagement_chart(timeline: Timeline, width: float, height: float) -> Drawing:
    """Bars of clicks and goals per bucket."""
    drawing = Drawing(width, height)
    chart = VerticalBarChart()
    chart.x, chart.y = 40, 22
    chart.width, chart.height = width - 50, height - 40
    chart.data = [
        [point.clicks for point in timeline.series],
        [point.goals for point in timeline.series],
    ]
    _style_axes(chart, _category_names(timeline))
    chart.barSpacing = 0
    chart.groupSpacing = 1 if len(timeline.series) > 24 else 4
    for i, (_, colour) in enumerate(ENGAGEMENT_SERIES):
        chart.bars[i].fillColor = colour
        chart.bars[i].strokeColor = None
    drawing.add(chart, name="bars")
    drawing.add(_legend(40, height - 4, [(colour, name) for name, colour in ENGAGEMENT_SERIES]))
    return drawing


def _busiest(points: list[TimelinePoint], key: str) -> TimelinePoint | None:
    values = [p for p in points if getattr(p, key)]
    return max(values, key=lambda p: getattr(p, key)) if values else None


def _timeline(timeline: Timeline, width: float, st: dict[str, ParagraphStyle]) -> list[Any]:
    per = "hour" if timeline.bucket == "hour" else "day"
    heading = Paragraph(f"Over time · per {per} ({escape(timeline.time_zone)})", st["h2"])
    if not timeline.series:
        return [heading, Paragraph("Nothing has been sent yet.", st["body"])]
    busiest = _busiest(timeline.series, "sent")
    first, last = timeline.series[0], timeline.series[-1]
    facts = (
        f"From {fmt_bucket(first.start, timeline.bucket)} to "
        f"{fmt_bucket(last.start, timeline.bucket)}: {len(timeline.series):,} {per}s."
    )
    if busiest is not None:
        facts += (
            f" Busiest {per}: {fmt_bucket(busiest.start, timeline.bucket)} "
            f"({fmt_int(busiest.sent)} sent)."
        )
    return [
        heading,
        Paragraph(escape(facts), st["muted"]),
        Paragraph("Messages by the time they were first sent, delivered, read or failed",
                  st["muted"]),
        build_timeline_chart(timeline, width, 62 * mm),
        Paragraph("Clicks and goals (users, at their first goal)", st["muted"]),
        build_engagement_chart(timeline, width, 45 * mm),
    ]  # fmt: skip


# -- compare page ----------------------------------------------------------------------------


def _comparison(comparison: Comparison, width: float, st: dict[str, ParagraphStyle]) -> list[Any]:
    """Every KPI and rate of this flow (first) beside the digest's other flows."""
    labels = flow_labels(comparison, 60)
    count = len(labels)
    label_width = 44 * mm
    column = (width - label_width) / count
    header = [Paragraph("<b>KPI</b>", st["cell"])] + [
        Paragraph(f"<b>{escape(label)}</b>", st["cell"]) for label in labels
    ]
    rows: list[list[Any]] = [header]
    styles: list[tuple[Any, ...]] = [("ALIGN", (1, 1), (-1, -1), "RIGHT")]
    section = None
    for row in comparison_rows(comparison):
        if row.section != section:
            section = row.section
            rows.append([Paragraph(f"<b>{escape(SECTION_TITLES[section])}</b>", st["muted"])])
            rows[-1] += [""] * count
            styles.append(("SPAN", (0, len(rows) - 1), (-1, len(rows) - 1)))
        cells: list[Any] = [row.label]
        for value, difference in zip(row.values, row.differences, strict=True):
            text = escape(value)
            if difference:
                text += f'<br/><font color="#616e7c" size="7">{escape(difference)}</font>'
            cells.append(Paragraph(text, ParagraphStyle("num", parent=st["cell"], alignment=2)))
        rows.append(cells)
    table = Table(rows, colWidths=[label_width] + [column] * count, hAlign="LEFT", repeatRows=1)
    table.setStyle(_table_style(*styles))
    return [
        PageBreak(),
        Paragraph("Compared with the other flows of this digest", st["h2"]),
        Paragraph(
            "This flow first; under each other flow's value, its difference to this flow "
            "(rates in percentage points, pp). All channels.",
            st["muted"],
        ),
        Spacer(1, 2 * mm),
        table,
    ]


# -- page furniture ------------------------------------------------------------------------


def _canvas_class(header: str, footer: str) -> type[Canvas]:
    """A canvas that knows the page count when it draws the header and footer."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            # Hold every page back until the total is known ("Page N of M").
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                self._furniture(number, len(self._pages))
                super().showPage()
            super().save()

        def _furniture(self, number: int, total: int) -> None:
            width, height = self._pagesize
            self.saveState()
            self.setStrokeColor(RULE)
            self.setLineWidth(0.5)
            self.line(MARGIN, height - MARGIN + 4 * mm, width - MARGIN, height - MARGIN + 4 * mm)
            self.line(MARGIN, MARGIN - 4 * mm, width - MARGIN, MARGIN - 4 * mm)
            self.setFillColor(MUTED)
            self.setFont(FONT, 7.5)
            self.drawString(MARGIN, height - MARGIN + 6 * mm, _fit(header, FONT, 7.5, width / 2))
            self.drawRightString(width - MARGIN, height - MARGIN + 6 * mm, "campaign-report-bot")
            self.drawString(MARGIN, MARGIN - 8 * mm, f"Page {number} of {total} · {footer}")
            self.restoreState()

    return NumberedCanvas


def _fit(text: str, font: str, size: float, width: float) -> str:
    """``text`` cut with an ellipsis to fit ``width`` points."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


class _Rule(Flowable):
    """A thin horizontal line under the title block."""

    def __init__(self, width: float) -> None:
        super().__init__()
        self.width = width

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.width, 3 * mm

    def draw(self) -> None:
        self.canv.setStrokeColor(RULE)
        self.canv.line(0, 1.5 * mm, self.width, 1.5 * mm)


def render_pdf(
    report: FlowReport,
    zone: tzinfo,
    page_size: PageSize = "A4",
    *,
    timeline: Timeline | None = None,
    comparison: Comparison | None = None,
) -> bytes:
    """The full PDF report of ``report`` (with ``timeline``'s charts and a page comparing it
    with other flows when given); times are shown in ``zone``."""
    register_fonts()
    size = PAGE_SIZES[page_size]
    width = size[0] - 2 * MARGIN
    st = _styles()
    buffer = io.BytesIO()
    flow = report.flow
    doc = SimpleDocTemplate(
        buffer,
        pagesize=size,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN + 2 * mm,
        bottomMargin=MARGIN,
        title=f"Campaign report — {flow.name}",
        author="campaign-report-bot",
        subject=f"Flow {flow.bot_id}/{flow.workflow_id}",
        creator="campaign-report-bot",
    )
    story: list[Any] = [
        *_title_block(report, zone, st),
        _Rule(width),
        *_overview(report, width, st),
        *_analysis(report, width, st),
        KeepTogether(_flow_users(report, width, st)),
        *_channels(report, width, st),
        KeepTogether(_failure_reasons(report, width, st)),
    ]
    if timeline is not None:
        story.append(KeepTogether(_timeline(timeline, width, st)))
    if comparison is not None and len(comparison.flows) > 1:
        story += _comparison(comparison, width, st)
    header = f"Campaign report · {flow.name} · {flow.bot_id}/{flow.workflow_id}"
    footer = f"generated {fmt_moment(report.generated_at, zone)}"
    doc.build(story, canvasmaker=_canvas_class(header, footer))
    return buffer.getvalue()


def save_pdf(
    report: FlowReport,
    path: Path,
    zone: tzinfo,
    page_size: PageSize = "A4",
    *,
    timeline: Timeline | None = None,
    comparison: Comparison | None = None,
) -> int:
    """Render ``report`` to ``path`` (all or nothing); returns the file's size in bytes."""
    data = render_pdf(report, zone, page_size, timeline=timeline, comparison=comparison)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return len(data)
