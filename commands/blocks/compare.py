"""Block Kit for ``/campaign-report compare A vs B [vs C…]`` (pure): flows side by side.

One line per KPI — each flow's value, and for the others their difference to the first —
grouped in the report's sections; the flows are lettered A, B, C… in a legend.
"""

from __future__ import annotations

from itertools import groupby

from slack_sdk.models.blocks import Block, HeaderBlock, PlainTextObject

from commands.blocks.common import context_block, section_block
from commands.mrkdwn import mrkdwn
from reports.compare import SECTION_TITLES, Comparison, comparison_rows, flow_labels

LETTERS = "ABCDE"


def build_compare_blocks(comparison: Comparison) -> list[Block]:
    """Header, the legend, a section per KPI group, and how to read the differences."""
    count = len(comparison.flows)
    legend = " · ".join(
        f"*{LETTERS[i]}*: {mrkdwn(label, 60)} ({mrkdwn(report.flow.status, 20)})"
        for i, (label, report) in enumerate(
            zip(flow_labels(comparison), comparison.flows, strict=True)
        )
    )
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=f"⚖️ {count} flows side by side")),
        context_block(legend),
    ]
    for section, rows in groupby(comparison_rows(comparison), key=lambda row: row.section):
        lines = [f"*{SECTION_TITLES[section]}*"]
        for row in rows:
            cells = []
            for i, (value, difference) in enumerate(zip(row.values, row.differences, strict=True)):
                change = f" ({difference})" if difference and difference != "—" else ""
                cells.append(f"{LETTERS[i]} {value}{change}")
            lines.append(f"{row.label}: " + " · ".join(cells))
        blocks.append(section_block("\n".join(lines)))
    blocks.append(
        context_block("Differences are to A. Rates differ in percentage points (pp). All channels.")
    )
    return blocks
