"""The XLSX export (DESIGN.md, XLSX): sheets, cell types, escaping and the sheet rollover,
read back with openpyxl, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from openpyxl.utils.escape import unescape
from sqlalchemy.engine import Engine
from sqlmodel import Session

import reports.xlsx_export as xlsx_export
from reports.csv_export import export_csv
from reports.flows import find_flow
from reports.kpis import compute_kpis
from reports.xlsx_export import export_xlsx
from store.csv_format import CSV_COLUMNS, unescape_cell
from tests.support import NOW, WF, act, flow, ingest, kpis, msg

KOLKATA = ZoneInfo("Asia/Kolkata")
# Text a spreadsheet would run or mangle: formulas, a phone number, XML, control characters,
# Excel's own _xHHHH_ escape, surrounding spaces, the rich-text look xlsxwriter copies raw.
TRICKY = ["=1+1", "+919800000001", "-5", "@SUM(A1)", "<b>x</b> & co", "tab\there", "bell\x07",
          "_x0041_", "  padded  ", "<r><t>injected</t></r>", "=HYPERLINK(\"http://x\")"]  # fmt: skip


def export(engine: Engine, path: Path, **options: Any) -> openpyxl.Workbook:
    with Session(engine) as session:
        found = find_flow(session, WF)
        report = compute_kpis(session.connection(), found, now=NOW)
    export_xlsx(engine, found, report, path, KOLKATA, **options)
    return openpyxl.load_workbook(path)


def as_excel_reads(value: Any) -> Any:
    """Excel decodes its ``_xHHHH_`` escapes (a control character; ``_x005F_`` for a literal
    underscore) in inline strings; openpyxl leaves them as written, so do it here."""
    return unescape(value) if isinstance(value, str) else value


def sheet_rows(sheet: Any) -> list[list[Any]]:
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def test_workbook_has_summary_channels_and_messages(store_engine: Engine, tmp_path: Path):
    ingest(store_engine, flow(), msg("m1", "u1", "whatsapp", "read"),
           msg("m2", "u2", "sms", "failed", error_code="30007", comments="Carrier filtered"),
           act("click", "u1", "whatsapp"))  # fmt: skip
    book = export(store_engine, tmp_path / "r.xlsx")
    assert book.sheetnames == ["Summary", "Channels", "Messages"]
    summary = {row[0]: row[1] for row in sheet_rows(book["Summary"]) if row[0]}
    data = kpis(store_engine)
    assert summary["Flow"] == "Diwali offers" and summary["Report time zone"] == "Asia/Kolkata"
    assert summary["Generated at"] == datetime(2026, 11, 27, 14, 30)  # NOW in Kolkata
    assert summary["Events"] == data["overview"]["number_of_events"] == 3
    assert summary["Impressions"] == 1 and summary["Delivery rate"] == 50.0  # m2 failed
    assert summary["Failure rate"] == data["rates"]["failure_rate"] == 50.0
    assert summary["Click-through rate"] == 100.0  # u1 clicked; reach: u1
    assert summary["Read rate"] == 100.0 and summary["Goal conversion rate"] == 0.0
    assert summary["Users entered flow"] == 0
    (rate,) = [row[1] for row in book["Summary"].iter_rows() if row[0].value == "Delivery rate"]
    assert rate.number_format == '0.0"%"'  # shown as 50.0%
    channels = sheet_rows(book["Channels"])
    assert channels[0] == ["Channel", "Notifications", "Share", "Sent", "Delivered", "Read",
                           "Failed", "Failure rate"]  # fmt: skip
    assert channels[1:3] == [["SMS", 1, 50.0, 0, "n/a", "n/a", 1, 100.0],
                             ["WhatsApp", 1, 50.0, 1, 1, 1, 0, 0.0]]  # fmt: skip
    assert channels[4][:3] == ["Channel", "Failure reason", "Failed messages"]
    assert channels[5][:3] == ["SMS", "30007 Carrier filtered", 1]


@pytest.mark.parametrize("fast", [True, False], ids=["row-xml", "xlsxwriter-cells"])
def test_messages_are_the_csv_rows_with_text_as_text_and_times_as_dates(
    store_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast: bool
):
    monkeypatch.setattr(xlsx_export, "_FAST_ROWS", fast)
    events = [flow()]
    users = [text if text.isprintable() else f"u{i}" for i, text in enumerate(TRICKY)]
    for i, text in enumerate(TRICKY):
        events.append(msg(f"m{i}", users[i], "sms", "sent", at=f"2026-11-01T18:3{i % 10}:05.25Z",
                          template_id=text, comments=text, custom_payload={"note": text}))  # fmt: skip
    ingest(store_engine, *events)
    book = export(store_engine, tmp_path / "r.xlsx")
    sheet = book["Messages"]
    rows = list(sheet.iter_rows())
    assert [c.value for c in rows[0]] == list(CSV_COLUMNS)
    with Session(store_engine) as session:
        export_csv(store_engine, find_flow(session, WF), tmp_path / "r.csv", KOLKATA)
    reader = csv.reader(io.StringIO((tmp_path / "r.csv").read_text("utf-8"), newline=""))
    next(reader)
    for cells, line in zip(rows[1:], reader, strict=True):
        expected = [unescape_cell(value) for value in line]
        for column, (cell, want) in enumerate(zip(cells, expected, strict=True)):
            if column >= 11:  # Created, Scheduled, Updated: date-time cells, Kolkata time
                if want:
                    assert cell.is_date and cell.number_format == "yyyy-mm-dd hh:mm:ss"
                    local = datetime.fromisoformat(want).replace(tzinfo=None)
                    assert abs((cell.value - local).total_seconds()) < 0.001
            elif want:
                assert (cell.data_type, as_excel_reads(cell.value)) == ("s", want), (column, want)
            else:
                assert cell.value is None
    user_ids = [as_excel_reads(row[1].value) for row in rows[1:]]
    assert user_ids == [user.strip() for user in users]  # never a formula, never a number
    comments = [as_excel_reads(row[10].value) for row in rows[1:]]
    assert comments[6] == "bell\x07" and comments[7] == "_x0041_"  # not Excel's escape of "A"
    assert comments[9] == "<r><t>injected</t></r>"  # text, not rich-text XML
    assert rows[1][11].value == datetime(2026, 11, 2, 0, 0, 5, 250000)  # 18:30:05.25 UTC


@pytest.mark.parametrize("fast", [True, False], ids=["row-xml", "xlsxwriter-cells"])
def test_rows_go_on_in_messages_2_and_3_past_the_sheet_limit(
    store_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast: bool
):
    monkeypatch.setattr(xlsx_export, "_FAST_ROWS", fast)
    ingest(store_engine, flow(), *(msg(f"m{i}", f"u{i}", "sms", "sent") for i in range(5)),
           msg("m5", "=cmd|' /C calc'!A0", "sms", "sent"))  # fmt: skip
    book = export(store_engine, tmp_path / "r.xlsx", max_rows_per_sheet=2)
    assert book.sheetnames == ["Summary", "Channels", "Messages", "Messages 2", "Messages 3"]
    ids = []
    for name in book.sheetnames[2:]:
        rows = sheet_rows(book[name])
        assert rows[0] == list(CSV_COLUMNS)  # every sheet has the header
        assert len(rows) == 3 and book[name].dimensions == "A1:N3"
        ids += [row[5] for row in rows[1:]]
    assert ids == ["m0", "m1", "m2", "m3", "m4", "m5"]
    last = book["Messages 3"]["B3"]
    assert (last.data_type, last.value) == ("s", "=cmd|' /C calc'!A0")


def test_an_empty_flow_has_the_header_only(store_engine: Engine, tmp_path: Path):
    ingest(store_engine, flow())
    book = export(store_engine, tmp_path / "r.xlsx")
    assert sheet_rows(book["Messages"]) == [list(CSV_COLUMNS)]
    assert not list((tmp_path).glob("*.part"))
