"""WhatsApp Cloud API webhooks through the running app: statuses move the KPIs."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from tests.api.webhooks.conftest import APP_SECRET, VERIFY_TOKEN, Hooks, connector_row
from tests.fakes.provider_webhooks import whatsapp_payload, whatsapp_signed, whatsapp_status
from tests.support import flow, ingest, kpis, msg

SENT = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MTE5MjA3NTFEMDA3OTFDQzEA"
NEW = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA"
FAILED = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJGQUlMRUQxMjM0NTY3ODkwQUIA"


def channel(report: dict, name: str) -> dict:
    return next(row for row in report["channels"] if row["channel"] == name)


def test_statuses_move_the_kpis_and_channel_statistics(hooks: Hooks, store_engine: Engine) -> None:
    ingest(store_engine, flow(channels=["whatsapp"]),
           msg(SENT, "+16505551234", "whatsapp", "sent", event_id="api-1"))  # fmt: skip
    assert kpis(store_engine)["analysis"]["impressions"] == 0  # whatsapp: sent is no impression
    payload = whatsapp_payload(
        whatsapp_status(SENT, "delivered"),  # no flow hint: applies to the stored message
        whatsapp_status(SENT, "read"),
        whatsapp_status(NEW, "delivered", recipient="919800000002", flow="wf_42"),
        whatsapp_status(FAILED, "failed", recipient="919800000003", flow="wf_42",
                        error=(130429, "Rate limit hit")),
        {"id": SENT, "status": "deleted", "timestamp": "1793523600", "recipient_id": "1"},
    )  # fmt: skip
    response = hooks.post("whatsapp", whatsapp_signed(APP_SECRET, payload))
    assert response.status_code == 200
    assert response.json() == {"accepted": 4, "duplicates": 0, "ignored": 1, "waiting": 0}
    report = kpis(store_engine)
    assert report["analysis"] | {"audience": None} == {
        "audience": None, "impressions": 2, "delivery_rate": 66.7, "reach": 2, "engagement": 0,
    }  # fmt: skip
    assert report["overview"]["number_of_events"] == 1 + 4
    assert channel(report, "whatsapp") == {
        "channel": "whatsapp", "notifications": 3, "share": 100.0, "sent": 2, "delivered": 2,
        "read": 1, "failed": 1, "failure_rate": 33.3,
        "failure_reasons": [{"reason": "130429 Rate limit hit", "count": 1}],
    }  # fmt: skip
    assert connector_row(store_engine, hooks.ids["whatsapp"]) == {
        "taken": 5, "refused": 0, "waiting": 0,
    }  # fmt: skip


def test_the_same_webhook_delivered_twice_counts_once(hooks: Hooks, store_engine: Engine) -> None:
    ingest(store_engine, flow(channels=["whatsapp"]))
    payload = whatsapp_payload(
        whatsapp_status(NEW, "sent", flow="wf_42"), whatsapp_status(NEW, "delivered", flow="wf_42")
    )
    signed = whatsapp_signed(APP_SECRET, payload)
    assert hooks.post("whatsapp", signed).json() == {
        "accepted": 2, "duplicates": 0, "ignored": 0, "waiting": 0}  # fmt: skip
    before = kpis(store_engine)
    assert hooks.post("whatsapp", signed).json() == {
        "accepted": 0, "duplicates": 2, "ignored": 0, "waiting": 0}  # fmt: skip
    after = kpis(store_engine)
    assert after["overview"]["number_of_events"] == before["overview"]["number_of_events"] == 2
    assert channel(after, "whatsapp")["delivered"] == 1


def test_subscription_check_answers_the_challenge(hooks: Hooks) -> None:
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    answer = hooks.http.get(hooks.path("whatsapp"), params=query)
    assert (answer.status_code, answer.text) == (200, "1158201444")
    assert answer.headers["content-type"].startswith("text/plain")
    wrong = hooks.http.get(hooks.path("whatsapp"), params=query | {"hub.verify_token": "guess"})
    assert wrong.status_code == 403
    assert "1158201444" not in wrong.text
    elsewhere = hooks.http.get(hooks.path("whatsapp", hooks.other["whatsapp"][:-1] + "x"),
                               params=query)  # fmt: skip
    assert elsewhere.status_code == 403
