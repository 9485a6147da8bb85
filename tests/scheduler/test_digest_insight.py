"""Digests with issue 12's additions: format:xlsx, the timeline, a compare page for ``all``."""

from __future__ import annotations

import io
import re
from pathlib import Path

import openpyxl
from pypdf import PdfReader
from sqlalchemy.engine import Engine

from tests.scheduler.conftest import load_flow, make_runtime
from tests.scheduler.smtp import smtp_server
from tests.scheduler.test_subscriptions import digest, subscribe
from tests.support import flow, ingest, msg


def _attachment(message, suffix: str) -> bytes:  # type: ignore[no-untyped-def]
    found = [p for p in message.iter_attachments() if p.get_filename().endswith(suffix)]
    return found[0].get_content() if found else b""


def _pdf_text(data: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return re.sub(r"\s+", " ", text)


async def test_a_format_xlsx_digest_of_all_flows_compares_them(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_flow(sqlite_engine)  # wf_42: 30 whatsapp read, 1 sms sent, 1 sms failed
    ingest(
        sqlite_engine,
        flow(workflow_id="wf_43", name="New year teaser"),
        msg("n-1", "+9300", "sms", "sent", workflow_id="wf_43"),
        msg("n-2", "+9301", "sms", "failed", workflow_id="wf_43"),
    )
    sub = subscribe(sqlite_engine, "all daily 09:00 to: ops@acme.example format:xlsx")
    with smtp_server() as box:
        runtime = make_runtime(sqlite_engine, tmp_path, SMTP_PORT=box.port)
        assert len(await digest(runtime, sub)) == 2  # one report per flow
        messages = box.wait_for(2)
    by_flow = {m["Subject"].split("] ")[1].split(" — ")[0]: m for m in messages}
    diwali = by_flow["Diwali offers"]
    assert sorted(p.get_filename().rsplit(".", 1)[1] for p in diwali.iter_attachments()) == [
        "pdf", "xlsx",
    ]  # fmt: skip
    book = openpyxl.load_workbook(io.BytesIO(_attachment(diwali, ".xlsx")), read_only=True)
    assert len(list(book["Messages"].iter_rows())) == 1 + 32
    text = diwali.get_body(("plain",)).get_content()
    assert "Over time — Per hour in UTC" in text and "Failure rate: 3.1%" in text  # 1 of 32
    pdf = _pdf_text(_attachment(diwali, ".pdf"))
    assert "Over time · per hour (UTC)" in pdf
    assert "Compared with the other flows of this digest" in pdf
    assert "Diwali offers (wf_42) New year teaser (wf_43)" in pdf
    assert "Failure rate 3.1% 50.0% +46.9 pp" in pdf  # wf_43: 1 failed of 2
    teaser = _pdf_text(_attachment(by_flow["New year teaser"], ".pdf"))
    assert "New year teaser (wf_43) Diwali offers (wf_42)" in teaser  # its own flow first


async def test_a_digest_of_one_flow_has_no_compare_page(sqlite_engine: Engine, tmp_path: Path):
    load_flow(sqlite_engine)
    ingest(sqlite_engine, flow(workflow_id="wf_43", name="New year teaser"))
    sub = subscribe(sqlite_engine, "wf_42 daily 09:00 to: ops@acme.example")
    with smtp_server() as box:
        runtime = make_runtime(sqlite_engine, tmp_path, SMTP_PORT=box.port)
        await digest(runtime, sub)
        [message] = box.wait_for(1)
    assert sorted(p.get_filename().rsplit(".", 1)[1] for p in message.iter_attachments()) == [
        "csv", "pdf",
    ]  # fmt: skip
    assert "Compared with" not in _pdf_text(_attachment(message, ".pdf"))
