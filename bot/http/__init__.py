"""The HTTP surface: one router per resource, mounted on the app by ``include_api``.

``events`` and ``flows`` are the ingestion API (``/api/v1``, described by ``openapi``),
``webhooks`` takes providers' delivery receipts (connectors), ``downloads`` serves signed
report links, ``slack`` hands Slack's requests to Bolt; ``deps``
declares what routes take (the engine, the settings, the API key's bot).
"""

from __future__ import annotations

import threading

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bot.http import downloads, events, flows, webhooks
from bot.http.openapi import describe_bodies


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database is down or locked past its timeout: 503, retry later (never a bare 500)."""
    return JSONResponse(
        {"detail": "the store is busy or unavailable; retry"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


def include_api(app: FastAPI) -> None:
    """Mount health, the ingestion API and downloads on ``app``."""

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    app.include_router(downloads.router)
    app.include_router(events.router)
    app.include_router(flows.router)
    app.include_router(webhooks.router)
    app.state.ingest_lock = threading.Lock()
    app.add_exception_handler(sa.exc.OperationalError, _store_unavailable)
    describe_bodies(app)
