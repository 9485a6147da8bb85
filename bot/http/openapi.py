"""``/openapi.json``: the hand-written request bodies described from the event models."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import TypeAdapter

from bot.http.flows import FLOW_KEYS_FROM_REQUEST
from store.events import Event, FlowEvent
from store.vocabulary import FLOW_STATUSES, SOURCE_PATTERN, STATUS_RANK, STATUS_SYNONYMS


def _component_schemas() -> dict[str, Any]:
    """Schemas the hand-written request bodies refer to: every event type, and a flow's fields."""
    ref = "#/components/schemas/{model}"
    event = TypeAdapter(Event).json_schema(ref_template=ref)
    schemas: dict[str, Any] = event.pop("$defs")
    schemas["Event"] = event
    fields = FlowEvent.model_json_schema(ref_template=ref)
    for key in FLOW_KEYS_FROM_REQUEST:
        fields["properties"].pop(key)
    fields.pop("required", None)
    fields["title"] = "FlowFields"
    fields["description"] = "The fields of a flow to set; those left out keep their value."
    schemas["FlowFields"] = fields
    for name in ("FlowEvent", "FlowFields"):
        _tighten_flow_schema(schemas[name]["properties"])
    source = {"type": "string", "pattern": SOURCE_PATTERN.pattern}
    message = schemas["MessageEvent"]["properties"]
    message["status"] = {"type": "string", "enum": [*STATUS_RANK, *STATUS_SYNONYMS]}
    message["source"] = source
    schemas["UserActionEvent"]["properties"]["source"] = {"anyOf": [source, {"type": "null"}]}
    return schemas


NOT_NULL_FLOW_FIELDS = ("name", "status", "channels", "created_at")  # present means not null


def _tighten_flow_schema(properties: dict[str, Any]) -> None:
    """Say what pydantic's schema cannot: which fields refuse null, the statuses, the limits."""
    for name in NOT_NULL_FLOW_FIELDS:
        variants = properties[name].pop("anyOf")
        properties[name].pop("default", None)
        properties[name].update(next(v for v in variants if v.get("type") != "null"))
    properties["status"] = {"type": "string", "enum": list(FLOW_STATUSES)}
    properties["channels"]["items"] = {"type": "string", "pattern": SOURCE_PATTERN.pattern}


def describe_bodies(app: FastAPI) -> None:
    """Add the request-body schemas to ``app``'s OpenAPI document."""
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build_openapi()
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                _component_schemas()
            )
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
