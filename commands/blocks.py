"""Block Kit views (pure): usage, notices, flow lists, and the parts every view shares.

The report views (summary, channel statistics) are in ``commands.report_blocks``. All user
and data text is escaped for mrkdwn and truncated within Slack's limits, and no message has
more than ``MAX_BLOCKS`` blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from commands.formatting import (
    escape_mrkdwn,
    fmt_ago,
    mrkdwn,
    truncate,
)
from commands.requests import Target
from reports.flows import AmbiguousFlow, FlowLookupError, FlowNotFound, FlowNotReportable
from store.models import Flow

COMMAND = "/campaign-report"
OPEN_REPORT = "open_report"
FILTER_CHANNEL = "filter_channel"
SHOW_CHANNEL_STATS = "show_channel_stats"
SHARE_REPORT = "share_report"
DOWNLOAD_REPORT = "download_report"

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


def _flow_button(flow: Flow, label: str) -> ButtonElement:
    assert flow.id is not None
    return button_element(label, OPEN_REPORT, Target(flow.id).encode())


def to_message(blocks: Sequence[Block], text: str, **fields: Any) -> dict[str, Any]:
    """A message payload: blocks (at most ``MAX_BLOCKS``), fallback text, extra fields.

    ``text`` is plain text; it is escaped here because Slack reads the fallback as mrkdwn in
    notifications (a flow named ``<!channel>`` must not ping anyone).
    """
    if len(blocks) > MAX_BLOCKS:
        raise ValueError(f"blocks: {len(blocks)} blocks exceed Slack's {MAX_BLOCKS}")
    fallback = truncate(escape_mrkdwn(text), SECTION_TEXT)
    return {"text": fallback, "blocks": [b.to_dict() for b in blocks]} | fields


def build_usage_blocks() -> list[Block]:
    """How to use the command."""
    return [
        section_block(
            f"*{COMMAND}* shows a Flow campaign's report.\n"
            f"• `{COMMAND} list` — recent flows you can open\n"
            f"• `{COMMAND} Diwali offers` — a flow's summary (name or workflow id; quotes "
            "allowed)\n"
            f"• `{COMMAND} wf_42 channel:whatsapp` — the summary for one channel\n"
            f"• `{COMMAND} download Diwali offers` — the full CSV and PDF, by DM or email\n"
            f"• `{COMMAND} subscribe Diwali offers daily 09:00 to: me` — a digest; "
            f"`subscriptions`, `unsubscribe ID`\n"
            f"• `{COMMAND} help` — this message"
        ),
        context_block("Reports exist for scheduled, live and completed flows."),
    ]


def build_notice_blocks(message: str) -> list[Block]:
    """One plain sentence (escaped), e.g. a syntax error."""
    return [section_block(escape_mrkdwn(message))]


def build_no_grants_blocks(team_id: str) -> list[Block]:
    """The workspace was not granted any bot yet."""
    team = mrkdwn(team_id, 40)
    return [
        section_block(
            "This Slack workspace has not been given access to any bot's campaigns yet. "
            f"Ask an admin to run `campaign-bot workspace grant {team} BOT_ID`."
        )
    ]


def build_not_found_blocks(query: str, suggestions: Sequence[Flow]) -> list[Block]:
    """Unknown flow: the closest visible matches as buttons."""
    quoted = f"“{mrkdwn(query, NAME_IN_TEXT)}”"
    if not suggestions:
        return [
            section_block(
                f"No flow matches {quoted}. Try `{COMMAND} list` to see the flows you can open."
            )
        ]
    return [
        section_block(f"No flow matches {quoted}. Did you mean:"),
        ActionsBlock(elements=[_flow_button(f, _flow_label(f)) for f in suggestions[:25]]),
    ]


def build_ambiguous_blocks(query: str, candidates: Sequence[Flow]) -> list[Block]:
    """Several flows share the name: one button each."""
    quoted = f"“{mrkdwn(query, NAME_IN_TEXT)}”"
    return [
        section_block(f"{quoted} matches {len(candidates)} flows. Pick one:"),
        ActionsBlock(
            elements=[
                _flow_button(f, f"{f.name} ({f.bot_id}/{f.workflow_id})") for f in candidates[:25]
            ]
        ),
    ]


def build_not_reportable_blocks(flow: Flow) -> list[Block]:
    """The flow's status has no report (the seed: Completed and Scheduled campaigns)."""
    return [
        section_block(
            f"*{mrkdwn(flow.name, NAME_IN_TEXT)}* is {escape_mrkdwn(flow.status)}. Reports are "
            "available only for scheduled, live and completed flows."
        )
    ]


def build_unknown_channel_blocks(flow: Flow, channel: str, channels: Sequence[str]) -> list[Block]:
    """A ``channel:`` filter the flow has never used."""
    known = ", ".join(f"`{mrkdwn(c, 40)}`" for c in channels) or "none yet"
    return [
        section_block(
            f"*{mrkdwn(flow.name, NAME_IN_TEXT)}* has no channel `{mrkdwn(channel, 40)}`. "
            f"Its channels: {known}."
        )
    ]


def _flow_label(flow: Flow) -> str:
    return flow.name if flow.name == flow.workflow_id else f"{flow.name} ({flow.workflow_id})"


def build_flow_list_blocks(flows: Sequence[Flow], now: datetime) -> list[Block]:
    """Recent flows, each with a button that opens its report."""
    if not flows:
        return [section_block("No flows with reports yet for the bots this workspace can see.")]
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text="Recent flows", emoji=True))]
    for flow in flows[: MAX_BLOCKS - 1]:
        assert flow.id is not None
        line = (
            f"*{mrkdwn(flow.name, NAME_IN_TEXT)}* · {escape_mrkdwn(flow.status.capitalize())}\n"
            f"`{mrkdwn(flow.workflow_id, 130)}` · bot {mrkdwn(flow.bot_id, 130)} · "
            f"updated {fmt_ago(flow.updated_at, now)}"
        )
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=truncate(line, SECTION_TEXT)),
                accessory=button_element("Open report", OPEN_REPORT, Target(flow.id).encode()),
            )
        )
    return blocks


def notice_message(text: str) -> dict[str, Any]:
    """An ephemeral message of one plain sentence."""
    return to_message(build_notice_blocks(text), text, response_type="ephemeral")


def lookup_failure_message(exc: FlowLookupError) -> dict[str, Any]:
    """The ephemeral answer when the text names no flow, several, or one without a report."""
    if isinstance(exc, FlowNotFound):
        blocks, text = build_not_found_blocks(exc.query, exc.suggestions), "No such flow."
    elif isinstance(exc, AmbiguousFlow):
        blocks, text = build_ambiguous_blocks(exc.query, exc.suggestions), "Several flows."
    elif isinstance(exc, FlowNotReportable):
        blocks, text = build_not_reportable_blocks(exc.flow), "No report for that flow."
    else:
        raise exc
    return to_message(blocks, text, response_type="ephemeral")
