"""Rendering a flow's full report files (CSV of every message, PDF with charts) into a folder.

The one place the pair is made: ``campaign-bot export`` and the scheduler's report requests
both call ``render_report_files``. Each file appears whole or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

from sqlalchemy.engine import Engine

from reports.csv_export import export_csv, report_basename
from reports.kpis import FlowReport, report_timeline
from reports.pdf import PageSize, save_pdf
from store.models import Flow

REPORT_FORMATS = ("csv", "pdf")
__all__ = ["REPORT_FORMATS", "ReportFiles", "render_report_files", "report_basename"]


@dataclass(frozen=True)
class ReportFiles:
    """The files written, in ``REPORT_FORMATS`` order (None: not asked for)."""

    csv: Path | None = None
    pdf: Path | None = None

    @property
    def paths(self) -> list[Path]:
        """The written files."""
        return [path for path in (self.csv, self.pdf) if path is not None]


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
) -> ReportFiles:
    """Write ``basename.csv`` (streamed from the store) and ``basename.pdf`` (from ``report``).

    ``progress`` is told how many CSV rows each batch wrote. Raises ``OSError`` when the
    directory cannot be written.
    """
    unknown = set(formats) - set(REPORT_FORMATS)
    if unknown:
        raise ValueError(f"formats: unknown report format(s) {', '.join(sorted(unknown))}")
    csv_path = pdf_path = None
    if "csv" in formats:
        csv_path = directory / f"{basename}.csv"
        export_csv(engine, flow, csv_path, zone, progress=progress)
    if "pdf" in formats:
        pdf_path = directory / f"{basename}.pdf"
        with engine.connect() as conn:
            timeline = report_timeline(
                conn, flow, zone=zone, channel=report.channel, now=report.generated_at
            )
        save_pdf(report, pdf_path, zone, page_size, timeline=timeline)
    return ReportFiles(csv=csv_path, pdf=pdf_path)
