"""Fixtures for delivery tests: a flow in the store and a runtime pointed at loopback."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.settings import Settings
from bot.wiring import build_runtime
from scheduler.runtime import RetryPolicy, Runtime
from store.models import Delivery, Flow, utcnow
from store.requests import Recipient, create_download_request
from tests.support import act, flow, ingest, msg

FAST_RETRY = RetryPolicy(
    base=timedelta(milliseconds=50), cap=timedelta(seconds=1), deadline=timedelta(seconds=30)
)


def load_flow(engine: Engine) -> None:
    """Diwali offers: WhatsApp and SMS messages, a click and a goal."""
    events: list[dict[str, Any]] = [flow(channels=["whatsapp", "sms"])]
    events += [msg(f"w-{n}", f"+9100{n:04d}", "whatsapp", "read") for n in range(30)]
    events += [
        msg("s-1", "+9201", "sms", "sent"),
        msg("s-2", "+9202", "sms", "failed", error_code="30007", comments="Carrier filtered"),
        act("click", "+91000000", "whatsapp", url="https://acme.example/offer"),
        act("goal_achieved", "+91000000", "whatsapp"),
    ]
    ingest(engine, *events)


def make_settings(engine: Engine, tmp_path: Path, **fields: Any) -> Settings:
    """Settings for a test: the store, a reports directory, SMTP on loopback, email domains."""
    values: dict[str, Any] = {
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "REPORTS_DIR": tmp_path / "reports",
        "SMTP_HOST": "127.0.0.1",
        "MAIL_FROM": "Campaign reports <reports@acme.example>",
        "SECRET_KEY": "test-secret-key",
        "PUBLIC_BASE_URL": "http://127.0.0.1:9",
        "INTERNAL_EMAIL_DOMAINS": "acme.example",
        "ALLOWED_EMAIL_DOMAINS": "partner.example",
    } | fields
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def make_runtime(
    engine: Engine, tmp_path: Path, slack_client: AsyncWebClient | None = None, **fields: Any
) -> Runtime:
    """A runtime with fast retries, built as ``serve`` builds it (Slack when given a client)."""
    settings = make_settings(engine, tmp_path, **fields)
    return build_runtime(settings, engine, slack_client, retry=FAST_RETRY)


def request_report(
    engine: Engine, recipient: Recipient, user: str = "U0ALICE", deadline_s: float = 30
) -> int:
    """A download request of Diwali offers for ``recipient``; its id."""
    with Session(engine) as session:
        found = session.exec(select(Flow).where(Flow.workflow_id == "wf_42")).one()
        created = create_download_request(
            session, flow=found, team_id="T0TEST", user_id=user, recipient=recipient,
            now=utcnow(), deadline=timedelta(seconds=deadline_s),
        )  # fmt: skip
    return created.request_id


def deliveries(engine: Engine) -> list[Delivery]:
    """Every outbox row, by id."""
    with Session(engine) as session:
        return list(session.exec(select(Delivery).order_by(Delivery.id)))
