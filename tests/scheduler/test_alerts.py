"""Alerts end to end: made in Slack, judged from the KPI engine on imported data, their
messages sent through the outbox to the Slack stand-in (and a mail server)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from commands.blocks.common import (
    ALERT_CHANNEL_STATS,
    ALERT_OPEN_REPORT,
    MUTE_ALERT,
    REMOVE_ALERT,
)
from scheduler.alerts import AlertCheck, check_alerts
from scheduler.outbox import run_outbox_once
from scheduler.runtime import Runtime
from store.importer import import_file
from store.models import AlertState, utcnow
from tests.fakes.slack_api import Call
from tests.fakes.slack_requests import button
from tests.scheduler.conftest import make_runtime
from tests.scheduler.smtp import smtp_server
from tests.slack.conftest import Harness, grant, running_bot
from tests.support import flow, ingest, msg

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def messages(prefix: str, count: int, status: str, **fields: Any) -> list[dict[str, Any]]:
    """``count`` WhatsApp messages of Diwali offers in ``status``."""
    return [msg(f"{prefix}-{n}", f"+91{prefix}{n:05d}", "whatsapp", status, event_id=f"{prefix}-e{n}", **fields) for n in range(count)]  # fmt: skip


@dataclass
class World:
    """A running bot on a store with the live flow Diwali offers, and the scheduler's parts."""

    bot: Harness
    runtime: Runtime
    tmp_path: Path
    engine: Engine

    def import_(self, name: str, events: list[dict[str, Any]]) -> None:
        """``campaign-bot import`` of an NDJSON file holding ``events``."""
        path = self.tmp_path / f"{name}.ndjson"
        path.write_text("".join(json.dumps(event) + "\n" for event in events))
        import_file(self.engine, path)

    def check(self, now: datetime) -> AlertCheck:
        """What the alert job does at ``now``: judge, then deliver what it queued."""
        self.runtime.clock = lambda: now  # the outbox sends what is due at ``now``
        check = check_alerts(self.runtime, now)
        asyncio.run(run_outbox_once(self.runtime, only_alerts=check.events))
        return check

    def posts(self) -> list[Call]:
        """Messages the app posted with ``chat.postMessage``, in order."""
        return self.bot.fake.calls_to("chat.postMessage")


@contextmanager
def running_world(engine: Engine, tmp_path: Path) -> Iterator[World]:
    """The live flow Diwali offers, granted to T0TEST, and the bot running on it."""
    ingest(engine, flow(status="live", channels=["whatsapp", "sms"]))
    grant(engine)
    with running_bot(engine, INTERNAL_EMAIL_DOMAINS="acme.example") as bot:
        client = AsyncWebClient(token=bot.fake.token, base_url=bot.fake.api_url)
        runtime = make_runtime(engine, tmp_path, client)
        yield World(bot, runtime, tmp_path, engine)


@pytest.fixture
def world(sqlite_engine: Engine, tmp_path: Path) -> Iterator[World]:
    with running_world(sqlite_engine, tmp_path) as made:
        yield made


@pytest.fixture
def world_any_store(store_engine: Engine, tmp_path: Path) -> Iterator[World]:
    """``world`` on SQLite, then on PostgreSQL."""
    with running_world(store_engine, tmp_path) as made:
        yield made


def shown(text: str) -> str:
    """mrkdwn as Slack shows it: ``&gt;`` is ``>``."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def first_text(message: dict[str, Any], index: int = 0) -> str:
    """The text of a message's ``index``-th block, as shown."""
    return shown(message["blocks"][index]["text"]["text"])


def texts(call: Call) -> str:
    """Every text of a posted message's blocks, one per line, as shown."""
    lines = []
    for block in call.data["blocks"]:
        if "text" in block:
            lines.append(block["text"]["text"])
        lines += [element.get("text", "") for element in block.get("elements", []) if block["type"] == "context"]  # fmt: skip
    return shown("\n".join(lines))


def buttons(call: Call) -> dict[str, str]:
    """The posted message's buttons: label → (action id, value)."""
    actions = [b for b in call.data["blocks"] if b["type"] == "actions"]
    return {e["text"]["text"]: (e["action_id"], e["value"]) for a in actions for e in a["elements"]}  # type: ignore[misc]


