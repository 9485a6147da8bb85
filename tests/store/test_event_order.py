"""Property: the KPIs of a flow do not depend on the order or batching of its events."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from store.vocabulary import STATUS_SYNONYMS, USER_EVENT_TYPES
from tests.support import ingest, kpis

STATUSES = ["queued", "sent", "failed", "delivered", "read", *STATUS_SYNONYMS]
SOURCES = ["whatsapp", "sms", "email"]
TIMES = ["2026-11-01T09:00:00Z", "2026-11-01T09:00:01Z", "2026-11-01T09:05:00Z"]
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


def _without_identity(data: dict[str, Any]) -> dict[str, Any]:
    return data | {
        "flow": {k: v for k, v in data["flow"].items() if k not in ("workflow_id", "name")}
    }


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=flow_events(), data=st.data())
def test_any_order_and_batching_gives_the_same_kpis(
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
        assert _without_identity(kpis(store_engine, first, channel)) == _without_identity(
            kpis(store_engine, second, channel)
        )
