"""Every reportable flow renders a PDF, whatever its shape (from the KPI engine, not by hand)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy.engine import Engine

from reports.formatting import channel_label
from reports.kpis import ChannelStats, FlowReport
from reports.pdf import build_channel_pie, render_pdf
from tests.reports.test_pdf import KOLKATA, channel
from tests.support import flow, ingest, msg
from tests.support import kpis as kpi_json


def _queued(n: int, source: str) -> list[dict[str, Any]]:
    return [msg(f"{source}-{i}", f"+91{i:05d}", source, "queued") for i in range(n)]


TWELVE = [f"ch{i:02d}" for i in range(12)]
SHAPES: dict[str, list[dict[str, Any]]] = {
    "nothing sent yet": [flow(status="scheduled", channels=["whatsapp", "sms"])],
    "only queued messages": [
        flow(status="live", channels=["whatsapp", "sms"]),
        *_queued(5, "whatsapp"),
        *_queued(3, "sms"),
    ],
    "one channel": [flow(channels=["sms"]), msg("s-1", "+1", "sms", "sent")],
    "twelve channels": [
        flow(channels=TWELVE),
        *[
            msg(f"{c}-{i}", f"+9{n}{i}", c, "failed" if i == 0 else "sent", error_code="E1")
            for n, c in enumerate(TWELVE)
            for i in range(n + 1)
        ],
    ],
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_any_reportable_flow_renders_a_pdf(sqlite_engine: Engine, shape: str) -> None:
    ingest(sqlite_engine, *SHAPES[shape])
    report = FlowReport.model_validate(kpi_json(sqlite_engine))
    reader = PdfReader(io.BytesIO(render_pdf(report, KOLKATA)))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Channel statistics" in text and "Top failure reasons" in text
    if report.total_notifications == 0:
        assert "No notifications have been sent yet." in text
    for row in report.channels:
        assert channel_label(row.channel) in text


def test_the_pie_of_a_flow_with_nothing_sent_is_an_empty_ring() -> None:
    rows = [ChannelStats.model_validate(channel("whatsapp", 0, 0.0))]
    drawing = build_channel_pie(rows, 100)
    assert "pie" not in drawing.__dict__.get("_nameIndex", {})  # no slices to divide by zero
    assert any(getattr(item, "text", "") == "No notifications yet" for item in drawing.contents)
