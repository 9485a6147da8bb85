"""What a delivery carries, channel-neutral: the report, its files and links, or a notice.

The scheduler builds these from its outbox rows; each delivery channel formats them its own
way (the Slack formatter in ``commands.blocks.delivery``, the email one in
``scheduler.delivery.email_format``) and sends them. Nothing here knows Slack or SMTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from reports.formatting import fmt_bucket, fmt_int, fmt_pct
from reports.kpis import FlowReport, Timeline

# (label, section, key, is_percent): the KPIs of a delivered summary, in the seed's order.
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
    ("Failure rate", "rates", "failure_rate", True),
    ("Click-through rate", "rates", "click_through_rate", True),
    ("Read rate", "rates", "read_rate", True),
    ("Goal conversion rate", "rates", "goal_conversion_rate", True),
    ("Users entered flow", "flow_users", "users_entered_flow", False),
    ("Users in flow", "flow_users", "users_in_flow", False),
    ("Users exited flow", "flow_users", "users_exited_flow", False),
    ("Users achieved goal", "flow_users", "users_achieved_goal", False),
)


@dataclass(frozen=True)
class Attachment:
    """A rendered report file in ``REPORTS_DIR``."""

    path: Path
    content_type: str  # e.g. application/pdf

    @property
    def filename(self) -> str:
        """The name shown to recipients."""
        return self.path.name

    @property
    def size(self) -> int:
        """Size in bytes."""
        return self.path.stat().st_size


@dataclass(frozen=True)
class Link:
    """A signed download link to a report file, valid until ``expires_at``."""

    filename: str
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class Digest:
    """The subscription a digest comes from: who made it and how to stop it."""

    subscription_id: int
    schedule: str  # as typed, e.g. "daily 09:00"
    created_by: str  # Slack user id


@dataclass(frozen=True)
class KpiLine:
    """One KPI as shown: its value and its change since the previous digest."""

    label: str
    value: str
    change: str  # "▲ +3.1%", "▼ −42", "no change" or "" when there is no previous digest
    direction: str  # up | down | same | ""


@dataclass(frozen=True)
class TimelineLine:
    """One timeline series as text: ``Sent  ▂▅█▇▃▁  2,677``."""

    label: str
    spark: str
    total: str


SPARK = "▁▂▃▄▅▆▇█"  # the first one is zero
SPARK_BUCKETS = 48
TIMELINE_LABELS = (
    ("Sent", "sent"), ("Delivered", "delivered"), ("Read", "read"), ("Failed", "failed"),
    ("Clicks", "clicks"), ("Goals", "goals"),
)  # fmt: skip


def sparkline(values: list[int]) -> str:
    """``[0, 3, 10, 5]`` → ``▁▃█▄``: zero is the lowest bar, the largest value the highest."""
    top = max(values, default=0)
    if not top:
        return SPARK[0] * len(values)
    steps = len(SPARK) - 2
    return "".join(SPARK[0] if not v else SPARK[1 + round(v / top * steps)] for v in values)


def timeline_lines(timeline: Timeline) -> list[TimelineLine]:
    """The timeline's series as sparklines over its last ``SPARK_BUCKETS`` buckets (totals
    over the whole timeline); series a channel does not report are left out."""
    lines = []
    shown = timeline.series[-SPARK_BUCKETS:]
    for label, key in TIMELINE_LABELS:
        values = [getattr(point, key) for point in timeline.series]
        if any(value is None for value in values):
            continue
        spark = sparkline([getattr(point, key) for point in shown])
        lines.append(TimelineLine(label, spark, fmt_int(sum(values))))
    return lines


def timeline_caption(timeline: Timeline) -> str:
    """``Per hour in Asia/Kolkata, 1 Nov 09:00 +05:30 to 2 Nov 03:00 +05:30`` (the buckets the
    sparklines show)."""
    shown = timeline.series[-SPARK_BUCKETS:]
    per = "hour" if timeline.bucket == "hour" else "day"
    span = ""
    if shown:
        span = (
            f", {fmt_bucket(shown[0].start, timeline.bucket)} to "
            f"{fmt_bucket(shown[-1].start, timeline.bucket)}"
        )
    last = f" (the last {len(shown)} {per}s)" if len(shown) < len(timeline.series) else ""
    return f"Per {per} in {timeline.time_zone}{span}{last}"


@dataclass(frozen=True)
class ReportContent:
    """A rendered report for its recipients: KPIs (with the previous digest's), files, link."""

    request_id: int
    report: FlowReport
    generated_at: datetime
    zone: tzinfo
    digest: Digest | None = None
    previous: dict[str, Any] | None = None  # the previous digest's KPI JSON
    pdf: Attachment | None = None
    csv: Attachment | None = None
    csv_link: Link | None = None  # made when SECRET_KEY is set
    xlsx: Attachment | None = None
    xlsx_link: Link | None = None
    timeline: Timeline | None = None  # the one the PDF shows

    @property
    def heading(self) -> str:
        """``Full report you asked for in Slack`` or ``Digest (daily 09:00)``."""
        if self.digest is None:
            return "Full report you asked for in Slack"
        return f"Digest ({self.digest.schedule})"

    @property
    def label(self) -> str:
        """``full report``, or the digest's kind (``daily``, ``weekly``, ``cron``)."""
        if self.digest is None:
            return "full report"
        return self.digest.schedule.split()[0] if self.digest.schedule else "digest"

    @property
    def files(self) -> list[Attachment]:
        """The PDF, the CSV and the XLSX, those that exist."""
        return [a for a in (self.pdf, self.csv, self.xlsx) if a is not None]

    def timeline_lines(self) -> list[TimelineLine]:
        """The timeline's sparklines (none when the report has no timeline)."""
        return timeline_lines(self.timeline) if self.timeline is not None else []

    def kpi_lines(self) -> list[KpiLine]:
        """The KPIs with their change since the previous digest."""
        return kpi_lines(self.report.to_json(), self.previous)


@dataclass(frozen=True)
class DeliveryFailed:
    """A notice to a delivery's owner: the report could not reach one recipient."""

    flow_name: str
    channel: str  # the failed delivery's channel: slack_user | slack_channel | email
    recipient: str
    reason: str
    what: str = "campaign report"  # or "alert"


@dataclass(frozen=True)
class RenderFailed:
    """A notice to a request's owner: the report files could not be produced."""

    flow_name: str


@dataclass(frozen=True)
class AlertContent:
    """An alert's message: one transition (``firing`` or ``resolved``) of an alert on a flow.

    ``judgement`` is the ``alert_event.content`` recorded with the transition (see
    ``reports.alerts.judgement_content``): the flow, metric, value, threshold, notifications
    and top failure reason as judged then, so every retry says the same.
    """

    event_id: str  # alert_event.id, "<alert>.<flow>.<seq>"
    alert_id: int
    flow_id: int
    kind: str  # firing | resolved
    judgement: dict[str, Any]
    zone: tzinfo

    @property
    def flow_name(self) -> str:
        """The flow's name when judged."""
        return str(self.judgement["flow"]["name"])

    @property
    def metric(self) -> str:
        """``failure_rate``, ``error:131049``…"""
        return str(self.judgement["metric"])

    @property
    def judged_at(self) -> datetime:
        """When the transition was judged."""
        return datetime.fromisoformat(self.judgement["judged_at"].replace("Z", "+00:00"))

    @property
    def top_reason(self) -> dict[str, Any] | None:
        """``{"channel", "reason", "count"}`` of the flow's top failure reason, if any."""
        top = self.judgement.get("top_reason")
        return top if isinstance(top, dict) else None


Content = ReportContent | DeliveryFailed | RenderFailed | AlertContent


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
        if key in ("goal_conversion", "goal_conversion_rate") and value is None:
            shown = "no goal set"
        change, direction = ("", "")
        if previous is not None:
            # A digest stored before rates existed has no "rates": no change is shown for them.
            before = (previous.get(section) or {}).get(key)
            change, direction = format_change(value, before, percent)
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
