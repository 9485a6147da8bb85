"""Values past the event format's bounds, sent over HTTP: 422 naming the field, nothing written.

(The bounds themselves, field by field, are in tests/store/test_event_bounds.py.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support import msg

Kpis = Callable[..., tuple[int, Any]]
HEAD = json.dumps(msg("m-1", "u1", "sms", "failed"))[:-1]  # the event's JSON without its "}"

# (the tail of the event's JSON text, the field) — as raw text, so that what a client may send
# but Python would never write (a lone surrogate escape) is sent too.
PAST_BOUNDS = [
    (', "error_code": -1' + "0" * 100 + "}", "error_code"),
    (', "error_code": 2147483648}', "error_code"),
    (', "custom_payload": {"k": "\\ud800"}}', "custom_payload"),
    (', "comments": "\\udfff"}', "comments"),
    (', "custom_payload": ' + "[" * 100 + "]" * 100 + "}", "custom_payload"),
    (', "custom_payload": "' + "x" * (1024 * 1024) + '"}', "custom_payload"),
    (', "scheduled_at": "9999-12-31T12:00:00Z"}', "scheduled_at"),
]


@pytest.mark.parametrize("media_type", ["application/json", "application/x-ndjson"])
def test_values_past_their_bounds_are_422_naming_the_field(
    client: httpx.Client, kpis_of: Kpis, media_type: str
) -> None:
    for tail, field in PAST_BOUNDS:
        event = HEAD + tail
        body = f"[{event}]" if media_type == "application/json" else event + "\n"
        response = client.post(
            "/api/v1/events", content=body.encode(), headers={"Content-Type": media_type}
        )
        assert response.status_code == 422, (tail[:60], response.text[:300])
        assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(0, field)], tail[
            :60
        ]
    assert kpis_of()[0] == 404  # nothing was written, not even the flow
