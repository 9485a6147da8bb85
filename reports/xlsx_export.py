"""The XLSX export (DESIGN.md, XLSX): one workbook with sheets Summary, Channels, Messages.

* ``Summary``: the flow, every KPI and rate (numbers as numbers, rates with a ``%`` format).
* ``Channels``: the channel statistics, then the top failure reasons per channel.
* ``Messages``: the CSV's 14 columns, one row per message, from the CSV export's row source
  (``reports.csv_export.iter_message_rows``). Times are real date-time cells (numbers with a
  date format) in the report time zone; every other cell is written as a string, never as a
  formula, so ``=1+1`` or ``+919800000001`` stay text without the CSV's ``'`` guard. Past
  1,048,575 rows (Excel's limit, under the header) the rows go on in ``Messages 2``, …

xlsxwriter runs in ``constant_memory`` mode: each row goes to a temporary file as soon as the
next one starts, so memory stays flat whatever the flow's size. Excel cannot hold more than
32,767 characters in a cell; a longer payload is cut there (xlsxwriter's rule).
"""

from __future__ import annotations

import os
import re
import threading
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import xlsxwriter.workbook
from sqlalchemy.engine import Engine
from xlsxwriter import Workbook
from xlsxwriter.utility import _preserve_whitespace, _utf16_len, _utf16_truncate
from xlsxwriter.worksheet import Worksheet
from xlsxwriter.xmlwriter import XMLwriter

from reports.content import KPI_ROWS
from reports.csv_export import _small_sqlite_memory, iter_message_rows, payload_text
from reports.formatting import channel_label
from reports.kpis import FlowReport
from store.csv_format import CSV_COLUMNS, comments_cell
from store.models import Flow

MAX_ROWS_PER_SHEET = 1_048_575  # Excel's 1,048,576 rows, less the header
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
PERCENT_FORMAT = '0.0"%"'  # 92.4 shown as 92.4%: the value stays the report's number
_EXCEL_EPOCH = datetime(1899, 12, 30)  # serial 0; Excel's 1900 leap-year bug is before 1 Mar 1900
_FIRST_SERIAL_DAY = datetime(1900, 3, 1)
_DAY_SECONDS = 86400.0
_MAX_CACHED_MINUTES = 100_000

Progress = Callable[[int], None]
ZIP_LEVEL = 1  # deflate level of the workbook's zip (xlsxwriter's default is zlib's 6)


