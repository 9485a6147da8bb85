"""DESIGN.md "Rates": one hand-computed case per rule, on SQLite and PostgreSQL.

Every expected value below was worked out by hand from the events of its case.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine

from tests.support import act, flow, ingest, kpis, msg

# whatsapp: read, delivered, delivered, failed, queued → 4 notifications, 1 failed,
#           delivered-or-read 3, read 1
# sms:      sent ×2, failed → 3 notifications, 1 failed (delivery not reported)
MIXED = [
    flow(),
    msg("w1", "u1", "whatsapp", "read"),
    msg("w2", "u2", "whatsapp", "delivered"),
    msg("w3", "u3", "whatsapp", "delivered"),
    msg("w4", "u4", "whatsapp", "failed"),
    msg("w5", "u5", "whatsapp", "queued"),
    msg("s1", "u1", "sms", "sent"),
    msg("s2", "u6", "sms", "sent"),
    msg("s3", "u7", "sms", "failed"),
    act("click", "u1", "whatsapp"),
    act("click", "u6", "sms"),
    act("click", "u6", "sms"),  # the same user twice: one unique click
    act("goal_achieved", "u2", "whatsapp"),
]

# (id, events, channel, rates expected)
CASES: list[tuple[str, list[dict[str, Any]], str | None, dict[str, float | None]]] = [
    # reach: u1 u2 u3 (whatsapp delivered/read), u1 u6 (sms sent) → 4 users
    ("all_channels", MIXED, None,
     {"failure_rate": 28.6,          # 2 failed / 7 notifications = 28.57…
      "click_through_rate": 50.0,    # 2 unique clicks (u1, u6) / 4 reach
      "read_rate": 33.3,             # whatsapp only: 1 read / 3 delivered
      "goal_conversion_rate": 25.0}),  # 1 goal user / 4 reach
    ("whatsapp_only", MIXED, "whatsapp",
     {"failure_rate": 25.0,          # 1 / 4
      "click_through_rate": 33.3,    # u1 clicked on whatsapp / reach u1 u2 u3
      "read_rate": 33.3,
      "goal_conversion_rate": 33.3}),  # u2 / 3
    ("sms_only_has_no_read_rate", MIXED, "sms",
     {"failure_rate": 33.3,          # 1 / 3
      "click_through_rate": 50.0,    # u6 / reach u1 u6
      "read_rate": None,             # sms does not report delivery
      "goal_conversion_rate": 0.0}),
    ("half_rounds_up",
     [flow(), *(msg(f"m{i}", f"u{i}", "sms", "sent") for i in range(15)),
      msg("m15", "u15", "sms", "failed")],
     None,
     {"failure_rate": 6.3,           # 1 / 16 = 6.25 → 6.3 (half up, not half even)
      "click_through_rate": 0.0, "read_rate": None, "goal_conversion_rate": 0.0}),
    ("nothing_sent_is_null_not_zero",
     [flow(), msg("m1", "u1", "whatsapp", "queued"), act("click", "u1", "whatsapp")],
     None,
     {"failure_rate": None, "click_through_rate": None, "read_rate": None,
      "goal_conversion_rate": None}),
    ("read_rate_null_when_reporting_channel_delivered_nothing",
     [flow(), msg("m1", "u1", "whatsapp", "sent"), msg("m2", "u2", "whatsapp", "failed")],
     None,
     {"failure_rate": 50.0, "click_through_rate": None, "read_rate": None,
      "goal_conversion_rate": None}),
    ("no_goal_no_goal_rate",
     [flow(goal=None), msg("m1", "u1", "sms", "sent"), act("goal_achieved", "u1", "sms")],
     None,
     {"failure_rate": 0.0, "click_through_rate": 0.0, "read_rate": None,
      "goal_conversion_rate": None}),
]  # fmt: skip


@pytest.mark.parametrize(("events", "channel", "expected"),
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])  # fmt: skip
def test_rates(
    store_engine: Engine,
    events: list[dict[str, Any]],
    channel: str | None,
    expected: dict[str, float | None],
) -> None:
    ingest(store_engine, *events)
    assert kpis(store_engine, channel=channel)["rates"] == expected


def test_each_channel_row_has_its_failure_rate(store_engine: Engine) -> None:
    ingest(store_engine, *MIXED)
    rows = {row["channel"]: row["failure_rate"] for row in kpis(store_engine)["channels"]}
    assert rows == {"whatsapp": 25.0, "sms": 33.3}  # 1/4 and 1/3
