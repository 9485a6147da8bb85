"""Block Kit builders: pure functions of a report, within Slack's limits."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block

from commands.blocks.common import to_message
from commands.blocks.notices import build_flow_list_blocks, build_not_found_blocks
from commands.blocks.report import build_channel_stats_blocks, build_summary_blocks
from reports.kpis import (
    Analysis,
    ChannelStats,
    FailureReason,
    FlowInfo,
    FlowReport,
    FlowUsers,
    Overview,
)
from store.models import Flow

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")


def report(name: str = "Diwali offers", channels: int = 2) -> FlowReport:
    """A report as the KPI engine returns it."""
    rows = [
        ChannelStats(
            channel="whatsapp" if n == 0 else f"ch{n}",
            notifications=1000 - n,
            share=50.0,
            sent=900,
            delivered=800 if n == 0 else None,
            read=700 if n == 0 else None,
            failed=100,
            failure_reasons=[FailureReason(reason="1408 " + "x" * 400, count=100)],
        )
        for n in range(channels)
    ]
    return FlowReport(
        flow=FlowInfo(bot_id="b1", workflow_id="wf_42", name=name, status="completed", goal="buy"),
        channel=None,
        overview=Overview(
            engagement_channels=["whatsapp"],
            number_of_events=48210,
            unique_clicks=3112,
            conversations_initiated=1904,
            goal_conversion=611,
        ),
        analysis=Analysis(
            audience=25000, impressions=21430, delivery_rate=92.4, reach=19877, engagement=6540
        ),
        flow_users=FlowUsers(
            users_entered_flow=24100,
            users_in_flow=3020,
            users_exited_flow=1220,
            users_achieved_goal=611,
        ),
        channels=rows,
        generated_at=NOW,
    )


def valid(blocks: list[Block]) -> list[dict]:
    """Blocks as Slack receives them; slack_sdk raises on any limit broken."""
    return to_message(blocks, "fallback")["blocks"]


def test_summary_has_the_seeds_sections_and_a_download_button() -> None:
    blocks = valid(build_summary_blocks(report(), flow_id=1, channels=["whatsapp"], zone=UTC_ZONE))
    text = str(blocks)
    assert "Events: 48,210 · Unique clicks: 3,112 · Conversations initiated: 1,904" in text
    assert "Goal conversion: 611 (buy)" in text
    assert "Impressions: 21,430 (92.4% delivery rate)" in text
    assert "Entered 24,100 → In flow 3,020 → Exited 1,220 → Achieved goal 611" in text
    assert "'text': 'Download report'" in text


def test_summary_of_a_huge_flow_keeps_every_limit() -> None:
    big = report(name="N" * 300, channels=60)
    channels = [f"ch{n}" for n in range(150)]
    summary = valid(build_summary_blocks(big, flow_id=1, channels=channels, zone=UTC_ZONE))
    stats = valid(build_channel_stats_blocks(big, flow_id=1, zone=UTC_ZONE))
    assert len(summary) <= 50 and len(stats) <= 50
    assert len(summary[0]["text"]["text"]) == 150
    menu = summary[-1]["elements"][0]
    assert len(menu["options"]) == 100


def test_flow_list_and_suggestions_are_buttons_with_short_labels() -> None:
    flows = [
        Flow(
            id=n,
            bot_id="b1",
            workflow_id=f"wf_{n}",
            name="L" * 300,
            status="completed",
            updated_at=NOW,
        )
        for n in range(60)
    ]
    listed = valid(build_flow_list_blocks(flows, NOW))
    assert len(listed) == 50
    suggested = valid(build_not_found_blocks("l", flows[:5]))
    labels = [e["text"]["text"] for e in suggested[1]["elements"]]
    assert len(labels) == 5 and all(len(label) <= 75 for label in labels)


def test_fallback_text_cannot_ping_or_link() -> None:
    from commands.blocks.common import to_message
    from commands.blocks.report import summary_text

    hostile = report(name="<!channel> <https://evil.example|Click> & more")
    blocks = build_summary_blocks(hostile, flow_id=1, channels=["sms"], zone=UTC_ZONE)
    message = to_message(blocks, summary_text(hostile))
    assert message["text"].startswith("&lt;!channel&gt; &lt;https://evil.example|Click&gt; &amp;")
    # plain_text never renders mentions or links; every mrkdwn text must be escaped
    mrkdwn = [d["text"] for d in _dicts(message["blocks"]) if d.get("type") == "mrkdwn"]
    assert not any("<!channel>" in text or "<https://evil" in text for text in mrkdwn)


def _dicts(value: object):
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _dicts(child)
    elif isinstance(value, list):
        for child in value:
            yield from _dicts(child)
