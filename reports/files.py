"""Rendering a flow's full report files (CSV and XLSX of every message, PDF with charts).

The one place report files are made: ``campaign-bot export`` and the scheduler's report
requests both call ``render_report_files``. Each file appears whole or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

from sqlalchemy.engine import Engine

from reports.compare import Comparison
from reports.csv_export import export_csv, report_basename
from reports.kpis import FlowReport, Timeline, report_timeline
from reports.pdf import PageSize, save_pdf
from reports.xlsx_export import export_xlsx
from store.models import Flow

FILE_FORMATS = ("csv", "pdf", "xlsx")  # every file a report can have, in this order
REPORT_FORMATS = ("csv", "pdf")  # what a report has unless asked otherwise
__all__ = [
    "FILE_FORMATS",
    "REPORT_FORMATS",
    "ReportFiles",
    "parse_formats",
    "render_report_files",
    "report_basename",
]


def parse_formats(text: str) -> tuple[str, ...]:
    """``"xlsx, CSV"`` → ``("csv", "xlsx")``: known formats, each once, in ``FILE_FORMATS``
    order; ``ValueError`` naming what is not a format."""
    chosen = {part.strip().lower() for part in text.split(",") if part.strip()}
    unknown = sorted(chosen - set(FILE_FORMATS))
    if unknown or not chosen:
        raise ValueError(
            f"unknown format {', '.join(map(repr, unknown)) or repr(text)}; "
            "use csv, pdf, xlsx or a list such as csv,pdf,xlsx"
        )
    return tuple(f for f in FILE_FORMATS if f in chosen)


@dataclass(frozen=True)
class ReportFiles:
    """The files written, in ``REPORT_FORMATS`` order (None: not asked for)."""

    csv: Path | None = None
    pdf: Path | None = None
    xlsx: Path | None = None
    timeline: Timeline | None = None  # the one the PDF shows (digests show it too)

    @property
    def paths(self) -> list[Path]:
        """The written files."""
        return [path for path in (self.csv, self.pdf, self.xlsx) if path is not None]


def render_report_files(
    engine: Engine,
    flow: Flow,
    report: FlowReport,
    directory: Path,
    basename: str,
    *,
    zone: tzinfo,
    page_size: PageSize = "A4",
    formats: Collection[str] = REPORT_FORMATS,
    progress: Callable[[int], None] | None = None,
    comparison: Comparison | None = None,
) -> ReportFiles:
    """Write ``basename.csv`` and ``basename.xlsx`` (streamed from the store) and
    ``basename.pdf`` (from ``report`` and the flow's timeline), those in ``formats``.

    ``progress`` is told how many rows each batch wrote (CSV, then XLSX); ``comparison`` (this
    flow first) adds a compare page to the PDF. Raises ``OSError`` when the directory cannot
    be written.
    """
    unknown = set(formats) - set(FILE_FORMATS)
    if unknown:
        raise ValueError(f"formats: unknown report format(s) {', '.join(sorted(unknown))}")
    csv_path = pdf_path = xlsx_path = None
    timeline = None
    if "csv" in formats:
        csv_path = directory / f"{basename}.csv"
        export_csv(engine, flow, csv_path, zone, progress=progress)
    if "pdf" in formats:
        pdf_path = directory / f"{basename}.pdf"
        with engine.connect() as conn:
            timeline = report_timeline(
                conn, flow, zone=zone, channel=report.channel, now=report.generated_at
            )
        save_pdf(report, pdf_path, zone, page_size, timeline=timeline, comparison=comparison)
    if "xlsx" in formats:
        xlsx_path = directory / f"{basename}.xlsx"
        export_xlsx(engine, flow, report, xlsx_path, zone, progress=progress)
    return ReportFiles(csv=csv_path, pdf=pdf_path, xlsx=xlsx_path, timeline=timeline)
