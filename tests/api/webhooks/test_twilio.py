"""Twilio status callbacks (SMS and WhatsApp) through the running app."""

from __future__ import annotations

import httpx
from sqlalchemy.engine import Engine

from bot.app import create_app
from tests.api.webhooks.conftest import (
    AUTH_TOKEN,
    Hooks,
    app_settings,
    connector_row,
    store_counts,
)
from tests.fakes.provider_webhooks import twilio_callback, twilio_signed
from tests.live_server import serve_app
from tests.support import flow, ingest, kpis

SMS = "SM1f0e8ae6ade43cb3c0ce4525424e404f"
WA = "SM2a7d5e3f1b8c4d6e9f0a1b2c3d4e5f6a"
HINT = "workflow_id=wf_42"


def channel(report: dict, name: str) -> dict:
    return next(row for row in report["channels"] if row["channel"] == name)


def post(hooks: Hooks, pairs: list[tuple[str, str]], query: str = HINT):
    return hooks.post("twilio", twilio_signed(AUTH_TOKEN, hooks.url("twilio", query), pairs),
                      query=query)  # fmt: skip


def test_sms_and_whatsapp_callbacks_move_the_channel_statistics(
    hooks: Hooks, store_engine: Engine
) -> None:
    ingest(store_engine, flow(channels=["sms", "whatsapp"]))
    for status in ("queued", "sent", "delivered"):
        answer = post(hooks, twilio_callback(SMS, status))
        assert answer.json() == {"accepted": 1, "duplicates": 0, "ignored": 0, "waiting": 0}
    assert post(hooks, twilio_callback(SMS, "canceled")).json()["ignored"] == 1
    whatsapp = twilio_callback(WA, "undelivered", to="whatsapp:+15005550006",
                               sender="whatsapp:+14155238886", error_code="63016")  # fmt: skip
    assert post(hooks, whatsapp).json()["accepted"] == 1
    report = kpis(store_engine)
    # With the default DELIVERY_REPORTING_CHANNELS (whatsapp), SMS reports sent, not delivered.
    assert channel(report, "sms") | {"share": None} == {
        "channel": "sms", "notifications": 1, "share": None, "sent": 1, "delivered": None,
        "read": None, "failed": 0, "failure_rate": 0.0, "failure_reasons": [],
    }  # fmt: skip
    assert channel(report, "whatsapp")["failure_reasons"] == [{"reason": "63016", "count": 1}]
    assert report["analysis"]["impressions"] == 1  # the SMS, sent
    assert report["overview"]["number_of_events"] == 4
    assert connector_row(store_engine, hooks.ids["twilio"])["taken"] == 5


def test_a_signature_over_another_url_is_refused(hooks: Hooks, store_engine: Engine) -> None:
    ingest(store_engine, flow())
    pairs = twilio_callback(SMS, "sent")
    signed = twilio_signed(AUTH_TOKEN, hooks.url("twilio", "workflow_id=wf_99"), pairs)
    answer = hooks.post("twilio", signed, query=HINT)  # the hint was changed on the way
    assert answer.status_code == 401
    assert store_counts(store_engine) == (0, 0)


def test_without_a_hint_a_callback_waits_for_its_message(
    hooks: Hooks, store_engine: Engine
) -> None:
    answer = post(hooks, twilio_callback(SMS, "delivered"), query="")
    assert answer.json() == {"accepted": 0, "duplicates": 0, "ignored": 0, "waiting": 1}
    assert store_counts(store_engine) == (0, 1)


def test_with_sms_reporting_delivery_the_report_shows_delivered_and_read(
    hooks: Hooks, store_engine: Engine
) -> None:
    settings = app_settings(store_engine, DELIVERY_REPORTING_CHANNELS="sms,whatsapp")
    with serve_app(create_app(settings, store_engine)) as base:  # an empty store takes the set
        ingest(store_engine, flow(channels=["sms"]))
        for sid, status in ((SMS, "sent"), (SMS, "delivered"), (WA, "sent")):
            url = hooks.url("twilio", HINT)
            body, headers = twilio_signed(AUTH_TOKEN, url, twilio_callback(sid, status))
            answer = httpx.post(f"{base}{hooks.path('twilio')}?{HINT}", content=body,
                                headers=headers)  # fmt: skip
            assert answer.json()["accepted"] == 1
    report = kpis(store_engine)
    (sms,) = report["channels"]
    assert (sms["sent"], sms["delivered"], sms["read"]) == (2, 1, 0)
    assert (report["analysis"]["impressions"], report["analysis"]["delivery_rate"]) == (1, 50.0)
