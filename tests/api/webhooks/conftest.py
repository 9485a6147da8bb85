"""Fixtures for provider webhooks: the app served by uvicorn with SECRET_KEY set, and
connectors of each kind for bot b1 (and one for bot b2)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from bot.app import create_app
from bot.settings import Settings
from store.connectors.records import create_connector, list_connectors
from store.connectors.secrets import ConnectorSecret, SecretBox
from store.models import Message, WaitingStatus
from tests.fakes.provider_webhooks import sendgrid_keys
from tests.live_server import serve_app
from tests.support import BOT

SECRET_KEY = "test-secret-key-0123456789abcdef0123456789abcdef"
PUBLIC_BASE_URL = "https://reports.acme.example"
APP_SECRET = "6a1f0c2e9b7d4e8fa3c5b1d0e2f4a6c8"
VERIFY_TOKEN = "my-verify-token"
AUTH_TOKEN = "9c1b7e6f0a2d4c8e9b3f5a7d1e0c2b4a"
MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
SENDGRID_PRIVATE, SENDGRID_PUBLIC = sendgrid_keys()

SECRETS = {
    "whatsapp": ConnectorSecret(APP_SECRET, VERIFY_TOKEN),
    "twilio": ConnectorSecret(AUTH_TOKEN),
    "sendgrid": ConnectorSecret(SENDGRID_PUBLIC),
    "mailgun": ConnectorSecret(MAILGUN_KEY),
}
OTHER_PRIVATE, OTHER_PUBLIC = sendgrid_keys()
OTHER_SECRETS = {  # bot b2's connectors: its own provider accounts
    "whatsapp": ConnectorSecret("b2-app-secret", "b2-verify-token"),
    "twilio": ConnectorSecret("b2-auth-token"),
    "sendgrid": ConnectorSecret(OTHER_PUBLIC),
    "mailgun": ConnectorSecret("key-b2"),
}


def app_settings(engine: Engine, **overrides: Any) -> Settings:
    """Settings for the app on ``engine``, with connectors' SECRET_KEY and public URL."""
    url = engine.url.render_as_string(hide_password=False)
    values = {"DATABASE_URL": url, "SECRET_KEY": SECRET_KEY, "PUBLIC_BASE_URL": PUBLIC_BASE_URL}
    return Settings(_env_file=None, **(values | overrides))  # type: ignore[arg-type]


@dataclass
class Hooks:
    """The running app and a connector id per kind for bot b1 (``other``: bot b2's)."""

    http: httpx.Client
    ids: dict[str, str]
    other: dict[str, str]

    def post(self, kind: str, signed: tuple[bytes, dict[str, str]], *, query: str = "",
             connector_id: str | None = None) -> httpx.Response:  # fmt: skip
        """POST a signed body to a connector's webhook URL."""
        body, headers = signed
        path = self.path(kind, connector_id)
        return self.http.post(path + (f"?{query}" if query else ""), content=body, headers=headers)

    def path(self, kind: str, connector_id: str | None = None) -> str:
        return f"/webhooks/{kind}/{connector_id or self.ids[kind]}"

    def url(self, kind: str, query: str = "", connector_id: str | None = None) -> str:
        """The public URL a provider was given (what Twilio signs)."""
        return PUBLIC_BASE_URL + self.path(kind, connector_id) + (f"?{query}" if query else "")


@pytest.fixture
def hooks(store_engine: Engine) -> Iterator[Hooks]:
    """Connectors of every kind for b1 and b2, and the app serving their webhooks."""
    box = SecretBox(SECRET_KEY)
    ids = {kind: create_connector(engine=store_engine, kind=kind, bot_id=BOT, secret=secret,
                                  box=box).id for kind, secret in SECRETS.items()}  # fmt: skip
    other = {kind: create_connector(engine=store_engine, kind=kind, bot_id="b2", secret=secret,
                                    box=box).id for kind, secret in OTHER_SECRETS.items()}  # fmt: skip
    with (
        serve_app(create_app(app_settings(store_engine), store_engine)) as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        yield Hooks(http, ids, other)


def store_counts(engine: Engine) -> tuple[int, int]:
    """(messages, waiting statuses) in the store."""
    with Session(engine) as session:
        messages = session.exec(select(func.count()).select_from(Message)).one()
        waiting = session.exec(select(func.count()).select_from(WaitingStatus)).one()
    return messages, waiting


def connector_row(engine: Engine, connector_id: str) -> dict[str, Any]:
    """What ``connector list`` shows for one connector."""
    (info,) = [c for c in list_connectors(engine=engine, box=SecretBox(SECRET_KEY))
               if c.id == connector_id]  # fmt: skip
    return {"taken": info.events_taken, "refused": info.events_refused, "waiting": info.waiting}
