"""Statuses that arrive before their message wait, and are applied when it arrives — by the
API or by ``campaign-bot import`` — counted once, never on another bot's message."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from store.api_keys import create_api_key
from store.ingest.waiting import drop_expired_waiting
from store.models import utcnow
from tests.api.conftest import sqlite_only
from tests.api.webhooks.conftest import APP_SECRET, MAILGUN_KEY, Hooks, connector_row, store_counts
from tests.bot.test_cli import run
from tests.fakes.provider_webhooks import (
    mailgun_event,
    mailgun_signed,
    whatsapp_payload,
    whatsapp_signed,
    whatsapp_status,
)
from tests.support import BOT, flow, ingest, kpis, msg

WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MTE5MjA3NTFEMDA3OTFDQzEA"
EARLY = whatsapp_payload(whatsapp_status(WAMID, "delivered"), whatsapp_status(WAMID, "read"))


def whatsapp_row(report: dict) -> dict:
    return next(row for row in report["channels"] if row["channel"] == "whatsapp")


def test_statuses_wait_for_a_message_sent_through_the_api(
    hooks: Hooks, store_engine: Engine
) -> None:
    signed = whatsapp_signed(APP_SECRET, EARLY)
    assert hooks.post("whatsapp", signed).json() == {
        "accepted": 0, "duplicates": 0, "ignored": 0, "waiting": 2}  # fmt: skip
    assert hooks.post("whatsapp", signed).json() == {  # delivered twice while waiting
        "accepted": 0, "duplicates": 2, "ignored": 0, "waiting": 0}  # fmt: skip
    assert connector_row(store_engine, hooks.ids["whatsapp"])["waiting"] == 2
    key = create_api_key(store_engine, BOT).token
    events = [flow(channels=["whatsapp"]), msg(WAMID, "+16505551234", "whatsapp", "sent")]
    answer = hooks.http.post("/api/v1/events", json=events,
                             headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    assert answer.json() == {"accepted": 2, "duplicates": 0, "flows_created": 1}
    report = kpis(store_engine)
    assert whatsapp_row(report) | {"failure_reasons": None} == {
        "channel": "whatsapp", "notifications": 1, "share": 100.0, "sent": 1, "delivered": 1,
        "read": 1, "failed": 0, "failure_rate": 0.0, "failure_reasons": None,
    }  # fmt: skip
    assert report["overview"]["number_of_events"] == 3  # the message, then its two statuses
    assert connector_row(store_engine, hooks.ids["whatsapp"])["waiting"] == 0
    assert hooks.post("whatsapp", signed).json() == {  # and once more, now it is applied
        "accepted": 0, "duplicates": 2, "ignored": 0, "waiting": 0}  # fmt: skip
    assert kpis(store_engine)["overview"]["number_of_events"] == 3


@sqlite_only  # a subprocess costs seconds; the API test above runs on PostgreSQL too
def test_statuses_wait_for_a_message_brought_by_campaign_bot_import(
    hooks: Hooks, store_engine: Engine, store_url: str, tmp_path: Path
) -> None:
    assert hooks.post("whatsapp", whatsapp_signed(APP_SECRET, EARLY)).json()["waiting"] == 2
    click = mailgun_event("m-mail", "clicked", url="https://acme.example/offer")  # no flow hint
    assert hooks.post("mailgun", mailgun_signed(MAILGUN_KEY, click)).json()["waiting"] == 1
    events = [flow(channels=["whatsapp", "email"]),
              msg(WAMID, "+16505551234", "whatsapp", "sent"),
              msg("m-mail", "jane@example.com", "email", "sent")]  # fmt: skip
    path = tmp_path / "events.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    result = run(tmp_path, "import", str(path), url=store_url)
    assert result.returncode == 0, result.stderr
    report = kpis(store_engine)
    assert (whatsapp_row(report)["delivered"], whatsapp_row(report)["read"]) == (1, 1)
    assert report["overview"]["unique_clicks"] == 1
    assert report["analysis"]["engagement"] == 1
    assert store_counts(store_engine) == (2, 0)


def test_a_connector_never_touches_another_bots_message(hooks: Hooks, store_engine: Engine) -> None:
    ingest(store_engine, flow(bot_id="b2", channels=["whatsapp"]),
           msg(WAMID, "+16505551234", "whatsapp", "sent", bot_id="b2"))  # fmt: skip
    before = kpis(store_engine, "b2/wf_42")
    answer = hooks.post("whatsapp", whatsapp_signed(APP_SECRET, EARLY))  # b1's connector
    assert answer.json()["waiting"] == 2  # b1 has no such message: it waits, for b1
    assert kpis(store_engine, "b2/wf_42")["channels"] == before["channels"]
    ingest(store_engine, flow(channels=["whatsapp"]),
           msg(WAMID, "+16505551234", "whatsapp", "sent"))  # fmt: skip
    assert whatsapp_row(kpis(store_engine, "b1/wf_42"))["read"] == 1
    assert whatsapp_row(kpis(store_engine, "b2/wf_42"))["read"] == 0


def test_statuses_waiting_over_seven_days_are_dropped(
    hooks: Hooks, store_engine: Engine, store_url: str, tmp_path: Path
) -> None:
    assert hooks.post("whatsapp", whatsapp_signed(APP_SECRET, EARLY)).json()["waiting"] == 2
    assert drop_expired_waiting(store_engine, utcnow() + timedelta(days=6)) == 0
    assert drop_expired_waiting(store_engine, utcnow() + timedelta(days=7, minutes=1)) == 2
    assert connector_row(store_engine, hooks.ids["whatsapp"])["waiting"] == 0
    ingest(store_engine, flow(channels=["whatsapp"]),
           msg(WAMID, "+16505551234", "whatsapp", "sent"))  # fmt: skip
    assert whatsapp_row(kpis(store_engine))["delivered"] == 0
