"""``PUT /api/v1/flows/{workflow_id}`` (create or update) and ``GET …/kpis`` (the KPI JSON)."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.http.batches import JSON, BatchRejected, ItemError, check_data, loads
from bot.http.bodies import media_type, read_body
from bot.http.deps import BotId, EngineDep, WorkflowId
from bot.http.ingest import IngestLockDep, apply_events
from bot.http.reported import channel_filter, reportable_flow
from bot.http.schemas import BUSY, REFUSALS, ErrorMessage, FlowOut, rejection
from reports.access import bot_flow
from reports.kpis import FlowReport, compute_kpis
from store.events import EventError
from store.models import utcnow

MAX_FLOW_BODY_BYTES = 64 * 1024
FLOW_KEYS_FROM_REQUEST = ("type", "bot_id", "workflow_id")

router = APIRouter(prefix="/api/v1", tags=["ingestion"])


def _upsert_flow(
    engine: Engine, lock: threading.Lock, bot_id: str, workflow_id: str, body: bytes
) -> JSONResponse:
    """Apply the body as a ``flow`` event; 201 when it created the flow."""
    try:
        data = loads(body)
    except ValueError as exc:
        raise BatchRejected("the body is not valid JSON", [ItemError(message=str(exc))]) from None
    if not isinstance(data, dict):
        raise BatchRejected(
            "the body is not a JSON object", [ItemError(message="expected a JSON object")]
        )
    errors = [
        ItemError(field=key, message="set by the URL and the API key, not the body")
        for key in FLOW_KEYS_FROM_REQUEST
        if key in data
    ]
    if errors:
        raise BatchRejected("invalid flow; nothing was written", errors)
    event = {**data, "type": "flow", "bot_id": bot_id, "workflow_id": workflow_id}
    parsed, _ = check_data(event, "body")
    if isinstance(parsed, EventError):
        error = ItemError(field=parsed.field, message=parsed.message)
        raise BatchRejected("invalid flow; nothing was written", [error])
    result = apply_events(engine, lock, [("body", parsed)])
    with Session(engine) as session:
        flow = bot_flow(session, bot_id, parsed.workflow_id)
    if flow is None:  # just written, and flows are never deleted
        raise RuntimeError(f"flow {bot_id}/{parsed.workflow_id} vanished after its write")
    return JSONResponse(
        FlowOut.of(flow).model_dump(), status_code=201 if result.flows_created else 200
    )


_FLOW_BODY = {
    "required": True,
    "content": {JSON: {"schema": {"$ref": "#/components/schemas/FlowFields"}}},
}


@router.put(
    "/flows/{workflow_id}",
    summary="Create or update a flow",
    response_model=FlowOut,
    openapi_extra={"requestBody": _FLOW_BODY},
    responses={
        **REFUSALS,
        **BUSY,
        201: {"model": FlowOut, "description": "The flow was created."},
        413: {"model": ErrorMessage, "description": "Body larger than 64 KiB."},
        415: {"model": ErrorMessage, "description": "Not JSON."},
    },
)
async def put_flow(
    request: Request, bot_id: BotId, workflow_id: WorkflowId, engine: EngineDep, lock: IngestLockDep
) -> Any:
    """Set the given fields of one of the key's bot's flows, creating it when new."""
    media_type(request, (JSON,))
    body = await read_body(request, MAX_FLOW_BODY_BYTES)
    try:
        return await run_in_threadpool(_upsert_flow, engine, lock, bot_id, workflow_id, body)
    except BatchRejected as exc:
        return rejection(exc.detail, exc.errors)


@router.get(
    "/flows/{workflow_id}/kpis",
    summary="A flow's KPIs (the contract KPI JSON)",
    response_model=FlowReport,
    responses={
        **REFUSALS,
        404: {"model": ErrorMessage, "description": "The key's bot has no such flow."},
        409: {"model": ErrorMessage, "description": "The flow's status has no report."},
    },
)
def get_flow_kpis(
    engine: EngineDep,
    bot_id: BotId,
    workflow_id: WorkflowId,
    channel: Annotated[str | None, Query(description="Only this channel, e.g. whatsapp.")] = None,
) -> Any:
    """The KPIs and channel statistics of one of the key's bot's flows."""
    with Session(engine) as session:
        flow = reportable_flow(session, bot_id, workflow_id)
        conn = session.connection()
        channel = channel_filter(conn, flow, channel)
        report = compute_kpis(conn, flow, channel=channel, now=utcnow())
    return JSONResponse(report.to_json())
