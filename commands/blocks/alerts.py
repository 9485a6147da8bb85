"""Block Kit for alert listings (pure): each alert with its state per flow and a Remove button.

``build_alert_sections`` is the list itself (for ``/campaign-report alerts`` and App Home);
``build_alerts_blocks`` frames it as the command's answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from slack_sdk.models.blocks import (
    Block,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from commands.blocks.common import (
    COMMAND,
    MAX_BLOCKS,
    NAME_IN_TEXT,
    REMOVE_ALERT,
    SECTION_TEXT,
    button_element,
    context_block,
    section_block,
)
from commands.mrkdwn import escape_mrkdwn, mrkdwn, recipient_mrkdwn
from reports.alerts import AlertSummary, FlowAlertState
from reports.formatting import fmt_ago, fmt_moment, truncate

STATES_SHOWN = 5  # flows per alert; an "all" alert may watch many
FRAME_BLOCKS = 3  # header, "more" note, hint


def describe_state(state: FlowAlertState, now: datetime, zone: tzinfo) -> str:
    """``🔴 *Diwali offers*: firing at 12.5% since 5 min ago · muted until 28 Nov 09:00 UTC``."""
    icon = "🔴" if state.state == "firing" else "🟢"
    since = f" since {fmt_ago(state.changed_at, now)}" if state.changed_at else ""
    muted = ""
    if state.muted_until is not None and state.muted_until > now:
        muted = f" · muted until {fmt_moment(state.muted_until, zone)}"
    return (
        f"{icon} *{mrkdwn(state.flow, NAME_IN_TEXT)}*: {state.state} at "
        f"{escape_mrkdwn(state.value)}{since}{muted}"
    )


def describe_alert(summary: AlertSummary, now: datetime, zone: tzinfo) -> str:
    """``*#3* “Diwali offers” — failure_rate > 5% (min 100 notifications) to <#C1>`` and a
    line per flow it was judged on."""
    who = ", ".join(recipient_mrkdwn(*r.partition(":")[::2]) for r in summary.recipients)
    lines = [
        f"*#{summary.id}* “{mrkdwn(summary.scope, NAME_IN_TEXT)}” — "
        f"{escape_mrkdwn(summary.condition)} to {who}"
    ]
    shown = summary.states[:STATES_SHOWN]
    lines += [describe_state(state, now, zone) for state in shown]
    if len(summary.states) > len(shown):
        lines.append(f"… and {len(summary.states) - len(shown)} more flows")
    if not summary.states:
        lines.append("_not judged yet_")
    return "\n".join(lines)


def build_alert_sections(
    summaries: Sequence[AlertSummary], now: datetime, zone: tzinfo, limit: int
) -> list[Block]:
    """One section per alert (at most ``limit``), each with a Remove button."""
    return [
        SectionBlock(
            text=MarkdownTextObject(text=truncate(describe_alert(s, now, zone), SECTION_TEXT)),
            accessory=button_element("Remove", REMOVE_ALERT, str(s.id), style="danger"),
        )
        for s in summaries[:limit]
    ]


def build_alerts_blocks(
    summaries: Sequence[AlertSummary], now: datetime, zone: tzinfo
) -> list[Block]:
    """The workspace's alerts, each with its state per flow and a Remove button."""
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text="Campaign alerts"))]
    if not summaries:
        blocks.append(
            section_block(
                f"No alerts yet. Try `{COMMAND} alert all failure_rate > 10` or "
                f'`{COMMAND} alert "Diwali offers" error:131049 > 50 to: me`.'
            )
        )
        return blocks
    room = MAX_BLOCKS - FRAME_BLOCKS
    blocks += build_alert_sections(summaries, now, zone, room)
    if len(summaries) > room:
        more = len(summaries) - room
        blocks.append(
            context_block(f"… and {more} more; `{COMMAND} alert remove ID` works for any.")
        )
    blocks.append(
        context_block(
            f"Alerts watch live and scheduled flows. Add one with `{COMMAND} alert …`; "
            f"remove one with `{COMMAND} alert remove ID`."
        )
    )
    return blocks
