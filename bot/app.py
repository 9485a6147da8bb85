"""The HTTP application: one FastAPI app for every route (health, Slack, API, downloads)."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from bot.settings import Settings
from bot.slack import create_slack_app, mount_slack, slack_enabled, socket_mode
from store.db import create_db_engine


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """Build the app; ``engine`` defaults to one on ``settings.DATABASE_URL``."""
    app = FastAPI(title="campaign-report-bot", version="0.1.0")
    app.state.settings = settings
    app.state.engine = engine or create_db_engine(settings.DATABASE_URL)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    if slack_enabled(settings):
        app.state.slack_app = create_slack_app(settings, app.state.engine)
        if not socket_mode(settings):
            mount_slack(app, app.state.slack_app)
    return app
