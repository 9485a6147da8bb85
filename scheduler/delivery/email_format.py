"""The report as an email (pure: content in, subject and bodies out).

Bodies come from Jinja2 templates with autoescape on for HTML, so flow names and failure
reasons (data from outside) cannot inject markup. Each KPI may carry its change since the
previous digest of the same subscription.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from reports.content import ReportContent, timeline_caption
from reports.formatting import (
    channel_label,
    fmt_day,
    fmt_int,
    fmt_moment,
    fmt_pct,
    top_failure_reasons,
    truncate,
)
from reports.kpis import FlowReport

SUBJECT_NAME = 120  # characters of the flow name in a subject line
TOP_REASONS = 5

_env = Environment(
    loader=PackageLoader("scheduler", "templates"),
    # HTML templates escape every value; the plain-text part must not (no &amp; in text mail).
    autoescape=select_autoescape(["html.j2"], default_for_string=True, default=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class ChannelLine:
    """One channel's bar: share of notifications and its status counts."""

    label: str
    share: float
    share_text: str
    counts: str


@dataclass(frozen=True)
class EmailBody:
    """The subject and the two parts of a report email."""

    subject: str
    text: str
    html: str


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


def build_subject(content: ReportContent) -> str:
    """``[Campaign report] Diwali offers — 92.4% delivered, 611 goals (daily, 28 Nov)``."""
    report = content.report
    parts = [f"{fmt_pct(report.analysis.delivery_rate)} delivered"]
    if report.overview.goal_conversion is not None:
        goals = report.overview.goal_conversion
        parts.append(f"{fmt_int(goals)} goal{'' if goals == 1 else 's'}")
    name = truncate(report.flow.name, SUBJECT_NAME)
    when = fmt_day(content.generated_at, content.zone)
    return f"[Campaign report] {name} — {', '.join(parts)} ({content.label}, {when})"


def footer_text(content: ReportContent) -> str | None:
    """Who subscribed the digest and how to stop it (an email can only name the user id)."""
    digest = content.digest
    if digest is None:
        return None
    return (
        f"Digest {digest.schedule} subscribed in Slack by Slack user {digest.created_by}. "
        f"To stop it: /campaign-report unsubscribe {digest.subscription_id}"
    )


def render_email(
    content: ReportContent, *, csv_attached: bool, xlsx_attached: bool = False
) -> EmailBody:
    """Subject, text and HTML of ``content``; ``csv_attached`` and ``xlsx_attached`` say
    whether those files go along (a file too large for mail is only linked)."""
    report, link, xlsx_link = content.report, content.csv_link, content.xlsx_link
    context = {
        "flow": report.flow,
        "heading": content.heading,
        "generated": fmt_moment(content.generated_at, content.zone),
        "kpis": content.kpi_lines(),
        "channels": channel_lines(report),
        "reasons": [
            (channel_label(r.channel), r.reason, fmt_int(r.count))
            for r in top_failure_reasons(report, TOP_REASONS)
        ],
        "pdf": content.pdf,
        "csv": content.csv if csv_attached else None,
        "csv_link": link,
        "csv_link_expires": fmt_moment(link.expires_at, content.zone) if link else "",
        "xlsx": content.xlsx if xlsx_attached else None,
        "xlsx_link": xlsx_link,
        "xlsx_link_expires": (fmt_moment(xlsx_link.expires_at, content.zone) if xlsx_link else ""),
        "timeline": content.timeline_lines(),
        "timeline_caption": timeline_caption(content.timeline) if content.timeline else "",
        "footer": footer_text(content),
        "has_previous": content.previous is not None,
    }
    return EmailBody(
        subject=build_subject(content),
        text=_env.get_template("report_email.txt.j2").render(context),
        html=_env.get_template("report_email.html.j2").render(context),
    )
