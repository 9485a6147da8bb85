"""Block Kit views (pure): a ``FlowReport`` or a few flows in, ``slack_sdk`` blocks out.

Every number comes from the KPI engine's ``FlowReport``; these functions only format. All
user and data text is escaped for mrkdwn and truncated within Slack's limits, and no message
has more than ``MAX_BLOCKS`` blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)

from commands.formatting import (
    channel_label,
    escape_mrkdwn,
    fmt_ago,
    fmt_int,
    fmt_moment,
    fmt_pct,
    mrkdwn,
    share_bar,
    truncate,
)
from commands.requests import Target
from reports.kpis import ChannelStats, FlowReport
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
REASON_TEXT = 100
SUMMARY_CHANNEL_LINES = 15
STATS_CHANNELS = 20  # 2 blocks each, plus header, context and actions: under MAX_BLOCKS
TOP_REASONS = 5


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_TEXT)))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=truncate(text, SECTION_TEXT))])


def _button(text: str, action_id: str, value: str, style: str | None = None) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=truncate(text, BUTTON_TEXT), emoji=True),
        action_id=action_id,
        value=value,
        style=style,
    )


def _flow_button(flow: Flow, label: str) -> ButtonElement:
    assert flow.id is not None
    return _button(label, OPEN_REPORT, Target(flow.id).encode())


def to_message(blocks: Sequence[Block], text: str, **fields: Any) -> dict[str, Any]:
    """A message payload: blocks (at most ``MAX_BLOCKS``), fallback text, extra fields."""
    if len(blocks) > MAX_BLOCKS:
        raise ValueError(f"blocks: {len(blocks)} blocks exceed Slack's {MAX_BLOCKS}")
    return {"text": truncate(text, SECTION_TEXT), "blocks": [b.to_dict() for b in blocks]} | fields


def build_usage_blocks() -> list[Block]:
    """How to use the command."""
    return [
        _section(
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
        _context("Reports exist for scheduled, live and completed flows."),
    ]


def build_notice_blocks(message: str) -> list[Block]:
    """One plain sentence (escaped), e.g. a syntax error."""
    return [_section(escape_mrkdwn(message))]


def build_no_grants_blocks(team_id: str) -> list[Block]:
    """The workspace was not granted any bot yet."""
    team = mrkdwn(team_id, 40)
    return [
        _section(
            "This Slack workspace has not been given access to any bot's campaigns yet. "
            f"Ask an admin to run `campaign-bot workspace grant {team} BOT_ID`."
        )
    ]


def build_not_found_blocks(query: str, suggestions: Sequence[Flow]) -> list[Block]:
    """Unknown flow: the closest visible matches as buttons."""
    quoted = f"“{mrkdwn(query, NAME_IN_TEXT)}”"
    if not suggestions:
        return [
            _section(
                f"No flow matches {quoted}. Try `{COMMAND} list` to see the flows you can open."
            )
        ]
    return [
        _section(f"No flow matches {quoted}. Did you mean:"),
        ActionsBlock(elements=[_flow_button(f, _flow_label(f)) for f in suggestions[:25]]),
    ]


def build_ambiguous_blocks(query: str, candidates: Sequence[Flow]) -> list[Block]:
    """Several flows share the name: one button each."""
    quoted = f"“{mrkdwn(query, NAME_IN_TEXT)}”"
    return [
        _section(f"{quoted} matches {len(candidates)} flows. Pick one:"),
        ActionsBlock(
            elements=[
                _flow_button(f, f"{f.name} ({f.bot_id}/{f.workflow_id})") for f in candidates[:25]
            ]
        ),
    ]


def build_not_reportable_blocks(flow: Flow) -> list[Block]:
    """The flow's status has no report (the seed: Completed and Scheduled campaigns)."""
    return [
        _section(
            f"*{mrkdwn(flow.name, NAME_IN_TEXT)}* is {escape_mrkdwn(flow.status)}. Reports are "
            "available only for scheduled, live and completed flows."
        )
    ]


def build_unknown_channel_blocks(flow: Flow, channel: str, channels: Sequence[str]) -> list[Block]:
    """A ``channel:`` filter the flow has never used."""
    known = ", ".join(f"`{mrkdwn(c, 40)}`" for c in channels) or "none yet"
    return [
        _section(
            f"*{mrkdwn(flow.name, NAME_IN_TEXT)}* has no channel `{mrkdwn(channel, 40)}`. "
            f"Its channels: {known}."
        )
    ]


def _flow_label(flow: Flow) -> str:
    return flow.name if flow.name == flow.workflow_id else f"{flow.name} ({flow.workflow_id})"


