"""Report files are deleted ``REPORT_RETENTION_DAYS`` after they were written."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

REPORT_SUFFIXES = (".csv", ".pdf")


def delete_expired_reports(reports_dir: Path, retention_days: int, now: datetime) -> int:
    """Delete CSV and PDF files in ``reports_dir`` older than the retention; how many."""
    if not reports_dir.is_dir():
        return 0
    cutoff = (now - timedelta(days=retention_days)).timestamp()
    removed = 0
    for path in reports_dir.iterdir():
        if path.suffix.lower() not in REPORT_SUFFIXES or not path.is_file():
            continue
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
