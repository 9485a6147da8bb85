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
BUCKET_SLOTS = _NOMINAL_SLOTS  # slots in an hour or a day without an offset change
_LONGEST_SLOTS = {"hour": 2 * _NOMINAL_SLOTS["hour"], "day": 26 * _NOMINAL_SLOTS["hour"]}


def slot_start(slot: int) -> datetime:
    """The UTC instant a slot starts at."""
    return _EPOCH + slot * SLOT


def _bucket_key(local: datetime, bucket: Bucket) -> date | tuple[Any, ...]:
    if bucket == "day":
        return local.date()
    return (local.year, local.month, local.day, local.hour, local.utcoffset())


def _at_bucket_start(local: datetime, bucket: Bucket) -> bool:
    return local.minute == 0 and (bucket == "hour" or local.hour == 0)


def bucket_starts(
    first: int, last: int, zone: tzinfo, bucket: Bucket
) -> list[tuple[int, datetime]]:
    """The first slot, and its local time, of every bucket from the one holding slot
    ``first`` to the one holding slot ``last`` (``first <= last``)."""

    def local(slot: int) -> datetime:
        return slot_start(slot).astimezone(zone)

    start = first
    here = local(first)
    current = _bucket_key(here, bucket)
    for _ in range(_LONGEST_SLOTS[bucket]):  # back to the first slot of the first bucket
        before = local(start - 1)
        if _bucket_key(before, bucket) != current:
            break
        start, here = start - 1, before
    starts = [(start, here)]
    nominal = _NOMINAL_SLOTS[bucket]
    while True:
        # An ordinary hour or day: the same offset a whole hour or day later, starting on
        # the hour (or at midnight), means the next bucket starts exactly there.
        guess = start + nominal
        ahead = local(guess)
        if not (ahead.utcoffset() == here.utcoffset() and _at_bucket_start(here, bucket)):
            guess = start + 1  # an offset change inside: look slot by slot
            ahead = local(guess)
            while _bucket_key(ahead, bucket) == current:
                guess += 1
                ahead = local(guess)
        start, here = guess, ahead
        if start > last:
            return starts
        starts.append((start, here))
        current = _bucket_key(here, bucket)


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


def fixed_offset_slots(zone: tzinfo, first: int, last: int) -> int | None:
    """The zone's UTC offset in slots when it is the same from slot ``first`` to ``last``
    (checked every 6 hours and at the end: no zone changes its offset and back in less),
    else None. Slots before 1970 get None too (the fast path divides non-negative numbers).
    """
    if first < 0:
        return None
    step = 6 * _NOMINAL_SLOTS["hour"]
    offsets = {slot_start(s).astimezone(zone).utcoffset() for s in range(first, last, step)}
    offsets.add(slot_start(last).astimezone(zone).utcoffset())
    if len(offsets) != 1:
        return None
    (offset,) = offsets
    if offset is None or offset % SLOT:  # local mean time: not whole slots
        return None
    return int(offset // SLOT)


def regular_buckets(
    rows: Sequence[Sequence[int]], offset: int, width: int, zone: tzinfo
) -> list[tuple[datetime, list[int]]]:
    """Rows of ``(bucket number, counts…)`` (bucket = ``(slot + offset) // width``, sorted)
    as ``(local start, counts)`` for every bucket from the first row's to the last row's."""
    if not rows:
        return []
    found = {row[0]: list(row[1:]) for row in rows}
    zeros = [0] * (len(rows[0]) - 1)
    first = slot_start(rows[0][0] * width - offset).astimezone(zone)
    step = width * SLOT  # one offset all along: local and absolute steps are the same
    return [
        (first + step * index, found.get(number) or list(zeros))
        for index, number in enumerate(range(rows[0][0], rows[-1][0] + 1))
    ]


def pick_bucket(first: int, last: int, max_hours: int = 72) -> Bucket:
    """``hour`` when the slots span at most ``max_hours`` hours, else ``day`` (for charts)."""
    return "hour" if (last - first + 1) * SLOT <= timedelta(hours=max_hours) else "day"
