"""The ``subscribe`` grammar (pure)."""

from __future__ import annotations

import re

import pytest

from commands.blocks.subscriptions import SubscriptionLine, describe_subscription
from commands.grammar import SubscriptionError, parse_subscribe

USER = "U0ALICE"


@pytest.mark.parametrize(
    ("text", "flow", "schedule", "cron", "tz", "recipients", "skip"),
    [
        (
            "all daily 9:00",
            "all",
            "daily 09:00",
            "0 9 * * *",
            "UTC",
            ("slack_user:U0ALICE",),
            False,
        ),
        (
            '"Diwali offers" weekly mon 18:30 tz:Asia/Kolkata',
            "Diwali offers",
            "weekly MON 18:30",
            "30 18 * * mon",
            "Asia/Kolkata",
            ("slack_user:U0ALICE",),
            False,
        ),
        (
            'Diwali offers cron "0 9 * * 1-5" to: me, <#C0REPORTS|reports>, <@U0BOB|bob>',
            "Diwali offers",
            'cron "0 9 * * 1-5"',
            "0 9 * * 1-5",
            "UTC",
            ("slack_user:U0ALICE", "slack_channel:C0REPORTS", "slack_user:U0BOB"),
            False,
        ),
        (
            "wf_42 daily 07:05 to: <mailto:Ops@Acme.example|Ops@Acme.example> if-changed",
            "wf_42",
            "daily 07:05",
            "5 7 * * *",
            "UTC",
            ("email:ops@acme.example",),
            True,
        ),
        (
            "“Diwali offers” daily 10:00 to: ops@acme.example,me",
            "Diwali offers",
            "daily 10:00",
            "0 10 * * *",
            "UTC",
            ("email:ops@acme.example", "slack_user:U0ALICE"),
            False,
        ),
    ],
)
def test_subscribe_commands_parse(
    text: str, flow: str, schedule: str, cron: str, tz: str, recipients: tuple[str, ...], skip: bool
) -> None:
    spec = parse_subscribe(text, USER, "UTC")
    assert (spec.flow, spec.schedule, spec.cron, spec.timezone) == (flow, schedule, cron, tz)
    assert spec.recipients == recipients and spec.skip_unchanged is skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Diwali offers", "Write: subscribe <flow|all>"),
        ("all daily 25:00", "daily needs a time"),
        ("all weekly someday 09:00", "weekly needs a day and a time"),
        ('all cron "0 9 * *"', "cron: '0 9 * *' is not a crontab expression"),
        ('all cron "99 9 * * *"', "is not a crontab expression"),
        ("all daily 09:00 tz:Mars/Olympus", "tz: unknown time zone 'Mars/Olympus'"),
        ("all daily 09:00 to: #general", "to: pick #general from Slack's autocomplete"),
        ("all daily 09:00 to: not-an-address", "to: 'not-an-address' is not me"),
        ("all daily 09:00 loudly", "'loudly' is not understood here"),
    ],
)
def test_bad_subscribe_commands_say_what_to_fix(text: str, message: str) -> None:
    with pytest.raises(SubscriptionError, match=re.escape(message)):
        parse_subscribe(text, USER, "UTC")


def test_subscribe_takes_format_xlsx() -> None:
    spec = parse_subscribe("all daily 09:00 format:xlsx to: me", USER, "UTC")
    assert (spec.formats, spec.recipients) == ("pdf,xlsx", ("slack_user:U0ALICE",))
    assert parse_subscribe("all daily 09:00", USER, "UTC").formats == "csv,pdf"
    with pytest.raises(SubscriptionError, match="format: unknown format 'xls'"):
        parse_subscribe("all daily 09:00 format:xls", USER, "UTC")


@pytest.mark.parametrize(
    ("formats", "shown"),
    [("csv,pdf", ""), ("pdf,xlsx", " · with Excel"), ("csv,pdf,xlsx", " · with CSV and Excel")],
)
def test_a_listed_subscription_says_when_it_sends_excel(formats: str, shown: str) -> None:
    line = SubscriptionLine(
        id=12, flow="Diwali offers", schedule="daily 09:00", timezone="UTC",
        recipients=["email:ops@acme.example"], next_run=None, skip_unchanged=False,
        formats=formats,
    )  # fmt: skip
    assert describe_subscription(line) == (
        f"*#12* “Diwali offers” — daily 09:00 (UTC) to ops@acme.example{shown}"
    )
