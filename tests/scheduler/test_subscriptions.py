"""Subscriptions: made in Slack, listed and ended there, digests by email and Slack, CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from commands.grammar import parse_subscribe
from scheduler.outbox import run_outbox_once
from scheduler.requests import render_request
from scheduler.runtime import Runtime
from scheduler.subscriptions import queue_digest
from store.models import Flow, WorkspaceGrant, utcnow
from store.subscriptions import create_subscription
from tests.fakes.slack_api import run_fake_slack
from tests.fakes.slack_requests import button
from tests.scheduler.bot_harness import running_bot_with_scheduler
from tests.scheduler.conftest import deliveries, load_flow, make_runtime
from tests.scheduler.smtp import smtp_server
from tests.slack.conftest import load_campaigns
from tests.support import act, ingest

CLI = str(Path(sys.executable).with_name("campaign-bot"))


def subscribe(engine: Engine, text: str, user: str = "U0ALICE") -> int:
    """Store a subscription as ``/campaign-report subscribe <text>`` would; its id."""
    spec = parse_subscribe(text, user, "UTC")
    with Session(engine) as session:
        if session.get(WorkspaceGrant, ("T0TEST", "b1")) is None:
            session.add(WorkspaceGrant(team_id="T0TEST", bot_id="b1"))
            session.commit()
        found = None
        if spec.flow != "all":
            found = session.exec(select(Flow).where(Flow.workflow_id == spec.flow)).one()
        made = create_subscription(
            session,
            team_id="T0TEST",
            created_by=user,
            flow_id=found.id if found is not None else None,
            now=utcnow(),
            **spec.stored_fields(),
        )
    assert made.id is not None
    return made.id


async def digest(runtime: Runtime, subscription_id: int) -> list[int]:
    queued = queue_digest(runtime, subscription_id)
    await run_outbox_once(runtime)
    return queued


async def test_digest_email_shows_the_change_since_the_previous_one(
    store_engine: Engine, tmp_path: Path
) -> None:
    load_flow(store_engine)
    sub = subscribe(store_engine, "wf_42 daily 09:00 to: ops@acme.example")
    with smtp_server() as box:
        runtime = make_runtime(store_engine, tmp_path, SMTP_PORT=box.port)
        await digest(runtime, sub)
        ingest(store_engine, act("click", "+9100000001", "whatsapp"))
        await digest(runtime, sub)
        first, second = box.wait_for(2)
    assert "(daily, " in first["Subject"]
    first_text = first.get_body(("plain",)).get_content()
    second_text = second.get_body(("plain",)).get_content()
    assert "Unique clicks: 1\r\n" in first_text
    assert "Unique clicks: 2 (▲ +1)" in second_text
    assert "Events: 35 (▲ +1)" in second_text
    assert "Audience: 32 (no change)" in second_text
    assert f"/campaign-report unsubscribe {sub}" in second_text
    html = second.get_body(("html",)).get_content()
    assert "Since last digest" in html and "▲ +1" in html
    assert any(p.get_filename().endswith(".pdf") for p in second.iter_attachments())


async def test_if_changed_skips_a_digest_when_nothing_moved(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_flow(sqlite_engine)
    sub = subscribe(sqlite_engine, "wf_42 daily 09:00 to: ops@acme.example if-changed")
    with smtp_server() as box:
        runtime = make_runtime(sqlite_engine, tmp_path, SMTP_PORT=box.port)
        assert len(await digest(runtime, sub)) == 1
        assert await digest(runtime, sub) == []
        ingest(sqlite_engine, act("click", "+9100000001", "whatsapp"))
        assert len(await digest(runtime, sub)) == 1
        assert len(box.wait_for(2)) == 2


async def test_refused_recipient_is_told_to_the_owner_and_others_get_theirs(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_flow(sqlite_engine)
    sub = subscribe(
        sqlite_engine,
        "wf_42 daily 09:00 to: gone@acme.example, ops@acme.example, <#C0REPORTS|reports>",
    )
    with run_fake_slack() as fake, smtp_server() as box:
        box.refuse["gone@acme.example"] = "550 5.1.1 No such user"
        client = AsyncWebClient(token=fake.token, base_url=fake.api_url)
        runtime = make_runtime(sqlite_engine, tmp_path, client, SMTP_PORT=box.port)
        await digest(runtime, sub)
        [upload] = fake.wait_for("files.completeUploadExternal")
        [told] = fake.wait_for("chat.postMessage")
    assert upload.data["channel_id"] == "C0REPORTS"
    assert told.data["channel"] == "DU0ALICE"  # the owner's DM
    assert "could not be delivered to gone@acme.example" in told.data["text"]
    assert "550 5.1.1 No such user" in told.data["text"]
    assert [to for _, [to] in box.envelopes] == ["ops@acme.example"]
    assert sorted(d.state for d in deliveries(sqlite_engine)) == ["failed", "sent", "sent"]


def _wait_for_job(engine: Engine, job_id: str) -> bool:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            found = conn.execute(
                sa.text("SELECT next_run_time FROM apscheduler_jobs WHERE id = :id"), {"id": job_id}
            ).first()
        if found is not None:
            return True
        time.sleep(0.1)
    return False


def test_subscribe_list_and_unsubscribe_in_slack(sqlite_engine: Engine, tmp_path: Path) -> None:
    load_campaigns(sqlite_engine)
    with running_bot_with_scheduler(sqlite_engine, tmp_path) as (bot, _mailbox):
        made = bot.ask(
            'subscribe "Diwali offers" daily 09:00 tz:Asia/Kolkata to: me, ops@acme.example'
        )
        assert "Subscribed: *#1* “Diwali offers” — daily 09:00 (Asia/Kolkata)" in str(made)
        assert "/campaign-report unsubscribe 1" in str(made)
        assert _wait_for_job(sqlite_engine, "subscription-1")
        refused = bot.ask("subscribe all daily 09:00 to: someone@gmail.example")
        assert "someone@gmail.example is outside the domains" in refused["text"]
        listing = bot.ask("subscriptions")
        [section] = [b for b in listing["blocks"] if b.get("accessory")]
        assert "<@U0ALICE>, ops@acme.example" in section["text"]["text"]
        _, key = bot.click(button("unsubscribe", section["accessory"]["value"]))
        after = bot.answer(key)
        assert "Unsubscribed #1" in str(after) and "No subscriptions yet" in str(after)
        assert "There is no subscription #1" in bot.ask("unsubscribe 1")["text"]


def test_cli_lists_subscriptions_and_sends_one_now(sqlite_engine: Engine, tmp_path: Path) -> None:
    load_flow(sqlite_engine)
    sub = subscribe(sqlite_engine, "all weekly MON 08:00 to: ops@acme.example")
    with smtp_server() as box:
        env = os.environ | {
            "DATABASE_URL": sqlite_engine.url.render_as_string(hide_password=False),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(box.port),
            "REPORTS_DIR": str(tmp_path / "reports"),
            "SLACK_BOT_TOKEN": "",
            "COLUMNS": "200",
            "INTERNAL_EMAIL_DOMAINS": "acme.example",
        }
        listed = subprocess.run([CLI, "subscriptions", "list"], capture_output=True, text=True,
                                env=env, timeout=60)  # fmt: skip
        sent = subprocess.run([CLI, "subscriptions", "run-now", str(sub)], capture_output=True,
                              text=True, env=env, timeout=60)  # fmt: skip
        missing = subprocess.run([CLI, "subscriptions", "run-now", "99"], capture_output=True,
                                 text=True, env=env, timeout=60)  # fmt: skip
        [message] = box.wait_for(1)
    assert listed.returncode == 0, listed.stderr
    assert "weekly MON 08:00 (UTC)" in listed.stdout and "email:ops@acme.example" in listed.stdout
    assert sent.returncode == 0, sent.stderr
    assert "email ops@acme.example: sent" in sent.stdout
    assert message["Subject"].startswith("[Campaign report] Diwali offers")
    assert missing.returncode == 1 and "no active subscription 99" in missing.stderr


async def test_no_digest_once_the_workspace_grant_is_withdrawn(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_flow(sqlite_engine)
    sub = subscribe(sqlite_engine, "wf_42 daily 09:00 to: ops@acme.example")
    with Session(sqlite_engine) as session:
        session.delete(session.get(WorkspaceGrant, ("T0TEST", "b1")))
        session.commit()
    runtime = make_runtime(sqlite_engine, tmp_path)
    assert queue_digest(runtime, sub) == []
    assert deliveries(sqlite_engine) == []


def test_cli_list_shows_the_next_digest_in_the_subscriptions_own_zone(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_flow(sqlite_engine)
    with Session(sqlite_engine) as session:
        session.add(WorkspaceGrant(team_id="T0TEST", bot_id="b1"))
        session.commit()
    spec = parse_subscribe("wf_42 daily 09:00 tz:Asia/Kolkata to: me", "U0ALICE", "UTC")
    with Session(sqlite_engine) as session:
        made = create_subscription(session, team_id="T0TEST", created_by="U0ALICE",
                                   flow_id=1, now=utcnow(), **spec.stored_fields())  # fmt: skip
    env = os.environ | {
        "DATABASE_URL": sqlite_engine.url.render_as_string(hide_password=False),
        "COLUMNS": "200",
    }
    listed = subprocess.run([CLI, "subscriptions", "list"], capture_output=True, text=True,
                            env=env, timeout=60)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.stdout.splitlines() if f" {made.id} " in line]
    assert "09:00 Asia/Kolkata" in row  # 09:00 local, named as such (it is 03:30 UTC)
    assert "(UTC)" not in listed.stdout


async def test_run_now_sends_only_that_subscriptions_deliveries(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_flow(sqlite_engine)
    first = subscribe(sqlite_engine, "wf_42 daily 09:00 to: first@acme.example")
    second = subscribe(sqlite_engine, "wf_42 daily 10:00 to: second@acme.example")
    with smtp_server() as box:
        runtime = make_runtime(sqlite_engine, tmp_path, SMTP_PORT=box.port)
        [other] = queue_digest(runtime, second)
        assert render_request(runtime, other)  # its delivery is due, but not the one run now
        queued = queue_digest(runtime, first, force=True)
        result = await run_outbox_once(runtime, only=queued)
        box.wait_for(1)
    by_recipient = {d.recipient: d.state for d in deliveries(sqlite_engine)}
    assert result.sent == 1
    assert [to for _, [to] in box.envelopes] == ["first@acme.example"]
    assert by_recipient == {"first@acme.example": "sent", "second@acme.example": "pending"}