def test_an_alert_fires_once_stays_quiet_and_resolves_once(world_any_store: World) -> None:
    world = world_any_store
    made = world.bot.ask('alert "Diwali offers" failure_rate > 10 min:50')
    assert (
        "Alert *#1* set on “Diwali offers”: failure_rate > 10% (min 50 notifications), to <#C0GENERAL>"
        in first_text(made)
    )
    world.import_("delivered", messages("d", 60, "delivered"))
    assert [line.state for line in world.check(T0).lines] == ["ok"]
    world.import_(
        "failed", messages("f", 10, "failed", error_code="131049", comments="Marketing limit")
    )

    fired = world.check(T0 + timedelta(minutes=5))
    [line] = fired.lines
    assert (line.previous, line.state, line.value) == ("ok", "firing", "14.3%")
    assert line.outcome == "firing message 1.1.1 queued for 1 recipient"
    [post] = world.posts()
    assert post.data["channel"] == "C0GENERAL"
    assert post.data["blocks"][0]["text"]["text"] == "🚨 Alert: Diwali offers"
    assert texts(post).splitlines()[1:4] == [
        "*Failure rate is 14.3% (alert when > 10%)*",
        "70 notifications so far",
        "Top failure reason: WhatsApp · 131049 Marketing limit — 10",
    ]
    assert "Alert #1: failure_rate > 10% (min 50 notifications) · bot b1 · `wf_42`" in texts(post)
    flow_value = buttons(post)["Open report"][1]
    assert buttons(post) == {
        "Open report": (ALERT_OPEN_REPORT, flow_value),
        "Channel statistics": (ALERT_CHANNEL_STATS, flow_value),
        "Mute for 24 h": (MUTE_ALERT, f"1|{flow_value.rstrip('|')}"),
    }
    assert (
        shown(post.data["text"])
        == "Alert: Diwali offers — Failure rate is 14.3% (alert when > 10%)"
    )

    # Still firing, at a new value: recorded, and nothing is said.
    world.import_("worse", messages("w", 2, "failed", error_code="131049"))
    again = world.check(T0 + timedelta(minutes=10))
    assert [(line.state, line.value, line.outcome) for line in again.lines] == [
        ("firing", "16.7%", "no change: no message")
    ]
    assert world.check(T0 + timedelta(minutes=12)).events == []
    assert len(world.posts()) == 1

    world.import_("recovered", messages("r", 50, "delivered"))
    resolved = world.check(T0 + timedelta(minutes=15))
    assert [(line.previous, line.state, line.value) for line in resolved.lines] == [
        ("firing", "ok", "9.8%")
    ]
    assert world.check(T0 + timedelta(minutes=20)).events == []
    _, second = world.posts()
    assert second.data["blocks"][0]["text"]["text"] == "✅ Resolved: Diwali offers"
    assert "*Failure rate is back to 9.8% (alert when > 10%)*\n122 notifications so far" in texts(
        second
    )
    assert "Mute for 24 h" not in buttons(second)

    listing = world.bot.ask("alerts")
    rows = [shown(b["text"]["text"]) for b in listing["blocks"] if b["type"] == "section"]
    assert (
        rows[0].splitlines()[0]
        == "*#1* “Diwali offers” — failure_rate > 10% (min 50 notifications) to <#C0GENERAL>"
    )
    assert "🟢 *Diwali offers*: ok at 9.8%" in rows[0]
    assert [b["accessory"]["action_id"] for b in listing["blocks"] if b["type"] == "section"] == [
        REMOVE_ALERT
    ]

    # The alert's Open report answers beside it: the alert message stays.
    _, key = world.bot.click(button(ALERT_OPEN_REPORT, flow_value))
    answer = world.bot.fake.wait_for_response_call(key).data
    assert answer["replace_original"] is False
    assert first_text(answer).startswith("📊 Diwali offers — Live")

    _, key = world.bot.click(button(REMOVE_ALERT, "1"))
    removed = world.bot.answer(key)
    assert first_text(removed) == "Removed alert #1: it sends nothing more."
    assert "No alerts yet." in first_text(removed, 2)
    world.import_("failing again", messages("g", 100, "failed"))
    assert world.check(T0 + timedelta(minutes=25)).lines == []
    assert len(world.posts()) == 2


