"""A batch's rollup changes, counted as transitions and expanded into counter rows once."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from store.ingest.rules import CHANNEL_FLAGS, TimelinePoints, message_counters, user_counters
from store.models import ALL_CHANNELS, STAT_COUNTERS, TIMELINE_COUNTERS


class StatDeltas:
    """Counter changes of one batch, kept as counts of *transitions* and expanded once.

    A batch of thousands of events has only a handful of distinct transitions (a whatsapp
    message going sent → delivered, a user gaining the clicked flag…), so each event costs
    one dictionary increment and the counters are computed per distinct transition.
    """

    def __init__(self, reporting: frozenset[str]) -> None:
        self.reporting = reporting  # the delivery-reporting channels (``reporting``)
        self._events: Counter[tuple[int, str | None, bool]] = Counter()
        self._messages: Counter[tuple[int, str, str | None, str]] = Counter()
        self._users: Counter[tuple[int, str, tuple[int, bool], tuple[int, bool], bool]] = Counter()
        self._reasons: Counter[tuple[int, str, str]] = Counter()

    def event(self, flow_id: int, source: str | None, *, engaged: bool) -> None:
        """One accepted status or user event."""
        self._events[(flow_id, source, engaged)] += 1

    def message(self, flow_id: int, source: str, old: str | None, new: str) -> None:
        """A message appeared (``old`` None) or changed status."""
        self._messages[(flow_id, source, old, new)] += 1

    def user(
        self,
        flow_id: int,
        source: str,
        old: tuple[int, bool],
        new: tuple[int, bool],
        *,
        channel: bool,
    ) -> None:
        """A user's (flags, reached) changed, flow-wide or on one channel."""
        self._users[(flow_id, source, old, new, channel)] += 1

    def reason(self, flow_id: int, source: str, reason: str, delta: int) -> None:
        """Count one more (or one fewer) failed message for a reason."""
        self._reasons[(flow_id, source, reason)] += delta

    def stat_rows(self) -> list[dict[str, Any]]:
        totals: dict[tuple[int, str], Counter[str]] = defaultdict(Counter)
        for (flow_id, source, engaged), n in self._events.items():
            for row in (ALL_CHANNELS, source) if source is not None else (ALL_CHANNELS,):
                totals[(flow_id, row)]["events"] += n
                totals[(flow_id, row)]["engagement"] += n * engaged
        for (flow_id, source, old, new), n in self._messages.items():
            delta = Counter(message_counters(source, new, self.reporting))
            delta.subtract(message_counters(source, old, self.reporting))
            for row in (ALL_CHANNELS, source):
                for name, value in delta.items():
                    totals[(flow_id, row)][name] += n * value
        for (flow_id, source, old, new, channel), n in self._users.items():
            delta = Counter(user_counters(*new, channel=channel))
            delta.subtract(user_counters(*old, channel=channel))
            for name, value in delta.items():
                totals[(flow_id, source)][name] += n * value
        return [
            {"flow_id": flow_id, "source": source}
            | {name: delta.get(name, 0) for name in STAT_COUNTERS}
            for (flow_id, source), delta in sorted(totals.items())
            if any(delta.values())
        ]

    def reason_rows(self) -> list[dict[str, Any]]:
        return [
            {"flow_id": f, "source": s, "reason": r, "count": n}
            for (f, s, r), n in sorted(self._reasons.items())
            if n
        ]


class TimelineDeltas:
    """Changes to ``flow_timeline`` of one batch: +1/−1 per (bot, flow, slot, source, series).

    A message that moves (an earlier event arrived, or its final status changed) is taken out
    of the slots it counted in and put into its new ones, so the rollup always equals the
    messages' ``first_*_at`` columns counted by their final status.
    """

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, int, int, str, str]] = Counter()

    def add(
        self, bot_id: str, flow_id: int, slot: int, source: str, series: str, n: int = 1
    ) -> None:
        """Count ``n`` more (or fewer) in one series of one slot and channel."""
        self._counts[(bot_id, flow_id, slot, source, series)] += n

    def message(
        self, bot_id: str, flow_id: int, source: str, old: TimelinePoints, new: TimelinePoints
    ) -> None:
        """A message left the ``old`` points and now counts at the ``new`` ones (on its channel
        and flow-wide)."""
        counts = self._counts
        for row in (source, ALL_CHANNELS):  # the channel's row and the flow's
            for series, slot in old:
                counts[(bot_id, flow_id, slot, row, series)] -= 1
            for series, slot in new:
                counts[(bot_id, flow_id, slot, row, series)] += 1

    def rows(self) -> list[dict[str, Any]]:
        """One row of counter changes per (bot, flow, slot, source), zero rows left out."""
        rows: dict[tuple[str, int, int, str], dict[str, Any]] = {}
        for (bot_id, flow_id, slot, source, series), n in sorted(self._counts.items()):
            if not n:
                continue
            key = (bot_id, flow_id, slot, source)
            row = rows.get(key)
            if row is None:
                row = rows[key] = {
                    "bot_id": bot_id, "flow_id": flow_id, "slot": slot, "source": source,
                } | dict.fromkeys(TIMELINE_COUNTERS, 0)  # fmt: skip
            row[series] += n
        return list(rows.values())


class UserDeltas:
    """Per (flow, user) and (flow, user, channel): flags to set, the impressions' change and
    the earliest ``goal_achieved`` time of the batch (``[flags, impressions, goal_at]``)."""

    def __init__(self) -> None:
        self.flow: dict[tuple[Any, ...], list[Any]] = {}
        self.channel: dict[tuple[Any, ...], list[Any]] = {}

    def touch(
        self,
        flow_id: int,
        user_id: str,
        source: str | None,
        *,
        flags: int,
        impressions: int,
        goal_at: datetime | None = None,
    ) -> None:
        """Record that a user gained ``flags`` and ``impressions`` (may be negative)."""
        entry = self.flow.setdefault((flow_id, user_id), [0, 0, None])
        _fold(entry, flags, impressions, goal_at)
        if source is not None and (flags & CHANNEL_FLAGS or impressions):
            entry = self.channel.setdefault((flow_id, user_id, source), [0, 0, None])
            _fold(entry, flags & CHANNEL_FLAGS, impressions, goal_at)


def _fold(entry: list[Any], flags: int, impressions: int, goal_at: datetime | None) -> None:
    entry[0] |= flags
    entry[1] += impressions
    if goal_at is not None and (entry[2] is None or goal_at < entry[2]):
        entry[2] = goal_at
