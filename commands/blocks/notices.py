"""Block Kit notices (pure): usage, one-sentence answers, lookup failures, the flow list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from commands.blocks.common import (
    COMMAND,
    MAX_BLOCKS,
    NAME_IN_TEXT,
    OPEN_REPORT,
    SECTION_TEXT,
    button_element,
    context_block,
    ephemeral,
    section_block,
)
from commands.grammar import Target
from commands.mrkdwn import escape_mrkdwn, mrkdwn
from reports.access import FlowUnavailable, NoGrants, UnknownChannel
from reports.flows import (
    AmbiguousFlow,
    FlowLookupError,
    FlowNotFound,
    FlowNotReportable,
    describe_flow,
)
from reports.formatting import fmt_ago, truncate
from store.models import Flow


def _flow_button(flow: Flow, label: str) -> ButtonElement:
    assert flow.id is not None
    return button_element(label, OPEN_REPORT, Target(flow.id).encode())


def build_usage_blocks() -> list[Block]:
    """How to use the command."""
    return [
        section_block(
            f"*{COMMAND}* shows a Flow campaign's report.\n"
            f"• `{COMMAND} list` — recent flows you can open\n"
            f"• `{COMMAND} Diwali offers` — a flow's summary (name or workflow id; quotes "
            "allowed)\n"
            f"• `{COMMAND} wf_42 channel:whatsapp` — the summary for one channel\n"
            f"• `{COMMAND} download Diwali offers` — the full CSV and PDF, by DM or email "
            "(`format:xlsx` for Excel)\n"
            f"• `{COMMAND} compare Diwali offers vs wf_43` — 2 to 5 flows side by side\n"
            f"• `{COMMAND} subscribe Diwali offers daily 09:00 to: me` — a digest "
            "(`format:xlsx` for Excel); `subscriptions`, `unsubscribe ID`\n"
            f"• `{COMMAND} alert Diwali offers failure_rate > 5 [min:100] [to: #ops]` — an alert "
            "on a live flow (or `all`): delivery_rate, failure_rate, read_rate, "
            "click_through_rate, failed, error:CODE; `alerts`, `alert remove ID`\n"
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
        ActionsBlock(elements=[_flow_button(f, describe_flow(f)) for f in suggestions[:25]]),
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
    return ephemeral(build_notice_blocks(text), text)


def refusal_message(exc: Exception) -> dict[str, Any]:
    """The ephemeral answer when a request cannot be served as asked.

    No grants, a flow the text does not name (or names several of), a flow without a report,
    a flow that is gone or not this workspace's, a channel the flow does not have.
    """
    if isinstance(exc, NoGrants):
        return ephemeral(build_no_grants_blocks(exc.team_id), "No access yet.")
    if isinstance(exc, FlowNotFound):
        return ephemeral(build_not_found_blocks(exc.query, exc.suggestions), "No such flow.")
    if isinstance(exc, AmbiguousFlow):
        return ephemeral(build_ambiguous_blocks(exc.query, exc.suggestions), "Several flows.")
    if isinstance(exc, FlowNotReportable):
        return ephemeral(build_not_reportable_blocks(exc.flow), "No report for that flow.")
    if isinstance(exc, FlowUnavailable):
        return notice_message(str(exc))
    if isinstance(exc, UnknownChannel):
        blocks = build_unknown_channel_blocks(exc.flow, exc.channel, exc.channels)
        return ephemeral(blocks, "Unknown channel.")
    raise exc


REFUSALS = (NoGrants, FlowLookupError, UnknownChannel)  # what refusal_message answers
