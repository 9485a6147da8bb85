"""The store's vocabulary (DESIGN.md contract): statuses and their ranks, flow statuses, event
types, channel names — the words every layer shares, with no parsing or I/O.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

# Message status rules (contract): rank decides which status a message keeps.
STATUS_RANK: dict[str, int] = {"queued": 0, "sent": 1, "failed": 2, "delivered": 3, "read": 4}
STATUS_SYNONYMS: dict[str, str] = {
    "triggered": "queued",
    "scheduled": "queued",
    "processing": "queued",
    "pending": "queued",
    "opened": "read",
    "bounced": "failed",
    "dropped": "failed",
    "undelivered": "failed",
    "malformed": "failed",
    "rejected": "failed",
}
FLOW_STATUSES = ("draft", "scheduled", "live", "paused", "completed", "archived")
REPORTABLE_FLOW_STATUSES = frozenset({"scheduled", "live", "completed"})
USER_EVENT_TYPES = (
    "click",
    "reply",
    "like",
    "share",
    "comment",
    "conversation_started",
    "goal_achieved",
    "flow_entered",
    "flow_exited",
)
ENGAGEMENT_TYPES = frozenset({"click", "reply", "like", "share", "comment"})
SOURCE_PATTERN = re.compile(r"^[a-z][a-z0-9_.-]{0,31}$")


def shown(value: Any, limit: int = 60) -> str:
    """A bad value as it appears in an error message: its repr, cut to ``limit``."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@lru_cache(maxsize=4096)
def normalize_status(value: str) -> str:
    """Map a message status or synonym (any case) to its canonical name, or raise."""
    status = value.strip().lower()
    status = STATUS_SYNONYMS.get(status, status)
    if status not in STATUS_RANK:
        raise ValueError(
            f"unknown status {shown(value)}; expected one of "
            + ", ".join([*STATUS_RANK, *STATUS_SYNONYMS])
        )
    return status


@lru_cache(maxsize=4096)
def normalize_source(value: str) -> str:
    """Lower-case a channel name and check it is an identifier (``whatsapp``, ``sms``…)."""
    source = value.strip().lower()
    if not SOURCE_PATTERN.match(source):
        raise ValueError(
            f"invalid source {shown(value)}; expected an identifier such as 'whatsapp'"
        )
    return source