class _FastZipFile(zipfile.ZipFile):
    """``ZipFile`` that deflates at ``ZIP_LEVEL``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("compresslevel", ZIP_LEVEL)
        super().__init__(*args, **kwargs)


_zip_lock = threading.Lock()


class _Workbook(Workbook):
    """xlsxwriter's ``Workbook``, zipped at deflate level 1 instead of 6.

    Deflating the sheet XML was a third of the export's time at level 6; level 1 takes about
    a third of that for a file ~20% larger (measured with ``bench/bench_insight.py xlsx``).
    xlsxwriter has no option for it, so the ``ZipFile`` its ``_store_workbook`` opens is
    swapped for the call (under a lock: workbooks closing at once in threads).
    """

    def _store_workbook(self) -> None:
        with _zip_lock, _zip_class(_FastZipFile):
            super()._store_workbook()


@contextmanager
def _zip_class(cls: type[zipfile.ZipFile]) -> Iterator[None]:
    saved = xlsxwriter.workbook.ZipFile
    xlsxwriter.workbook.ZipFile = cls  # type: ignore[misc]
    try:
        yield
    finally:
        xlsxwriter.workbook.ZipFile = saved  # type: ignore[misc]


def excel_time_converter(zone: tzinfo) -> Callable[[str], float | str]:
    """Stored UTC text (``2026-11-01 03:30:05.250000``) → the Excel serial date-time of that
    instant in ``zone``; an ISO text for a time Excel cannot show (before March 1900).

    The zone conversion is made once per UTC minute and cached (offsets change on whole
    minutes), the seconds are added to it: three times per row, a million rows.
    """
    minutes: dict[str, float | None] = {}

    def minute_serial(key: str) -> float | None:
        local = datetime.fromisoformat(key).replace(tzinfo=UTC).astimezone(zone)
        if local.second or local.microsecond:  # an offset in seconds (local mean time)
            return None
        naive = local.replace(tzinfo=None)
        if naive < _FIRST_SERIAL_DAY:
            return None
        if len(minutes) >= _MAX_CACHED_MINUTES:
            minutes.clear()
        minutes[key] = serial = (naive - _EXCEL_EPOCH) / timedelta(days=1)
        return serial

    def convert(stored: str) -> float | str:
        key = stored[:16]
        serial = minutes[key] if key in minutes else minute_serial(key)
        if serial is None or len(stored) < 19:
            moment = datetime.fromisoformat(stored).replace(tzinfo=UTC).astimezone(zone)
            local = moment.replace(tzinfo=None)
            if local >= _FIRST_SERIAL_DAY:
                return (local - _EXCEL_EPOCH) / timedelta(days=1)
            return moment.isoformat()
        seconds = float(stored[17:])  # "05.250000"
        return serial + seconds / _DAY_SECONDS

    return convert


def write_text(sheet: Worksheet, row: int, col: int, value: str, cell_format: Any = None) -> None:
    """Write ``value`` as a string cell, whatever it looks like.

    In ``constant_memory`` mode xlsxwriter copies a string that starts with ``<r>`` and ends
    with ``</r>`` into the sheet's XML unescaped (it takes it for its own rich text), so such
    a value from outside could write any cell or formula. It goes in as a rich string of three
    plain runs instead: escaped, and the same text when read.
    """
    if value.startswith("<r>") and value.endswith("</r>"):
        parts = (value[:1], value[1:2], value[2:])  # xlsxwriter wants three fragments or more
        parts += (cell_format,) if cell_format is not None else ()
        sheet.write_rich_string(row, col, *parts)
    else:
        sheet.write_string(row, col, value, cell_format)


class _Sheets:
    """The workbook's formats and the Messages sheets, opened one after another."""

    def __init__(self, workbook: Workbook, max_rows: int) -> None:
        self.workbook = workbook
        self.max_rows = max_rows
        self.bold = workbook.add_format({"bold": True})
        self.percent = workbook.add_format({"num_format": PERCENT_FORMAT})
        self.when = workbook.add_format({"num_format": DATETIME_FORMAT})
        self.count = 0

    def messages_sheet(self) -> Worksheet:
        self.count += 1
        name = "Messages" if self.count == 1 else f"Messages {self.count}"
        sheet = self.workbook.add_worksheet(name)
        sheet.set_column(0, len(CSV_COLUMNS) - 1, 18)
        sheet.set_column(11, 13, 20)
        sheet.freeze_panes(1, 0)
        for col, title in enumerate(CSV_COLUMNS):
            sheet.write_string(0, col, title, self.bold)
        return sheet


def _rich_looking(value: str) -> bool:
    return value[:3] == "<r>" and value[-4:] == "</r>"


def _write_value(sheet: Worksheet, row: int, col: int, value: Any, sheets: _Sheets,
                 *, percent: bool = False, missing: str = "n/a") -> None:  # fmt: skip
    if value is None:
        sheet.write_string(row, col, missing)
    elif isinstance(value, int | float):
        sheet.write_number(row, col, value, sheets.percent if percent else None)
    else:
        write_text(sheet, row, col, str(value))


def _write_summary(sheets: _Sheets, report: FlowReport, zone: tzinfo) -> None:
    sheet = sheets.workbook.add_worksheet("Summary")
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 1, 40)
    flow = report.flow
    facts: list[tuple[str, Any]] = [
        ("Flow", flow.name),
        ("Bot", flow.bot_id),
        ("Workflow ID", flow.workflow_id),
        ("Status", flow.status),
        ("Goal", flow.goal or "no goal set"),
        ("Channels", report.channel or "all channels"),
        ("Engagement channels", ", ".join(report.overview.engagement_channels) or "none"),
        ("Report time zone", getattr(zone, "key", None) or str(zone)),
    ]
    row = 0
    for label, value in facts:
        sheet.write_string(row, 0, label, sheets.bold)
        write_text(sheet, row, 1, value)
        row += 1
    sheet.write_string(row, 0, "Generated at", sheets.bold)
    generated = report.generated_at.astimezone(zone).replace(tzinfo=None)
    sheet.write_datetime(row, 1, generated, sheets.when)
    row += 2
    sheet.write_string(row, 0, "KPI", sheets.bold)
    sheet.write_string(row, 1, "Value", sheets.bold)
    data = report.to_json()
    for label, section, key, percent in KPI_ROWS:
        row += 1
        missing = "no goal set" if key.startswith("goal_conversion") and not flow.goal else "n/a"
        sheet.write_string(row, 0, label)
        _write_value(sheet, row, 1, data[section][key], sheets, percent=percent, missing=missing)


CHANNEL_HEADER = (
    "Channel", "Notifications", "Share", "Sent", "Delivered", "Read", "Failed", "Failure rate",
)  # fmt: skip


