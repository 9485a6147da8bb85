"""Slack mrkdwn text (pure): escaping, cutting within limits, mentions, text bars.

Every piece of outside text that reaches Slack (flow names, channel names, failure reasons,
email addresses) goes through ``escape_mrkdwn`` — directly or through ``mrkdwn`` — so it
cannot form a mention (``<!channel>``), a link or a user reference. Slack's limits are
counted in characters of the final text, so escaping happens *before* truncation and
truncation never cuts an entity (``&amp;``) in half.
"""

from __future__ import annotations

import re

from reports.formatting import ELLIPSIS

BAR_CELLS = 20
_ENTITY_TAIL = re.compile(r"&[a-z]{0,3}$")
_SLACK_ID = re.compile(r"^[A-Z0-9]{2,32}$")


def escape_mrkdwn(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` so data text cannot form Slack mentions or links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str, limit: int) -> str:
    """Escaped ``text`` of at most ``limit`` characters (an entity is never split)."""
    escaped = escape_mrkdwn(text)
    if len(escaped) <= limit:
        return escaped
    cut = _ENTITY_TAIL.sub("", escaped[: max(limit - 1, 0)])
    return cut.rstrip() + ELLIPSIS


def mention(kind: str, slack_id: str) -> str:
    """``<@U1>`` for a user, ``<#C1>`` for a channel; anything but a Slack id is escaped text."""
    if not _SLACK_ID.match(slack_id):
        return escape_mrkdwn(slack_id)
    return f"<@{slack_id}>" if kind == "slack_user" else f"<#{slack_id}>"


def recipient_mrkdwn(channel: str, address: str) -> str:
    """A delivery recipient as shown in Slack: a mention, or the (escaped) email address."""
    if channel in ("slack_user", "slack_channel"):
        return mention(channel, address)
    return mrkdwn(address, 320)


def share_bar(share: float, cells: int = BAR_CELLS) -> str:
    """A text bar whose filled part is ``share`` percent of ``cells``."""
    filled = min(cells, max(0, round(share * cells / 100)))
    if share > 0 and filled == 0:
        filled = 1  # a channel that sent anything never looks empty
    return "█" * filled + "░" * (cells - filled)
