"""Signatures, hostile text and Slack's limits."""

from __future__ import annotations

import time

from sqlalchemy.engine import Engine

from tests.fakes.slack_requests import button
from tests.slack.conftest import Harness, grant, running_bot
from tests.slack.test_summary import texts
from tests.support import flow, ingest, msg


def test_bad_signature_gets_401_and_nothing_runs(bot: Harness) -> None:
    ack, _ = bot.command("Diwali offers", secret="not-the-secret")
    assert ack.status_code == 401
    ack, _ = bot.command("help", secret="not-the-secret")
    assert ack.status_code == 401
    assert "recent flows" not in ack.text
    # The same requests, rightly signed, are answered; the rejected ones left no trace.
    ack, _ = bot.command("help")
    assert "recent flows" in texts(ack.json())
    assert bot.fake.calls_to("response_url", status=None) == []


def test_stale_timestamp_gets_401(bot: Harness) -> None:
    ack, _ = bot.command("Diwali offers", timestamp=int(time.time()) - 6 * 60)
    assert ack.status_code == 401
    ack, key = bot.command("Diwali offers")
    assert ack.status_code == 200
    bot.answer(key)
    assert [c.path for c in bot.fake.calls_to("response_url")] == [f"/response/{key}"]


def test_hostile_names_cannot_mention_or_link(sqlite_engine: Engine) -> None:
    hostile = "<!channel> & <https://evil.example|click me>"
    ingest(
        sqlite_engine,
        flow(name=hostile, goal="<@U0BOSS>"),
        msg("m1", "+1", "sms", "failed", comments="<!here> pay <https://x.example>"),
    )
    grant(sqlite_engine)
    with running_bot(sqlite_engine) as bot:
        shown = texts(bot.ask("wf_42")) + texts(bot.ask("list"))
        echoed = texts(bot.ask("<@U0BOSS> <!everyone>"))
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click me&gt;" in shown
    assert "(&lt;@U0BOSS&gt;)" in shown
    assert "&lt;!here&gt; pay &lt;https://x.example&gt;" in shown
    # Headers are plain text, which Slack shows verbatim; everywhere else must be escaped.
    mrkdwn_only = "\n".join(line for line in shown.splitlines() if not line.startswith("📊"))
    assert "<!" not in mrkdwn_only and "<@" not in mrkdwn_only and "<http" not in mrkdwn_only
    assert echoed.startswith("No flow matches “&lt;@U0BOSS&gt; &lt;!everyone&gt;”.")


def test_long_names_and_many_channels_stay_within_slacks_limits(sqlite_engine: Engine) -> None:
    name = "Ω" + "Very long campaign name " * 12  # 289 characters
    channels = [f"ch{n:02d}" for n in range(30)]
    events = [flow(name=name, channels=channels)]
    for n, channel in enumerate(channels):
        reason = f"{n} " + "reason " * 60
        events.append(msg(f"m{n}", f"+{n}", channel, "failed", comments=reason))
    ingest(sqlite_engine, *events)
    grant(sqlite_engine)
    with running_bot(sqlite_engine) as bot:
        summary = bot.ask("wf_42")
        stats_value = summary["blocks"][-1]["elements"][1]["value"]
        _, key = bot.click(button("show_channel_stats", stats_value))
        stats = bot.answer(key)
    # The stand-in validates every block against Block Kit's limits before accepting it.
    header = summary["blocks"][0]["text"]["text"]
    assert len(header) <= 150 and header.startswith("📊 ΩVery long campaign name") and "…" in header
    assert "… and 15 more channels (see Channel statistics)" in texts(summary)
    assert len(stats["blocks"]) <= 50
    assert "… and 10 more channels not shown." in texts(stats)
