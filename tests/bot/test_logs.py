"""Logs: one structured line per delivery outcome, JSON on request, never a secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import Engine

from bot.logs import REDACTED, configure_logging, secrets_of
from scheduler.outbox import run_outbox_once
from store.requests import Recipient
from tests.fakes.slack_api import run_fake_slack
from tests.scheduler.conftest import load_flow, make_runtime, make_settings, request_report

TOKEN = "xoxb-test-token"  # the stand-in's bot token
SECRETS = {
    "SLACK_BOT_TOKEN": TOKEN,
    "SLACK_SIGNING_SECRET": "signing-secret-4711",
    "SMTP_PASSWORD": "smtp-password-4711",
    "SECRET_KEY": "test-secret-key",
}
DELIVERY_KEYS = {"ts", "level", "logger", "message", "event", "outcome", "delivery_id",
                 "request_id", "channel", "recipient", "attempts", "error"}  # fmt: skip


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger's lines as JSON, into a buffer; the logging set-up restored after."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    stream = io.StringIO()
    yield stream
    root.handlers[:] = saved[1]
    root.setLevel(saved[0])


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


async def test_a_delivery_outcome_is_one_json_line_without_secrets(
    sqlite_engine: Engine, tmp_path: Path, captured: io.StringIO
) -> None:
    load_flow(sqlite_engine)
    settings = make_settings(sqlite_engine, tmp_path, **SECRETS)
    # DEBUG: slack_sdk logs its requests and answers too; none of it may show a secret.
    configure_logging("json", secrets_of(settings), level=logging.DEBUG, stream=captured)
    request_report(sqlite_engine, Recipient("slack_user", "U0ALICE"))
    with run_fake_slack() as fake:
        client = AsyncWebClient(token=fake.token, base_url=fake.api_url)
        runtime = make_runtime(sqlite_engine, tmp_path, client, **SECRETS)
        result = await run_outbox_once(runtime)
    assert result.sent == 1
    lines = _lines(captured)  # every line is JSON (json.loads raised otherwise)
    [line] = [entry for entry in lines if entry.get("event") == "delivery"]
    assert set(line) >= DELIVERY_KEYS
    assert line["outcome"] == "sent" and line["channel"] == "slack_user"
    assert line["recipient"] == "U0ALICE" and line["attempts"] == 1 and line["error"] is None
    assert line["level"] == "info" and line["logger"] == "campaign_report.outbox"
    output = captured.getvalue()
    assert all(secret not in output for secret in SECRETS.values())


def test_secrets_are_redacted_from_messages_fields_and_tracebacks(captured: io.StringIO):
    configure_logging("json", SECRETS.values(), stream=captured)
    logger = logging.getLogger("campaign_report.test")
    logger.warning("token %s in use", TOKEN, extra={"detail": f"key={SECRETS['SECRET_KEY']}"})
    try:
        raise RuntimeError(f"login failed with {SECRETS['SMTP_PASSWORD']}")
    except RuntimeError:
        logger.exception("SMTP said no")
    first, second = _lines(captured)
    assert first["message"] == f"token {REDACTED} in use"
    assert first["detail"] == f"key={REDACTED}"
    assert f"login failed with {REDACTED}" in str(second["exception"])
    assert all(secret not in captured.getvalue() for secret in SECRETS.values())


def test_the_text_format_appends_the_fields(captured: io.StringIO) -> None:
    configure_logging("text", [TOKEN], stream=captured)
    logging.getLogger("campaign_report.outbox").info(
        "delivery 3 sent", extra={"event": "delivery", "outcome": "sent", "error": None}
    )
    [line] = captured.getvalue().splitlines()
    assert line.endswith("INFO campaign_report.outbox: delivery 3 sent event=delivery outcome=sent")
