"""Guests get reports only at allowed addresses; users see plain sentences; notices are escaped."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from commands.blocks.common import DOWNLOAD_REPORT
from tests.fakes.slack_requests import button
from tests.scheduler.bot_harness import MEMBER, running_bot_with_scheduler
from tests.scheduler.conftest import deliveries
from tests.slack.conftest import Harness, load_campaigns
from tests.support import flow, ingest

EVIL_GUEST = "U0EVIL"
HOSTILE = "<!channel> Diwali <https://evil.example|click> <@U0BOSS>"


def _download(bot: Harness, query: str = "Diwali offers") -> dict[str, str]:
    summary = bot.ask(query)
    actions = summary["blocks"][-1]["elements"]
    found = next(e for e in actions if e.get("action_id") == DOWNLOAD_REPORT)
    return button(DOWNLOAD_REPORT, found["value"])


def test_a_guest_outside_the_allowed_domains_is_told_why_and_gets_nothing(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_campaigns(sqlite_engine)
    with running_bot_with_scheduler(sqlite_engine, tmp_path) as (bot, mailbox):
        bot.fake.users[EVIL_GUEST] = {
            "id": EVIL_GUEST,
            "is_restricted": True,
            "profile": {"email": "evil@partner.example.evil.com"},
        }
        _, key = bot.click(_download(bot), user_id=EVIL_GUEST)
        told = bot.answer(key)["text"]
    assert "cannot be emailed to e***@partner.example.evil.com" in told
    assert "domains this workspace allows" in told
    assert deliveries(sqlite_engine) == []
    assert mailbox.messages == []


def test_a_failed_user_lookup_is_one_plain_sentence(sqlite_engine: Engine, tmp_path: Path) -> None:
    load_campaigns(sqlite_engine)
    with running_bot_with_scheduler(sqlite_engine, tmp_path) as (bot, _mailbox):
        bot.fake.fail("users.info", "user_not_found")
        _, key = bot.click(_download(bot), user_id=MEMBER)
        told = bot.answer(key)["text"]
    assert told == (
        "The report cannot be sent: Slack could not tell me who you are; please try again in a "
        "minute."
    )
    assert deliveries(sqlite_engine) == []


def test_the_owners_failure_notice_cannot_ping_or_link(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_campaigns(sqlite_engine)
    ingest(sqlite_engine, flow(workflow_id="wf_evil", name=HOSTILE))
    with running_bot_with_scheduler(sqlite_engine, tmp_path) as (bot, _mailbox):
        bot.fake.fail("files.completeUploadExternal", "channel_not_found")
        bot.click(_download(bot, "wf_evil"), user_id=MEMBER)
        [told] = bot.fake.wait_for("chat.postMessage", timeout=30)
    text = told.data["text"]
    assert "could not be delivered" in text
    assert "<!channel>" not in text and "<https://" not in text and "<@U0BOSS>" not in text
    assert "&lt;!channel&gt; Diwali" in text
