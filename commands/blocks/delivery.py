"""Slack text of what the scheduler delivers (pure): report summaries, alerts, owner notices.

The scheduler's Slack channel is given ``format_delivery`` by the composition root, so every
text Slack receives — answers, digests, notices — is written, and escaped, in this package.
"""

from __future__ import annotations

from typing import Any

from commands.blocks.alert_message import alert_message
from commands.blocks.common import COMMAND
from commands.mrkdwn import escape_mrkdwn, mention, mrkdwn, recipient_mrkdwn
from reports.content import (
    AlertContent,
    Content,
    DeliveryFailed,
    RenderFailed,
    ReportContent,
    timeline_caption,
)
from reports.formatting import truncate

REASON_TEXT = 500


def report_text(content: ReportContent) -> str:
    """The mrkdwn summary posted with the report files."""
    flow = content.report.flow
    text = [f"*{escape_mrkdwn(truncate(flow.name, 200))}* — {escape_mrkdwn(content.heading)}"]
    for line in content.kpi_lines():
        change = f" ({line.change})" if line.change else ""
        text.append(f"• {line.label}: {line.value}{change}")
    timeline = content.timeline_lines()
    if timeline and content.timeline is not None:
        text.append(f"_Over time: {escape_mrkdwn(timeline_caption(content.timeline))}_")
        width = max(len(line.label) for line in timeline)
        rows = [f"{line.label:<{width}} {line.spark} {line.total}" for line in timeline]
        text.append("```" + "\n".join(rows) + "```")
    digest = content.digest
    if digest is not None:
        text.append(
            f"_Digest {escape_mrkdwn(digest.schedule)} subscribed in Slack by "
            f"{mention('slack_user', digest.created_by)}. To stop it: "
            f"{COMMAND} unsubscribe {digest.subscription_id}_"
        )
    return "\n".join(text)


def failure_text(notice: DeliveryFailed) -> str:
    """``The campaign report for “X” could not be delivered to <@U1>: why``."""
    return (
        f"The {notice.what} for “{mrkdwn(notice.flow_name, 200)}” could not be delivered "
        f"to {recipient_mrkdwn(notice.channel, notice.recipient)}: "
        f"{mrkdwn(notice.reason, REASON_TEXT)}"
    )


def format_delivery(content: Content) -> dict[str, Any]:
    """The message payload (``text``; ``blocks`` for an alert) Slack gets for ``content``."""
    if isinstance(content, AlertContent):
        return alert_message(content)
    if isinstance(content, ReportContent):
        return {"text": report_text(content)}
    if isinstance(content, DeliveryFailed):
        return {"text": failure_text(content)}
    if isinstance(content, RenderFailed):
        return {"text": "Sorry, your campaign report could not be produced."}
    raise TypeError(f"no Slack format for {type(content).__name__}")
