"""Text helpers every renderer shares (terminal, Block Kit, PDF, email): numbers, names, cuts.

Pure functions of their arguments, so the CLI, Slack, the PDF and the digests show a number
or a channel the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from reports.kpis import ChannelStats, FlowReport

ELLIPSIS = "…"
CHANNEL_LABELS = {"whatsapp": "WhatsApp", "sms": "SMS", "email": "Email", "rcs": "RCS"}


def fmt_int(value: int | None, missing: str = "n/a") -> str:
    """``48,210``, or ``missing`` where the channel does not report the value."""
    return missing if value is None else f"{value:,}"


def fmt_pct(value: float | None, missing: str = "n/a") -> str:
    """``92.4%``, or ``missing`` when there was nothing to divide by."""
    return missing if value is None else f"{value:.1f}%"


def channel_label(channel: str) -> str:
    """``whatsapp`` → ``WhatsApp``; unknown sources are capitalized."""
    return CHANNEL_LABELS.get(channel, channel.capitalize())


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in "…" when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def fmt_moment(moment: datetime | None, zone: tzinfo, missing: str = "—") -> str:
    """``1 Nov 2026 09:00 IST`` in ``zone`` (the report time zone), or ``missing``."""
    if moment is None:
        return missing
    local = moment.astimezone(zone)
    return f"{local.day} {local:%b %Y %H:%M %Z}"


def fmt_bucket(start: datetime, bucket: str) -> str:
    """A timeline bucket's start as people read it, in its own offset: ``1 Nov 09:00``
    (``01:00 −04:00`` and ``01:00 −05:00`` where a fall-back repeats the hour) or ``Sun 1 Nov``.
    """
    if bucket == "day":
        return f"{start:%a} {start.day} {start:%b %Y}"
    return f"{start.day} {start:%b %H:%M} {_offset(start)}"


def _offset(moment: datetime) -> str:
    offset = moment.utcoffset()
    if offset is None:
        return ""
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "−"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def fmt_day(moment: datetime, zone: tzinfo) -> str:
    """``28 Nov`` in ``zone``."""
    local = moment.astimezone(zone)
    return f"{local.day} {local:%b}"


def fmt_ago(moment: datetime, now: datetime) -> str:
    """``just now``, ``2 min ago``, ``3 h ago``, ``4 days ago``."""
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86400
    return f"{days} day{'s' if days != 1 else ''} ago"


@dataclass(frozen=True)
class RankedReason:
    """A failure reason of one channel, as ranked across every channel of a report."""

    channel: str
    reason: str
    count: int


def top_failure_reasons(report: FlowReport, limit: int) -> list[RankedReason]:
    """The report's failure reasons, most failed messages first, over every channel.

    Each channel row carries its own top reasons (the KPI engine's); this is the one ranking
    of them that every surface shows (ties: channel, then reason, alphabetically).
    """
    ranked = sorted(
        (
            RankedReason(row.channel, reason.reason, reason.count)
            for row in report.channels
            for reason in row.failure_reasons
        ),
        key=lambda r: (-r.count, r.channel, r.reason),
    )
    return ranked[:limit]


def channel_cells(row: ChannelStats) -> list[str]:
    """A channel's numbers as table cells: notifications, share, sent, delivered, read, failed."""
    return [
        fmt_int(row.notifications),
        fmt_pct(row.share),
        fmt_int(row.sent),
        fmt_int(row.delivered),
        fmt_int(row.read),
        fmt_int(row.failed),
    ]


def rate_items(report: FlowReport) -> list[tuple[str, str]]:
    """The report's rates as (label, text): ``("Failure rate", "2.9%")``…

    "n/a" where the denominator is 0 (or no channel reports delivery, for the read rate);
    "no goal set" for the goal conversion rate of a flow without a goal.
    """
    rates = report.rates
    goal_missing = "n/a" if report.flow.goal else "no goal set"
    return [
        ("Failure rate", fmt_pct(rates.failure_rate)),
        ("Click-through rate", fmt_pct(rates.click_through_rate)),
        ("Read rate", fmt_pct(rates.read_rate)),
        ("Goal conversion rate", fmt_pct(rates.goal_conversion_rate, goal_missing)),
    ]
