"""Fixtures for the ingestion API: a key for bot b1 and the app served by real uvicorn."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from bot.app import create_app
from bot.settings import Settings
from store.api_keys import create_api_key
from tests.live_server import serve_app
from tests.support import BOT, WF

KPIS = f"/api/v1/flows/{WF}/kpis"


@pytest.fixture
def api_key(store_engine: Engine) -> str:
    """A fresh key for bot b1."""
    return create_api_key(store_engine, BOT).token


@pytest.fixture
def base_url(store_engine: Engine) -> Iterator[str]:
    """The app on ``store_engine``, served on a loopback port."""
    url = store_engine.url.render_as_string(hide_password=False)
    settings = Settings(_env_file=None, DATABASE_URL=url)  # type: ignore[call-arg]
    with serve_app(create_app(settings, store_engine)) as base:
        yield base


@pytest.fixture
def client(base_url: str, api_key: str) -> Iterator[httpx.Client]:
    """An HTTP client that sends b1's key."""
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as http:
        yield http


@pytest.fixture
def anonymous(base_url: str) -> Iterator[httpx.Client]:
    """An HTTP client without a key."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        yield http


def kpi_view(client: httpx.Client, path: str = KPIS) -> tuple[int, Any]:
    """What a user reading a flow's KPIs sees: the status and the JSON, minus its timestamp."""
    response = client.get(path)
    body = response.json()
    if response.status_code == 200:
        body.pop("generated_at")
    return response.status_code, body


@pytest.fixture
def kpis_of(client: httpx.Client) -> Callable[..., tuple[int, Any]]:
    """``kpi_view`` bound to the keyed client."""
    return lambda path=KPIS: kpi_view(client, path)


# For what happens before the store is touched (auth, body limits, parsing): SQLite is enough.
sqlite_only = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
