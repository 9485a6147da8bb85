"""Property: the KPIs and the timeline of a flow do not depend on the order or batching of
its events, and every timeline series adds up to the channel statistics."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from store.ingest.reporting import DEFAULT_DELIVERY_CHANNELS
from store.vocabulary import STATUS_SYNONYMS, USER_EVENT_TYPES
from tests.support import ingest, kpis, timeline

STATUSES = ["queued", "sent", "failed", "delivered", "read", *STATUS_SYNONYMS]
SOURCES = ["whatsapp", "sms", "email"]
# Same second, same slot, next slot, a later hour, the next local day in Asia/Kolkata.
TIMES = ["2026-11-01T09:00:00Z", "2026-11-01T09:00:01Z", "2026-11-01T09:05:00Z",
         "2026-11-01T09:20:00Z", "2026-11-01T11:40:00Z", "2026-11-01T18:31:00Z"]  # fmt: skip
_flows = itertools.count()


@st.composite
def flow_events(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A small flow's message and user events (templates: ids are filled in later)."""
    events: list[dict[str, Any]] = []
    for number in range(draw(st.integers(1, 5))):
        user = draw(st.sampled_from(["u0", "u1", "u2"]))
        source = draw(st.sampled_from(SOURCES))
        for status in draw(st.lists(st.sampled_from(STATUSES), min_size=1, max_size=4)):
            code = draw(st.sampled_from([None, "1408", "131049"]))
            events.append({"type": "message", "message_id": f"m{number}", "user_id": user,
                           "source": source, "status": status, "at": draw(st.sampled_from(TIMES)),
                           "error_code": code, "comments": draw(st.sampled_from([None, "x"]))})  # fmt: skip
    for _ in range(draw(st.integers(0, 8))):
        event = {"type": draw(st.sampled_from(USER_EVENT_TYPES)),
                 "user_id": draw(st.sampled_from(["u0", "u1", "u2", "u3"])),
                 "at": draw(st.sampled_from(TIMES))}  # fmt: skip
        source = draw(st.sampled_from([None, *SOURCES]))
        if source:
            event["source"] = source
        events.append(event)
    for number, event in enumerate(events):
        event["event_id"] = f"e{number}"
    # Re-deliveries: exact copies of some events, which must count once.
    return events + draw(st.lists(st.sampled_from(events), max_size=3))


def _for_flow(workflow_id: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = [{"type": "flow", "bot_id": "b1", "workflow_id": workflow_id, "name": workflow_id,
            "status": "completed", "goal": "purchase"}]  # fmt: skip
    for event in events:
        event = dict(event, bot_id="b1", workflow_id=workflow_id)
        event["event_id"] = f"{workflow_id}-{event['event_id']}"
        if "message_id" in event:
            event["message_id"] = f"{workflow_id}-{event['message_id']}"
        out.append(event)
    return out


def _series_sum(data: dict[str, Any], name: str) -> int | None:
    values = [point[name] for point in data["series"]]
    return None if any(v is None for v in values) else sum(values)


def _assert_series_add_up(report: dict[str, Any], line: dict[str, Any]) -> None:
    """Each series sums to the channel statistics (delivered/read: reporting channels)."""
    rows = report["channels"]
    reporting = [row for row in rows if row["delivered"] is not None]
    assert _series_sum(line, "sent") == sum(row["sent"] for row in rows)
    assert _series_sum(line, "failed") == sum(row["failed"] for row in rows)
    for name in ("delivered", "read"):
        if report["channel"] in (None, *DEFAULT_DELIVERY_CHANNELS):
            assert _series_sum(line, name) == sum(row[name] for row in reporting)
        else:
            assert all(point[name] is None for point in line["series"])
    goals = report["overview"]["goal_conversion"]  # the flow has a goal: never null
    assert _series_sum(line, "goals") == goals


def _without_identity(data: dict[str, Any]) -> dict[str, Any]:
    return data | {
        "flow": {k: v for k, v in data["flow"].items() if k not in ("workflow_id", "name")}
    }


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=flow_events(), data=st.data())
def test_any_order_and_batching_gives_the_same_kpis_and_timeline(
    store_engine: Engine, events: list[dict[str, Any]], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(events))
    cut = data.draw(st.integers(0, len(shuffled)))
    first, second = f"wf_a{next(_flows)}", f"wf_b{next(_flows)}"
    ingest(store_engine, *_for_flow(first, events))
    ordered = _for_flow(second, shuffled)
    ingest(store_engine, *ordered[: cut + 1])  # two transactions, split anywhere
    if ordered[cut + 1 :]:
        ingest(store_engine, *ordered[cut + 1 :])
    for channel in (None, "whatsapp", "sms"):
        report = kpis(store_engine, first, channel)
        assert _without_identity(report) == _without_identity(kpis(store_engine, second, channel))
        for bucket in ("hour", "day"):
            line = timeline(store_engine, first, zone="Asia/Kolkata", bucket=bucket,
                            channel=channel)  # fmt: skip
            again = timeline(store_engine, second, zone="Asia/Kolkata", bucket=bucket,
                             channel=channel)  # fmt: skip
            assert _without_identity(line) == _without_identity(again)
            _assert_series_add_up(report, line)
