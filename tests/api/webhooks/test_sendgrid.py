"""SendGrid Event Webhook batches through the running app, applied in one transaction."""

from __future__ import annotations

import time

from sqlalchemy.engine import Engine

from tests.api.webhooks.conftest import SENDGRID_PRIVATE, Hooks, store_counts
from tests.fakes.provider_webhooks import sendgrid_event, sendgrid_signed
from tests.support import flow, ingest, kpis

MESSAGE = "14c5d75ce93.dfd.64b469"
OTHER = "14c5d75ce94.dfd.64b470"


def test_a_batch_moves_statuses_clicks_and_failures(hooks: Hooks, store_engine: Engine) -> None:
    ingest(store_engine, flow(channels=["email"]))
    events = [
        sendgrid_event(MESSAGE, "processed", email="Jane.Doe@Example.com", flow="wf_42"),
        sendgrid_event(MESSAGE, "deferred", email="Jane.Doe@Example.com", flow="wf_42"),
        sendgrid_event(MESSAGE, "delivered", email="Jane.Doe@Example.com", flow="wf_42"),
        sendgrid_event(MESSAGE, "open", email="Jane.Doe@Example.com", flow="wf_42"),
        sendgrid_event(MESSAGE, "click", email="Jane.Doe@Example.com", flow="wf_42",
                       url="https://acme.example/offer"),
        sendgrid_event(OTHER, "bounce", email="bob@example.com", flow="wf_42", status="5.0.0",
                       reason="500 unknown recipient", type="bounce"),
        sendgrid_event(OTHER, "spamreport", email="bob@example.com", flow="wf_42"),
    ]  # fmt: skip
    answer = hooks.post("sendgrid", sendgrid_signed(SENDGRID_PRIVATE, events))
    assert answer.status_code == 200
    assert answer.json() == {"accepted": 6, "duplicates": 0, "ignored": 1, "waiting": 0}
    report = kpis(store_engine)
    assert report["overview"]["unique_clicks"] == 1
    assert report["analysis"]["engagement"] == 1
    assert report["analysis"]["reach"] == 1
    (email,) = report["channels"]
    assert email == {
        "channel": "email", "notifications": 2, "share": 100.0, "sent": 1, "delivered": None,
        "read": None, "failed": 1, "failure_rate": 50.0,
        "failure_reasons": [{"reason": "5.0.0 500 unknown recipient", "count": 1}],
    }  # fmt: skip


def test_a_stale_timestamp_is_refused(hooks: Hooks, store_engine: Engine) -> None:
    ingest(store_engine, flow())
    events = [sendgrid_event(MESSAGE, "delivered", flow="wf_42")]
    stale = sendgrid_signed(SENDGRID_PRIVATE, events, timestamp=int(time.time()) - 301)
    answer = hooks.post("sendgrid", stale)
    assert answer.status_code == 401
    assert "stale" in answer.json()["detail"]
    assert store_counts(store_engine) == (0, 0)
