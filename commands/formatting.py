"""Text helpers for Block Kit: mrkdwn escaping, truncation, numbers, channel names, bars.

Everything here is pure. Slack's limits are counted in characters of the final text, so
escaping happens *before* truncation and truncation never cuts an entity (``&amp;``) in half.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from reports.formatting import (  # noqa: F401  (re-exported for the Block Kit builders)
    CHANNEL_LABELS,
    ELLIPSIS,
    channel_label,
    escape_mrkdwn,
    fmt_int,
    fmt_pct,
    truncate,
)

BAR_CELLS = 20
_ENTITY_TAIL = re.compile(r"&[a-z]{0,3}$")
_SLACK_ESCAPES = {"&lt;": "<", "&gt;": ">", "&amp;": "&"}


def unescape_slack(text: str) -> str:
    """Undo the escaping Slack applies to the text of slash commands."""
    return re.sub(r"&(?:lt|gt|amp);", lambda m: _SLACK_ESCAPES[m.group(0)], text)


def mrkdwn(text: str, limit: int) -> str:
    """Escaped ``text`` of at most ``limit`` characters (an entity is never split)."""
    escaped = escape_mrkdwn(text)
    if len(escaped) <= limit:
        return escaped
    cut = _ENTITY_TAIL.sub("", escaped[: max(limit - 1, 0)])
    return cut.rstrip() + ELLIPSIS


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