def test_min_holds_an_alert_until_the_flow_has_enough_notifications(world: World) -> None:
    world.bot.ask("alert wf_42 failure_rate >= 50 min:200")
    world.import_("half", messages("d", 50, "delivered") + messages("f", 50, "failed"))
    [line] = world.check(T0).lines
    assert (line.value, line.notifications, line.state) == ("50.0%", 100, "ok")
    assert line.outcome == "not judged (fewer notifications than min:, or no value yet): no message"
    world.import_("more", messages("g", 100, "failed"))
    [line] = world.check(T0 + timedelta(minutes=5)).lines
    assert (line.value, line.notifications, line.state) == ("75.0%", 200, "firing")
    [post] = world.posts()
    assert "200 notifications so far" in texts(post)


def test_error_code_alert_counts_only_that_code_csv_imports_included(world: World) -> None:
    world.bot.ask("alert Diwali offers error:131049 > 50 min:10 to: me")
    world.import_("mixed", messages("a", 60, "failed", error_code="1408", comments="Not a WhatsApp number") + messages("b", 40, "failed", error_code="131049", comments="Marketing limit") + messages("c", 30, "failed", error_code="1310490"))  # fmt: skip
    [line] = world.check(T0).lines
    assert (line.value, line.state) == ("40", "ok")
    # A CSV export keeps "{code} {comment}" in Comments: imported back, it is that code's.
    csv = world.tmp_path / "more.csv"
    header = "BotId,UserId,Source,Status,IP Address,Message ID,Workflow ID,Custom payload,Template ID,Notification Sent By,Comments,Created Time,Scheduled Time,Updated Time\r\n"
    rows = "".join(f"b1,'+9177{n:04d},whatsapp,failed,,csv-{n},wf_42,,,,131049 Marketing limit,2026-11-01T09:00:00+00:00,,2026-11-01T09:00:00+00:00\r\n" for n in range(11))  # fmt: skip
    csv.write_text(header + rows)
    import_file(world.engine, csv)
    [line] = world.check(T0 + timedelta(minutes=5)).lines
    assert (line.value, line.state) == ("51", "firing")
    [post] = world.posts()
    assert post.data["channel"] == "DU0ALICE"  # "me": the user's DM with the app
    assert "*Failed messages with error 131049 is 51 (alert when > 50)*" in texts(post)
    assert "Top failure reason: WhatsApp · 1408 Not a WhatsApp number — 60" in texts(post)


def test_another_workspaces_flows_never_fire_its_alerts(world: World) -> None:
    ingest(world.engine, flow(bot_id="b2", workflow_id="wf_9", name="Diwali secrets", status="live"), *[msg(f"x-{n}", f"+10{n}", "sms", "sent", bot_id="b2", workflow_id="wf_9") for n in range(120)])  # fmt: skip
    grant(world.engine, "T0OTHER", "b2")
    hidden = world.bot.ask("alert Diwali offers failure_rate > 10", team_id="T0OTHER")
    assert first_text(hidden).startswith("No flow matches “Diwali offers”.")
    world.bot.ask("alert all failure_rate > 10 min:1", team_id="T0OTHER")
    world.bot.ask("alert all failure_rate > 10 min:1")
    world.import_("failing", messages("f", 100, "failed"))
    lines = world.check(T0).lines
    assert sorted((line.alert_id, line.flow, line.state) for line in lines) == [
        (1, "Diwali secrets (b2/wf_9)", "ok"),
        (2, "Diwali offers (b1/wf_42)", "firing"),
    ]
    [post] = world.posts()
    assert "Alert #2:" in texts(post)


def test_mute_holds_for_24_hours(world: World) -> None:
    world.bot.ask("alert Diwali offers failure_rate > 10 min:1")
    world.import_("failing", messages("f", 20, "failed") + messages("d", 80, "delivered"))
    clicked = utcnow()
    world.check(clicked)
    [alert] = world.posts()
    _, key = world.bot.click(button(MUTE_ALERT, buttons(alert)["Mute for 24 h"][1]))
    muted = world.bot.fake.wait_for_response_call(key).data
    assert first_text(muted).startswith("Muted alert #1 on this flow until ")
    world.import_("better", messages("r", 100, "delivered"))
    [line] = world.check(clicked + timedelta(hours=1)).lines
    assert (line.previous, line.state, line.outcome) == ("firing", "ok", "muted: no message")
    world.import_("worse", messages("w", 20, "failed"))
    [line] = world.check(clicked + timedelta(hours=23)).lines
    assert (line.state, line.outcome) == ("firing", "muted: no message")
    assert len(world.posts()) == 1
    world.import_("better again", messages("s", 200, "delivered"))
    [line] = world.check(clicked + timedelta(hours=24, minutes=1)).lines
    assert line.outcome == "resolved message 1.1.4 queued for 1 recipient"
    assert world.posts()[-1].data["blocks"][0]["text"]["text"] == "✅ Resolved: Diwali offers"
    assert "muted until" in first_text(world.bot.ask("alerts"), 1)


