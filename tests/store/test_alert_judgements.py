"""Recording alert judgements: a transition and its deliveries commit together, once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from store.alerts import Announcement, StateChange, create_alert, record_judgements
from store.db import write_transaction
from store.models import AlertEvent, AlertState, Delivery, Flow
from tests.support import NOW, flow, ingest


def _alert(engine: Engine) -> tuple[int, int]:
    ingest(engine, flow(status="live"))
    with Session(engine) as session:
        wf_42 = session.exec(select(Flow)).one()
        alert = create_alert(
            session, team_id="T0TEST", created_by="U0ALICE", flow_id=wf_42.id,
            metric="failed", op=">", threshold=10, min_notifications=1,
            recipients=["slack_channel:C0OPS", "email:ops@acme.example"], now=NOW,
        )  # fmt: skip
        assert alert.id is not None and wf_42.id is not None
        return alert.id, wf_42.id


def _firing(alert_id: int, flow_id: int, before: tuple[str, int] | None) -> StateChange:
    announce = Announcement(
        "firing", {"value": 12}, [("slack_channel", "C0OPS"), ("email", "ops@acme.example")],
        "U0ALICE",
    )  # fmt: skip
    return StateChange("b1", alert_id, flow_id, before, "firing", 12, 40, announce)


def test_two_checks_that_read_the_same_state_announce_the_transition_once(
    store_engine: Engine,
) -> None:
    alert_id, flow_id = _alert(store_engine)
    deadline = NOW + timedelta(hours=24)
    # Both checks judged before either wrote: both found no state row, then "firing".
    for before in (None, None):
        with write_transaction(store_engine) as conn:
            recorded = record_judgements(
                conn, [_firing(alert_id, flow_id, before)], now=NOW, deadline_at=deadline
            )
    assert recorded.skipped == {(alert_id, flow_id)}
    # And again from the recorded state: only the first of two writers changes it.
    resolved = StateChange("b1", alert_id, flow_id, ("firing", 1), "ok", 3, 50)
    for expected in ({(alert_id, flow_id): None}, {}):
        with write_transaction(store_engine) as conn:
            recorded = record_judgements(conn, [resolved], now=NOW, deadline_at=deadline)
        assert recorded.transitions == expected
    with Session(store_engine) as session:
        [state] = session.exec(select(AlertState)).all()
        events = session.exec(select(AlertEvent)).all()
        deliveries = session.exec(select(Delivery).order_by(Delivery.id)).all()  # type: ignore[arg-type]
    assert (state.state, state.transitions, state.value, state.notifications) == ("ok", 2, 3, 50)
    assert [(e.id, e.kind, e.seq) for e in events] == [(f"{alert_id}.{flow_id}.1", "firing", 1)]
    assert [(d.alert_event_id, d.channel, d.recipient, d.state, d.request_id) for d in deliveries] == [
        (f"{alert_id}.{flow_id}.1", "slack_channel", "C0OPS", "pending", None),
        (f"{alert_id}.{flow_id}.1", "email", "ops@acme.example", "pending", None),
    ]  # fmt: skip


def test_a_failed_transaction_leaves_neither_state_nor_message(store_engine: Engine) -> None:
    alert_id, flow_id = _alert(store_engine)
    try:
        with write_transaction(store_engine) as conn:
            record_judgements(conn, [_firing(alert_id, flow_id, None)], now=NOW, deadline_at=NOW)
            raise RuntimeError("the process dies before the commit")
    except RuntimeError:
        pass
    with Session(store_engine) as session:
        assert session.exec(select(AlertState)).all() == []
        assert session.exec(select(AlertEvent)).all() == []
        assert session.exec(select(Delivery)).all() == []
