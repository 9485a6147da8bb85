"""``POST /api/v1/events``: a batch of events (JSON array or NDJSON), all or nothing.

A batch is read (at most 10 MB), checked (at most 10,000 events, every one of them the key's
bot's, every one valid) and only then applied in one write transaction, so a 401, 403, 413,
415 or 422 writes nothing. Store work runs in the thread pool (synchronous SQLAlchemy).
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Engine

from bot.http.batches import (
    JSON,
    MAX_EVENTS,
    NDJSON,
    BatchRejected,
    BatchTooLarge,
    ItemError,
    check_body,
)
from bot.http.bodies import media_type, read_body
from bot.http.deps import BotId, EngineDep
from bot.http.ingest import IngestLockDep, apply_events
from bot.http.schemas import BUSY, REFUSALS, ErrorMessage, IngestSummary, rejection
from store.events import EventError

MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_LISTED = 20  # items named in a 403 message

router = APIRouter(prefix="/api/v1", tags=["ingestion"])


def _ingest_body(
    engine: Engine, lock: threading.Lock, bot_id: str, body: bytes, kind: str
) -> IngestSummary:
    """Check every item of a body, then apply them all (or raise)."""
    try:
        checked, lines = check_body(body, kind)
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
    result = apply_events(engine, lock, items, lines)
    return IngestSummary(
        accepted=result.accepted, duplicates=result.duplicates, flows_created=result.flows_created
    )


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
        **REFUSALS,
        **BUSY,
        403: {"model": ErrorMessage, "description": "An event is for another bot."},
        413: {"model": ErrorMessage, "description": "More than 10,000 events or 10 MB."},
        415: {"model": ErrorMessage, "description": "Not JSON or NDJSON."},
    },
)
async def post_events(
    request: Request, bot_id: BotId, engine: EngineDep, lock: IngestLockDep
) -> Any:
    """Apply a JSON array or NDJSON batch of events, all or nothing; repeats are ignored."""
    kind = media_type(request, (JSON, NDJSON))
    body = await read_body(request, MAX_BODY_BYTES)
    try:
        return await run_in_threadpool(_ingest_body, engine, lock, bot_id, body, kind)
    except BatchRejected as exc:
        return rejection(exc.detail, exc.errors)