def test_a_flow_that_leaves_live_ends_its_alert_quietly(world: World) -> None:
    world.bot.ask("alert all failure_rate > 10 min:1")
    world.import_("failing", messages("f", 50, "failed"))
    assert [line.state for line in world.check(T0).lines] == ["firing"]
    ingest(world.engine, flow(status="completed"))
    [line] = world.check(T0 + timedelta(minutes=5)).lines
    assert (line.previous, line.state) == ("firing", "ok")
    assert line.outcome == "the flow is no longer live or scheduled (or visible): ended quietly"
    assert world.check(T0 + timedelta(minutes=10)).lines == []
    assert len(world.posts()) == 1
    with Session(world.engine) as session:
        [state] = session.exec(select(AlertState)).all()
    assert (state.state, state.transitions) == ("ok", 2)


def test_nonsense_is_refused_with_one_line(world: World) -> None:
    ingest(world.engine, flow(workflow_id="wf_done", name="Done deal", status="completed"), flow(workflow_id="wf_draft", name="Holiday draft", status="draft"))  # fmt: skip
    cases = {
        "alert wf_42 open_rate > 5": "unknown metric 'open_rate'; use one of delivery_rate, failure_rate, read_rate, click_through_rate, failed, error:CODE",
        "alert wf_42 failure_rate > 150": "failure_rate is a percentage: the threshold must be from 0 to 100, not 150",
        "alert wf_42 failed > 2.5": "failed counts messages: the threshold must be a whole number from 0 to 1,000,000,000, not 2.5",
        "alert wf_42 failure_rate = 5": "alerts compare with <, <=, > or >=, not =",
        "alert wf_42 failure_rate > 5 to: nobody": "to: 'nobody' is not me, a #channel, an @user or an email",
        "alert wf_42 failure_rate > 5 to: ops@evil.example": "to: ops@evil.example is outside the domains reports may be emailed to (acme.example)",
        "alert wf_done failure_rate > 5": "“Done deal” is completed: alerts watch live and scheduled flows (or write all for every one).",
        "alert wf_draft failure_rate > 5": "“Holiday draft” is draft: alerts watch live and scheduled flows.",
        "alert wf_42 failure_rate": "Write: alert <flow|all> <metric> <op> <threshold> [min:N] [to: #channel, @user, me], e.g. alert “Diwali offers” failure_rate > 5 min:200",
        "alert remove 7": "There is no alert #7 in this workspace.",
    }
    for text, reason in cases.items():
        assert first_text(world.bot.ask(text)) == reason, text
    assert "No alerts yet." in first_text(world.bot.ask("alerts"), 1)


def test_an_alert_to_an_email_address_is_plain_text(world: World) -> None:
    with smtp_server() as mailbox:
        client = AsyncWebClient(token=world.bot.fake.token, base_url=world.bot.fake.api_url)
        world.runtime = make_runtime(world.engine, world.tmp_path, client, SMTP_PORT=mailbox.port)
        made = world.bot.ask("alert wf_42 delivery_rate < 90 min:10 to: ops@acme.example")
        assert "to ops@acme.example" in first_text(made)
        world.import_(
            "mixed", messages("d", 8, "delivered") + messages("f", 2, "failed", error_code="30007")
        )
        world.check(T0)
        [mail] = mailbox.wait_for(1)
    assert (
        mail["Subject"]
        == "[Campaign alert] Diwali offers — Delivery rate is 80.0% (alert when < 90%)"
    )
    assert mail["To"] == "ops@acme.example"
    assert mail["Message-ID"].startswith("<alert-1.1.1.delivery-")
    assert mail.get_content_type() == "text/plain"
    body = mail.get_content().replace("\r\n", "\n")
    assert (
        "Alert: Diwali offers\n\nDelivery rate is 80.0% (alert when < 90%)\n10 notifications so far\nTop failure reason: WhatsApp · 30007 — 2\n"
        in body
    )
    assert "/campaign-report alert remove 1 removes the alert." in body
