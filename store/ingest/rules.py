"""The counting rules of ingestion (pure): impressions, failure reasons, the counters a
message or a user adds, the user flags, and how another event for a known message folds in.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from store.csv_format import comments_cell
from store.events import EventError, MessageEvent
from store.models import TIMELINE_SLOT_SECONDS
from store.vocabulary import STATUS_RANK

# Bits of flow_user.flags / flow_user_channel.flags.
ENTERED, EXITED, GOAL, CLICKED, CONVERSATION, MESSAGED = (1 << i for i in range(6))
FLAG_OF_TYPE = {
    "flow_entered": ENTERED,
    "flow_exited": EXITED,
    "goal_achieved": GOAL,
    "click": CLICKED,
    "conversation_started": CONVERSATION,
}
CHANNEL_FLAGS = GOAL | CLICKED | CONVERSATION | MESSAGED  # entered/exited are flow-wide

# Timeline series (DESIGN.md, Timeline) a status belongs to: an event with this status can
# set the series' time, and a message whose final status is this counts in these series.
SERIES_OF_STATUS: dict[str, tuple[str, ...]] = {
    "queued": (),
    "sent": ("sent",),
    "failed": ("failed",),
    "delivered": ("sent", "delivered"),
    "read": ("sent", "delivered", "read"),
}
FIRST_AT = {series: f"first_{series}_at" for series in ("sent", "delivered", "read", "failed")}
# Per status: (series, the MessageState attribute keeping its first time), looked up once.
_FIRST_TIMES = {
    status: tuple((name, FIRST_AT[name]) for name in series)
    for status, series in SERIES_OF_STATUS.items()
}
TimelinePoints = tuple[tuple[str, int], ...]  # (series, slot) a message counts in


def slot_of(moment: datetime) -> int:
    """The 15-minute UTC slot of ``moment`` (``flow_timeline.slot``)."""
    return int(moment.timestamp() // TIMELINE_SLOT_SECONDS)


def impression_threshold(source: str, reporting: frozenset[str]) -> int:
    """Lowest status rank that counts as an impression on a channel (DESIGN.md, KPIs): a
    channel in ``reporting`` (DELIVERY_REPORTING_CHANNELS) needs delivered, others sent."""
    return STATUS_RANK["delivered"] if source in reporting else STATUS_RANK["sent"]


def is_impression(source: str, status: str, reporting: frozenset[str]) -> bool:
    """True when a message in ``status`` is an impression on ``source``."""
    return status != "failed" and STATUS_RANK[status] >= impression_threshold(source, reporting)


def failure_reason(error_code: str | None, comments: str | None) -> str:
    """The reason a failed message is grouped under: ``"1408 Not a WhatsApp number"``."""
    return (comments_cell(error_code, comments) or "Unknown")[:300]


@cache
def message_counters(source: str, status: str | None, reporting: frozenset[str]) -> Counter[str]:
    """What one message adds to its channel's counters in ``status`` (None: no message)."""
    if status is None:
        return Counter()
    rank = STATUS_RANK[status]
    return Counter(
        {
            "messages": 1,
            "notifications": int(status != "queued"),
            "sent": int(rank >= STATUS_RANK["sent"] and status != "failed"),
            "delivered": int(rank >= STATUS_RANK["delivered"]),
            "read": int(status == "read"),
            "failed": int(status == "failed"),
            "impressions": int(is_impression(source, status, reporting)),
        }
    )


@cache
def user_counters(flags: int, reached: bool, *, channel: bool) -> Counter[str]:
    """What one user adds to the distinct-user counters, flow-wide or on one channel."""
    counters = Counter(
        {
            "click_users": int(bool(flags & CLICKED)),
            "conversation_users": int(bool(flags & CONVERSATION)),
            "goal_users": int(bool(flags & GOAL)),
            "reach_users": int(reached),
        }
    )
    if channel:
        counters["audience_users"] = int(bool(flags & MESSAGED))
        return counters
    counters["audience_users"] = int(bool(flags & (MESSAGED | ENTERED)))
    counters["entered_users"] = int(bool(flags & ENTERED))
    counters["exited_users"] = int(bool(flags & EXITED))
    counters["in_flow_users"] = int(bool(flags & ENTERED) and not flags & (EXITED | GOAL))
    return counters


@dataclass
class MessageState:
    id: int | None
    flow_id: int
    workflow_id: str
    user_id: str
    source: str
    status: str
    status_at: datetime
    comments: str | None
    error_code: str | None
    template_id: str | None
    ip_address: str | None
    custom_payload: Any
    sent_by: str | None
    created_at: datetime
    scheduled_at: datetime | None
    first_sent_at: datetime | None = None
    first_delivered_at: datetime | None = None
    first_read_at: datetime | None = None
    first_failed_at: datetime | None = None

    def note_event_time(self, status: str, at: datetime) -> bool:
        """Move each series' earliest time back to ``at`` if an event in ``status`` is earlier."""
        changed = False
        for _, name in _FIRST_TIMES[status]:
            current = getattr(self, name)
            if current is None or at < current:
                setattr(self, name, at)
                changed = True
        return changed

    def timeline_points(self) -> TimelinePoints:
        """Where the message counts in the timeline: (series, slot) per series of its final
        status, each at the earliest event of that series."""
        points = []
        last: datetime | None = None
        slot = 0
        for series, name in _FIRST_TIMES[self.status]:
            moment = getattr(self, name)
            if moment is not last:  # most messages: one event, the same time for each series
                last, slot = moment, slot_of(moment)
            points.append((series, slot))
        return tuple(points)

    def outranks(self, event: MessageEvent) -> bool:
        """True when the stored status beats the event's (ties broken by time, then text)."""
        mine = (
            STATUS_RANK[self.status],
            self.status_at,
            self.comments or "",
            self.error_code or "",
        )
        theirs = (STATUS_RANK[event.status], event.at, event.comments or "", event.error_code or "")
        return mine >= theirs


def new_message_state(flow_id: int, event: MessageEvent) -> MessageState:
    state = MessageState(
        id=None,
        flow_id=flow_id,
        workflow_id=event.workflow_id,
        user_id=event.user_id,
        source=event.source,
        status=event.status,
        status_at=event.at,
        comments=event.comments,
        error_code=event.error_code,  # type: ignore[arg-type]  (normalized to str)
        template_id=event.template_id,
        ip_address=event.ip_address,
        custom_payload=event.custom_payload,
        sent_by=event.sent_by,
        created_at=event.created_at or event.at,
        scheduled_at=event.scheduled_at,
    )
    state.note_event_time(event.status, event.at)
    return state


def merge_message(state: MessageState, event: MessageEvent, where: str) -> bool:
    """Fold another event for a known message into its state; True if anything changed."""
    for name in ("workflow_id", "user_id", "source"):
        if getattr(state, name) != getattr(event, name):
            raise EventError(
                where,
                name,
                f"message {event.message_id!r} already has {name} {getattr(state, name)!r}, "
                f"not {getattr(event, name)!r}",
            )
    changed = wins = not state.outranks(event)
    if wins:
        state.status = event.status
        state.status_at = event.at
        state.comments = event.comments
        state.error_code = event.error_code  # type: ignore[assignment]
    for name in ("template_id", "ip_address", "custom_payload", "sent_by", "scheduled_at"):
        value = getattr(event, name)
        current = getattr(state, name)
        if value is not None and value != current and (wins or current is None):
            setattr(state, name, value)
            changed = True
    created_at = event.created_at or event.at
    if created_at < state.created_at:
        state.created_at = created_at
        changed = True
    if state.note_event_time(event.status, event.at):
        changed = True
    return changed
