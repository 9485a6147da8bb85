"""POST /api/v1/events: batches are checked whole, then applied all or nothing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from store.api_keys import create_api_key
from tests.api.conftest import sqlite_only
from tests.support import act, flow, msg

Kpis = Callable[..., tuple[int, Any]]

BATCH = [
    flow(audience=100, channels=["whatsapp", "sms"]),
    msg("m-1", "u1", "whatsapp", "delivered", event_id="e-1"),
    msg("m-1", "u1", "whatsapp", "read", at="2026-11-01T09:05:00Z", event_id="e-2"),
    msg(
        "m-2",
        "u2",
        "sms",
        "failed",
        error_code="30007",
        comments="Carrier filtered",
        event_id="e-3",
    ),
    act("click", "u1", "whatsapp", url="https://acme.example/offer", event_id="e-4"),
    act("flow_entered", "u2", event_id="e-5"),
]


def ndjson(events: list[dict[str, Any]]) -> bytes:
    """Events as NDJSON."""
    return b"".join(json.dumps(event).encode() + b"\n" for event in events)


def test_batch_is_counted_and_moves_the_kpis(client: httpx.Client, kpis_of: Kpis) -> None:
    response = client.post("/api/v1/events", json=BATCH)
    assert response.status_code == 200
    assert response.json() == {"accepted": 6, "duplicates": 0, "flows_created": 1}
    status, report = kpis_of()
    assert status == 200
    assert report["overview"]["number_of_events"] == 5
    assert report["overview"]["unique_clicks"] == 1
    assert report["analysis"]["impressions"] == 1
    assert [c["channel"] for c in report["channels"]] == ["sms", "whatsapp"]


def test_resending_a_batch_with_event_ids_changes_nothing(
    client: httpx.Client, kpis_of: Kpis
) -> None:
    events = BATCH[1:]  # every one carries an event_id
    assert client.post("/api/v1/events", json=events).json()["accepted"] == 5
    before = kpis_of()
    again = client.post("/api/v1/events", json=events)
    assert again.json() == {"accepted": 0, "duplicates": 5, "flows_created": 0}
    assert kpis_of() == before


def test_ndjson_body_is_accepted_like_json(client: httpx.Client, kpis_of: Kpis) -> None:
    response = client.post(
        "/api/v1/events",
        content=ndjson(BATCH) + b"\n",  # a trailing blank line is fine
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert response.json() == {"accepted": 6, "duplicates": 0, "flows_created": 1}
    assert kpis_of()[1]["overview"]["number_of_events"] == 5


@sqlite_only
def test_missing_or_bad_key_is_401_and_writes_nothing(
    anonymous: httpx.Client, kpis_of: Kpis
) -> None:
    unknown = "Bearer crb_" + "A" * 43
    for authorization in [None, unknown, "Bearer not-a-key", "Basic dXNlcjpwYXNz", "Bearer"]:
        headers = {} if authorization is None else {"Authorization": authorization}
        response = anonymous.post("/api/v1/events", json=BATCH, headers=headers)
        assert response.status_code == 401, authorization
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "API key" in response.json()["detail"]
    assert kpis_of()[0] == 404


def test_event_for_another_bot_is_403_and_writes_nothing(
    client: httpx.Client, kpis_of: Kpis
) -> None:
    foreign = msg("m-9", "u9", "sms", "sent") | {"bot_id": "someone-else"}
    response = client.post("/api/v1/events", json=[*BATCH, foreign])
    assert response.status_code == 403
    assert response.json() == {"detail": "item 6: bot_id is not this API key's bot 'b1'"}
    assert kpis_of()[0] == 404


@sqlite_only
def test_a_key_works_only_for_its_own_bot(
    base_url: str, store_engine: Engine, client: httpx.Client
) -> None:
    assert client.post("/api/v1/events", json=BATCH).status_code == 200
    other_key = create_api_key(store_engine, "b2").token
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {other_key}"}) as b2:
        assert b2.post("/api/v1/events", json=BATCH).status_code == 403
        assert b2.get("/api/v1/flows/wf_42/kpis").status_code == 404


def test_every_invalid_item_is_listed_and_nothing_is_written(
    client: httpx.Client, kpis_of: Kpis
) -> None:
    bad = [
        *BATCH,
        msg("m-3", "u3", "sms", "lost"),
        {"type": "click", "bot_id": "b1", "workflow_id": "wf_42", "at": "2026-11-01T10:00:00Z"},
        "not an object",
        act("reply", "u1", colour="red"),
    ]
    response = client.post("/api/v1/events", json=bad)
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "4 invalid event(s); nothing was written"
    errors = [(e["index"], e["field"]) for e in body["errors"]]
    assert errors == [(6, "status"), (7, "user_id"), (8, None), (9, "colour")]
    assert "unknown status 'lost'" in body["errors"][0]["message"]
    assert kpis_of()[0] == 404


@sqlite_only
def test_ndjson_errors_name_the_line(client: httpx.Client) -> None:
    body = ndjson(BATCH[:2]) + b"\n{not json\n" + ndjson([msg("m-5", "u5", "fax!", "sent")])
    response = client.post(
        "/api/v1/events", content=body, headers={"Content-Type": "application/x-ndjson"}
    )
    assert response.status_code == 422
    errors = [(e["index"], e["line"], e["field"]) for e in response.json()["errors"]]
    assert errors == [(2, 4, None), (3, 5, "source")]


def test_conflict_found_while_applying_is_422_and_writes_nothing(
    client: httpx.Client, kpis_of: Kpis
) -> None:
    assert client.post("/api/v1/events", json=BATCH[:2]).status_code == 200
    before = kpis_of()
    moved = msg("m-1", "u1", "sms", "read", at="2026-11-02T09:00:00Z")  # m-1 was whatsapp
    response = client.post("/api/v1/events", json=[BATCH[4], moved])
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["index"], error["field"]) == (1, "source")
    assert kpis_of() == before


STORE_LIMITS = [
    (flow(name="Diwali\x00offers"), "name"),
    (msg("m-1", "u1", "sms", "sent", custom_payload={"k": ["ok", "a\x00b"]}), "custom_payload"),
    (flow(audience=2**40), "audience"),
    (flow(created_at=None), "created_at"),
    (act("click", "u1", at="0001-01-01T00:00:00+05:00"), "at"),
]


def test_values_the_store_cannot_keep_are_422_naming_the_field(
    client: httpx.Client, kpis_of: Kpis
) -> None:
    for event, field in STORE_LIMITS:
        response = client.post("/api/v1/events", json=[event])
        assert response.status_code == 422, event
        assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(0, field)]
    payload_error = client.post("/api/v1/events", json=[STORE_LIMITS[1][0]]).json()["errors"][0]
    assert payload_error["message"] == "NUL characters are not allowed (at k.1)"
    assert kpis_of()[0] == 404


@sqlite_only
def test_more_than_10000_events_is_413(client: httpx.Client, kpis_of: Kpis) -> None:
    events = [act("flow_entered", f"u{i}") for i in range(10_001)]
    response = client.post("/api/v1/events", json=events)
    assert response.status_code == 413
    assert "10,000" in response.json()["detail"]
    assert kpis_of()[0] == 404


@sqlite_only
def test_body_over_10_mb_is_413_even_without_a_content_length(
    client: httpx.Client, kpis_of: Kpis
) -> None:
    line = json.dumps(act("comment", "u1")).encode() + b"\n"
    chunk = line * (64 * 1024 // len(line))

    def chunks() -> Iterator[bytes]:  # a generator body goes out chunked, with no length
        for _ in range(11 * 1024 * 1024 // len(chunk)):
            yield chunk

    response = client.post(
        "/api/v1/events", content=chunks(), headers={"Content-Type": "application/x-ndjson"}
    )
    assert response.status_code == 413
    assert "10,485,760 bytes" in response.json()["detail"]
    assert kpis_of()[0] == 404


@sqlite_only
def test_other_content_types_are_415(client: httpx.Client) -> None:
    for content_type in ["text/plain", "application/xml", None]:
        headers = {} if content_type is None else {"Content-Type": content_type}
        response = client.post("/api/v1/events", content=json.dumps(BATCH), headers=headers)
        assert response.status_code == 415, content_type
        assert "application/json or application/x-ndjson" in response.json()["detail"]


@sqlite_only
def test_a_body_that_is_not_a_json_array_is_422(client: httpx.Client) -> None:
    cases = [
        (b"[1, 2", "the body is not valid JSON"),
        (b'{"type": "flow"}', "the body is not a JSON array"),
        (b"[NaN]", "the body is not valid JSON"),
        (b"[" * 100_000, "the body is not valid JSON"),  # deeper than the parser goes
    ]
    for body, detail in cases:
        response = client.post(
            "/api/v1/events", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, body[:20]
        assert response.json()["detail"] == detail
