"""Reports by email through the outbox, against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import timedelta
from pathlib import Path

import httpx
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.app import create_app
from scheduler.outbox import run_outbox_once
from scheduler.requests import render_request
from store.models import Flow, ReportRequest, utcnow
from store.requests import Recipient, create_download_request
from tests.live_server import serve_app
from tests.scheduler.conftest import (
    deliveries,
    load_flow,
    make_runtime,
    make_settings,
    request_report,
)
from tests.scheduler.smtp import free_port, smtp_server
from tests.support import flow, ingest, msg


def _attachments(message) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    return {
        part.get_filename(): part.get_content()
        for part in message.iter_attachments()
        if part.get_filename()
    }


async def test_email_arrives_with_text_html_pdf_and_csv(
    store_engine: Engine, tmp_path: Path
) -> None:
    load_flow(store_engine)
    with smtp_server() as box:
        runtime = make_runtime(store_engine, tmp_path, SMTP_PORT=box.port)
        request_report(store_engine, Recipient("email", "guest@partner.example"))
        result = await run_outbox_once(runtime)
        [message] = box.wait_for(1)
    assert result.sent == 1
    assert message["To"] == "guest@partner.example"
    assert message["Subject"].startswith("[Campaign report] Diwali offers — ")
    assert message["Message-ID"].startswith("<report-")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Delivery rate: " in text and "Unique clicks: 1" in text
    assert "WhatsApp" in html and "width: " in html  # the CSS bar per channel
    files = _attachments(message)
    pdf = next(data for name, data in files.items() if name.endswith(".pdf"))
    csv = next(data for name, data in files.items() if name.endswith(".csv"))
    assert "Diwali offers" in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert str(csv).startswith("BotId,UserId,Source,Status")
    assert [d.state for d in deliveries(store_engine)] == ["sent"]


async def test_mail_server_down_then_back_delivers(sqlite_engine: Engine, tmp_path: Path) -> None:
    load_flow(sqlite_engine)
    port = free_port()
    runtime = make_runtime(sqlite_engine, tmp_path, SMTP_PORT=port)
    request_report(sqlite_engine, Recipient("email", "guest@partner.example"))
    first = await run_outbox_once(runtime)
    [waiting] = deliveries(sqlite_engine)
    assert first.retried == 1 and waiting.state == "pending"
    assert "cannot reach the mail server" in (waiting.last_error or "")
    with smtp_server(port) as box:
        await asyncio.sleep(0.2)  # past the first backoff
        second = await run_outbox_once(runtime)
        box.wait_for(1)
    [sent] = deliveries(sqlite_engine)
    assert second.sent == 1 and sent.state == "sent" and sent.attempts == 2


async def test_refused_recipient_fails_at_once_and_others_still_get_mail(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_flow(sqlite_engine)
    with smtp_server() as box:
        box.refuse["nobody@partner.example"] = "550 5.1.1 No such user"
        runtime = make_runtime(sqlite_engine, tmp_path, SMTP_PORT=box.port)
        request_report(sqlite_engine, Recipient("email", "nobody@partner.example"), user="U0BOB")
        request_report(sqlite_engine, Recipient("email", "guest@partner.example"))
        result = await run_outbox_once(runtime)
        box.wait_for(1)
    refused, delivered = deliveries(sqlite_engine)
    assert result.failed == 1 and result.sent == 1
    assert refused.state == "failed" and refused.attempts == 1
    assert "550 5.1.1 No such user" in (refused.last_error or "")
    assert delivered.state == "sent"
    assert [rcpts for _, rcpts in box.envelopes] == [["guest@partner.example"]]


async def test_deferred_message_is_retried(sqlite_engine: Engine, tmp_path: Path) -> None:
    load_flow(sqlite_engine)
    with smtp_server() as box:
        box.defer_data = 1
        runtime = make_runtime(sqlite_engine, tmp_path, SMTP_PORT=box.port)
        request_report(sqlite_engine, Recipient("email", "guest@partner.example"))
        assert (await run_outbox_once(runtime)).retried == 1
        await asyncio.sleep(0.2)
        assert (await run_outbox_once(runtime)).sent == 1
        assert len(box.wait_for(1)) == 1


async def test_large_csv_is_linked_and_the_link_downloads_it(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_flow(sqlite_engine)
    with smtp_server() as box:
        settings = make_settings(
            sqlite_engine, tmp_path, SMTP_PORT=box.port, MAX_ATTACHMENT_MB=0.001
        )
        runtime = make_runtime(sqlite_engine, tmp_path, SMTP_PORT=box.port, MAX_ATTACHMENT_MB=0.001)
        request_report(sqlite_engine, Recipient("email", "guest@partner.example"))
        await run_outbox_once(runtime)
        [message] = box.wait_for(1)
    names = [p.get_filename() for p in message.iter_attachments()]
    assert len(names) == 1 and names[0].endswith(".pdf")  # the CSV is over the limit
    text = message.get_body(("plain",)).get_content()
    match = re.search(r"Every message is in the CSV: \S+(/reports/\S+) \(link valid until", text)
    assert match is not None, text
    with (
        serve_app(create_app(settings, sqlite_engine)) as base,
        httpx.Client(base_url=base) as client,
    ):
        response = client.get(match.group(1))
    assert response.status_code == 200
    assert response.text.startswith("BotId,UserId,Source,Status")


async def test_mail_server_down_past_the_deadline_fails_the_delivery(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_flow(sqlite_engine)
    runtime = make_runtime(sqlite_engine, tmp_path, SMTP_PORT=free_port())
    request_report(sqlite_engine, Recipient("email", "guest@partner.example"), deadline_s=0.3)
    outcomes = []
    for _ in range(10):
        result = await run_outbox_once(runtime)
        outcomes.append((result.retried, result.failed))
        if result.failed:
            break
        await asyncio.sleep(0.1)
    [failed] = deliveries(sqlite_engine)
    assert failed.state == "failed" and failed.attempts >= 2
    assert outcomes[0] == (1, 0) and outcomes[-1] == (0, 1)
    assert f"(gave up after {failed.attempts} attempts)" in (failed.last_error or "")


async def test_the_date_header_carries_a_real_utc_offset(sqlite_engine: Engine, tmp_path: Path):
    load_flow(sqlite_engine)
    with smtp_server() as box:
        runtime = make_runtime(sqlite_engine, tmp_path, SMTP_PORT=box.port)
        request_report(sqlite_engine, Recipient("email", "guest@partner.example"))
        await run_outbox_once(runtime)
        [message] = box.wait_for(1)
    # "-0000" would say "the offset is unknown" (RFC 5322 3.3); the time is UTC: "+0000".
    assert str(message["Date"]).endswith(" +0000"), message["Date"]


async def test_the_attachment_limit_counts_the_pdf_and_the_csv_as_sent(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_flow(sqlite_engine)
    runtime = make_runtime(sqlite_engine, tmp_path)
    request_id = request_report(sqlite_engine, Recipient("email", "guest@partner.example"))
    assert render_request(runtime, request_id)
    [csv] = (tmp_path / "reports").glob("*.csv")
    with smtp_server() as box:
        # The raw CSV fits; the PDF and the CSV, base64-encoded as they travel, do not.
        limit = csv.stat().st_size + 1
        runtime = make_runtime(sqlite_engine, tmp_path, SMTP_PORT=box.port,
                               MAX_ATTACHMENT_MB=limit / (1024 * 1024))  # fmt: skip
        await run_outbox_once(runtime)
        [message] = box.wait_for(1)
    names = [p.get_filename() for p in message.iter_attachments()]
    assert len(names) == 1 and names[0].endswith(".pdf")
    assert "Every message is in the CSV: " in message.get_body(("plain",)).get_content()


async def test_an_address_outside_the_email_domains_is_refused_for_good(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_flow(sqlite_engine)
    with smtp_server() as box:
        runtime = make_runtime(sqlite_engine, tmp_path, SMTP_PORT=box.port)
        # A guest whose Slack profile address only looks internal, queued by Download report.
        request_report(sqlite_engine, Recipient("email", "evil@acme.example.evil.com"))
        request_report(sqlite_engine, Recipient("email", "guest@partner.example"), "U0BOB")
        result = await run_outbox_once(runtime)
        box.wait_for(1)
    refused, delivered = deliveries(sqlite_engine)
    assert result.failed == 1 and result.sent == 1
    assert refused.state == "failed" and refused.attempts == 1
    assert "evil@acme.example.evil.com is outside the domains" in (refused.last_error or "")
    assert delivered.state == "sent"
    assert [rcpts for _, rcpts in box.envelopes] == [["guest@partner.example"]]


async def test_a_flow_id_with_dots_gets_its_report_and_a_working_link(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    ingest(sqlite_engine, flow(workflow_id="wf..42/../etc", channels=["sms"]),
           msg("m-1", "+9101", "sms", "sent", workflow_id="wf..42/../etc"))  # fmt: skip
    with Session(sqlite_engine) as session:
        found = session.exec(select(Flow).where(Flow.workflow_id == "wf..42/../etc")).one()
        create_download_request(
            session, flow=found, team_id="T0TEST", user_id="U0ALICE",
            recipient=Recipient("email", "guest@partner.example"), now=utcnow(),
            deadline=timedelta(seconds=30),
        )  # fmt: skip
    with smtp_server() as box:
        settings = make_settings(
            sqlite_engine, tmp_path, SMTP_PORT=box.port, MAX_ATTACHMENT_MB=0.001
        )
        runtime = make_runtime(sqlite_engine, tmp_path, SMTP_PORT=box.port, MAX_ATTACHMENT_MB=0.001)
        result = await run_outbox_once(runtime)
        [message] = box.wait_for(1)
    assert result.sent == 1
    text = message.get_body(("plain",)).get_content()
    match = re.search(r"Every message is in the CSV: \S+(/reports/\S+) \(link valid until", text)
    assert match is not None, text
    with (
        serve_app(create_app(settings, sqlite_engine)) as base,
        httpx.Client(base_url=base) as client,
    ):
        response = client.get(match.group(1))
    assert response.status_code == 200
    assert "wf..42/../etc" in response.text


async def test_a_report_that_cannot_be_linked_fails_at_once_not_for_a_day(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_flow(sqlite_engine)
    runtime = make_runtime(sqlite_engine, tmp_path, SMTP_PORT=free_port())
    request_id = request_report(sqlite_engine, Recipient("email", "guest@partner.example"))
    assert render_request(runtime, request_id)
    with Session(sqlite_engine) as session:  # a file name no link may carry
        request = session.get(ReportRequest, request_id)
        assert request is not None and request.csv_file
        (tmp_path / "reports" / request.csv_file).rename(tmp_path / "reports" / "..odd.csv")
        request.csv_file = "..odd.csv"
        session.add(request)
        session.commit()
    result = await run_outbox_once(runtime)
    [failed] = deliveries(sqlite_engine)
    assert result.failed == 1 and result.retried == 0
    assert failed.state == "failed" and failed.attempts == 1
    assert "no download link can be made" in (failed.last_error or "")
