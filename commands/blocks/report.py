"""Block Kit report views (pure): a ``FlowReport`` in, ``slack_sdk`` blocks out.

Every number comes from the KPI engine's ``FlowReport``; these functions only format.
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)

from commands.blocks.common import (
    COMMAND,
    DOWNLOAD_EXCEL,
    DOWNLOAD_REPORT,
    FILTER_CHANNEL,
    HEADER_TEXT,
    MAX_OPTIONS,
    OPEN_REPORT,
    OPTION_TEXT,
    SECTION_TEXT,
    SHARE_REPORT,
    SHOW_CHANNEL_STATS,
    button_element,
    context_block,
    section_block,
)
from commands.grammar import Target
from commands.mrkdwn import escape_mrkdwn, mrkdwn, share_bar
from reports.formatting import (
    channel_label,
    fmt_ago,
    fmt_int,
    fmt_moment,
    fmt_pct,
    rate_items,
    top_failure_reasons,
    truncate,
)
from reports.kpis import ChannelStats, FlowReport

REASON_TEXT = 100
SUMMARY_CHANNEL_LINES = 15
STATS_CHANNELS = 20  # 2 blocks each, plus header, context and actions: under MAX_BLOCKS
TOP_REASONS = 5


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
        f"Reach: {fmt_int(analysis.reach)} · Engagement: {fmt_int(analysis.engagement)}\n"
        + " · ".join(f"{label}: {value}" for label, value in rate_items(report))
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
    failed = f"failed {fmt_int(row.failed)} ({fmt_pct(row.failure_rate)})"
    if row.delivered is None:
        return f"sent {fmt_int(row.sent)} · {failed} _(delivery not reported)_"
    return (
        f"sent {fmt_int(row.sent)} · delivered {fmt_int(row.delivered)} · "
        f"read {fmt_int(row.read)} · {failed}"
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
    reasons = top_failure_reasons(report, TOP_REASONS + 1)  # one more: is there a "…"?
    if not reasons:
        return None
    shown = [
        f"{mrkdwn(r.reason, REASON_TEXT)} ({fmt_int(r.count)}, "
        f"{mrkdwn(channel_label(r.channel), 40)})"
        for r in reasons[:TOP_REASONS]
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
        context_block(_facts(report, zone)),
        section_block(_overview_text(report)),
        section_block(_analysis_text(report)),
        section_block(_flow_users_text(report)),
        section_block(_channels_text(report)),
    ]
    reasons = _reasons_text(report)
    if reasons:
        blocks.append(context_block(reasons))
    if shared_by is not None:
        blocks.append(context_block(f"Shared by <@{shared_by}> with `{COMMAND}`"))
        return blocks
    target = Target(flow_id, report.channel).encode()
    blocks.append(
        ActionsBlock(
            elements=[
                _channel_menu(flow_id, report.channel, channels),
                button_element("Channel statistics", SHOW_CHANNEL_STATS, target),
                button_element("Download report", DOWNLOAD_REPORT, target),
                button_element("Download Excel", DOWNLOAD_EXCEL, target),
                button_element("Share in channel", SHARE_REPORT, target, style="primary"),
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
        ("Failed", f"{fmt_int(row.failed)} ({fmt_pct(row.failure_rate)})"),
    ]
    return [MarkdownTextObject(text=f"*{label}*\n{value}") for label, value in values]


def build_channel_stats_blocks(report: FlowReport, *, flow_id: int, zone: ZoneInfo) -> list[Block]:
    """Per channel: share of notifications, Sent/Delivered/Read/Failed and failure reasons."""
    blocks: list[Block] = [
        _header(report, prefix="📡 Channel statistics: "),
        context_block(
            f"{escape_mrkdwn(_scope(report))} · {fmt_int(report.total_notifications)} "
            f"notifications · {_facts(report, zone)}"
        ),
    ]
    if not report.channels:
        blocks.append(section_block("No notifications yet."))
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
            blocks.append(context_block(f"Failure reasons: {reasons}"))
    hidden = len(report.channels) - STATS_CHANNELS
    if hidden > 0:
        blocks.append(context_block(f"… and {hidden} more channels not shown."))
    blocks.append(DividerBlock())
    blocks.append(
        ActionsBlock(
            elements=[
                button_element(
                    "Back to summary", OPEN_REPORT, Target(flow_id, report.channel).encode()
                ),
                button_element(
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
