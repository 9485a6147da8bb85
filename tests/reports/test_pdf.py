"""The PDF report: built from a ``FlowReport`` alone; its text read back with pypdf."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from reports.kpis import FlowReport
from reports.pdf import build_channel_pie, build_status_bars, render_pdf

KOLKATA = ZoneInfo("Asia/Kolkata")
SECTIONS = (
    "User engagement overview",
    "User engagement analysis",
    "Flow users",
    "Channel statistics",
    "Top failure reasons",
)


def channel(name: str, notifications: int, share: float, **fields: Any) -> dict[str, Any]:
    row = {"channel": name, "notifications": notifications, "share": share, "sent": 0,
           "delivered": None, "read": None, "failed": 0, "failure_reasons": []}  # fmt: skip
    return row | fields


DIWALI_CHANNELS = [
    channel("whatsapp", 15_900, 68.2, sent=15_490, delivered=15_010, read=11_200, failed=410,
            failure_reasons=[{"reason": "1408 Not a WhatsApp number", "count": 212},
                             {"reason": "131049 Marketing limit", "count": 118}]),
    channel("sms", 5_630, 24.1, sent=5_420, failed=210,
            failure_reasons=[{"reason": "30007 Carrier filtered the message", "count": 97}]),
    channel("email", 1_790, 7.7, sent=1_730, failed=60),
]  # fmt: skip


def make_report(
    name: str = "Diwali offers", channels: list[dict[str, Any]] | None = None, **flow: Any
) -> FlowReport:
    """A report as the KPI engine would return it (the renderer needs nothing else)."""
    return FlowReport.model_validate(
        {
            "flow": {"bot_id": "acme-support", "workflow_id": "wf_42", "name": name,
                     "status": "completed", "goal": "purchase"} | flow,
            "channel": None,
            "overview": {"engagement_channels": ["email", "sms", "whatsapp"],
                         "number_of_events": 48_210, "unique_clicks": 3_112,
                         "conversations_initiated": 1_904, "goal_conversion": 611},
            "analysis": {"audience": 25_000, "impressions": 21_430, "delivery_rate": 92.4,
                         "reach": 19_877, "engagement": 6_540},
            "flow_users": {"users_entered_flow": 24_100, "users_in_flow": 3_020,
                           "users_exited_flow": 1_220, "users_achieved_goal": 611},
            "channels": DIWALI_CHANNELS if channels is None else channels,
            "generated_at": datetime(2026, 11, 27, 3, 30, tzinfo=UTC),
            "details": {"scheduled_at": datetime(2026, 11, 1, 3, 30, tzinfo=UTC)},
        }
    )  # fmt: skip


def pdf_text(data: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return reader, re.sub(r"\s+", " ", text)  # table cells come out one per line


def test_pdf_has_every_section_and_kpi_value():
    _, text = pdf_text(render_pdf(make_report(), KOLKATA))
    for title in SECTIONS:
        assert title in text
    for value in ("48,210", "3,112", "1,904", "611", "25,000", "21,430", "92.4% delivery rate",
                  "19,877", "6,540", "24,100", "3,020", "1,220"):  # fmt: skip
        assert value in text, value
    for value in ("15,900", "68.2%", "15,490", "15,010", "11,200", "410", "5,630", "210"):
        assert value in text, value
    assert "1408 Not a WhatsApp number" in text and "212" in text
    assert "30007 Carrier filtered the message" in text


def test_title_block_names_the_flow_its_dates_and_zone():
    _, text = pdf_text(render_pdf(make_report(), KOLKATA))
    assert "Diwali offers" in text
    assert "acme-support" in text and "wf_42" in text and "Completed" in text
    assert "1 Nov 2026 09:00 IST" in text  # scheduled, in the report's time zone
    assert "Asia/Kolkata" in text
    assert "27 Nov 2026 09:00 IST" in text  # generated at


def test_every_page_has_a_numbered_footer_with_the_generated_time():
    reader, _ = pdf_text(render_pdf(make_report(), KOLKATA))
    pages = len(reader.pages)
    assert 1 <= pages <= 3
    for number, page in enumerate(reader.pages, start=1):
        assert f"Page {number} of {pages} · generated 27 Nov 2026 09:00 IST" in page.extract_text()


def test_channels_without_delivery_reports_show_n_a():
    _, text = pdf_text(render_pdf(make_report(), KOLKATA))
    assert "SMS 5,630 24.1% 5,420 n/a n/a 210" in text
    assert "WhatsApp 15,900 68.2% 15,490 15,010 11,200 410" in text


def test_pie_has_one_slice_per_channel_labelled_with_its_share():
    report = make_report()
    pie = build_channel_pie(report.channels, 200).contents[0]
    assert pie.data == [15_900, 5_630, 1_790]
    assert pie.labels == ["WhatsApp 68.2%", "SMS 24.1%", "Email 7.7%"]
    _, text = pdf_text(render_pdf(report, KOLKATA))
    for label in pie.labels:
        assert label in text


def test_bar_chart_has_one_group_per_channel_of_sent_delivered_read_failed():
    chart = build_status_bars(make_report().channels, 300, 200).contents[0]
    assert chart.categoryAxis.categoryNames == ["WhatsApp", "SMS", "Email"]
    assert chart.data == [
        [15_490, 5_420, 1_730],  # sent
        [15_010, None, None],  # delivered: n/a where the channel does not report it
        [11_200, None, None],  # read
        [410, 210, 60],  # failed
    ]


@pytest.mark.parametrize(
    "name",
    ["Скидки к Дивали", "Προσφορές Ντιβάλι", "Déjà vu — ñandú «offers»", "<b>Evil</b> & <i>co"],
)
def test_flow_names_in_any_script_render_as_written(name: str):
    _, text = pdf_text(render_pdf(make_report(name=name), KOLKATA))
    assert name in text


def test_a_flow_with_no_messages_still_renders():
    report = make_report(channels=[])
    report.overview.number_of_events = 0
    _, text = pdf_text(render_pdf(report, KOLKATA))
    for title in SECTIONS:
        assert title in text
    assert "No notifications have been sent yet." in text
    assert "No failed messages." in text


def test_a_flow_with_one_channel_renders_a_whole_pie():
    only = [channel("sms", 1_000, 100.0, sent=990, failed=10)]
    pie = build_channel_pie(make_report(channels=only).channels, 200).contents[0]
    assert pie.labels == ["SMS 100.0%"]
    _, text = pdf_text(render_pdf(make_report(channels=only), KOLKATA))
    assert "SMS 100.0%" in text and "990" in text


@pytest.mark.parametrize(("size", "points"), [("A4", (595, 842)), ("Letter", (612, 792))])
def test_page_size_follows_the_setting(size: str, points: tuple[int, int]):
    reader, _ = pdf_text(render_pdf(make_report(), KOLKATA, size))  # type: ignore[arg-type]
    box = reader.pages[0].mediabox
    assert (round(box.width), round(box.height)) == points


def test_without_a_goal_the_goal_tile_says_so():
    report = make_report(goal=None)
    report.overview.goal_conversion = None
    _, text = pdf_text(render_pdf(report, KOLKATA))
    assert "no goal set" in text