def build_flow_list_blocks(flows: Sequence[Flow], now: datetime) -> list[Block]:
    """Recent flows, each with a button that opens its report."""
    if not flows:
        return [_section("No flows with reports yet for the bots this workspace can see.")]
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
                accessory=_button("Open report", OPEN_REPORT, Target(flow.id).encode()),
            )
        )
    return blocks


def _header(report: FlowReport, prefix: str = "📊 ") -> HeaderBlock:
    status = report.flow.status.capitalize()
    room = HEADER_TEXT - len(prefix) - len(status) - 3
    return HeaderBlock(
        text=PlainTextObject(text=f"{prefix}{truncate(report.flow.name, room)} — {status}")
    )


def _facts(report: FlowReport, zone: ZoneInfo) -> str:
    parts = [f"Bot {mrkdwn(report.flow.bot_id, 130)}", f"`{mrkdwn(report.flow.workflow_id, 130)}`"]
    details = report.details
    if details.scheduled_at is not None:
        parts.append(f"Scheduled {fmt_moment(details.scheduled_at, zone)}")
    if details.updated_at is not None:
        parts.append(f"updated {fmt_ago(details.updated_at, report.generated_at)}")
    parts.append(f"generated {fmt_moment(report.generated_at, zone)}")
    return " · ".join(parts)


def _scope(report: FlowReport) -> str:
    return f"{channel_label(report.channel)} only" if report.channel else "All channels"


def _overview_text(report: FlowReport) -> str:
    overview = report.overview
    channels = ", ".join(channel_label(c) for c in overview.engagement_channels) or "none"
    goal = fmt_int(overview.goal_conversion, "no goal set")
    if report.flow.goal and overview.goal_conversion is not None:
        goal += f" ({mrkdwn(report.flow.goal, 80)})"
    return (
        "*User engagement overview*\n"
        f"Channels: {mrkdwn(channels, 300)}\n"
        f"Events: {fmt_int(overview.number_of_events)} · "
        f"Unique clicks: {fmt_int(overview.unique_clicks)} · "
        f"Conversations initiated: {fmt_int(overview.conversations_initiated)}\n"
        f"Goal conversion: {goal}"
    )


def _analysis_text(report: FlowReport) -> str:
    analysis = report.analysis
    return (
        f"*User engagement analysis* · {escape_mrkdwn(_scope(report))}\n"
        f"Audience: {fmt_int(analysis.audience)} · "
        f"Impressions: {fmt_int(analysis.impressions)} "
        f"({fmt_pct(analysis.delivery_rate)} delivery rate)\n"
        f"Reach: {fmt_int(analysis.reach)} · Engagement: {fmt_int(analysis.engagement)}"
    )


def _flow_users_text(report: FlowReport) -> str:
    users = report.flow_users
    return (
        "*Flow users*\n"
        f"Entered {fmt_int(users.users_entered_flow)} → In flow {fmt_int(users.users_in_flow)}"
        f" → Exited {fmt_int(users.users_exited_flow)}"
        f" → Achieved goal {fmt_int(users.users_achieved_goal)}"
    )


def _status_counts(row: ChannelStats) -> str:
    if row.delivered is None:
        return f"sent {fmt_int(row.sent)} · failed {fmt_int(row.failed)} _(delivery not reported)_"
    return (
        f"sent {fmt_int(row.sent)} · delivered {fmt_int(row.delivered)} · "
        f"read {fmt_int(row.read)} · failed {fmt_int(row.failed)}"
    )


def _channels_text(report: FlowReport) -> str:
    lines = ["*Channel statistics* (share of notifications)"]
    if not report.channels:
        lines.append("No notifications yet.")
    for row in report.channels[:SUMMARY_CHANNEL_LINES]:
        name = mrkdwn(channel_label(row.channel), 40)
        lines.append(
            f"`{share_bar(row.share)}` {fmt_pct(row.share)} *{name}* — "
            f"{fmt_int(row.notifications)} notifications: {_status_counts(row)}"
        )
    hidden = len(report.channels) - SUMMARY_CHANNEL_LINES
    if hidden > 0:
        lines.append(f"… and {hidden} more channels (see Channel statistics)")
    return "\n".join(lines)


def _reasons_text(report: FlowReport) -> str | None:
    reasons = sorted(
        ((r.count, row.channel, r.reason) for row in report.channels for r in row.failure_reasons),
        key=lambda item: (-item[0], item[1], item[2]),
    )
    if not reasons:
        return None
    shown = [
        f"{mrkdwn(reason, REASON_TEXT)} ({fmt_int(count)}, {mrkdwn(channel_label(channel), 40)})"
        for count, channel, reason in reasons[:TOP_REASONS]
    ]
    more = " · …" if len(reasons) > TOP_REASONS else ""
    return "Top failure reasons: " + " · ".join(shown) + more


