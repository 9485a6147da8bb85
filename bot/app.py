"""The HTTP application: one FastAPI app for every route (health, Slack, API, downloads).

``create_app`` is the composition root of ``serve``: it builds the engine, the one Slack Web
API client, the listeners' dependencies and — with ``scheduler`` — the scheduler's runtime,
and hands each package what it needs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from bot.http import include_api
from bot.http.slack import mount_slack
from bot.settings import Settings
from bot.slack import build_web_client, create_slack_app, slack_enabled, socket_mode
from bot.wiring import build_command_deps, build_runtime
from scheduler.service import SchedulerService
from store.db import create_db_engine
from store.models import utcnow
from store.rollups import check_delivery_channels


def create_app(
    settings: Settings, engine: Engine | None = None, *, scheduler: bool = False
) -> FastAPI:
    """Build the app; ``engine`` defaults to one on ``settings.DATABASE_URL``.

    With ``scheduler`` the process also competes to run the jobs and the delivery outbox
    (``serve``; ``serve --no-scheduler`` is a web-only replica).
    """
    app = FastAPI(title="campaign-report-bot", version="0.1.0", lifespan=_lifespan)
    engine = engine or create_db_engine(settings.DATABASE_URL)
    check_delivery_channels(engine, frozenset(settings.DELIVERY_REPORTING_CHANNELS), now=utcnow())
    app.state.settings = settings
    app.state.engine = engine
    app.state.scheduler = None
    include_api(app)

    client = build_web_client(settings) if slack_enabled(settings) else None
    if scheduler:
        app.state.scheduler = SchedulerService(build_runtime(settings, engine, client))
    if client is not None:
        deps = build_command_deps(settings, engine, wake=lambda: _wake(app))
        app.state.slack_app = create_slack_app(settings, client, deps)
        if not socket_mode(settings):
            mount_slack(app, app.state.slack_app)
    return app


def _wake(app: FastAPI) -> None:
    """Run the outbox now when this process is the scheduler (otherwise the leader polls)."""
    if app.state.scheduler is not None:
        app.state.scheduler.wake()


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    service: SchedulerService | None = app.state.scheduler
    if service is None:
        yield
        return
    task = asyncio.create_task(service.run(), name="scheduler")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
