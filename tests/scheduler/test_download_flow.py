"""Download report end to end: the button, the ack, the DM or the email, the 429."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
from pypdf import PdfReader
from sqlalchemy.engine import Engine

from bot.app import create_app
from commands.blocks.common import DOWNLOAD_REPORT
from tests.fakes.slack_api import UPLOAD, run_fake_slack
from tests.fakes.slack_requests import button
from tests.live_server import serve_app
from tests.scheduler.bot_harness import (
    GUEST,
    MEMBER,
    USERS,
    bot_settings,
    running_bot_with_scheduler,
)
from tests.scheduler.conftest import deliveries
from tests.scheduler.smtp import smtp_server
from tests.slack.conftest import Harness, load_campaigns


def _download_button(harness) -> dict:  # type: ignore[no-untyped-def]
    """The Download report button of the summary the app sends."""
    summary = harness.ask("Diwali offers")
    actions = summary["blocks"][-1]["elements"]
    found = next(e for e in actions if e.get("action_id") == DOWNLOAD_REPORT)
    return button(DOWNLOAD_REPORT, found["value"])


def test_member_gets_pdf_and_csv_in_a_dm(store_engine: Engine, tmp_path: Path) -> None:
    load_campaigns(store_engine)
    with running_bot_with_scheduler(store_engine, tmp_path) as (bot, _mailbox):
        ack, key = bot.click(_download_button(bot), user_id=MEMBER)
        assert ack.status_code == 200
        told = bot.answer(key)
        assert "Preparing the full report of “Diwali offers”" in told["text"]
        assert "as a Slack DM" in told["text"]
        [complete] = bot.fake.wait_for("files.completeUploadExternal", timeout=30)
    [opened] = bot.fake.calls_to("conversations.open")
    assert opened.data["users"] == MEMBER
    assert complete.data["channel_id"] == "D" + MEMBER
    names = sorted(f["title"] for f in complete.data["files"])
    assert names[0].endswith(".csv") and names[1].endswith(".pdf")
    assert "Diwali offers" in complete.data["initial_comment"]
    uploads = {c.path.rsplit("/", 1)[1]: c.raw for c in bot.fake.calls_to(UPLOAD)}
    bodies = list(uploads.values())
    pdf = next(b for b in bodies if b.startswith(b"%PDF"))
    csv = next(b for b in bodies if b.startswith(b"BotId,"))
    assert "Diwali offers" in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert csv.count(b"\r\n") == 1 + 1_100 + 3  # header + every message of the flow
    assert [d.state for d in deliveries(store_engine)] == ["sent"]


def test_guest_gets_email_and_second_click_reuses_the_request(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_campaigns(sqlite_engine)
    with running_bot_with_scheduler(sqlite_engine, tmp_path) as (bot, mailbox):
        click = _download_button(bot)
        _, key = bot.click(click, user_id=GUEST)
        assert "by email to g***@partner.example" in bot.answer(key)["text"]
        [message] = mailbox.wait_for(1, timeout=30)
        _, again = bot.click(click, user_id=GUEST)
        assert "a moment ago; it is on its way by email" in bot.answer(again)["text"]
    assert message["To"] == "guest@partner.example"
    pdf = next(p for p in message.iter_attachments() if p.get_filename().endswith(".pdf"))
    reader = PdfReader(io.BytesIO(pdf.get_content()))
    assert "Diwali offers" in reader.pages[0].extract_text()
    assert len(deliveries(sqlite_engine)) == 1  # the second click made no second delivery
    assert not bot.fake.calls_to("files.completeUploadExternal")


def test_slack_rate_limit_is_waited_out(sqlite_engine: Engine, tmp_path: Path) -> None:
    load_campaigns(sqlite_engine)
    with running_bot_with_scheduler(sqlite_engine, tmp_path) as (bot, _mailbox):
        bot.fake.rate_limit("files.getUploadURLExternal", times=1, retry_after=1)
        bot.click(_download_button(bot), user_id=MEMBER)
        bot.fake.wait_for("files.completeUploadExternal", timeout=30)
    limited = bot.fake.calls_to("files.getUploadURLExternal", status=429)
    retried = bot.fake.calls_to("files.getUploadURLExternal")
    assert len(limited) == 1 and len(retried) == 2  # PDF and CSV, the first after the 429
    assert retried[0].at - limited[0].at >= 0.9  # Retry-After: 1 was honoured
    assert [d.state for d in deliveries(sqlite_engine)] == ["sent"]


def test_unknown_flow_download_command_suggests_flows(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_campaigns(sqlite_engine)
    with running_bot_with_scheduler(sqlite_engine, tmp_path) as (bot, _mailbox):
        answer = bot.ask("download diwli")
    assert "Diwali offers" in str(answer["blocks"])
    assert deliveries(sqlite_engine) == []


def test_download_command_sends_the_report(sqlite_engine: Engine, tmp_path: Path) -> None:
    load_campaigns(sqlite_engine)
    with running_bot_with_scheduler(sqlite_engine, tmp_path) as (bot, _mailbox):
        answer = bot.ask("download wf_42")
        assert "as a Slack DM" in answer["text"]
        bot.fake.wait_for("files.completeUploadExternal", timeout=30)


def test_web_only_replica_queues_and_the_elected_scheduler_delivers(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_campaigns(sqlite_engine)
    with run_fake_slack(users=dict(USERS)) as fake, smtp_server() as mailbox:
        config = bot_settings(sqlite_engine, tmp_path, fake, mailbox)
        web_only = create_app(config, sqlite_engine)  # what `serve --no-scheduler` runs
        with serve_app(web_only) as base, httpx.Client(timeout=10) as http:
            bot = Harness(base, fake, sqlite_engine, http)
            _, key = bot.click(_download_button(bot), user_id=MEMBER)
            assert "as a Slack DM" in bot.answer(key)["text"]
            assert [d.state for d in deliveries(sqlite_engine)] == ["waiting"]
            with serve_app(create_app(config, sqlite_engine, scheduler=True)):
                fake.wait_for("files.completeUploadExternal", timeout=30)
    assert [d.state for d in deliveries(sqlite_engine)] == ["sent"]


def test_permanent_slack_refusal_fails_at_once_and_tells_the_owner(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_campaigns(sqlite_engine)
    with running_bot_with_scheduler(sqlite_engine, tmp_path) as (bot, _mailbox):
        bot.fake.fail("files.completeUploadExternal", "not_in_channel")
        bot.click(_download_button(bot), user_id=MEMBER)
        [told] = bot.fake.wait_for("chat.postMessage", timeout=30)
    assert "could not be delivered" in told.data["text"]
    assert "not_in_channel" in told.data["text"]
    assert told.data["channel"] == "D" + MEMBER
    refused = [c for c in bot.fake.calls if c.method == "files.completeUploadExternal"]
    assert len(refused) == 1  # permanent: no retry
    assert [d.state for d in deliveries(sqlite_engine)] == ["failed"]