def _write_channels(sheets: _Sheets, report: FlowReport) -> None:
    sheet = sheets.workbook.add_worksheet("Channels")
    sheet.set_column(0, 0, 16)
    sheet.set_column(1, 7, 14)
    for col, title in enumerate(CHANNEL_HEADER):
        sheet.write_string(0, col, title, sheets.bold)
    row = 0
    for channel in report.channels:
        row += 1
        values: list[tuple[Any, bool]] = [
            (channel.notifications, False), (channel.share, True), (channel.sent, False),
            (channel.delivered, False), (channel.read, False), (channel.failed, False),
            (channel.failure_rate, True),
        ]  # fmt: skip
        sheet.write_string(row, 0, channel_label(channel.channel))
        for col, (value, percent) in enumerate(values, start=1):
            _write_value(sheet, row, col, value, sheets, percent=percent)
    row += 2
    for col, title in enumerate(("Channel", "Failure reason", "Failed messages")):
        sheet.write_string(row, col, title, sheets.bold)
    for channel in report.channels:
        for reason in channel.failure_reasons:
            row += 1
            sheet.write_string(row, 0, channel_label(channel.channel))
            write_text(sheet, row, 1, reason.reason)
            sheet.write_number(row, 2, reason.count)


_STRING_LIMIT = 32767  # UTF-16 units per cell
# What makes a string need more than copying: XML specials, control characters, text that
# looks like Excel's _xHHHH_ escape, surrounding whitespace (kept with xml:space).
_NEEDS_WORK = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_|^\s|\s$")


def _text_xml(value: str) -> str:
    """The ``<is>…</is>`` of an inline-string cell, escaped as xlsxwriter escapes it."""
    if len(value) > _STRING_LIMIT // 2 and _utf16_len(value) > _STRING_LIMIT:
        value = _utf16_truncate(value, _STRING_LIMIT)
    if _NEEDS_WORK.search(value) is None:
        return f"<is><t>{value}</t></is>"
    preserve = ' xml:space="preserve"' if _preserve_whitespace(value) else ""
    value = XMLwriter._escape_control_characters(value)
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<is><t{preserve}>{value}</t></is>"


class _TextCache:
    """``_text_xml`` of values that repeat (channel, status, template…), bounded."""

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self.known: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        known = self.known.get(value)
        if known is None:
            known = _text_xml(value)
            if len(value) <= 200:
                if len(self.known) >= self.limit:
                    self.known.clear()
                self.known[value] = known
        return known


class _RowWriter:
    """Writes Messages rows into a sheet: as XML straight into xlsxwriter's row file.

    xlsxwriter's per-cell path (a cell object per value, then its XML) runs at ~10k rows/s
    here, a tenth of the CSV export. In ``constant_memory`` mode a worksheet streams its rows
    into a temporary file and copies that file into the sheet at ``close()``; this writer
    appends finished ``<row>`` elements to the same file — the XML xlsxwriter itself writes
    for inline strings and numbers — and tells the sheet its last row, so the workbook around
    it (styles, dimensions, zip) is still xlsxwriter's. Seven times faster (``bench/``).
    With an xlsxwriter that lacks those internals it falls back to ``write_string``.
    """

    def __init__(self, sheet: Worksheet, time_format: Any) -> None:
        self.sheet = sheet
        self.fast = _FAST_ROWS
        self.last_row = 0
        if self.fast:
            sheet._write_single_row(1)  # the header row goes out; the rows follow it
            self.xf = time_format._get_xf_index()
        self.time_format = time_format
        self.cached = _TextCache()
        self.pending: list[str] = []  # rows not yet in the file: written once per batch

    def row(
        self, row: int, texts: Sequence[str | None], times: Sequence[float | str | None]
    ) -> None:
        """Cells A… from ``texts`` (strings), then L, M, N from ``times``."""
        self.last_row = row
        if not self.fast:
            self._row_by_cells(row, texts, times)
            return
        n = row + 1
        cached, text_xml, xf = self.cached, _text_xml, self.xf
        bot, user, source, status, ip, mid, workflow, payload, template, sent_by, comment = texts
        # One f-string per run of cells (this runs once per message). Columns that never
        # are empty (bot, user, source, status, message id, workflow) need no test.
        parts = [
            f'<row r="{n}"><c r="A{n}" t="inlineStr">{cached(bot)}</c>'  # type: ignore[arg-type]
            f'<c r="B{n}" t="inlineStr">{text_xml(user)}</c>'  # type: ignore[arg-type]
            f'<c r="C{n}" t="inlineStr">{cached(source)}</c>'  # type: ignore[arg-type]
            f'<c r="D{n}" t="inlineStr">{cached(status)}</c>'  # type: ignore[arg-type]
        ]
        if ip:
            parts.append(f'<c r="E{n}" t="inlineStr">{text_xml(ip)}</c>')
        parts.append(
            f'<c r="F{n}" t="inlineStr">{text_xml(mid)}</c>'  # type: ignore[arg-type]
            f'<c r="G{n}" t="inlineStr">{cached(workflow)}</c>'  # type: ignore[arg-type]
        )
        for letter, value in (("H", payload), ("I", template), ("J", sent_by), ("K", comment)):
            if value:
                parts.append(f'<c r="{letter}{n}" t="inlineStr">{cached(value)}</c>')
        for letter, moment in (("L", times[0]), ("M", times[1]), ("N", times[2])):
            if moment.__class__ is float:
                parts.append(f'<c r="{letter}{n}" s="{xf}"><v>{moment:.16G}</v></c>')
            elif moment is not None:
                inner = text_xml(moment)  # type: ignore[arg-type]
                parts.append(f'<c r="{letter}{n}" t="inlineStr">{inner}</c>')
        parts.append("</row>")
        self.pending.append("".join(parts))

    def flush(self) -> None:
        """Put the pending rows into the sheet's row file."""
        if self.pending:
            self.sheet.fh.write("".join(self.pending))
            self.pending.clear()

    def _row_by_cells(
        self, row: int, texts: Sequence[str | None], times: Sequence[float | str | None]
    ) -> None:
        sheet = self.sheet
        for col, value in enumerate(texts):
            if value:
                write_text(sheet, row, col, value)
        for col, moment in zip((11, 12, 13), times, strict=True):
            if moment.__class__ is float:
                sheet.write_number(row, col, moment, self.time_format)  # type: ignore[arg-type]
            elif moment is not None:
                write_text(sheet, row, col, moment)  # type: ignore[arg-type]

    def close(self) -> None:
        """Write what is pending and tell the sheet how far its data goes (``<dimension>``)."""
        self.flush()
        if self.fast and self.last_row:
            self.sheet._check_dimensions(self.last_row, len(CSV_COLUMNS) - 1)
            self.sheet.previous_row = self.last_row


