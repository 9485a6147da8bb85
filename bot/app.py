"""The HTTP application: one FastAPI app for every route (health, Slack, API, downloads)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from bot.api import include_api
from bot.downloads import router as downloads_router
from bot.settings import Settings
from bot.slack import create_slack_app, mount_slack, slack_enabled, socket_mode
from commands import install_delivery
from store.db import create_db_engine


def create_app(
    settings: Settings, engine: Engine | None = None, *, scheduler: bool = False
) -> FastAPI:
    """Build the app; ``engine`` defaults to one on ``settings.DATABASE_URL``.

    With ``scheduler`` the process also competes to run the jobs and the delivery outbox
    (``serve``; ``serve --no-scheduler`` is a web-only replica).
    """
    app = FastAPI(title="campaign-report-bot", version="0.1.0", lifespan=_lifespan)
    app.state.settings = settings
    app.state.engine = engine or create_db_engine(settings.DATABASE_URL)
    app.state.run_scheduler = scheduler
    app.state.scheduler = None
    app.include_router(downloads_router)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    include_api(app)

    if slack_enabled(settings):
        app.state.slack_app = create_slack_app(settings, app.state.engine)
        install_delivery(app.state.slack_app, settings, app.state.engine, lambda: _wake(app))
        if not socket_mode(settings):
            mount_slack(app, app.state.slack_app)
    return app


def _wake(app: FastAPI) -> None:
    """Run the outbox now when this process is the scheduler (otherwise the leader polls)."""
    if app.state.scheduler is not None:
        app.state.scheduler.wake()


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    if not app.state.run_scheduler:
        yield
        return
    from scheduler.runtime import build_runtime
    from scheduler.service import SchedulerService

    service = SchedulerService(build_runtime(app.state.settings, app.state.engine))
    app.state.scheduler = service
    task = asyncio.create_task(service.run(), name="scheduler")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
