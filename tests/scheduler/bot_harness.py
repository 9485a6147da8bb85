"""The real app with its scheduler under uvicorn, the Slack stand-in and an SMTP server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.app import create_app
from bot.settings import Settings
from scheduler.service import SchedulerService
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
    engine: Engine, tmp_path: Path, *, poll_seconds: float | None = None, **settings: Any
) -> Iterator[tuple[Harness, Mailbox]]:
    """The app (scheduler on) wired to a fresh stand-in and a fresh SMTP server.

    ``poll_seconds`` makes the scheduler poll its job store that often (default 5 s).
    """
    with run_fake_slack(users=dict(USERS)) as fake, smtp_server() as mailbox:
        config = bot_settings(engine, tmp_path, fake, mailbox, **settings)
        app = create_app(config, engine, scheduler=True)
        if poll_seconds is not None:
            runtime = app.state.scheduler.runtime
            app.state.scheduler = SchedulerService(
                runtime, poll_seconds=poll_seconds, standby_seconds=poll_seconds
            )
        with serve_app(app) as base_url, httpx.Client(timeout=10) as http:
            yield Harness(base_url, fake, engine, http), mailbox


def wait_until_leading(harness: Harness, timeout: float = 15.0) -> None:
    """Block until the app's scheduler runs (its standing jobs are in the job store)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with harness.engine.connect() as conn:
            if (
                sa.inspect(conn).has_table("apscheduler_jobs")
                and conn.execute(
                    sa.text("SELECT count(*) FROM apscheduler_jobs WHERE id = 'outbox'")
                ).scalar()
            ):
                return
        time.sleep(0.05)
    raise AssertionError("the scheduler never started")
