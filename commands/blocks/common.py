"""Block Kit primitives every view shares (pure): limits, action ids, sections, buttons.

All user and data text is escaped for mrkdwn (``commands.mrkdwn``) and cut within Slack's
limits, and no message has more than ``MAX_BLOCKS`` blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from commands.mrkdwn import escape_mrkdwn
from reports.formatting import truncate

COMMAND = "/campaign-report"
# Action ids of our buttons and menus (commands.register maps each one to its listener).
OPEN_REPORT = "open_report"
FILTER_CHANNEL = "filter_channel"
SHOW_CHANNEL_STATS = "show_channel_stats"
SHARE_REPORT = "share_report"
DOWNLOAD_REPORT = "download_report"
DOWNLOAD_EXCEL = "download_report_xlsx"
UNSUBSCRIBE = "unsubscribe"
REMOVE_ALERT = "remove_alert"
MUTE_ALERT = "mute_alert"
# An alert message's report buttons answer with a new message, leaving the alert in place.
ALERT_OPEN_REPORT = "alert_open_report"
ALERT_CHANNEL_STATS = "alert_channel_stats"

MAX_BLOCKS = 50
SECTION_TEXT = 3000
HEADER_TEXT = 150
BUTTON_TEXT = 75
OPTION_TEXT = 75
MAX_OPTIONS = 100
NAME_IN_TEXT = 120  # a flow name inside a sentence


def section_block(text: str) -> SectionBlock:
    """A mrkdwn section; ``text`` must already be escaped."""
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_TEXT)))


def context_block(text: str) -> ContextBlock:
    """A one-element mrkdwn context line; ``text`` must already be escaped."""
    return ContextBlock(elements=[MarkdownTextObject(text=truncate(text, SECTION_TEXT))])


def button_element(
    text: str, action_id: str, value: str, style: str | None = None
) -> ButtonElement:
    """A button with a plain-text label cut to Slack's limit."""
    return ButtonElement(
        text=PlainTextObject(text=truncate(text, BUTTON_TEXT), emoji=True),
        action_id=action_id,
        value=value,
        style=style,
    )


def to_message(blocks: Sequence[Block], text: str, **fields: Any) -> dict[str, Any]:
    """A message payload: blocks (at most ``MAX_BLOCKS``), fallback text, extra fields.

    ``text`` is plain text; it is escaped here because Slack reads the fallback as mrkdwn in
    notifications (a flow named ``<!channel>`` must not ping anyone).
    """
    if len(blocks) > MAX_BLOCKS:
        raise ValueError(f"blocks: {len(blocks)} blocks exceed Slack's {MAX_BLOCKS}")
    fallback = truncate(escape_mrkdwn(text), SECTION_TEXT)
    return {"text": fallback, "blocks": [b.to_dict() for b in blocks]} | fields


def ephemeral(blocks: Sequence[Block], text: str) -> dict[str, Any]:
    """An ephemeral answer (only the asker sees it)."""
    return to_message(blocks, text, response_type="ephemeral")
