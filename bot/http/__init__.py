"""The HTTP surface: one router per resource, mounted on the app by ``include_api``.

``events`` and ``flows`` are the ingestion API (``/api/v1``, described by ``openapi``),
``timeline`` a flow's timeline JSON, ``webhooks`` takes providers' delivery receipts
(connectors), ``downloads`` serves signed report links, ``slack`` hands Slack's requests to
Bolt; ``deps``
declares what routes take (the engine, the settings, the API key's bot).
"""

from __future__ import annotations

import threading

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from bot.http import downloads, events, flows, timeline, webhooks
from bot.http.batches import BatchRejected
from bot.http.bodies import ClientGone
from bot.http.openapi import describe_bodies
from bot.http.schemas import rejection


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database is down or locked past its timeout: 503, retry later (never a bare 500)."""
    return JSONResponse(
        {"detail": "the store is busy or unavailable; retry"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


async def _rejected(request: Request, exc: Exception) -> JSONResponse:
    """A request refused before anything was written (raised by a dependency): 422."""
    assert isinstance(exc, BatchRejected)
    return rejection(exc.detail, exc.errors)


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client left mid-body (``read_body`` logged it): an answer nobody reads."""
    return Response(status_code=400)


def include_api(app: FastAPI) -> None:
    """Mount health, the ingestion API and downloads on ``app``."""

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    app.include_router(downloads.router)
    app.include_router(events.router)
    app.include_router(flows.router)
    app.include_router(timeline.router)
    app.include_router(webhooks.router)
    app.state.ingest_lock = threading.Lock()
    app.add_exception_handler(sa.exc.OperationalError, _store_unavailable)
    app.add_exception_handler(BatchRejected, _rejected)
    app.add_exception_handler(ClientGone, _client_gone)
    describe_bodies(app)
