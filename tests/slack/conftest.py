"""A running bot: the real app under uvicorn, the Slack stand-in, a store with campaigns.

``Harness.command`` and ``Harness.click`` send Slack-signed requests over HTTP;
``Harness.answer`` waits for what the app posted to that request's ``response_url``.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.app import create_app
from bot.settings import Settings
from store.db import create_db_engine
from store.models import WorkspaceGrant
from tests.fakes.slack_api import FakeSlack, run_fake_slack
from tests.fakes.slack_requests import block_action, post_signed, slash_command
from tests.live_server import serve_app
from tests.support import act, flow, ingest, msg

SECRET = "test-signing-secret"
TEAM = "T0TEST"
OTHER_BOT = "b2"
WHATSAPP_MESSAGES = 1_100  # enough for thousands separators


def load_campaigns(engine: Engine) -> None:
    """Diwali offers (b1, granted), a draft of b1, and a look-alike flow of ungranted b2."""
    events: list[dict[str, Any]] = [
        flow(channels=["whatsapp", "sms"], scheduled_at="2026-11-01T09:00:00Z"),
        flow(workflow_id="wf_draft", name="Holiday draft", status="draft"),
        flow(bot_id=OTHER_BOT, workflow_id="wf_9", name="Diwali secrets"),
        msg("x-1", "+10", "sms", "read", bot_id=OTHER_BOT, workflow_id="wf_9"),
    ]
    for n in range(WHATSAPP_MESSAGES):
        status = "read" if n % 3 == 0 else "delivered" if n % 3 == 1 else "sent"
        events.append(msg(f"w-{n}", f"+9100{n:05d}", "whatsapp", status))
    events += [
        msg("w-f1", "+9199", "whatsapp", "failed", error_code="1408", comments="Not a WA number"),
        msg("s-1", "+9201", "sms", "sent"),
        msg("s-2", "+9202", "sms", "failed", error_code="30007", comments="Carrier filtered"),
        act("click", "+910000000", "whatsapp", url="https://acme.example/offer"),
        act("flow_entered", "+910000000"),
        act("flow_entered", "+910000001"),
        act("flow_exited", "+910000001"),
        act("goal_achieved", "+910000000", "whatsapp"),
        act("conversation_started", "+9201", "sms"),
    ]
    ingest(engine, *events)
    grant(engine)


def grant(engine: Engine, team_id: str = TEAM, bot_id: str = "b1") -> None:
    """Let the workspace ``team_id`` see ``bot_id``'s flows."""
    with Session(engine) as session:
        session.add(WorkspaceGrant(team_id=team_id, bot_id=bot_id))
        session.commit()


@dataclass
class Harness:
    """The running app and the stand-in, with helpers to talk to the app as Slack does."""

    base_url: str
    fake: FakeSlack
    engine: Engine
    http: httpx.Client
    _keys: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def events_url(self) -> str:
        """The app's Slack endpoint."""
        return f"{self.base_url}/slack/events"

    def command(
        self,
        text: str,
        *,
        team_id: str = TEAM,
        timestamp: int | None = None,
        secret: str = SECRET,
        user_id: str = "U0ALICE",
    ) -> tuple[httpx.Response, str]:
        """Send ``/campaign-report <text>``; returns the ack and the response_url key."""
        key = f"r{next(self._keys)}"
        form = slash_command(
            text, team_id=team_id, response_url=self.fake.response_url(key), user_id=user_id
        )
        return post_signed(self.http, self.events_url, secret, form, timestamp), key

    def click(
        self, action: dict[str, Any], *, team_id: str = TEAM, user_id: str = "U0ALICE"
    ) -> tuple[httpx.Response, str]:
        """Send a ``block_actions`` interaction; returns the ack and the response_url key."""
        key = f"r{next(self._keys)}"
        form = block_action(
            action, team_id=team_id, response_url=self.fake.response_url(key), user_id=user_id
        )
        return post_signed(self.http, self.events_url, SECRET, form), key

    def answer(self, key: str) -> dict[str, Any]:
        """The message the app posted to the response_url ``key``."""
        return self.fake.wait_for_response(key)

    def ask(self, text: str, **kwargs: Any) -> dict[str, Any]:
        """Send a command, check it was acknowledged, return the answer."""
        ack, key = self.command(text, **kwargs)
        assert ack.status_code == 200, ack.text
        return self.answer(key)


@contextmanager
def running_bot(engine: Engine, **settings: Any) -> Iterator[Harness]:
    """The app under uvicorn, wired to a fresh stand-in, on ``engine``'s store."""
    with run_fake_slack() as fake:
        config = Settings(
            _env_file=None,  # type: ignore[call-arg]
            DATABASE_URL=engine.url.render_as_string(hide_password=False),
            SLACK_BOT_TOKEN=fake.token,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=fake.api_url,
            **settings,
        )
        with (
            serve_app(create_app(config, engine)) as base_url,
            httpx.Client(timeout=10) as http,
        ):
            yield Harness(base_url, fake, engine, http)


@pytest.fixture(scope="session")
def campaigns_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store with ``load_campaigns`` loaded once; tests get copies."""
    path = tmp_path_factory.mktemp("campaigns") / "campaigns.db"
    shutil.copy(sqlite_template, path)
    engine = create_db_engine(f"sqlite:///{path}")
    load_campaigns(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def campaigns_engine(campaigns_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a fresh copy of the SQLite store loaded with ``load_campaigns``."""
    path = tmp_path / "campaigns.db"
    shutil.copy(campaigns_template, path)
    engine = create_db_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def bot(campaigns_engine: Engine) -> Iterator[Harness]:
    """A running bot on a SQLite store loaded with ``load_campaigns``."""
    with running_bot(campaigns_engine) as harness:
        yield harness


@pytest.fixture
def bot_any_store(store_engine: Engine) -> Iterator[Harness]:
    """A running bot on SQLite, then on PostgreSQL, loaded with ``load_campaigns``."""
    load_campaigns(store_engine)
    with running_bot(store_engine) as harness:
        yield harness
