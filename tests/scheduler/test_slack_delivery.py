"""Slack delivery against the stand-in when Slack (or what stands before it) misbehaves."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import build_retry_handlers
from commands.blocks.delivery import format_delivery
from reports.content import Attachment, DeliveryFailed, ReportContent
from scheduler.delivery.base import Outgoing, PermanentDeliveryError, TransientDeliveryError
from scheduler.delivery.slack import SlackChannel
from tests.fakes.slack_api import FakeSlack, run_fake_slack
from tests.reports.test_pdf import make_report

NOTICE = DeliveryFailed("Diwali offers", "email", "ops@acme.example", "550 no such user")


def _channel(fake: FakeSlack, timeout: int = 30) -> SlackChannel:
    client = AsyncWebClient(
        token=fake.token,
        base_url=fake.api_url,
        retry_handlers=build_retry_handlers(),
        timeout=timeout,
    )
    return SlackChannel(client, format_delivery)


def _report(tmp_path: Path) -> ReportContent:
    pdf, csv = tmp_path / "r.pdf", tmp_path / "r.csv"
    pdf.write_bytes(b"%PDF-1.4 a report")
    csv.write_text("BotId,UserId\r\nb1,+9100\r\n")
    return ReportContent(
        request_id=1,
        report=make_report(),
        generated_at=datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        zone=ZoneInfo("UTC"),
        pdf=Attachment(pdf, "application/pdf"),
        csv=Attachment(csv, "text/csv"),
    )


@pytest.mark.parametrize(
    "content_type",
    ["text/html", "application/json"],  # an edge's error page, also when mislabelled JSON
)
async def test_an_html_502_from_the_edge_is_retried(content_type: str) -> None:
    with run_fake_slack() as fake:
        fake.answer_raw("chat.postMessage", 502, content_type=content_type)
        with pytest.raises(TransientDeliveryError) as caught:
            await _channel(fake).send(Outgoing(1, "slack_channel", "C0REPORTS", NOTICE))
    assert "chat.postMessage" in str(caught.value)
    assert "not Slack's JSON (HTTP 502)" in str(caught.value)


async def test_a_timeout_is_retried_and_says_so() -> None:
    with run_fake_slack() as fake:
        fake.hang("conversations.open", seconds=1.5)
        with pytest.raises(TransientDeliveryError) as caught:
            await _channel(fake, timeout=1).send(Outgoing(1, "slack_user", "U0ALICE", NOTICE))
    assert str(caught.value) == "Slack did not answer conversations.open in time (timed out)"


async def test_not_in_a_public_channel_joins_it_and_posts_the_report(tmp_path: Path) -> None:
    with run_fake_slack() as fake:
        fake.add_channel("C0PUBLIC")
        await _channel(fake).send(Outgoing(1, "slack_channel", "C0PUBLIC", _report(tmp_path)))
        [join] = fake.calls_to("conversations.join")
        refused, shared = fake.calls_to("files.completeUploadExternal")
        members = fake.channels["C0PUBLIC"]["members"]
    assert join.data["channel"] == "C0PUBLIC"
    assert refused.at < join.at < shared.at  # refused (not_in_channel), joined, shared
    assert shared.data["channel_id"] == "C0PUBLIC" and fake.bot_user_id in members


async def test_a_private_channel_it_is_not_in_fails_for_good_with_the_reason(
    tmp_path: Path,
) -> None:
    with run_fake_slack() as fake:
        fake.add_channel("G0PRIVATE", private=True)
        with pytest.raises(PermanentDeliveryError) as caught:
            await _channel(fake).send(Outgoing(1, "slack_channel", "G0PRIVATE", _report(tmp_path)))
        uploads = fake.calls_to("files.completeUploadExternal")
    assert "not in channel G0PRIVATE and cannot join it" in str(caught.value)
    assert "method_not_supported_for_channel_type" in str(caught.value)
    assert len(uploads) == 1  # the refused one: not tried again


async def test_not_in_channel_again_after_joining_is_final() -> None:
    with run_fake_slack() as fake:
        fake.add_channel("C0PUBLIC")
        fake.fail("chat.postMessage", "not_in_channel", times=2)
        with pytest.raises(PermanentDeliveryError) as caught:
            await _channel(fake).send(Outgoing(1, "slack_channel", "C0PUBLIC", NOTICE))
        joins = fake.calls_to("conversations.join")
        posts = fake.calls_to("chat.postMessage", status=None)
    assert "not_in_channel" in str(caught.value)
    assert len(joins) == 1 and len(posts) == 2


async def test_a_dm_refused_as_not_in_channel_joins_nothing() -> None:
    with run_fake_slack() as fake:
        fake.fail("chat.postMessage", "not_in_channel")
        with pytest.raises(PermanentDeliveryError):
            await _channel(fake).send(Outgoing(1, "slack_user", "U0ALICE", NOTICE))
        assert fake.calls_to("conversations.join", status=None) == []
