"""Reading a batch: the fast path (valid batches) and the careful path agree on everything."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.http.batches import JSON, NDJSON, BatchRejected, BatchTooLarge, check_body
from store.demo import generate_demo_events
from store.events import EventError, parse_event
from tests.support import act, flow, msg

VALID = list(generate_demo_events(30, 3))
INVALID = [
    (msg("m-1", "u1", "sms", "lost"), "status"),
    (act("click", "u1", at="yesterday"), "at"),
    (act("click", "u1") | {"bot_id": 7}, "bot_id"),
    (flow(audience=2**40), "audience"),
    (flow(status=None), "status"),
    (flow(goal="a\x00b"), "goal"),
    ({"type": "vote", "bot_id": "b1"}, "type"),
    ([1, 2], None),
]


def encode(items: list[Any], media_type: str) -> bytes:
    """A body of ``items`` in ``media_type`` (NaN written the way Python's json writes it)."""
    if media_type == JSON:
        return json.dumps(items).encode()
    return b"\n".join(json.dumps(item).encode() for item in items)


@pytest.mark.parametrize("media_type", [JSON, NDJSON])
def test_a_valid_batch_reads_as_each_event_alone(media_type: str) -> None:
    checked, _ = check_body(encode(VALID, media_type), media_type)
    expected = [parse_event(item, f"item {i}") for i, item in enumerate(VALID)]
    assert [event for event, _ in checked] == expected
    assert [bot for _, bot in checked] == [item["bot_id"] for item in VALID]


@pytest.mark.parametrize("media_type", [JSON, NDJSON])
def test_every_bad_item_is_named_with_its_field(media_type: str) -> None:
    items = [VALID[0], *(item for item, _ in INVALID), VALID[1]]
    checked, lines = check_body(encode(items, media_type), media_type)
    problems = [(i, r.field) for i, (r, _) in enumerate(checked) if isinstance(r, EventError)]
    assert problems == [(i, field) for i, (_, field) in enumerate(INVALID, start=1)]
    assert lines == (list(range(1, len(items) + 1)) if media_type == NDJSON else [None] * 10)


def test_an_invalid_item_still_says_which_bot_it_claims() -> None:
    bad = msg("m-1", "u1", "sms", "lost") | {"bot_id": " other "}
    for media_type in (JSON, NDJSON):
        [(result, claimed)] = check_body(encode([bad], media_type), media_type)[0]
        assert isinstance(result, EventError)
        assert claimed == "other"


def test_limits_and_shapes() -> None:
    entered = act("flow_entered", "u1")
    for media_type in (JSON, NDJSON):
        with pytest.raises(BatchTooLarge, match="10,001 events"):
            check_body(encode([entered] * 10_001, media_type), media_type)
    with pytest.raises(BatchRejected, match="not a JSON array"):
        check_body(b'{"type": "flow"}', JSON)
    nan = msg("m-2", "u2", "sms", "sent", custom_payload={"x": float("nan")})
    with pytest.raises(BatchRejected, match="not valid JSON"):  # NaN is not JSON
        check_body(encode([nan], JSON), JSON)
    [(error, _)] = check_body(encode([nan], NDJSON), NDJSON)[0]
    assert isinstance(error, EventError)
    assert error.message == "not valid JSON"
    checked, lines = check_body(b"\n\n" + encode([entered], NDJSON) + b"\n\n", NDJSON)
    assert (len(checked), lines) == (1, [3])
