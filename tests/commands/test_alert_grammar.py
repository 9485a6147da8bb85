"""``/campaign-report alert …``: the grammar, and the Block Kit of alerts (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from commands.blocks.alert_message import alert_message
from commands.blocks.alerts import build_alerts_blocks
from commands.blocks.common import MAX_BLOCKS
from commands.grammar import (
    AlertSpec,
    AlertSyntaxError,
    BadValue,
    alert_subcommand_of,
    parse_alert,
    parse_mute_target,
)
from reports.alerts import AlertSummary, FlowAlertState
from reports.content import AlertContent
from tests.fakes.slack_api import blocks_problem

ME = "U0ALICE"
HERE = "C0GENERAL"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '"Diwali offers" failure_rate > 5',
            AlertSpec("Diwali offers", "failure_rate", ">", 5.0, 100, ("slack_channel:C0GENERAL",)),
        ),
        (
            "Diwali offers failure_rate>=5.5% min:200",
            AlertSpec(
                "Diwali offers", "failure_rate", ">=", 5.5, 200, ("slack_channel:C0GENERAL",)
            ),
        ),
        (
            "all delivery_rate &lt; 90 % to: me, <#C0OPS|ops>",
            AlertSpec(
                "all",
                "delivery_rate",
                "<",
                90.0,
                100,
                ("slack_user:U0ALICE", "slack_channel:C0OPS"),
            ),
        ),
        (
            "wf_42 ERROR:131049 &gt; 50 to: <mailto:Ops@Acme.example|Ops@Acme.example>",
            AlertSpec("wf_42", "error:131049", ">", 50.0, 100, ("email:ops@acme.example",)),
        ),
        (
            "wf_42 failed =&gt; 10 min:0 to: <@U0BOB|bob>",
            AlertSpec("wf_42", "failed", ">=", 10.0, 0, ("slack_user:U0BOB",)),
        ),
        (
            "“Mums > dads” Read_Rate ≤ 40",
            AlertSpec("Mums > dads", "read_rate", "<=", 40.0, 100, ("slack_channel:C0GENERAL",)),
        ),
    ],
)
def test_alert_commands_parse(text: str, expected: AlertSpec) -> None:
    assert parse_alert(text, ME, HERE) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("wf_42 open_rate > 5", "unknown metric 'open_rate'"),
        ("wf_42 failure_rate > 101", "the threshold must be from 0 to 100, not 101"),
        ("wf_42 failed > 5%", "failed counts messages: write the threshold without %"),
        ("wf_42 failed > 2.5", "must be a whole number from 0 to 1,000,000,000, not 2.5"),
        ("wf_42 failure_rate > five", "the threshold must be a number, e.g. 5 or 2.5%"),
        ("wf_42 failure_rate > 5 tomorrow", "'tomorrow' is not understood here; use min: or to:"),
        ("wf_42 failure_rate > 5 min:lots", "min: needs a whole number of notifications"),
        ("failure_rate > 5", "Write: alert <flow|all> <metric> <op> <threshold>"),
        ("wf_42 failure_rate == 5", "alerts compare with <, <=, > or >=, not ="),
        ("wf_42 failure_rate > 5 to: #ops", "to: pick #ops from Slack's autocomplete"),
        ("wf_42 error:two words > 5", "unknown metric 'words'"),
        ('"wf_42 failure_rate > 5', "A quote is not closed"),
    ],
)
def test_nonsense_gets_a_one_line_reason(text: str, reason: str) -> None:
    with pytest.raises(AlertSyntaxError, match=reason.replace("(", r"\(").replace("|", r"\|")):
        parse_alert(text, ME, HERE)


def test_without_to_an_alert_goes_where_the_command_was_typed() -> None:
    assert parse_alert("wf_42 failed > 1", ME, "G0PRIVATE").recipients == ("slack_channel:G0PRIVATE",)  # fmt: skip
    # In a DM the app can only post in its own DM with the user.
    assert parse_alert("wf_42 failed > 1", ME, "D0DM").recipients == ("slack_user:U0ALICE",)


def test_alert_words_and_button_values() -> None:
    assert alert_subcommand_of("Alerts") == ("alerts", "")
    assert alert_subcommand_of("alert remove 3") == ("alert", "remove 3")
    assert alert_subcommand_of("alerting flow") is None
    assert parse_mute_target("3|12").encode() == "3|12"
    with pytest.raises(BadValue):
        parse_mute_target("3|x")


def _content(name: str, kind: str = "firing") -> AlertContent:
    return AlertContent(
        event_id="3.12.1", alert_id=3, flow_id=12, kind=kind, zone=ZoneInfo("UTC"),
        judgement={
            "flow": {"bot_id": "b1", "workflow_id": "wf_42", "name": name},
            "metric": "error:131049", "op": ">", "threshold": 50.0, "min_notifications": 100,
            "value": 51, "notifications": 1234,
            "top_reason": {"channel": "whatsapp", "reason": "<!channel> 131049", "count": 51},
            "judged_at": "2026-11-27T09:00:00Z",
        },
    )  # fmt: skip


def test_the_alert_message_escapes_outside_text_and_keeps_slacks_limits() -> None:
    message = alert_message(_content("<!channel> " + "x" * 400))
    assert blocks_problem(message["blocks"]) is None
    mrkdwn_parts = [message["text"], str(message["blocks"][1:])]  # the header is plain text
    assert all("<!channel>" not in part for part in mrkdwn_parts)
    header = message["blocks"][0]["text"]["text"]
    assert header.startswith("🚨 Alert: <!channel> xxx") and len(header) <= 150
    body = message["blocks"][1]["text"]["text"]
    assert body.splitlines() == [
        "*Failed messages with error 131049 is 51 (alert when &gt; 50)*",
        "1,234 notifications so far",
        "Top failure reason: WhatsApp · &lt;!channel&gt; 131049 — 51",
    ]
    resolved = alert_message(_content("Diwali offers", "resolved"))
    labels = [e["text"]["text"] for e in resolved["blocks"][-1]["elements"]]
    assert labels == ["Open report", "Channel statistics"]


def test_the_listing_keeps_within_50_blocks_and_shows_states() -> None:
    now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    state = FlowAlertState(
        flow_id=12, flow="Diwali offers", bot_id="b1", workflow_id="wf_42", state="firing",
        value="12.5%", notifications=900, changed_at=now - timedelta(minutes=5),
        muted_until=now + timedelta(hours=20),
    )  # fmt: skip
    summaries = [
        AlertSummary(
            n,
            "T0TEST",
            ME,
            "all flows",
            "failure_rate > 5% (min 100 notifications)",
            ("slack_channel:C0OPS",),
            (state,) * 7,
        )
        for n in range(1, 80)
    ]
    blocks = [b.to_dict() for b in build_alerts_blocks(summaries, now, ZoneInfo("UTC"))]
    assert len(blocks) == MAX_BLOCKS
    assert blocks_problem(blocks) is None
    first = blocks[1]["text"]["text"].splitlines()
    assert first[0] == "*#1* “all flows” — failure_rate &gt; 5% (min 100 notifications) to <#C0OPS>"
    assert first[1] == (
        "🔴 *Diwali offers*: firing at 12.5% since 5 min ago · muted until 28 Nov 2026 05:00 UTC"
    )
    assert first[-1] == "… and 2 more flows"
    assert "… and 32 more" in blocks[-2]["elements"][0]["text"]
