"""``/campaign-report <flow>``: the summary, its numbers and its controls, over real HTTP."""

from __future__ import annotations

from typing import Any

from tests.fakes.slack_requests import button, selection
from tests.slack.conftest import Harness
from tests.support import kpis


def texts(message: dict[str, Any]) -> str:
    """Every text a user sees in a message's blocks, joined by newlines."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message.get("blocks", []))
    return "\n".join(found)


def elements(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The interactive elements of the message (buttons, menus, accessories)."""
    found = []
    for block in message["blocks"]:
        found += block.get("elements", []) if block["type"] == "actions" else []
        if "accessory" in block:
            found.append(block["accessory"])
    return found


def test_summary_shows_the_kpi_engines_numbers(bot_any_store: Harness) -> None:
    ack, key = bot_any_store.command("Diwali offers")
    assert ack.status_code == 200
    message = bot_any_store.answer(key)
    expected = kpis(bot_any_store.engine)
    shown = texts(message)
    assert message["response_type"] == "ephemeral"
    assert message["blocks"][0]["text"]["text"] == "📊 Diwali offers — Completed"
    assert "Bot b1 · `wf_42` · Scheduled 1 Nov 2026 09:00 UTC" in shown
    analysis, overview, users = expected["analysis"], expected["overview"], expected["flow_users"]
    assert f"Audience: {analysis['audience']:,}" in shown
    assert (
        f"Impressions: {analysis['impressions']:,} ({analysis['delivery_rate']:.1f}% delivery rate)"
    ) in shown
    assert f"Reach: {analysis['reach']:,} · Engagement: {analysis['engagement']:,}" in shown
    assert f"Events: {overview['number_of_events']:,}" in shown
    assert f"Unique clicks: {overview['unique_clicks']:,}" in shown
    assert f"Goal conversion: {overview['goal_conversion']:,} (purchase)" in shown
    assert (
        f"Entered {users['users_entered_flow']:,} → In flow {users['users_in_flow']:,} → "
        f"Exited {users['users_exited_flow']:,} → Achieved goal {users['users_achieved_goal']:,}"
    ) in shown
    whatsapp = next(c for c in expected["channels"] if c["channel"] == "whatsapp")
    assert (
        f"{whatsapp['share']:.1f}% *WhatsApp* — {whatsapp['notifications']:,} notifications: "
        f"sent {whatsapp['sent']:,} · delivered {whatsapp['delivered']:,} · "
        f"read {whatsapp['read']:,} · failed {whatsapp['failed']:,} "
        f"({whatsapp['failure_rate']:.1f}%)"
    ) in shown
    assert "*SMS* — 2 notifications: sent 1 · failed 1 (50.0%) _(delivery not reported)_" in shown
    rates = expected["rates"]
    assert f"Failure rate: {rates['failure_rate']:.1f}% · Click-through rate: " in shown
    assert "Not a WA number (1, WhatsApp)" in shown
    labels = [e.get("text", {}).get("text") for e in elements(message)]
    assert labels == [
        None, "Channel statistics", "Download report", "Download Excel", "Share in channel",
    ]  # fmt: skip
    menu = elements(message)[0]
    assert [o["text"]["text"] for o in menu["options"]] == [
        "All channels",
        "Channel: SMS",
        "Channel: WhatsApp",
    ]


def test_quoted_name_with_channel_filter_shows_that_channels_numbers(bot: Harness) -> None:
    message = bot.ask("“diwali OFFERS” channel:SMS")
    expected = kpis(bot.engine, channel="sms")["analysis"]
    shown = texts(message)
    assert "*User engagement analysis* · SMS only" in shown
    assert f"Audience: {expected['audience']:,} · Impressions: {expected['impressions']:,}" in shown
    assert "WhatsApp —" not in shown
    menu = elements(message)[0]
    assert menu["initial_option"]["text"]["text"] == "Channel: SMS"


def test_channel_the_flow_never_used_is_named_with_the_flows_channels(bot: Harness) -> None:
    shown = texts(bot.ask("wf_42 channel:voice"))
    assert shown == "*Diwali offers* has no channel `voice`. Its channels: `sms`, `whatsapp`."


def test_channel_menu_rerenders_the_summary_in_place(bot: Harness) -> None:
    summary = bot.ask("wf_42")
    sms = next(o for o in elements(summary)[0]["options"] if o["text"]["text"] == "Channel: SMS")
    ack, key = bot.click(selection("filter_channel", sms["value"]))
    assert ack.status_code == 200
    filtered = bot.answer(key)
    assert filtered["replace_original"] is True
    assert "*User engagement analysis* · SMS only" in texts(filtered)
    everything = next(
        o for o in elements(filtered)[0]["options"] if o["text"]["text"] == "All channels"
    )
    _, key = bot.click(selection("filter_channel", everything["value"]))
    assert "*User engagement analysis* · All channels" in texts(bot.answer(key))


def test_channel_statistics_button_shows_sent_delivered_read_failed(bot: Harness) -> None:
    summary = bot.ask("wf_42")
    stats_button = next(e for e in elements(summary) if e.get("action_id") == "show_channel_stats")
    _, key = bot.click(button("show_channel_stats", stats_button["value"]))
    view = bot.answer(key)
    expected = {c["channel"]: c for c in kpis(bot.engine)["channels"]}
    assert view["replace_original"] is True
    assert view["blocks"][0]["text"]["text"] == "📡 Channel statistics: Diwali offers — Completed"
    sections = [b for b in view["blocks"] if b["type"] == "section"]
    fields = {s["text"]["text"].split("*")[1]: [f["text"] for f in s["fields"]] for s in sections}
    wa = expected["whatsapp"]
    assert fields["WhatsApp"] == [
        f"*Sent*\n{wa['sent']:,}",
        f"*Delivered*\n{wa['delivered']:,}",
        f"*Read*\n{wa['read']:,}",
        f"*Failed*\n{wa['failed']:,} ({wa['failure_rate']:.1f}%)",
    ]
    assert fields["SMS"] == [
        "*Sent*\n1",
        "*Delivered*\nn/a (not reported)",
        "*Read*\nn/a (not reported)",
        "*Failed*\n1 (50.0%)",  # 1 of its 2 notifications
    ]
    assert "Failure reasons: 30007 Carrier filtered (1)" in texts(view)
    back = [e["text"]["text"] for e in elements(view)]
    assert back == ["Back to summary", "Share in channel"]


def test_share_posts_the_same_summary_in_channel_without_controls(bot: Harness) -> None:
    summary = bot.ask("wf_42 channel:whatsapp")
    share = next(e for e in elements(summary) if e.get("action_id") == "share_report")
    _, key = bot.click(button("share_report", share["value"]), user_id="U0BOB")
    shared = bot.answer(key)
    assert shared["response_type"] == "in_channel"
    assert shared["replace_original"] is False
    assert "Shared by <@U0BOB> with `/campaign-report`" in texts(shared)
    assert [b for b in shared["blocks"] if b["type"] == "actions"] == []
    kept = [b for b in summary["blocks"] if b["type"] not in ("actions", "context")]
    assert [b for b in shared["blocks"] if b["type"] not in ("actions", "context")] == kept
