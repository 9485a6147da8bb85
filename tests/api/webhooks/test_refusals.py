"""Every refused webhook gets 401 (or 400 for a malformed body) and writes nothing."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy.engine import Engine

from bot.app import create_app
from tests.api.conftest import sqlite_only
from tests.api.webhooks.conftest import (
    APP_SECRET,
    AUTH_TOKEN,
    MAILGUN_KEY,
    OTHER_PRIVATE,
    SENDGRID_PRIVATE,
    Hooks,
    app_settings,
    connector_row,
    store_counts,
)
from tests.fakes.provider_webhooks import (
    Signed,
    mailgun_event,
    mailgun_signed,
    sendgrid_event,
    sendgrid_signed,
    twilio_callback,
    twilio_signed,
    whatsapp_payload,
    whatsapp_signed,
    whatsapp_status,
)
from tests.live_server import serve_app
from tests.support import flow, ingest, kpis

M = "m-1"


def genuine(hooks: Hooks, kind: str, connector_id: str | None = None) -> Signed:
    """A correctly signed delivery for b1's connector of ``kind`` (one delivered status)."""
    if kind == "whatsapp":
        return whatsapp_signed(
            APP_SECRET, whatsapp_payload(whatsapp_status(M, "delivered", flow="wf_42"))
        )
    if kind == "twilio":
        url = hooks.url("twilio", "workflow_id=wf_42", connector_id)
        return twilio_signed(AUTH_TOKEN, url, twilio_callback(M, "delivered"))
    if kind == "sendgrid":
        return sendgrid_signed(SENDGRID_PRIVATE, [sendgrid_event(M, "delivered", flow="wf_42")])
    return mailgun_signed(MAILGUN_KEY, mailgun_event(M, "delivered", flow="wf_42"))


def wrong_key(hooks: Hooks, kind: str) -> Signed:
    if kind == "whatsapp":
        return whatsapp_signed("not-the-app-secret", json.loads(genuine(hooks, kind)[0]))
    if kind == "twilio":
        url = hooks.url("twilio", "workflow_id=wf_42")
        return twilio_signed("not-the-token", url, twilio_callback(M, "delivered"))
    if kind == "sendgrid":
        return sendgrid_signed(OTHER_PRIVATE, [sendgrid_event(M, "delivered", flow="wf_42")])
    return mailgun_signed("not-the-key", mailgun_event(M, "delivered", flow="wf_42"))


def tampered(hooks: Hooks, kind: str) -> Signed:
    body, headers = genuine(hooks, kind)
    swaps = {"whatsapp": b'"delivered"', "twilio": b"delivered", "sendgrid": b'"delivered"',
             "mailgun": b'"delivered"'}  # fmt: skip
    changed = body.replace(swaps[kind], swaps[kind].replace(b"delivered", b"read"))
    if kind == "mailgun":  # Mailgun signs timestamp + token only: tamper with those
        changed = body.replace(b'"token": "', b'"token": "0')
    assert changed != body
    return changed, headers


KINDS = ["whatsapp", "twilio", "sendgrid", "mailgun"]
Forge = Callable[[Hooks, str], tuple[Signed, str]]
CASES: dict[str, Forge] = {
    "wrong signature": lambda h, k: (wrong_key(h, k), h.path(k)),
    "tampered body": lambda h, k: (tampered(h, k), h.path(k)),
    "another connector's id": lambda h, k: (genuine(h, k, h.other[k]), h.path(k, h.other[k])),
    "another kind's URL": lambda h, k: (
        genuine(h, k), h.path(next(o for o in KINDS if o != k), h.ids[k])),
    "unknown id": lambda h, k: (genuine(h, k), h.path(k, "cn_" + "A" * 22)),
    "no signature": lambda h, k: ((genuine(h, k)[0], {"Content-Type": "application/json"}),
                                  h.path(k)),
}  # fmt: skip


