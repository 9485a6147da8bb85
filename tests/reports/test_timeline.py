"""DESIGN.md "Timeline": the bucket rules, each case worked out by hand, on SQLite and
PostgreSQL. Times in the events are UTC; the expected bucket starts are local.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine

from tests.support import act, flow, ingest, kpis, msg, timeline

# (start, sent, delivered, read, failed, clicks, goals)
Row = tuple[str, int, int | None, int | None, int, int, int]
CASES: list[tuple[str, list[dict[str, Any]], str, str, str | None, list[Row]]] = [
    # The receipt came before the "sent" event: the message was sent by 09:05 at the latest.
    ("delivered_before_sent",
     [flow(), msg("m1", "u1", "whatsapp", "delivered", at="2026-11-01T09:05:00Z"),
      msg("m1", "u1", "whatsapp", "sent", at="2026-11-01T10:20:00Z")],
     "UTC", "hour", None,
     [("2026-11-01T09:00:00+00:00", 1, 1, 0, 0, 0, 0)]),
    # Failed at 09:10, read at 11:30: its final status is read, so it is not a failure; it
    # counts as sent, delivered and read at 11:00 (its earliest event of each series).
    ("failed_then_read",
     [flow(), msg("m1", "u1", "whatsapp", "failed", at="2026-11-01T09:10:00Z"),
      msg("m1", "u1", "whatsapp", "read", at="2026-11-01T11:30:00Z")],
     "UTC", "hour", None,
     [("2026-11-01T11:00:00+00:00", 1, 1, 1, 0, 0, 0)]),
    # Sent at 09:00, failed at 09:40 (final: failed), so it is one failure and not sent.
    ("sent_then_failed_is_a_failure",
     [flow(), msg("m1", "u1", "sms", "sent", at="2026-11-01T09:00:00Z"),
      msg("m1", "u1", "sms", "failed", at="2026-11-01T09:40:00Z")],
     "UTC", "hour", None,
     [("2026-11-01T09:00:00+00:00", 0, 0, 0, 1, 0, 0)]),
    # 18:29 UTC is 23:59 on 1 Nov in India, 18:31 UTC is 00:01 on 2 Nov: two local days
    # (one UTC day), each starting at local midnight.
    ("day_boundary_asia_kolkata",
     [flow(), msg("m1", "u1", "sms", "sent", at="2026-11-01T18:29:00Z"),
      msg("m2", "u2", "sms", "sent", at="2026-11-01T18:31:00Z")],
     "Asia/Kolkata", "day", None,
     [("2026-11-01T00:00:00+05:30", 1, 0, 0, 0, 0, 0),
      ("2026-11-02T00:00:00+05:30", 1, 0, 0, 0, 0, 0)]),
    ("hour_boundary_asia_kolkata_is_at_half_past_utc",
     [flow(), msg("m1", "u1", "sms", "sent", at="2026-11-01T03:29:00Z"),
      msg("m2", "u2", "sms", "sent", at="2026-11-01T03:31:00Z")],
     "Asia/Kolkata", "hour", None,
     [("2026-11-01T08:00:00+05:30", 1, 0, 0, 0, 0, 0),
      ("2026-11-01T09:00:00+05:30", 1, 0, 0, 0, 0, 0)]),
    ("hour_boundary_asia_kathmandu_is_at_a_quarter_past_utc",
     [flow(), msg("m1", "u1", "sms", "sent", at="2026-11-01T03:14:00Z"),
      msg("m2", "u2", "sms", "sent", at="2026-11-01T03:16:00Z")],
     "Asia/Kathmandu", "hour", None,
     [("2026-11-01T08:00:00+05:45", 1, 0, 0, 0, 0, 0),
      ("2026-11-01T09:00:00+05:45", 1, 0, 0, 0, 0, 0)]),
    # New York falls back on 1 Nov 2026 at 02:00 EDT: 01:00–02:00 happens twice, first at
    # −04:00 (05:00–06:00 UTC) and then at −05:00 (06:00–07:00 UTC): two buckets.
    ("fall_back_new_york_repeats_an_hour",
     [flow(), msg("m1", "u1", "sms", "sent", at="2026-11-01T04:30:00Z"),
      msg("m2", "u2", "sms", "sent", at="2026-11-01T05:30:00Z"),
      msg("m3", "u3", "sms", "sent", at="2026-11-01T06:30:00Z"),
      msg("m4", "u4", "sms", "sent", at="2026-11-01T07:30:00Z")],
     "America/New_York", "hour", None,
     [("2026-11-01T00:00:00-04:00", 1, 0, 0, 0, 0, 0),
      ("2026-11-01T01:00:00-04:00", 1, 0, 0, 0, 0, 0),
      ("2026-11-01T01:00:00-05:00", 1, 0, 0, 0, 0, 0),
      ("2026-11-01T02:00:00-05:00", 1, 0, 0, 0, 0, 0)]),
    # …so 1 Nov has 25 hours: 04:00 UTC on 1 Nov to 05:00 UTC on 2 Nov.
    ("fall_back_day_has_25_hours",
     [flow(), msg("m1", "u1", "sms", "sent", at="2026-11-01T04:10:00Z"),
      msg("m2", "u2", "sms", "sent", at="2026-11-02T04:50:00Z"),
      msg("m3", "u3", "sms", "sent", at="2026-11-02T05:10:00Z")],
     "America/New_York", "day", None,
     [("2026-11-01T00:00:00-04:00", 2, 0, 0, 0, 0, 0),
      ("2026-11-02T00:00:00-05:00", 1, 0, 0, 0, 0, 0)]),
    # Spring forward on 8 Mar 2026 at 02:00 EST → 03:00 EDT: there is no 02:00 bucket, and
    # the day has 23 hours (05:00 UTC on 8 Mar to 04:00 UTC on 9 Mar).
    ("spring_forward_new_york_skips_an_hour",
     [flow(), msg("m1", "u1", "sms", "sent", at="2026-03-08T06:30:00Z"),
      msg("m2", "u2", "sms", "sent", at="2026-03-08T07:30:00Z")],
     "America/New_York", "hour", None,
     [("2026-03-08T01:00:00-05:00", 1, 0, 0, 0, 0, 0),
      ("2026-03-08T03:00:00-04:00", 1, 0, 0, 0, 0, 0)]),
    ("spring_forward_day_has_23_hours",
     [flow(), msg("m1", "u1", "sms", "sent", at="2026-03-08T05:10:00Z"),
      msg("m2", "u2", "sms", "sent", at="2026-03-09T03:50:00Z"),
      msg("m3", "u3", "sms", "sent", at="2026-03-09T04:10:00Z")],
     "America/New_York", "day", None,
     [("2026-03-08T00:00:00-05:00", 2, 0, 0, 0, 0, 0),
      ("2026-03-09T00:00:00-04:00", 1, 0, 0, 0, 0, 0)]),
    # Every bucket between the first and the last non-empty one is there, empty or not.
    ("gaps_are_filled",
     [flow(), msg("m1", "u1", "sms", "sent", at="2026-11-01T09:59:59Z"),
      act("click", "u1", "sms", at="2026-11-01T12:00:00Z")],
     "UTC", "hour", None,
     [("2026-11-01T09:00:00+00:00", 1, 0, 0, 0, 0, 0),
      ("2026-11-01T10:00:00+00:00", 0, 0, 0, 0, 0, 0),
      ("2026-11-01T11:00:00+00:00", 0, 0, 0, 0, 0, 0),
      ("2026-11-01T12:00:00+00:00", 0, 0, 0, 0, 1, 0)]),
    # Delivered and read are counted for channels that report delivery only; a queued
    # message is in no series.
    ("delivered_and_read_only_where_reported",
     [flow(), msg("m1", "u1", "sms", "read", at="2026-11-01T09:00:00Z"),
      msg("m2", "u2", "whatsapp", "read", at="2026-11-01T09:10:00Z"),
      msg("m3", "u3", "whatsapp", "queued", at="2026-11-01T09:20:00Z")],
     "UTC", "hour", None,
     [("2026-11-01T09:00:00+00:00", 2, 1, 1, 0, 0, 0)]),
    # Clicks are events (two by u1 count twice); goals are users, at their first goal.
    ("clicks_by_time_goals_by_first_goal",
     [flow(), act("click", "u1", "sms", at="2026-11-01T09:00:00Z"),
      act("click", "u1", "sms", at="2026-11-01T09:30:00Z"),
      act("click", "u2", at="2026-11-01T10:00:00Z"),
      act("goal_achieved", "u1", "sms", at="2026-11-01T10:30:00Z"),
      act("goal_achieved", "u1", "whatsapp", at="2026-11-01T09:15:00Z")],
     "UTC", "hour", None,
     [("2026-11-01T09:00:00+00:00", 0, 0, 0, 0, 2, 1),
      ("2026-11-01T10:00:00+00:00", 0, 0, 0, 0, 1, 0)]),
    # The same events filtered to sms: only events with that source; u1's first sms goal is
    # at 10:30; u2's click has no source; delivered/read of sms are not reported (null).
    ("channel_filter",
     [flow(), msg("m1", "u1", "sms", "delivered", at="2026-11-01T09:05:00Z"),
      msg("m2", "u2", "whatsapp", "read", at="2026-11-01T09:05:00Z"),
      act("click", "u1", "sms", at="2026-11-01T09:00:00Z"),
      act("click", "u1", "sms", at="2026-11-01T09:30:00Z"),
      act("click", "u2", at="2026-11-01T10:00:00Z"),
      act("goal_achieved", "u1", "sms", at="2026-11-01T10:30:00Z"),
      act("goal_achieved", "u1", "whatsapp", at="2026-11-01T09:15:00Z")],
     "UTC", "hour", "sms",
     [("2026-11-01T09:00:00+00:00", 1, None, None, 0, 2, 0),
      ("2026-11-01T10:00:00+00:00", 0, None, None, 0, 0, 1)]),
    ("channel_filter_delivery_reporting_channel",
     [flow(), msg("m1", "u1", "sms", "delivered", at="2026-11-01T09:05:00Z"),
      msg("m2", "u2", "whatsapp", "read", at="2026-11-01T09:05:00Z"),
      act("goal_achieved", "u1", "whatsapp", at="2026-11-01T09:15:00Z")],
     "UTC", "hour", "whatsapp",
     [("2026-11-01T09:00:00+00:00", 1, 1, 1, 0, 0, 1)]),
    ("no_events_no_buckets", [flow(), msg("m1", "u1", "sms", "queued")], "UTC", "hour", None,
     []),
    # u1's first goal is at 09:00 (no channel), their first WhatsApp goal at 11:40: the 11:30
    # slot is in WhatsApp's rows only, which the flow-wide timeline must pass over.
    ("a_later_first_goal_on_a_channel",
     [flow(), msg("m1", "u0", "whatsapp", "read", at="2026-11-01T09:00:00Z"),
      act("goal_achieved", "u1", "whatsapp", at="2026-11-01T11:40:00Z"),
      act("goal_achieved", "u1", at="2026-11-01T09:00:00Z")],
     "UTC", "hour", None,
     [("2026-11-01T09:00:00+00:00", 1, 1, 1, 0, 0, 1)]),
]  # fmt: skip


@pytest.mark.parametrize(("events", "zone", "bucket", "channel", "expected"),
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])  # fmt: skip
def test_bucket_rule(
    store_engine: Engine,
    events: list[dict[str, Any]],
    zone: str,
    bucket: str,
    channel: str | None,
    expected: list[Row],
) -> None:
    ingest(store_engine, *events)
    data = timeline(store_engine, zone=zone, bucket=bucket, channel=channel)
    names = ("start", "sent", "delivered", "read", "failed", "clicks", "goals")
    assert data["series"] == [dict(zip(names, row, strict=True)) for row in expected]
    assert (data["bucket"], data["time_zone"], data["channel"]) == (bucket, zone, channel)


def test_late_events_move_messages_and_goals_to_the_right_bucket(store_engine: Engine) -> None:
    ingest(store_engine, flow(), msg("m1", "u1", "whatsapp", "read", at="2026-11-01T12:10:00Z"),
           act("goal_achieved", "u1", "whatsapp", at="2026-11-01T12:20:00Z"))  # fmt: skip
    # Later batches bring earlier events: the "sent" at 09:00, the "delivered" at 10:00 and
    # a goal at 11:00 the provider reported late.
    ingest(store_engine, msg("m1", "u1", "whatsapp", "sent", at="2026-11-01T09:00:00Z"))
    ingest(store_engine, msg("m1", "u1", "whatsapp", "delivered", at="2026-11-01T10:00:00Z"),
           act("goal_achieved", "u1", "whatsapp", at="2026-11-01T11:00:00Z"))  # fmt: skip
    series = timeline(store_engine)["series"]
    assert [
        (p["start"][11:16], p["sent"], p["delivered"], p["read"], p["goals"]) for p in series
    ] == [
        ("09:00", 1, 0, 0, 0),
        ("10:00", 0, 1, 0, 0),
        ("11:00", 0, 0, 0, 1),
        ("12:00", 0, 0, 1, 0),
    ]


def test_contract_json_shape(store_engine: Engine) -> None:
    ingest(store_engine, flow(), msg("m1", "u1", "whatsapp", "read", at="2026-11-01T03:35:00Z"))
    data = timeline(store_engine, zone="Asia/Kolkata")
    assert list(data) == ["flow", "channel", "bucket", "time_zone", "series", "generated_at"]
    assert data["flow"] == kpis(store_engine)["flow"]
    assert data["series"] == [{"start": "2026-11-01T09:00:00+05:30", "sent": 1, "delivered": 1,
                               "read": 1, "failed": 0, "clicks": 0, "goals": 0}]  # fmt: skip
    assert data["generated_at"] == "2026-11-27T09:00:00Z"
