"""Flows side by side (DESIGN.md, Compare): their KPI reports, and the rows every surface shows.

``compare_flows`` asks the KPI engine for each flow's report (a few rows each, never the
messages); ``comparison_rows`` lays the KPIs and rates out as the CLI table, the Block Kit
answer and the PDF page show them: one value per flow and its difference to the first flow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.engine import Connection

from reports.content import KPI_ROWS
from reports.formatting import fmt_int, fmt_pct, truncate
from reports.kpis import FlowReport, compute_kpis, format_utc
from store.models import Flow

MIN_FLOWS, MAX_FLOWS = 2, 5
SECTION_TITLES = {
    "overview": "User engagement overview",
    "analysis": "User engagement analysis",
    "rates": "Rates",
    "flow_users": "Flow users",
}


class Comparison(BaseModel):
    """The KPI reports of 2 to 5 flows, the first one being the baseline."""

    flows: list[FlowReport]
    generated_at: datetime

    def to_json(self) -> dict[str, Any]:
        """``{"flows": [<KPI JSON of each, with rates>], "generated_at"}`` (contract)."""
        return {
            "flows": [report.to_json() for report in self.flows],
            "generated_at": format_utc(self.generated_at),
        }


class CompareError(ValueError):
    """The flows asked for cannot be compared (too few, too many, the same twice)."""


def check_compared(flows: Sequence[Flow]) -> None:
    """Raise ``CompareError`` unless ``flows`` are 2 to 5 different flows."""
    if not MIN_FLOWS <= len(flows) <= MAX_FLOWS:
        raise CompareError(f"compare {MIN_FLOWS} to {MAX_FLOWS} flows, not {len(flows)}")
    seen: set[int | None] = set()
    for flow in flows:
        if flow.id in seen:
            raise CompareError(f"{flow.name!r} is named twice; compare different flows")
        seen.add(flow.id)


def compare_flows(conn: Connection, flows: Sequence[Flow], *, now: datetime) -> Comparison:
    """The reports of ``flows``, in the order given (``check_compared`` first)."""
    check_compared(flows)
    return Comparison(flows=[compute_kpis(conn, flow, now=now) for flow in flows], generated_at=now)


@dataclass(frozen=True)
class CompareRow:
    """One KPI across the flows: its section, label, each flow's value and difference."""

    section: str
    label: str
    values: list[str]
    differences: list[str]  # to the first flow; "" for the first flow itself


def fmt_difference(value: Any, baseline: Any, percent: bool) -> str:
    """``+1,204`` / ``−56`` / ``±0``; rates in percentage points (``+3.1 pp``); ``—`` when
    either side has no value."""
    if not isinstance(value, int | float) or not isinstance(baseline, int | float):
        return "—"
    delta = value - baseline
    unit = " pp" if percent else ""
    if abs(delta) < 1e-9:
        return f"±0{'.0' if percent else ''}{unit}"
    sign = "+" if delta > 0 else "−"
    amount = f"{abs(delta):.1f}" if percent else f"{abs(delta):,}"
    return f"{sign}{amount}{unit}"


def comparison_rows(comparison: Comparison) -> list[CompareRow]:
    """Every KPI and rate (the digest's list, ``content.KPI_ROWS``) across the flows."""
    data = [report.to_json() for report in comparison.flows]
    rows = []
    for label, section, key, percent in KPI_ROWS:
        values = [flow[section][key] for flow in data]
        shown = [fmt_pct(v) if percent else fmt_int(v) for v in values]
        if key.startswith("goal_conversion"):
            shown = [
                "no goal set" if v is None and not report.flow.goal else text
                for v, text, report in zip(values, shown, comparison.flows, strict=True)
            ]
        differences = [""] + [fmt_difference(v, values[0], percent) for v in values[1:]]
        rows.append(CompareRow(section, label, shown, differences))
    return rows


def flow_labels(comparison: Comparison, limit: int = 40) -> list[str]:
    """``Diwali offers (wf_42)`` per flow, cut to ``limit`` characters."""
    labels = []
    for report in comparison.flows:
        flow = report.flow
        name = flow.name if flow.name == flow.workflow_id else f"{flow.name} ({flow.workflow_id})"
        labels.append(truncate(name, limit))
    return labels
