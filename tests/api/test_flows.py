"""PUT /api/v1/flows/{id} and GET /api/v1/flows/{id}/kpis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from tests.api.conftest import sqlite_only
from tests.support import act, kpis, msg

Kpis = Callable[..., tuple[int, Any]]
FLOW = "/api/v1/flows/wf_42"


def test_put_creates_then_updates_a_flow(client: httpx.Client) -> None:
    fields = {"name": "Diwali offers", "status": "scheduled", "channels": ["WhatsApp", "sms"]}
    created = client.put(FLOW, json=fields | {"audience": 5000})
    assert created.status_code == 201
    assert created.json() | {"created_at": "", "updated_at": ""} == {
        "bot_id": "b1", "workflow_id": "wf_42", "name": "Diwali offers", "status": "scheduled",
        "goal": None, "audience": 5000, "channels": ["sms", "whatsapp"], "scheduled_at": None,
        "created_at": "", "updated_at": "",
    }  # fmt: skip
    updated = client.put(FLOW, json={"status": "live", "scheduled_at": "2026-11-01T14:30+05:30"})
    assert updated.status_code == 200
    assert updated.json()["name"] == "Diwali offers"  # fields left out keep their value
    assert updated.json()["status"] == "live"
    assert updated.json()["scheduled_at"] == "2026-11-01T09:00:00Z"


def test_put_rejects_bad_fields_by_name_and_writes_nothing(
    client: httpx.Client, kpis_of: Kpis
) -> None:
    cases = [
        ({"status": "finished"}, "status"),
        ({"name": None}, "name"),
        ({"bot_id": "b2", "name": "x"}, "bot_id"),
        ({"audience": -1}, "audience"),
        ({"owner": "me"}, "owner"),
    ]
    for body, field in cases:
        response = client.put(FLOW, json=body)
        assert response.status_code == 422, body
        assert [e["field"] for e in response.json()["errors"]] == [field]
    assert client.put(FLOW, content=b"[]", headers={"Content-Type": "application/json"}).json()[
        "errors"
    ] == [{"index": None, "line": None, "field": None, "message": "expected a JSON object"}]
    assert kpis_of()[0] == 404


def test_kpis_are_the_contract_json_of_the_key_bot_flow(
    client: httpx.Client, store_engine: Engine, kpis_of: Kpis
) -> None:
    client.put(FLOW, json={"name": "Diwali offers", "status": "completed", "goal": "purchase"})
    events = [
        msg("m-1", "u1", "whatsapp", "read"),
        msg("m-2", "u2", "sms", "failed", error_code="30007", comments="Carrier filtered"),
        act("click", "u1", "whatsapp"),
        act("goal_achieved", "u1", "whatsapp"),
    ]
    assert client.post("/api/v1/events", json=events).status_code == 200
    status, report = kpis_of()
    assert status == 200
    expected = kpis(store_engine)  # what `campaign-bot kpis wf_42 --json` prints
    expected.pop("generated_at")
    assert report == expected
    assert report["overview"]["goal_conversion"] == 1
    status, whatsapp = kpis_of(f"{FLOW}/kpis?channel=WhatsApp")
    expected = kpis(store_engine, channel="whatsapp")
    expected.pop("generated_at")
    assert (status, whatsapp) == (200, expected)
    assert whatsapp["channel"] == "whatsapp"


@sqlite_only
def test_kpis_explain_what_is_missing(client: httpx.Client, kpis_of: Kpis) -> None:
    assert kpis_of() == (404, {"detail": "bot 'b1' has no flow 'wf_42'"})
    client.put(FLOW, json={"status": "draft", "channels": ["sms"]})
    status, body = kpis_of()
    assert status == 409
    assert "reports exist only for scheduled, live and completed flows" in body["detail"]
    client.put(FLOW, json={"status": "completed"})
    status, body = kpis_of(f"{FLOW}/kpis?channel=fax")
    assert status == 422
    [error] = body["errors"]
    assert error["field"] == "channel"
    assert error["message"] == "the flow has no channel 'fax'; its channels: sms"
    status, body = kpis_of(f"{FLOW}/kpis?channel=%20")
    assert (status, body["errors"][0]["field"]) == (422, "channel")


@sqlite_only
def test_openapi_describes_every_route_with_the_api_key(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    operations = {
        (path, method): operation
        for path, item in document["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in item.items()
    }
    assert set(operations) == {
        ("/api/v1/events", "post"),
        ("/api/v1/flows/{workflow_id}", "put"),
        ("/api/v1/flows/{workflow_id}/kpis", "get"),
        ("/api/v1/flows/{workflow_id}/timeline", "get"),
    }
    for operation in operations.values():
        assert operation["security"] == [{"ApiKey": []}]
        assert "401" in operation["responses"]
    body = operations[("/api/v1/events", "post")]["requestBody"]["content"]
    assert set(body) == {"application/json", "application/x-ndjson"}
    assert {"FlowEvent", "MessageEvent", "UserActionEvent", "FlowFields"} <= set(
        document["components"]["schemas"]
    )
