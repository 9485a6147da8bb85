"""The API's answer bodies and the refusals every route documents."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from bot.http.batches import ItemError
from store.models import Flow


class ErrorMessage(BaseModel):
    """Why a request was refused."""

    detail: str


class InvalidRequest(BaseModel):
    """A rejected request: nothing was written; ``errors`` lists every problem found."""

    detail: str
    errors: list[ItemError]


class IngestSummary(BaseModel):
    """What a batch changed: new events, repeated ``event_id`` s ignored, flows created."""

    accepted: int
    duplicates: int
    flows_created: int


class FlowOut(BaseModel):
    """A flow as stored."""

    bot_id: str
    workflow_id: str
    name: str
    status: str
    goal: str | None
    audience: int | None
    channels: list[str]
    scheduled_at: str | None
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, flow: Flow) -> FlowOut:
        """The stored ``flow`` as the API shows it (times as ``…Z``)."""

        def iso(moment: Any) -> str | None:
            return None if moment is None else moment.isoformat().replace("+00:00", "Z")

        return cls(
            bot_id=flow.bot_id,
            workflow_id=flow.workflow_id,
            name=flow.name,
            status=flow.status,
            goal=flow.goal,
            audience=flow.audience,
            channels=list(flow.channels),
            scheduled_at=iso(flow.scheduled_at),
            created_at=iso(flow.created_at) or "",
            updated_at=iso(flow.updated_at) or "",
        )


def rejection(detail: str, errors: list[ItemError]) -> JSONResponse:
    """The 422 answer: nothing was written, and here is every problem found."""
    body = InvalidRequest(detail=detail, errors=errors)
    return JSONResponse(body.model_dump(), status_code=422)


REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {
        "model": ErrorMessage,
        "description": "Missing or invalid API key.",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    },
    422: {"model": InvalidRequest, "description": "Invalid request; nothing was written."},
}
BUSY: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorMessage,
        "description": "The store stayed locked or is down; nothing was written, retry.",
        "headers": {"Retry-After": {"schema": {"type": "string"}}},
    }
}
