"""The comparison rows every surface shows (pure): values and differences to the first flow."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reports.compare import Comparison, comparison_rows, fmt_difference
from tests.reports.test_pdf import make_report


@pytest.mark.parametrize(
    ("value", "baseline", "percent", "shown"),
    [(19_000, 21_430, False, "−2,430"), (25_000, 21_430, False, "+3,570"),
     (21_430, 21_430, False, "±0"), (95.5, 92.4, True, "+3.1 pp"), (92.4, 92.4, True, "±0.0 pp"),
     (None, 92.4, True, "—"), (88.0, None, True, "—")],
)  # fmt: skip
def test_differences(value, baseline, percent: bool, shown: str) -> None:
    assert fmt_difference(value, baseline, percent) == shown


def test_rows_cover_every_kpi_and_rate_with_no_goal_said_plainly() -> None:
    second = make_report("New year teaser", workflow_id="wf_43", goal=None)
    second.overview.goal_conversion = None
    second.analysis.impressions = 20_000
    comparison = Comparison(
        flows=[make_report(), second], generated_at=datetime(2026, 11, 27, tzinfo=UTC)
    )
    rows = {row.label: row for row in comparison_rows(comparison)}
    assert len(rows) == 17  # 13 KPIs and 4 rates
    assert (rows["Impressions"].values, rows["Impressions"].differences) == (
        ["21,430", "20,000"], ["", "−1,430"],
    )  # fmt: skip
    assert rows["Goal conversion"].values == ["611", "no goal set"]
    assert rows["Goal conversion rate"].differences == ["", "—"]
    assert rows["Failure rate"].values == ["2.9%", "2.9%"]