def _channel_menu(
    flow_id: int, current: str | None, channels: Sequence[str]
) -> StaticSelectElement:
    options = [Option(text=PlainTextObject(text="All channels"), value=Target(flow_id).encode())]
    for channel in channels[: MAX_OPTIONS - 1]:
        label = truncate(f"Channel: {channel_label(channel)}", OPTION_TEXT)
        options.append(
            Option(text=PlainTextObject(text=label), value=Target(flow_id, channel).encode())
        )
    initial = next((o for o in options if o.value == Target(flow_id, current).encode()), options[0])
    return StaticSelectElement(
        action_id=FILTER_CHANNEL,
        placeholder=PlainTextObject(text="Channel"),
        options=options,
        initial_option=initial,
    )


def build_summary_blocks(
    report: FlowReport,
    *,
    flow_id: int,
    channels: Sequence[str],
    zone: ZoneInfo,
    shared_by: str | None = None,
) -> list[Block]:
    """The summary: header, the seed's sections, channel bars, failure reasons, actions.

    ``channels`` are the ones the filter menu offers; ``shared_by`` (a Slack user id) marks
    the copy posted in the channel, which has no controls so nobody can change it for all.
    """
    blocks: list[Block] = [
        _header(report),
        _context(_facts(report, zone)),
        _section(_overview_text(report)),
        _section(_analysis_text(report)),
        _section(_flow_users_text(report)),
        _section(_channels_text(report)),
    ]
    reasons = _reasons_text(report)
    if reasons:
        blocks.append(_context(reasons))
    if shared_by is not None:
        blocks.append(_context(f"Shared by <@{shared_by}> with `{COMMAND}`"))
        return blocks
    target = Target(flow_id, report.channel).encode()
    blocks.append(
        ActionsBlock(
            elements=[
                _channel_menu(flow_id, report.channel, channels),
                _button("Channel statistics", SHOW_CHANNEL_STATS, target),
                _button("Download report", DOWNLOAD_REPORT, target),
                _button("Share in channel", SHARE_REPORT, target, style="primary"),
            ]
        )
    )
    return blocks


def _stats_fields(row: ChannelStats) -> list[MarkdownTextObject]:
    not_reported = "n/a (not reported)"
    values = [
        ("Sent", fmt_int(row.sent)),
        ("Delivered", fmt_int(row.delivered, not_reported)),
        ("Read", fmt_int(row.read, not_reported)),
        ("Failed", fmt_int(row.failed)),
    ]
    return [MarkdownTextObject(text=f"*{label}*\n{value}") for label, value in values]


def build_channel_stats_blocks(report: FlowReport, *, flow_id: int, zone: ZoneInfo) -> list[Block]:
    """Per channel: share of notifications, Sent/Delivered/Read/Failed and failure reasons."""
    blocks: list[Block] = [
        _header(report, prefix="📡 Channel statistics: "),
        _context(
            f"{escape_mrkdwn(_scope(report))} · {fmt_int(report.total_notifications)} "
            f"notifications · {_facts(report, zone)}"
        ),
    ]
    if not report.channels:
        blocks.append(_section("No notifications yet."))
    for row in report.channels[:STATS_CHANNELS]:
        title = (
            f"*{mrkdwn(channel_label(row.channel), 40)}* `{share_bar(row.share)}` "
            f"{fmt_pct(row.share)} of notifications ({fmt_int(row.notifications)})"
        )
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=truncate(title, SECTION_TEXT)),
                fields=_stats_fields(row),
            )
        )
        if row.failure_reasons:
            reasons = " · ".join(
                f"{mrkdwn(r.reason, REASON_TEXT)} ({fmt_int(r.count)})" for r in row.failure_reasons
            )
            blocks.append(_context(f"Failure reasons: {reasons}"))
    hidden = len(report.channels) - STATS_CHANNELS
    if hidden > 0:
        blocks.append(_context(f"… and {hidden} more channels not shown."))
    blocks.append(DividerBlock())
    blocks.append(
        ActionsBlock(
            elements=[
                _button("Back to summary", OPEN_REPORT, Target(flow_id, report.channel).encode()),
                _button(
                    "Share in channel",
                    SHARE_REPORT,
                    Target(flow_id, report.channel).encode(),
                    style="primary",
                ),
            ]
        )
    )
    return blocks


def summary_text(report: FlowReport) -> str:
    """Fallback text for notifications and screen readers."""
    analysis = report.analysis
    return (
        f"{report.flow.name} ({report.flow.status}): {fmt_int(analysis.impressions)} "
        f"impressions, {fmt_pct(analysis.delivery_rate)} delivery rate"
    )
