"""The PDF report: built from a ``FlowReport`` alone; its text read back with pypdf."""

from __future__ import annotations

import dataclasses
import io
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from reports.kpis import FlowReport, Timeline
from reports.pdf import (
    build_channel_pie,
    build_engagement_chart,
    build_status_bars,
    build_timeline_chart,
    render_pdf,
)

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


def make_timeline(channel: str | None = None, **points: list[int | None]) -> Timeline:
    """Three hours in Asia/Kolkata, as the KPI engine would return them."""
    starts = ["2026-11-01T09:00:00+05:30", "2026-11-01T10:00:00+05:30", "2026-11-01T11:00:00+05:30"]
    series = {"sent": [120, 340, 0], "delivered": [100, 300, 0], "read": [50, 210, 15],
              "failed": [4, 9, 0], "clicks": [3, 40, 22], "goals": [0, 5, 7]} | points  # fmt: skip
    return Timeline.model_validate(
        {
            "flow": make_report().flow.model_dump(),
            "channel": channel,
            "bucket": "hour",
            "time_zone": "Asia/Kolkata",
            "series": [
                {"start": start} | {name: values[i] for name, values in series.items()}
                for i, start in enumerate(starts)
            ],
            "generated_at": datetime(2026, 11, 27, 3, 30, tzinfo=UTC),
        }
    )


def test_rates_are_shown_as_tiles_and_per_channel():
    _, text = pdf_text(render_pdf(make_report(), KOLKATA))
    # 680 failed / 23,320 notifications; 3,112 / 19,877 reach; 11,200 / 15,010; 611 / 19,877
    tiles = "2.9% 15.7% 74.6% 3.1% Failure rate Click-through rate Read rate Goal conversion rate"
    assert tiles in text  # a row of values above a row of labels
    assert "WhatsApp 15,900 68.2% 15,490 15,010 11,200 410 2.6%" in text


def test_the_timeline_section_shows_its_buckets_and_the_busiest_hour():
    _, text = pdf_text(render_pdf(make_report(), KOLKATA, timeline=make_timeline()))
    assert "Over time · per hour (Asia/Kolkata)" in text
    assert "From 1 Nov 09:00 +05:30 to 1 Nov 11:00 +05:30: 3 hours." in text
    assert "Busiest hour: 1 Nov 10:00 +05:30 (340 sent)." in text
    assert "1 Nov 09:00" in text  # an axis label


def test_timeline_chart_draws_sent_delivered_read_failed_and_clicks_goals_bars():
    timeline = make_timeline()
    lines = build_timeline_chart(timeline, 400, 150).contents[0]
    assert lines.data == [[120, 340, 0], [100, 300, 0], [50, 210, 15], [4, 9, 0]]
    assert lines.categoryAxis.categoryNames == ["1 Nov 09:00", "1 Nov 10:00", "1 Nov 11:00"]
    bars = build_engagement_chart(timeline, 400, 120).contents[0]
    assert bars.data == [[3, 40, 22], [0, 5, 7]]


def test_timeline_of_a_channel_without_receipts_has_no_delivered_or_read_line():
    timeline = make_timeline("sms", delivered=[None] * 3, read=[None] * 3)
    lines = build_timeline_chart(timeline, 400, 150).contents[0]
    assert lines.data == [[120, 340, 0], [4, 9, 0]]  # sent and failed only


def test_many_buckets_get_at_most_eight_axis_labels():
    starts = [datetime(2026, 11, 1, tzinfo=KOLKATA).replace(hour=h) for h in range(24)]
    timeline = make_timeline()
    timeline.series = [dataclasses.replace(timeline.series[0], start=s) for s in starts]
    names = build_timeline_chart(timeline, 400, 150).contents[0].categoryAxis.categoryNames
    assert [n for n in names if n] == ["1 Nov 00:00", "1 Nov 03:00", "1 Nov 06:00", "1 Nov 09:00",
                                       "1 Nov 12:00", "1 Nov 15:00", "1 Nov 18:00", "1 Nov 21:00"]  # fmt: skip
