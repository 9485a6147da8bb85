"""The digest email's text (pure): rates with their change, the timeline, the XLSX."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from reports.content import Attachment, Digest, Link, ReportContent
from scheduler.delivery.email_format import render_email
from tests.reports.test_pdf import make_report, make_timeline

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_a_digest_email_has_rates_the_timeline_and_the_workbook(tmp_path: Path) -> None:
    (tmp_path / "r.pdf").write_bytes(b"%PDF")
    (tmp_path / "r.xlsx").write_bytes(b"PK")
    previous = make_report().to_json()
    previous["rates"]["click_through_rate"] = 12.5
    content = ReportContent(
        request_id=7,
        report=make_report(),
        generated_at=datetime(2026, 11, 28, 3, 30, tzinfo=UTC),
        zone=ZoneInfo("Asia/Kolkata"),
        digest=Digest(subscription_id=12, schedule="daily 09:00", created_by="U0ALICE"),
        previous=previous,
        pdf=Attachment(tmp_path / "r.pdf", "application/pdf"),
        xlsx=Attachment(tmp_path / "r.xlsx", XLSX),
        xlsx_link=Link(
            "r.xlsx", "https://reports.example/reports/t0k", datetime(2026, 12, 5, tzinfo=UTC)
        ),
        timeline=make_timeline(),
    )
    body = render_email(content, csv_attached=False, xlsx_attached=True)
    assert "Click-through rate: 15.7% (▲ +3.2%)" in body.text  # 3,112 / 19,877 reach
    assert (
        "Over time — Per hour in Asia/Kolkata, 1 Nov 09:00 +05:30 to 1 Nov 11:00 +05:30"
        in body.text
    )
    assert "Sent       ▄█▁  460" in body.text
    assert "Every message is in the attached Excel workbook (r.xlsx)." in body.text
    assert (
        "Download it: https://reports.example/reports/t0k (link valid until 5 Dec 2026 05:30 IST)."
        in body.text
    )
    assert ">▄█▁</td>" in body.html and "<strong>460</strong>" in body.html
    assert "Click-through rate" in body.html and "▲ +3.2%" in body.html
