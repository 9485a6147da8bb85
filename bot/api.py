"""The ingestion HTTP API (``/api/v1``): push events, upsert flows, read a flow's KPIs.

Every route takes ``Authorization: Bearer <key>`` (``campaign-bot api-key create BOT_ID``) and
acts for that key's bot only. A batch is all-or-nothing: it is read (at most 10 MB), checked
(at most 10,000 events, every one of them the key's bot's, every one valid) and only then
applied in one write transaction, so a 401, 403, 413, 415 or 422 writes nothing.

Endpoints that touch the store run in the thread pool: the store is synchronous SQLAlchemy.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, TypeAdapter
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.batches import (
    JSON,
    MAX_EVENTS,
    NDJSON,
    BatchRejected,
    BatchTooLarge,
    ItemError,
    check_body,
    check_data,
    loads,
)
from reports.flows import FlowNotReportable
from reports.kpis import FlowReport, compute_kpis, known_channels
from store.api_keys import verify_api_key
from store.db import is_sqlite
from store.events import AnyEvent, Event, EventError, FlowEvent
from store.ingest import IngestResult, ingest_events
from store.models import Flow, utcnow
from store.vocabulary import (
    FLOW_STATUSES,
    REPORTABLE_FLOW_STATUSES,
    SOURCE_PATTERN,
    STATUS_RANK,
    STATUS_SYNONYMS,
    normalize_source,
)

MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_FLOW_BODY_BYTES = 64 * 1024
MAX_LISTED = 20  # items named in a 403 message
_FLOW_KEYS_FROM_REQUEST = ("type", "bot_id", "workflow_id")

router = APIRouter(prefix="/api/v1", tags=["ingestion"])
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="A key from `campaign-bot api-key create BOT_ID`; it acts for that bot only.",
)


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


def _rejection(detail: str, errors: list[ItemError]) -> JSONResponse:
    """The 422 answer: nothing was written, and here is every problem found."""
    body = InvalidRequest(detail=detail, errors=errors)
    return JSONResponse(body.model_dump(), status_code=422)


_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {
        "model": ErrorMessage,
        "description": "Missing or invalid API key.",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    },
    422: {"model": InvalidRequest, "description": "Invalid request; nothing was written."},
}
_BUSY: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorMessage,
        "description": "The store stayed locked or is down; nothing was written, retry.",
        "headers": {"Retry-After": {"schema": {"type": "string"}}},
    }
}


# -- authentication -------------------------------------------------------------------------


def authenticated_bot(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The bot of the request's API key; 401 when the key is missing or unknown."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise HTTPException(401, "missing API key: send 'Authorization: Bearer <key>'", challenge)
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        bot_id = verify_api_key(conn, credentials.credentials)
    if bot_id is None:
        raise HTTPException(401, "invalid API key", challenge)
    return bot_id


BotId = Annotated[str, Depends(authenticated_bot)]


# -- reading bodies -------------------------------------------------------------------------


def _media_type(request: Request, allowed: tuple[str, ...]) -> str:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in allowed:
        shown = media_type or "none"
        raise HTTPException(
            415, f"Content-Type {shown!r} is not accepted; use {' or '.join(allowed)}"
        )
    return media_type


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` bytes (whatever it declares)."""
    too_large = HTTPException(413, f"request body is larger than {limit:,} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


# -- applying -------------------------------------------------------------------------------


@contextmanager
def _ingest_slot(request: Request) -> Iterator[None]:
    """On SQLite, writers take turns in-process: SQLite's busy handler polls with sleeps."""
    if not is_sqlite(request.app.state.engine):
        yield  # PostgreSQL: the store's advisory lock serializes writers, across processes too
        return
    with request.app.state.ingest_lock:
        yield


def _apply(
    request: Request, items: list[tuple[str, AnyEvent]], lines: list[int | None] | None = None
) -> IngestResult:
    """Apply validated events in one transaction; a rule broken while applying is a 422."""
    try:
        with _ingest_slot(request):
            return ingest_events(request.app.state.engine, items)
    except EventError as exc:
        index = line = None
        if lines is not None and exc.where.startswith("item "):
            index = int(exc.where.removeprefix("item "))
            line = lines[index]
        error = ItemError(index=index, line=line, field=exc.field, message=exc.message)
        raise BatchRejected(
            "an event conflicts with the store; nothing was written", [error]
        ) from None
    except sa.exc.OperationalError:
        # Another writer (say a long `campaign-bot import`) held the store past the busy
        # timeout, or the database is down: the batch was not applied and may be sent again.
        raise HTTPException(503, "the store is busy or unavailable; nothing was written, retry",
                            {"Retry-After": "5"}) from None  # fmt: skip
    except (sa.exc.DataError, sa.exc.IntegrityError, OverflowError):
        # A value the event format accepts but the database cannot hold (store.events refuses
        # the known ones earlier); still the client's data, not a server failure.
        error = ItemError(message="a value does not fit the store (a number out of range?)")
        raise BatchRejected(
            "an event holds a value the store cannot keep; nothing was written", [error]
        ) from None


def _ingest_body(request: Request, bot_id: str, body: bytes, media_type: str) -> IngestSummary:
    """Check every item of a body, then apply them all (or raise)."""
    try:
        checked, lines = check_body(body, media_type)
    except BatchTooLarge as exc:
        raise HTTPException(413, str(exc)) from None
    foreign = [i for i, (_, claimed) in enumerate(checked) if claimed not in (None, bot_id)]
    if foreign:
        listed = ", ".join(map(str, foreign[:MAX_LISTED]))
        listed += ", …" if len(foreign) > MAX_LISTED else ""
        noun = "item" if len(foreign) == 1 else "items"
        raise HTTPException(403, f"{noun} {listed}: bot_id is not this API key's bot {bot_id!r}")
    errors = [
        ItemError(index=i, line=lines[i], field=result.field, message=result.message)
        for i, (result, _) in enumerate(checked)
        if isinstance(result, EventError)
    ]
    if errors:
        raise BatchRejected(f"{len(errors)} invalid event(s); nothing was written", errors)
    items = [(f"item {i}", e) for i, (e, _) in enumerate(checked) if not isinstance(e, EventError)]
    result = _apply(request, items, lines)
    return IngestSummary(
        accepted=result.accepted, duplicates=result.duplicates, flows_created=result.flows_created
    )


# -- routes ---------------------------------------------------------------------------------

_EVENTS_BODY = {
    "required": True,
    "description": f"At most {MAX_EVENTS:,} events and {MAX_BODY_BYTES:,} bytes.",
    "content": {
        JSON: {
            "schema": {
                "type": "array",
                "maxItems": MAX_EVENTS,
                "items": {"$ref": "#/components/schemas/Event"},
            }
        },
        NDJSON: {"schema": {"type": "string", "description": "One event object per line."}},
    },
}


@router.post(
    "/events",
    summary="Push a batch of events",
    response_model=IngestSummary,
    openapi_extra={"requestBody": _EVENTS_BODY},
    responses={
        **_REFUSALS,
        **_BUSY,
        403: {"model": ErrorMessage, "description": "An event is for another bot."},
        413: {"model": ErrorMessage, "description": "More than 10,000 events or 10 MB."},
        415: {"model": ErrorMessage, "description": "Not JSON or NDJSON."},
    },
)
async def post_events(request: Request, bot_id: BotId) -> Any:
    """Apply a JSON array or NDJSON batch of events, all or nothing; repeats are ignored."""
    media_type = _media_type(request, (JSON, NDJSON))
    body = await _read_body(request, MAX_BODY_BYTES)
    try:
        return await run_in_threadpool(_ingest_body, request, bot_id, body, media_type)
    except BatchRejected as exc:
        return _rejection(exc.detail, exc.errors)


def _flow_out(flow: Flow) -> FlowOut:
    def iso(moment: Any) -> str | None:
        return None if moment is None else moment.isoformat().replace("+00:00", "Z")

    return FlowOut(
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


def _find_flow(session: Session, bot_id: str, workflow_id: str) -> Flow | None:
    """The bot's flow with exactly this workflow id (no name matching, unlike the CLI)."""
    query = select(Flow).where(Flow.bot_id == bot_id, Flow.workflow_id == workflow_id)
    return session.exec(query).first()


def _upsert_flow(request: Request, bot_id: str, workflow_id: str, body: bytes) -> JSONResponse:
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
        for key in _FLOW_KEYS_FROM_REQUEST
        if key in data
    ]
    if errors:
        raise BatchRejected("invalid flow; nothing was written", errors)
    event = {**data, "type": "flow", "bot_id": bot_id, "workflow_id": workflow_id}
    parsed, _ = check_data(event, "body")
    if isinstance(parsed, EventError):
        error = ItemError(field=parsed.field, message=parsed.message)
        raise BatchRejected("invalid flow; nothing was written", [error])
    result = _apply(request, [("body", parsed)])
    with Session(request.app.state.engine) as session:
        flow = _find_flow(session, bot_id, workflow_id)
    assert flow is not None  # just written, and flows are never deleted
    return JSONResponse(
        _flow_out(flow).model_dump(), status_code=201 if result.flows_created else 200
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
        **_REFUSALS,
        **_BUSY,
        201: {"model": FlowOut, "description": "The flow was created."},
        413: {"model": ErrorMessage, "description": "Body larger than 64 KiB."},
        415: {"model": ErrorMessage, "description": "Not JSON."},
    },
)
async def put_flow(workflow_id: str, request: Request, bot_id: BotId) -> Any:
    """Set the given fields of one of the key's bot's flows, creating it when new."""
    _media_type(request, (JSON,))
    body = await _read_body(request, MAX_FLOW_BODY_BYTES)
    try:
        return await run_in_threadpool(_upsert_flow, request, bot_id, workflow_id, body)
    except BatchRejected as exc:
        return _rejection(exc.detail, exc.errors)


