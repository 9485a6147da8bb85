"""Download Excel: the summary's button and ``download <flow> format:xlsx``, end to end."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
from sqlalchemy.engine import Engine

from commands.blocks.common import DOWNLOAD_EXCEL
from tests.fakes.slack_api import UPLOAD
from tests.fakes.slack_requests import button
from tests.scheduler.bot_harness import GUEST, MEMBER, running_bot_with_scheduler
from tests.slack.conftest import WHATSAPP_MESSAGES, load_campaigns


def test_download_excel_button_sends_the_workbook_and_the_pdf(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_campaigns(sqlite_engine)
    with running_bot_with_scheduler(sqlite_engine, tmp_path) as (bot, _mailbox):
        summary = bot.ask("Diwali offers")
        found = next(
            e for e in summary["blocks"][-1]["elements"] if e.get("action_id") == DOWNLOAD_EXCEL
        )
        _, key = bot.click(button(DOWNLOAD_EXCEL, found["value"]), user_id=MEMBER)
        assert "(Excel and PDF)" in bot.answer(key)["text"]
        [complete] = bot.fake.wait_for("files.completeUploadExternal", timeout=30)
    names = sorted(f["title"] for f in complete.data["files"])
    assert [n.rsplit(".", 1)[1] for n in names] == ["pdf", "xlsx"]
    workbook = next(c.raw for c in bot.fake.calls_to(UPLOAD) if c.raw.startswith(b"PK"))
    book = openpyxl.load_workbook(io.BytesIO(workbook), read_only=True)
    assert book.sheetnames == ["Summary", "Channels", "Messages"]
    rows = list(book["Messages"].iter_rows(values_only=True))
    assert len(rows) == 1 + WHATSAPP_MESSAGES + 3  # header + every message of the flow


def test_guest_download_format_xlsx_gets_it_by_email(sqlite_engine: Engine, tmp_path: Path) -> None:
    load_campaigns(sqlite_engine)
    with running_bot_with_scheduler(sqlite_engine, tmp_path) as (bot, mailbox):
        answer = bot.ask("download Diwali offers format:xlsx", user_id=GUEST)
        assert "(Excel and PDF)" in answer["text"] and "by email" in answer["text"]
        [message] = mailbox.wait_for(1, timeout=30)
    files = sorted(p.get_filename().rsplit(".", 1)[1] for p in message.iter_attachments())
    assert files == ["pdf", "xlsx"]
    assert (
        "Every message is in the attached Excel workbook"
        in message.get_body(("plain",)).get_content()
    )
