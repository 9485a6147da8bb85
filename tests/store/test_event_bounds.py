"""Every field of the event format has a bound both databases keep (issue 10, #7).

For each field: a value at its bound is stored and read back unchanged, on SQLite and on
PostgreSQL; a value just past it is refused with the field's name, and nothing is written.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.events import EventError, parse_event, parse_event_json
from store.models import EventReceipt, Flow, Message, UserEvent
from tests.support import act, flow, ingest, msg

# The documented bounds (README, Event format).
MAX_INT = 2**31 - 1  # PostgreSQL INTEGER
MAX_CHANNELS = 100
MAX_PAYLOAD_CHARS = 1024 * 1024  # compact JSON, as the CSV export writes it
MAX_PAYLOAD_DEPTH = 64
É = "é"  # two bytes in UTF-8: VARCHAR lengths count characters on both databases
MIN_TIME, BEFORE_MIN = "0001-01-02T00:00:00Z", "0001-01-01T23:59:59.999999Z"
MAX_TIME, AFTER_MAX = "9999-12-30T23:59:59.999999Z", "9999-12-31T00:00:00Z"


def _sized_payload(chars: int) -> dict[str, str]:
    """A payload whose compact JSON is exactly ``chars`` characters long."""
    payload = {"k": ""}
    payload["k"] = "x" * (chars - len(json.dumps(payload, separators=(",", ":"))))
    return payload


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def _channels(count: int) -> list[str]:
    return [f"c{n:03d}" for n in range(count)]


# (event builder, field, a value at the bound, a value past it)
BOUNDS: list[tuple[str, str, Any, Any]] = [
    ("flow", "bot_id", "b" * 128, "b" * 129),
    ("flow", "workflow_id", É * 128, É * 129),
    ("flow", "name", É * 300, É * 301),
    ("flow", "goal", É * 300, É * 301),
    ("flow", "status", "Archived", "finished"),
    ("flow", "audience", MAX_INT, MAX_INT + 1),
    ("flow", "audience", 0, -1),
    ("flow", "channels", _channels(MAX_CHANNELS), _channels(MAX_CHANNELS + 1)),
    ("flow", "channels", ["c" * 32], ["c" * 33]),
    ("flow", "scheduled_at", MAX_TIME, AFTER_MAX),
    ("flow", "created_at", MIN_TIME, BEFORE_MIN),
    ("message", "message_id", É * 200, É * 201),
    ("message", "user_id", É * 320, É * 321),
    ("message", "source", "s" * 32, "s" * 33),
    ("message", "status", "REJECTED", "exploded"),
    ("message", "at", MIN_TIME, BEFORE_MIN),
    ("message", "at", MAX_TIME, AFTER_MAX),
    ("message", "template_id", É * 200, É * 201),
    ("message", "ip_address", É * 64, É * 65),
    ("message", "sent_by", É * 320, É * 321),
    ("message", "comments", É * 2000, É * 2001),
    ("message", "error_code", É * 64, É * 65),
    ("message", "error_code", MAX_INT, MAX_INT + 1),
    ("message", "error_code", -MAX_INT - 1, -MAX_INT - 2),
    ("message", "error_code", 0, -(10**100)),
    (
        "message",
        "custom_payload",
        _sized_payload(MAX_PAYLOAD_CHARS),
        _sized_payload(MAX_PAYLOAD_CHARS + 1),
    ),
    ("message", "custom_payload", _nested(MAX_PAYLOAD_DEPTH), _nested(MAX_PAYLOAD_DEPTH + 1)),
    ("message", "custom_payload", {"n": 10**4299, "s": "Ω\U0001f600"}, {"n": "\ud800"}),
    ("message", "scheduled_at", MAX_TIME, AFTER_MAX),
    ("message", "created_at", MIN_TIME, BEFORE_MIN),
    ("message", "event_id", É * 200, É * 201),
    ("click", "user_id", É * 320, É * 321),
    ("click", "source", "s" * 32, "s" * 33),
    ("click", "message_id", É * 200, É * 201),
    ("click", "url", "https://x.example/" + É * 1982, "https://x.example/" + É * 1983),
    ("click", "at", MAX_TIME, AFTER_MAX),
    ("click", "event_id", É * 200, É * 201),
]
IDS = [f"{kind}.{field}[{i}]" for i, (kind, field, _, _) in enumerate(BOUNDS)]


def _event(kind: str, field: str, value: Any) -> dict[str, Any]:
    if kind == "flow":
        return flow(**{field: value})
    if kind == "message":
        base = msg("m-1", "u1", "sms", "failed", event_id="e-1")
        return base | {field: value}
    return act(kind, "u1", "sms", event_id="e-1") | {field: value}


def _stored(engine: Engine, kind: str, field: str) -> Any:
    """The value of ``field`` as the store gives it back."""
    table, column = {
        "flow": (Flow, field),
        "message": (Message, "status_at" if field == "at" else field),
        "click": (UserEvent, field),
    }[kind]
    if field == "event_id":
        table = EventReceipt
    if field == "bot_id":
        column = "bot_id"
    with engine.connect() as conn:
        return conn.execute(sa.select(table.__table__.c[column])).scalar_one()


def _as_written(field: str, value: Any, stored: Any) -> Any:
    """``stored`` in the form the event gave it (times as ``…Z``, statuses lower-case…)."""
    if field in ("at", "scheduled_at", "created_at"):
        return stored.isoformat().replace("+00:00", "Z")
    if field == "error_code" and isinstance(value, int):
        return int(stored)
    if field == "status":
        return stored
    return stored


def _rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return sum(
            conn.execute(sa.select(sa.func.count()).select_from(t.__table__)).scalar_one()
            for t in (Flow, Message, UserEvent, EventReceipt)
        )


@pytest.mark.parametrize(("kind", "field", "at_bound", "past_bound"), BOUNDS, ids=IDS)
def test_a_value_at_its_bound_is_kept_and_one_past_it_is_refused_by_name(
    store_engine: Engine, kind: str, field: str, at_bound: Any, past_bound: Any
) -> None:
    with pytest.raises(EventError) as refused:
        ingest(store_engine, _event(kind, field, past_bound))
    assert refused.value.field == field, refused.value
    assert _rows(store_engine) == 0  # nothing of the refused event was written

    ingest(store_engine, _event(kind, field, at_bound))
    stored = _as_written(field, at_bound, _stored(store_engine, kind, field))
    expected = at_bound
    if field == "status":
        expected = at_bound.lower() if kind == "flow" else "failed"
    if field == "channels":
        expected = sorted(at_bound)
    if field == "error_code" and isinstance(at_bound, str):
        expected = at_bound
    assert stored == expected


@pytest.mark.parametrize(("kind", "field", "at_bound", "past_bound"), BOUNDS, ids=IDS)
def test_ndjson_text_past_a_bound_names_the_field(
    kind: str, field: str, at_bound: Any, past_bound: Any
) -> None:
    # As an NDJSON line (or the HTTP API's body) carries it: JSON text, parsed by pydantic-core.
    line = json.dumps(_event(kind, field, past_bound))
    with pytest.raises(EventError) as refused:
        parse_event_json(line, "events.ndjson:7")
    assert refused.value.field == field, refused.value
    assert str(refused.value).startswith(f"events.ndjson:7: {field}: ")
    assert parse_event(_event(kind, field, at_bound), "x").type == kind


# A payload that is a bare number, as JSON text stored in a column that SQLite declares JSON
# (NUMERIC affinity) became a REAL or INTEGER: 1.0 came back as 1, -0.0 as 0, integers past
# 64 bits and some doubles (SQLite's text-to-float is not always exact) changed value.
BARE_NUMBERS = [
    0.1, 1.0, -0.0, 1e5, 1.7976931348623157e308, 5e-324, -2.2606631148481385e-299,
    1.829402849984213e-298, 12345678901234567890, -(2**63), 2**63, 10**4299,
]  # fmt: skip


@pytest.mark.parametrize("number", BARE_NUMBERS, ids=lambda n: repr(n)[:24])
def test_a_payload_that_is_a_bare_number_is_kept_exactly(
    store_engine: Engine, number: float | int
) -> None:
    ingest(store_engine, msg("m-1", "u1", "sms", "sent", custom_payload=number))
    stored = _stored(store_engine, "message", "custom_payload")
    assert (type(stored), repr(stored)) == (type(number), repr(number))
