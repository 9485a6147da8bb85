"""Applying verified updates: stored messages, flow hints, waiting, replay tokens."""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from store.connectors.apply import WebhookSummary, apply_webhook
from store.connectors.base import ClickUpdate, ParsedWebhook, StatusUpdate, Update
from store.connectors.records import StoredConnector, claim_token, create_connector
from store.connectors.secrets import ConnectorSecret, SecretBox
from store.db import write_transaction
from store.ingest.waiting import TOKEN_KEEP
from store.vocabulary import STATUS_RANK
from tests.support import BOT, NOW, flow, ingest, kpis, msg

BOX = SecretBox("apply-test-key")


def connector(engine: Engine, bot_id: str = BOT) -> StoredConnector:
    return create_connector(engine=engine, kind="whatsapp", bot_id=bot_id,
                            secret=ConnectorSecret("app", "verify"), box=BOX)  # fmt: skip


def status(message_id: str, value: str, *, minutes: int = 0, **fields: str) -> StatusUpdate:
    return StatusUpdate(message_id=message_id, status=value, at=NOW + timedelta(minutes=minutes),
                        source="whatsapp", event_id=f"{message_id}:{value}", **fields)  # fmt: skip


def deliver(engine: Engine, hook: StoredConnector, *updates: Update, ignored: int = 0
            ) -> WebhookSummary:  # fmt: skip
    return apply_webhook(engine, hook, ParsedWebhook(list(updates), ignored), token=None, now=NOW)


def whatsapp(report: dict) -> dict:
    return next(row for row in report["channels"] if row["channel"] == "whatsapp")


def test_one_hinted_status_creates_the_message_for_the_rest_of_the_delivery(
    store_engine: Engine,
) -> None:
    hook = connector(store_engine)
    summary = deliver(store_engine, hook, status("w1", "read", minutes=2),
                      status("w1", "sent", workflow_id="wf_42", user_id="+919800000001"),
                      status("w1", "delivered", minutes=1), ignored=2)  # fmt: skip
    assert summary == WebhookSummary(accepted=3, duplicates=0, ignored=2, waiting=0)
    row = whatsapp(kpis(store_engine))
    assert (row["notifications"], row["delivered"], row["read"]) == (1, 1, 1)


def test_a_stored_message_keeps_its_own_flow_user_and_source(store_engine: Engine) -> None:
    ingest(store_engine, flow(), msg("w1", "user-42", "whatsapp", "sent"))
    hook = connector(store_engine)
    hinted = status("w1", "read", workflow_id="wf_other", user_id="+919800000001")
    assert deliver(store_engine, hook, hinted).accepted == 1
    report = kpis(store_engine)
    assert (report["analysis"]["audience"], whatsapp(report)["read"]) == (1, 1)


def test_clicks_count_with_a_hint_and_wait_without_one(store_engine: Engine) -> None:
    ingest(store_engine, flow(channels=["email"]))
    hook = connector(store_engine)
    hinted = ClickUpdate(
        message_id="e1",
        user_id="jane@example.com",
        source="email",
        url="https://acme.example/a",
        at=NOW,
        event_id="c1",
        workflow_id="wf_42",
    )
    unhinted = ClickUpdate(
        message_id="e2",
        user_id="bob@example.com",
        source="email",
        url="https://acme.example/b",
        at=NOW,
        event_id="c2",
    )
    nowhere = ClickUpdate(message_id=None, user_id=None, source="email", url=None, at=NOW,
                          event_id="c3")  # fmt: skip
    summary = deliver(store_engine, hook, hinted, unhinted, nowhere)
    assert summary == WebhookSummary(accepted=1, duplicates=0, ignored=1, waiting=1)
    assert kpis(store_engine)["overview"]["unique_clicks"] == 1
    result = ingest(store_engine, msg("e2", "bob@example.com", "email", "sent"))
    assert (result.accepted, result.released) == (1, 1)
    assert kpis(store_engine)["overview"]["unique_clicks"] == 2


def test_a_replay_token_is_taken_once_while_it_could_be_fresh(store_engine: Engine) -> None:
    hook = connector(store_engine)
    with write_transaction(store_engine) as conn:
        assert claim_token(conn, hook, "tok-1", NOW)
        assert not claim_token(conn, hook, "tok-1", NOW + timedelta(minutes=10))
    with write_transaction(store_engine) as conn:
        assert claim_token(conn, hook, "tok-1", NOW + TOKEN_KEEP + timedelta(seconds=1))


_flows = itertools.count(1)
STATUSES = ["sent", "failed", "delivered", "read"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(chosen=st.lists(st.sampled_from(STATUSES), min_size=1, max_size=4, unique=True),
       data=st.data())  # fmt: skip
def test_statuses_and_their_message_in_any_order_give_one_report(
    sqlite_engine: Engine, chosen: list[str], data: st.DataObject
) -> None:
    workflow = f"wf_prop_{next(_flows)}"
    order = data.draw(st.permutations(chosen))
    message_at = data.draw(st.integers(0, len(order)))
    hook = connector(sqlite_engine, bot_id=workflow)
    ingest(sqlite_engine, flow(bot_id=workflow, workflow_id=workflow, channels=["whatsapp"]))
    message = msg("w1", "+919800000001", "whatsapp", "queued", bot_id=workflow,
                  workflow_id=workflow, event_id="api-1")  # fmt: skip
    for index, value in enumerate(order):
        if index == message_at:
            ingest(sqlite_engine, message)
        deliver(sqlite_engine, hook, status("w1", value, minutes=index))
        deliver(sqlite_engine, hook, status("w1", value, minutes=index))  # and again
    if message_at == len(order):
        ingest(sqlite_engine, message)
    final = max(chosen, key=STATUS_RANK.__getitem__)
    report = kpis(sqlite_engine, f"{workflow}/{workflow}")
    row = whatsapp(report)
    assert report["overview"]["number_of_events"] == len(chosen) + 1
    assert (row["failed"], row["delivered"], row["read"]) == (
        int(final == "failed"),
        int(final in ("delivered", "read")),
        int(final == "read"),
    )
