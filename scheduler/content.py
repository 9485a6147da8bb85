"""The report as people read it in an email or a Slack DM (pure: KPIs in, texts out).

Email bodies come from Jinja2 templates with autoescape on, so flow names and failure
reasons (data from outside) cannot inject markup. Each KPI may carry its change since the
previous digest of the same subscription.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from reports.formatting import channel_label, escape_mrkdwn, fmt_int, fmt_pct, truncate
from reports.kpis import FlowReport
from scheduler.delivery.base import Attachment, Link, ReportContent

SUBJECT_NAME = 120  # characters of the flow name in a subject line

_env = Environment(
    loader=PackageLoader("scheduler", "templates"),
    # HTML templates escape every value; the plain-text part must not (no &amp; in text mail).
    autoescape=select_autoescape(["html.j2"], default_for_string=True, default=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

# (label, section, key, is_percent): the KPIs of the summary, in the seed's order.
KPI_ROWS: tuple[tuple[str, str, str, bool], ...] = (
    ("Events", "overview", "number_of_events", False),
    ("Unique clicks", "overview", "unique_clicks", False),
    ("Conversations initiated", "overview", "conversations_initiated", False),
    ("Goal conversion", "overview", "goal_conversion", False),
    ("Audience", "analysis", "audience", False),
    ("Impressions", "analysis", "impressions", False),
    ("Delivery rate", "analysis", "delivery_rate", True),
    ("Reach", "analysis", "reach", False),
    ("Engagement", "analysis", "engagement", False),
    ("Users entered flow", "flow_users", "users_entered_flow", False),
    ("Users in flow", "flow_users", "users_in_flow", False),
    ("Users exited flow", "flow_users", "users_exited_flow", False),
    ("Users achieved goal", "flow_users", "users_achieved_goal", False),
)


@dataclass(frozen=True)
class KpiLine:
    """One KPI as shown: its value and its change since the previous digest."""

    label: str
    value: str
    change: str  # "▲ +3.1%", "▼ −42", "no change" or "" when there is no previous digest
    direction: str  # up | down | same | ""


@dataclass(frozen=True)
class ChannelLine:
    """One channel's bar: share of notifications and its status counts."""

    label: str
    share: float
    share_text: str
    counts: str


@dataclass(frozen=True)
class Footer:
    """Who asked for the report and how to stop it (digests)."""

    text: str


def format_change(current: Any, previous: Any, percent: bool) -> tuple[str, str]:
    """``("▲ +3.1%", "up")`` for the change from ``previous`` to ``current``."""
    if not isinstance(current, int | float) or not isinstance(previous, int | float):
        return "", ""
    delta = current - previous
    if abs(delta) < 1e-9:
        return "no change", "same"
    sign, arrow, direction = ("+", "▲", "up") if delta > 0 else ("−", "▼", "down")
    amount = f"{abs(delta):.1f}%" if percent else f"{abs(delta):,}"
    return f"{arrow} {sign}{amount}", direction


def kpi_lines(current: dict[str, Any], previous: dict[str, Any] | None) -> list[KpiLine]:
    """The KPI rows of ``current`` (contract KPI JSON), with changes against ``previous``."""
    lines = []
    for label, section, key, percent in KPI_ROWS:
        value = current[section][key]
        shown = fmt_pct(value) if percent else fmt_int(value)
        if key == "goal_conversion" and value is None:
            shown = "no goal set"
        change, direction = ("", "")
        if previous is not None:
            change, direction = format_change(value, previous[section].get(key), percent)
        lines.append(KpiLine(label, shown, change, direction))
    return lines


def kpis_changed(current: dict[str, Any], previous: dict[str, Any] | None) -> bool:
    """True when any KPI or channel count differs from ``previous`` (or there is none)."""
    if previous is None:
        return True
    strip = ("generated_at",)
    return {k: v for k, v in current.items() if k not in strip} != {
        k: v for k, v in previous.items() if k not in strip
    }


def channel_lines(report: FlowReport) -> list[ChannelLine]:
    """One bar per channel, by share of notifications."""
    lines = []
    for row in report.channels:
        counts = [f"sent {fmt_int(row.sent)}"]
        if row.delivered is not None:
            counts.append(f"delivered {fmt_int(row.delivered)}")
        if row.read is not None:
            counts.append(f"read {fmt_int(row.read)}")
        counts.append(f"failed {fmt_int(row.failed)}")
        lines.append(
            ChannelLine(
                channel_label(row.channel),
                max(0.0, min(100.0, row.share)),
                fmt_pct(row.share),
                " · ".join(counts),
            )
        )
    return lines


def build_subject(report: FlowReport, label: str, now: datetime, zone: ZoneInfo) -> str:
    """``[Campaign report] Diwali offers — 92.4% delivered, 611 goals (daily, 28 Nov)``."""
    analysis = report.analysis
    parts = [f"{fmt_pct(analysis.delivery_rate)} delivered"]
    if report.overview.goal_conversion is not None:
        goals = report.overview.goal_conversion
        parts.append(f"{fmt_int(goals)} goal{'' if goals == 1 else 's'}")
    local = now.astimezone(zone)
    name = truncate(report.flow.name, SUBJECT_NAME)
    return f"[Campaign report] {name} — {', '.join(parts)} ({label}, {local.day} {local:%b})"


def build_slack_text(
    report: FlowReport, lines: list[KpiLine], heading: str, footer: str | None
) -> str:
    """The mrkdwn summary posted with the files."""
    flow = report.flow
    text = [f"*{escape_mrkdwn(truncate(flow.name, 200))}* — {heading}"]
    for line in lines:
        change = f" ({line.change})" if line.change else ""
        text.append(f"• {line.label}: {line.value}{change}")
    if footer:
        text.append(f"_{footer}_")  # ours: may hold a <@U…> mention
    return "\n".join(text)


def build_report_content(
    report: FlowReport,
    *,
    request_id: int,
    heading: str,
    subject_label: str,
    zone: ZoneInfo,
    now: datetime,
    previous: dict[str, Any] | None = None,
    pdf: Attachment | None = None,
    csv: Attachment | None = None,
    csv_link: Link | None = None,
    footer: str | None = None,
) -> ReportContent:
    """Everything a channel needs to deliver ``report`` (KPIs, files, link, footer)."""
    current = report.to_json()
    lines = kpi_lines(current, previous)
    context = {
        "flow": report.flow,
        "heading": heading,
        "generated": now.astimezone(zone).strftime("%d %b %Y %H:%M %Z"),
        "kpis": lines,
        "channels": channel_lines(report),
        "reasons": [
            (channel_label(row.channel), reason.reason, fmt_int(reason.count))
            for row in report.channels
            for reason in row.failure_reasons[:5]
        ],
        "pdf": pdf,
        "csv": csv,
        "csv_link": csv_link,
        "footer": footer,
        "has_previous": previous is not None,
    }
    return ReportContent(
        request_id=request_id,
        subject=build_subject(report, subject_label, now, zone),
        slack_text=build_slack_text(report, lines, heading, footer),
        email_text=_env.get_template("report_email.txt.j2").render(context),
        email_html=_env.get_template("report_email.html.j2").render(context),
        pdf=pdf,
        csv=csv,
        csv_link=csv_link,
    )