# Refusals happen before the store is written: SQLite is enough (the 400s below and the
# webhook tests of each provider run on PostgreSQL too).
@sqlite_only
@pytest.mark.parametrize("kind", KINDS)
def test_refused_and_nothing_written(hooks: Hooks, store_engine: Engine, kind: str) -> None:
    ingest(store_engine, flow(channels=["whatsapp", "sms", "email"]))
    before = kpis(store_engine)
    query = "?workflow_id=wf_42" if kind == "twilio" else ""
    for case, forge in CASES.items():
        (body, headers), path = forge(hooks, kind)
        if kind == "mailgun" and case == "no signature":
            body = json.dumps({"event-data": json.loads(body)["event-data"]}).encode()
        answer = hooks.http.post(path + query, content=body, headers=headers)
        assert answer.status_code == 401, (case, answer.text)
        assert store_counts(store_engine) == (0, 0), case
    after = kpis(store_engine)
    assert (after["overview"], after["channels"]) == (before["overview"], before["channels"])
    assert connector_row(store_engine, hooks.other[kind])["taken"] == 0
    assert connector_row(store_engine, hooks.ids[kind]) == {
        "taken": 0, "refused": 3, "waiting": 0}  # fmt: skip


@pytest.mark.parametrize("kind", ["whatsapp", "sendgrid", "mailgun"])
def test_malformed_json_with_a_good_signature_is_a_400(
    hooks: Hooks, store_engine: Engine, kind: str
) -> None:
    bodies = {
        "whatsapp": lambda: whatsapp_signed(APP_SECRET, b'{"entry": [{"changes": [oops'),
        "sendgrid": lambda: sendgrid_signed(SENDGRID_PRIVATE, b'[{"event": "delivered",'),
        "mailgun": lambda: mailgun_signed(MAILGUN_KEY, {"event": "delivered", "id": "x",
                                                        "timestamp": "soon"}),
    }  # fmt: skip
    answer = hooks.post(kind, bodies[kind]())
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"].startswith("malformed webhook")
    assert store_counts(store_engine) == (0, 0)
    assert connector_row(store_engine, hooks.ids[kind]) == {"taken": 0, "refused": 1, "waiting": 0}


def test_twilio_form_that_is_not_form_data_is_a_400(hooks: Hooks, store_engine: Engine) -> None:
    answer = hooks.http.post(hooks.path("twilio"), content=b"\xff\xfe=%%",
                             headers={"X-Twilio-Signature": "c2lnbmF0dXJl"})  # fmt: skip
    assert answer.status_code == 400
    assert store_counts(store_engine) == (0, 0)


def test_after_a_secret_key_change_the_webhook_names_the_connector_to_fix(
    hooks: Hooks, store_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    ingest(store_engine, flow(channels=["whatsapp"]))
    rotated = app_settings(store_engine, SECRET_KEY="a-new-secret-key-without-the-old-one")
    with serve_app(create_app(rotated, store_engine)) as base, caplog.at_level(logging.ERROR):
        answer = httpx.post(base + hooks.path("whatsapp"), content=genuine(hooks, "whatsapp")[0],
                            headers=genuine(hooks, "whatsapp")[1])  # fmt: skip
    assert (answer.status_code, answer.json()) == (
        401, {"detail": "the connector needs its secret again"})  # fmt: skip
    connector = hooks.ids["whatsapp"]
    assert any(
        f"`campaign-bot connector set-secret {connector}`" in record.getMessage()
        for record in caplog.records
    )
    assert APP_SECRET not in caplog.text
    assert store_counts(store_engine) == (0, 0)


@sqlite_only
def test_without_a_secret_key_webhooks_are_refused(hooks: Hooks, store_engine: Engine) -> None:
    unset = app_settings(store_engine, SECRET_KEY=None)
    with serve_app(create_app(unset, store_engine)) as base:
        body, headers = genuine(hooks, "mailgun")
        answer = httpx.post(base + hooks.path("mailgun"), content=body, headers=headers)
    assert (answer.status_code, answer.json()) == (401, {"detail": "connectors are not set up"})
    assert store_counts(store_engine) == (0, 0)
