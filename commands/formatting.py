"""Text helpers for Block Kit: mrkdwn escaping, truncation, numbers, channel names, bars.

Everything here is pure. Slack's limits are counted in characters of the final text, so
escaping happens *before* truncation and truncation never cuts an entity (``&amp;``) in half.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

ELLIPSIS = "…"
BAR_CELLS = 20
CHANNEL_LABELS = {"whatsapp": "WhatsApp", "sms": "SMS", "email": "Email", "rcs": "RCS"}
_ENTITY_TAIL = re.compile(r"&[a-z]{0,3}$")
_SLACK_ESCAPES = {"&lt;": "<", "&gt;": ">", "&amp;": "&"}


def escape_mrkdwn(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` so user or data text cannot form mentions or links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape_slack(text: str) -> str:
    """Undo the escaping Slack applies to the text of slash commands."""
    return re.sub(r"&(?:lt|gt|amp);", lambda m: _SLACK_ESCAPES[m.group(0)], text)


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in "…" when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def mrkdwn(text: str, limit: int) -> str:
    """Escaped ``text`` of at most ``limit`` characters (an entity is never split)."""
    escaped = escape_mrkdwn(text)
    if len(escaped) <= limit:
        return escaped
    cut = _ENTITY_TAIL.sub("", escaped[: max(limit - 1, 0)])
    return cut.rstrip() + ELLIPSIS


def fmt_int(value: int | None, missing: str = "n/a") -> str:
    """``48,210``; ``missing`` where the channel does not report the value."""
    return missing if value is None else f"{value:,}"


def fmt_pct(value: float | None, missing: str = "n/a") -> str:
    """``92.4%``; ``missing`` when there was nothing to divide by."""
    return missing if value is None else f"{value:.1f}%"


def channel_label(channel: str) -> str:
    """``whatsapp`` → ``WhatsApp``; unknown sources are capitalized."""
    return CHANNEL_LABELS.get(channel, channel.capitalize())


def share_bar(share: float, cells: int = BAR_CELLS) -> str:
    """A text bar whose filled part is ``share`` percent of ``cells``."""
    filled = min(cells, max(0, round(share * cells / 100)))
    if share > 0 and filled == 0:
        filled = 1  # a channel that sent anything never looks empty
    return "█" * filled + "░" * (cells - filled)


def fmt_moment(moment: datetime, zone: ZoneInfo) -> str:
    """``1 Nov 2026 09:00 IST`` in the report time zone."""
    local = moment.astimezone(zone)
    return f"{local.day} {local:%b %Y %H:%M %Z}"


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
