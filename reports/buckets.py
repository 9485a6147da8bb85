"""Local hours and days made of 15-minute UTC slots (pure: no queries, no I/O).

Ingestion counts the timeline per 15-minute UTC slot (``store.models.FlowTimeline``). A report
shows hours or days in ``REPORT_TIMEZONE``: a bucket is the run of consecutive slots that share
a local hour (and UTC offset) or a local date. Because every UTC offset and every DST change in
use is a whole number of 15 minutes, a slot never straddles two buckets, so:

* a day starts at local midnight (or at the first instant of the day, where midnight is
  skipped) and has 23, 24 or 25 hours;
* in a fall-back the repeated local hour is two buckets, each with its own offset;
* a half-hour zone (Asia/Kolkata, +05:30) or a 45-minute one (Asia/Kathmandu) is exact.

Every bucket from the one holding the first slot to the one holding the last is returned,
empty ones included.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Literal

from store.models import TIMELINE_SLOT_SECONDS

Bucket = Literal["hour", "day"]
BUCKETS: tuple[Bucket, ...] = ("hour", "day")
SLOT = timedelta(seconds=TIMELINE_SLOT_SECONDS)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NOMINAL_SLOTS = {"hour": 3600 // TIMELINE_SLOT_SECONDS, "day": 86400 // TIMELINE_SLOT_SECONDS}
_LONGEST_SLOTS = {"hour": 2 * _NOMINAL_SLOTS["hour"], "day": 26 * _NOMINAL_SLOTS["hour"]}


def slot_start(slot: int) -> datetime:
    """The UTC instant a slot starts at."""
    return _EPOCH + slot * SLOT


def _bucket_key(slot: int, zone: tzinfo, bucket: Bucket) -> date | tuple[Any, ...]:
    local = slot_start(slot).astimezone(zone)
    if bucket == "day":
        return local.date()
    return (local.year, local.month, local.day, local.hour, local.utcoffset())


def bucket_starts(first: int, last: int, zone: tzinfo, bucket: Bucket) -> list[int]:
    """The first slot of every bucket from the one holding slot ``first`` to the one holding
    slot ``last`` (``first <= last``)."""

    def key(slot: int) -> date | tuple[Any, ...]:
        return _bucket_key(slot, zone, bucket)

    start, current = first, key(first)
    for _ in range(_LONGEST_SLOTS[bucket]):  # back to the first slot of the first bucket
        if key(start - 1) != current:
            break
        start -= 1
    starts = [start]
    nominal = _NOMINAL_SLOTS[bucket]
    while True:
        guess = start + nominal  # an ordinary hour or day; checked, and searched when not
        if key(guess) != current and key(guess - 1) == current:
            start = guess
        else:
            start += 1
            while key(start) == current:
                start += 1
        if start > last:
            return starts
        starts.append(start)
        current = key(start)


def sum_into_buckets(
    rows: Iterable[Sequence[int]], starts: Sequence[int], width: int
) -> list[list[int]]:
    """Add up ``(slot, count, count, …)`` rows, sorted by slot, per bucket of ``starts``.

    Each row's counts go to the bucket whose first slot is the last one ``<=`` its slot;
    ``width`` is how many counts a row has.
    """
    totals = [[0] * width for _ in starts]
    index, last = 0, len(starts) - 1
    for row in rows:
        slot = row[0]
        while index < last and starts[index + 1] <= slot:
            index += 1
        bucket = totals[index]
        for position in range(width):
            bucket[position] += row[position + 1]
    return totals


def pick_bucket(first: int, last: int, max_hours: int = 72) -> Bucket:
    """``hour`` when the slots span at most ``max_hours`` hours, else ``day`` (for charts)."""
    return "hour" if (last - first + 1) * SLOT <= timedelta(hours=max_hours) else "day"
