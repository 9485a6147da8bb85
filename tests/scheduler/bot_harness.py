"""The real app with its scheduler under uvicorn, the Slack stand-in and an SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from bot.app import create_app
from bot.settings import Settings
from tests.fakes.slack_api import FakeSlack, run_fake_slack
from tests.live_server import serve_app
from tests.scheduler.conftest import make_settings
from tests.scheduler.smtp import Mailbox, smtp_server
from tests.slack.conftest import SECRET, Harness

MEMBER = "U0ALICE"
GUEST = "U0GUEST"
USERS: dict[str, dict[str, Any]] = {
    MEMBER: {"id": MEMBER, "is_restricted": False, "profile": {"email": "alice@acme.example"}},
    GUEST: {
        "id": GUEST,
        "is_restricted": True,
        "profile": {"email": "guest@partner.example"},
    },
}


def bot_settings(
    engine: Engine, tmp_path: Path, fake: FakeSlack, mailbox: Mailbox, **settings: Any
) -> Settings:
    """Settings pointing the app at the stand-in and the SMTP server."""
    return make_settings(
        engine,
        tmp_path,
        SMTP_PORT=mailbox.port,
        SLACK_BOT_TOKEN=fake.token,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=fake.api_url,
        INTERNAL_EMAIL_DOMAINS="acme.example",
        ALLOWED_EMAIL_DOMAINS="partner.example",
        **settings,
    )


@contextmanager
def running_bot_with_scheduler(
    engine: Engine, tmp_path: Path, **settings: Any
) -> Iterator[tuple[Harness, Mailbox]]:
    """The app (scheduler on) wired to a fresh stand-in and a fresh SMTP server."""
    with run_fake_slack(users=dict(USERS)) as fake, smtp_server() as mailbox:
        config = bot_settings(engine, tmp_path, fake, mailbox, **settings)
        app = create_app(config, engine, scheduler=True)
        with serve_app(app) as base_url, httpx.Client(timeout=10) as http:
            yield Harness(base_url, fake, engine, http), mailbox
