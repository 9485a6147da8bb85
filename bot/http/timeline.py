"""``GET /api/v1/flows/{workflow_id}/timeline``: the timeline JSON (DESIGN.md, Timeline).

The same refusals as ``…/kpis``: 404 for a flow the key's bot does not have, 409 for a status
without reports, 422 for a channel the flow has never had, or a bucket other than hour/day.
Buckets are aligned in ``REPORT_TIMEZONE``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlmodel import Session

from bot.http.batches import ItemError
from bot.http.deps import BotId, EngineDep, SettingsDep, WorkflowId
from bot.http.reported import channel_filter, reportable_flow
from bot.http.schemas import REFUSALS, ErrorMessage, rejection
from reports.buckets import BUCKETS
from reports.kpis import Timeline, compute_timeline
from store.models import utcnow

router = APIRouter(prefix="/api/v1", tags=["reports"])


@router.get(
    "/flows/{workflow_id}/timeline",
    summary="A flow's timeline (sent, delivered, read, failed, clicks, goals per hour or day)",
    response_model=Timeline,
    responses={
        **REFUSALS,
        404: {"model": ErrorMessage, "description": "The key's bot has no such flow."},
        409: {"model": ErrorMessage, "description": "The flow's status has no report."},
    },
)
def get_flow_timeline(
    engine: EngineDep,
    settings: SettingsDep,
    bot_id: BotId,
    workflow_id: WorkflowId,
    bucket: Annotated[
        str,
        Query(
            description="hour (default) or day, aligned in REPORT_TIMEZONE.",
            json_schema_extra={"enum": list(BUCKETS)},
        ),
    ] = "hour",
    channel: Annotated[str | None, Query(description="Only this channel, e.g. whatsapp.")] = None,
) -> Any:
    """One of the key's bot's flows over time, every bucket from the first to the last."""
    chosen = bucket.strip().lower()
    if chosen not in BUCKETS:
        return rejection(
            "invalid bucket", [ItemError(field="bucket", message="expected hour or day")]
        )
    with Session(engine) as session:
        flow = reportable_flow(session, bot_id, workflow_id)
        conn = session.connection()
        channel = channel_filter(conn, flow, channel)
        result = compute_timeline(
            conn,
            flow,
            zone=settings.report_zone,
            bucket=chosen,  # type: ignore[arg-type]
            channel=channel,
            now=utcnow(),
        )
    return JSONResponse(result.to_json())
