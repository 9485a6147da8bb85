"""Block Kit of an alert's message (pure): what fired or resolved, with its buttons.

The words are ``reports.alerts.describe_judgement``'s (the email says the same), escaped
here for mrkdwn. A firing message carries **Open report**, **Channel statistics** and **Mute
for 24 h**; a resolved one the two report buttons.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, HeaderBlock, PlainTextObject

from commands.blocks.common import (
    ALERT_CHANNEL_STATS,
    ALERT_OPEN_REPORT,
    HEADER_TEXT,
    MUTE_ALERT,
    button_element,
    context_block,
    section_block,
    to_message,
)
from commands.grammar import MuteTarget, Target
from commands.mrkdwn import escape_mrkdwn, mrkdwn
from reports.alerts import Condition, describe_judgement
from reports.content import AlertContent
from reports.formatting import fmt_moment, truncate

REASON_TEXT = 500


def build_alert_blocks(content: AlertContent) -> list[Block]:
    """The alert's message: headline, value against threshold, notifications, top reason."""
    judgement = content.judgement
    words = describe_judgement(content.kind, judgement)
    icon = "🚨" if content.kind == "firing" else "✅"
    flow = judgement["flow"]
    condition = Condition(
        judgement["metric"], judgement["op"], float(judgement["threshold"]),
        int(judgement["min_notifications"]),
    )  # fmt: skip
    lines = [f"*{escape_mrkdwn(words.condition)}*", escape_mrkdwn(words.notifications)]
    if words.top_reason:
        lines.append(mrkdwn(words.top_reason, REASON_TEXT))
    target = Target(content.flow_id).encode()
    buttons = [
        button_element("Open report", ALERT_OPEN_REPORT, target, style="primary"),
        button_element("Channel statistics", ALERT_CHANNEL_STATS, target),
    ]
    if content.kind == "firing":
        mute = MuteTarget(content.alert_id, content.flow_id).encode()
        buttons.append(button_element("Mute for 24 h", MUTE_ALERT, mute))
    return [
        HeaderBlock(text=PlainTextObject(text=truncate(f"{icon} {words.title}", HEADER_TEXT))),
        section_block("\n".join(lines)),
        context_block(
            f"Alert #{content.alert_id}: {escape_mrkdwn(condition.describe())} · "
            f"bot {mrkdwn(flow['bot_id'], 130)} · `{mrkdwn(flow['workflow_id'], 130)}` · "
            f"judged {fmt_moment(content.judged_at, content.zone)}"
        ),
        ActionsBlock(elements=buttons),
    ]


def alert_message(content: AlertContent) -> dict[str, Any]:
    """The ``chat.postMessage`` payload of an alert: blocks and a plain fallback text."""
    words = describe_judgement(content.kind, content.judgement)
    return to_message(build_alert_blocks(content), f"{words.title} — {words.condition}")
