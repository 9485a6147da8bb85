"""Text helpers every renderer shares (terminal, Block Kit, PDF, email): numbers, names, cuts.

Pure functions of their arguments, so the CLI, Slack, the PDF and the digests show a number
or a channel the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reports.kpis import ChannelStats

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


def escape_mrkdwn(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` so data text cannot form Slack mentions or links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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