_FAST_ROWS = all(
    hasattr(Worksheet, name) for name in ("_write_single_row", "_check_dimensions")
) and hasattr(XMLwriter, "_escape_control_characters")


def _write_messages(
    sheets: _Sheets,
    engine: Engine,
    flow: Flow,
    zone: tzinfo,
    progress: Progress | None,
) -> int:
    when = excel_time_converter(zone)
    writer = _RowWriter(sheets.messages_sheet(), sheets.when)
    row = 0
    rows = 0
    payloads: dict[str | None, str] = {}
    with engine.connect() as conn, _small_sqlite_memory(conn):
        for partition in iter_message_rows(conn, flow):
            for (
                user_id, source, status, ip_address, message_id, payload, template_id, sent_by,
                error_code, comments, created, scheduled, updated,
            ) in partition:  # fmt: skip
                if row >= sheets.max_rows:
                    writer.close()
                    writer = _RowWriter(sheets.messages_sheet(), sheets.when)
                    row = 0
                row += 1
                text = payloads.get(payload)
                if text is None:
                    text = payload_text(payload)
                    if len(payloads) >= 1024:
                        payloads.clear()
                    payloads[payload] = text
                writer.row(
                    row,
                    (
                        flow.bot_id, user_id, source, status, ip_address, message_id,
                        flow.workflow_id, text, template_id, sent_by,
                        comments_cell(error_code, comments),
                    ),
                    (
                        when(created) if created else None,
                        when(scheduled) if scheduled else None,
                        when(updated) if updated else None,
                    ),
                )  # fmt: skip
            writer.flush()
            rows += len(partition)
            if progress is not None:
                progress(len(partition))
    writer.close()
    return rows


def export_xlsx(
    engine: Engine,
    flow: Flow,
    report: FlowReport,
    path: Path,
    zone: tzinfo,
    *,
    progress: Progress | None = None,
    max_rows_per_sheet: int = MAX_ROWS_PER_SHEET,
) -> int:
    """Write ``flow``'s workbook to ``path`` (all or nothing); returns the message rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    options = {
        "constant_memory": True,
        "tmpdir": str(path.parent),  # beside the file: the same disk as the result
        "strings_to_numbers": False,
        "strings_to_formulas": False,
        "strings_to_urls": False,
    }
    try:
        workbook = _Workbook(str(partial), options)
        try:
            sheets = _Sheets(workbook, max_rows_per_sheet)
            _write_summary(sheets, report, zone)
            _write_channels(sheets, report)
            rows = _write_messages(sheets, engine, flow, zone, progress)
        finally:
            workbook.close()
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return rows