@router.get(
    "/flows/{workflow_id}/kpis",
    summary="A flow's KPIs (the contract KPI JSON)",
    response_model=FlowReport,
    responses={
        **_REFUSALS,
        404: {"model": ErrorMessage, "description": "The key's bot has no such flow."},
        409: {"model": ErrorMessage, "description": "The flow's status has no report."},
    },
)
def get_flow_kpis(
    workflow_id: str,
    request: Request,
    bot_id: BotId,
    channel: Annotated[str | None, Query(description="Only this channel, e.g. whatsapp.")] = None,
) -> Any:
    """The KPIs and channel statistics of one of the key's bot's flows."""
    engine: Engine = request.app.state.engine
    with Session(engine) as session:
        flow = _find_flow(session, bot_id, workflow_id)
        if flow is None:
            raise HTTPException(404, f"bot {bot_id!r} has no flow {workflow_id!r}")
        if flow.status not in REPORTABLE_FLOW_STATUSES:
            raise HTTPException(409, str(FlowNotReportable(flow)))
        conn = session.connection()
        if channel is not None:
            try:
                channel = normalize_source(channel)
            except ValueError as exc:
                return _rejection("invalid channel", [ItemError(field="channel", message=str(exc))])
            channels = known_channels(conn, flow)
            if channel not in channels:
                listed = ", ".join(channels) or "none"
                problem = ItemError(
                    field="channel",
                    message=f"the flow has no channel {channel!r}; its channels: {listed}",
                )
                return _rejection("unknown channel", [problem])
        report = compute_kpis(conn, flow, channel=channel, now=utcnow())
    return JSONResponse(report.to_json())


# -- wiring ---------------------------------------------------------------------------------


def _component_schemas() -> dict[str, Any]:
    """Schemas the hand-written request bodies refer to: every event type, and a flow's fields."""
    ref = "#/components/schemas/{model}"
    event = TypeAdapter(Event).json_schema(ref_template=ref)
    schemas: dict[str, Any] = event.pop("$defs")
    schemas["Event"] = event
    fields = FlowEvent.model_json_schema(ref_template=ref)
    for key in _FLOW_KEYS_FROM_REQUEST:
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


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database is down or locked past its timeout: 503, retry later (never a bare 500)."""
    return JSONResponse(
        {"detail": "the store is busy or unavailable; retry"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


def include_api(app: FastAPI) -> None:
    """Mount ``/api/v1`` on ``app`` and describe its request bodies in ``/openapi.json``."""
    app.include_router(router)
    app.state.ingest_lock = threading.Lock()
    app.add_exception_handler(sa.exc.OperationalError, _store_unavailable)
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build_openapi()
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                _component_schemas()
            )
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
