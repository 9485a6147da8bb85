"""The HTTP app answers over a real socket."""

from __future__ import annotations

import httpx
from sqlalchemy.engine import Engine

from bot.app import create_app
from bot.settings import Settings
from tests.live_server import serve_app


def test_healthz_answers_over_http(sqlite_engine: Engine) -> None:
    settings = Settings(_env_file=None, DATABASE_URL=str(sqlite_engine.url))  # type: ignore[call-arg]
    with serve_app(create_app(settings, sqlite_engine)) as base_url:
        response = httpx.get(f"{base_url}/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
