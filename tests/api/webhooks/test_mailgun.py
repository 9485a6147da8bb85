"""Mailgun webhooks through the running app: one event each, replay tokens refused."""

from __future__ import annotations

import time

from sqlalchemy.engine import Engine

from tests.api.webhooks.conftest import MAILGUN_KEY, Hooks, connector_row, store_counts
from tests.fakes.provider_webhooks import mailgun_event, mailgun_signed
from tests.support import flow, ingest, kpis

MESSAGE = "<20261101090000.000be97f99f8cea1@sample.mailgun.com>"
BOUNCED = "20261101090001.000be97f99f8cea2@sample.mailgun.com"


def test_events_move_the_kpis(hooks: Hooks, store_engine: Engine) -> None:
    ingest(store_engine, flow(channels=["email"]))
    events = [
        mailgun_event(MESSAGE, "accepted", flow="wf_42"),
        mailgun_event(MESSAGE, "delivered", flow="wf_42"),
        mailgun_event(MESSAGE, "opened", flow="wf_42"),
        mailgun_event(MESSAGE, "clicked", flow="wf_42", url="https://acme.example/offer"),
        mailgun_event(BOUNCED, "failed", recipient="Bob@Example.com", flow="wf_42",
                      severity="permanent", **{"delivery-status": {
                          "code": 550, "message": "5.1.1 The email account does not exist"}}),
        mailgun_event(BOUNCED, "failed", recipient="bob@example.com", flow="wf_42",
                      severity="temporary", **{"delivery-status": {"code": 421}}),
    ]  # fmt: skip
    answers = [hooks.post("mailgun", mailgun_signed(MAILGUN_KEY, e)).json() for e in events]
    assert [a["accepted"] for a in answers] == [1, 1, 1, 1, 1, 0]
    assert answers[-1]["ignored"] == 1  # a temporary failure: Mailgun retries it
    report = kpis(store_engine)
    assert report["overview"]["unique_clicks"] == 1
    assert report["analysis"]["audience"] == 2
    (email,) = report["channels"]
    assert (email["notifications"], email["sent"], email["failed"]) == (2, 1, 1)
    assert email["failure_reasons"] == [
        {"reason": "550 5.1.1 The email account does not exist", "count": 1}
    ]


def test_a_replayed_token_or_a_stale_signature_is_refused(
    hooks: Hooks, store_engine: Engine
) -> None:
    ingest(store_engine, flow(channels=["email"]))
    signed = mailgun_signed(MAILGUN_KEY, mailgun_event(MESSAGE, "delivered", flow="wf_42"))
    assert hooks.post("mailgun", signed).json()["accepted"] == 1
    before = store_counts(store_engine), kpis(store_engine)["overview"]
    replay = hooks.post("mailgun", signed)
    assert replay.status_code == 401
    assert "replayed" in replay.json()["detail"]
    stale = mailgun_signed(MAILGUN_KEY, mailgun_event(MESSAGE, "opened", flow="wf_42"),
                           timestamp=int(time.time()) - 600)  # fmt: skip
    assert hooks.post("mailgun", stale).status_code == 401
    assert (store_counts(store_engine), kpis(store_engine)["overview"]) == before
    assert connector_row(store_engine, hooks.ids["mailgun"]) == {
        "taken": 1, "refused": 2, "waiting": 0}  # fmt: skip
