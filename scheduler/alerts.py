"""The alert check: judge every active alert on every flow it watches, record what changed.

Run every ``ALERT_INTERVAL`` seconds by the scheduler (``scheduler.jobs:check_alerts``) and by
``campaign-bot alerts check``. It reads first — the alerts, their states, each watched flow's
KPI report once (``reports.kpis``: rollups, never messages) however many alerts watch it —
then writes every judgement in one short write transaction (``store.alerts``): a transition
and the outbox rows of its message commit together, or not at all. The outbox then sends
them like any delivery (``scheduler.outbox``), so a crash at any point neither loses nor
repeats a message.

Muted (alert, flow) pairs still change state, quietly; so does a firing alert whose flow left
``live``/``scheduled`` (or whose workspace lost the grant): it goes back to ``ok`` without a
message. Every judgement is one log line (``event=alert``; INFO for transitions, DEBUG
otherwise) and every check one more (``event=alerts``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, select

from reports.alerts import (
    AlertCoverage,
    Condition,
    FlowFacts,
    Judgement,
    error_code_of,
    format_value,
    judge,
    judgement_content,
)
from reports.content import AlertContent
from reports.kpis import compute_kpis, failed_with_error_code, format_utc
from scheduler.delivery.base import PermanentDeliveryError
from scheduler.runtime import Runtime
from store.alerts import (
    Announcement,
    Recorded,
    StateChange,
    StateRow,
    active_alerts,
    read_states,
    record_judgements,
)
from store.db import write_transaction
from store.models import Alert, AlertEvent, Flow
from store.requests import Recipient

logger = logging.getLogger("campaign_report.alerts")


@dataclass(frozen=True)
class AlertLine:
    """One alert judged on one flow, as ``campaign-bot alerts check`` prints it."""

    alert_id: int
    flow_id: int
    flow: str  # "Diwali offers (b1/wf_42)"
    condition: str  # "failure_rate > 5% (min 100 notifications)"
    value: str  # "12.5%", "n/a"
    notifications: int
    previous: str  # ok | firing
    state: str  # ok | firing
    outcome: str  # "firing message queued for 1 recipient", "no message", …
    event_id: str | None = None

    def text(self) -> str:
        """``#3 Diwali offers (b1/wf_42): failure_rate 12.5% (…) → firing (was ok); …``."""
        was = f" (was {self.previous})" if self.previous != self.state else ""
        return (
            f"#{self.alert_id} {self.flow}: {self.condition}: value {self.value}, "
            f"{self.notifications:,} notifications → {self.state}{was}; {self.outcome}"
        )


@dataclass
class AlertCheck:
    """What one check did: a line per (alert, flow) and the alert events it queued."""

    lines: list[AlertLine] = field(default_factory=list)
    events: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Judged:
    """One (alert, flow) as judged: the state read, the verdict, the write it needs."""

    alert: Alert
    flow: Flow
    state: StateRow | None
    judgement: Judgement | None  # None: the flow is no longer watched
    change: StateChange | None  # None: nothing to write


def _recipients(alert: Alert) -> list[tuple[str, str]]:
    parsed = (Recipient.parse(text) for text in alert.recipients)
    return [(r.channel, r.address) for r in parsed]


def _change(
    alert: Alert,
    flow: Flow,
    state: StateRow | None,
    judgement: Judgement,
    now: datetime,
) -> StateChange | None:
    """The write a judgement needs (None: nothing changed since the last one)."""
    assert alert.id is not None and flow.id is not None
    previous = "ok" if state is None else state.state
    new = previous if judgement.firing is None else ("firing" if judgement.firing else "ok")
    if (
        state is not None
        and new == previous
        and (state.value, state.notifications) == (judgement.value, judgement.notifications)
    ):
        return None
    announce = None
    muted = state is not None and state.muted_until is not None and state.muted_until > now
    if new != previous and not muted:
        kind = "firing" if new == "firing" else "resolved"
        content = judgement_content(Condition.of(alert), flow, judgement, format_utc(now))
        announce = Announcement(kind, content, _recipients(alert), alert.created_by)
    return StateChange(
        bot_id=flow.bot_id,
        alert_id=alert.id,
        flow_id=flow.id,
        before=None if state is None else (state.state, state.transitions),
        state=new,
        value=judgement.value,
        notifications=judgement.notifications,
        announce=announce,
    )


def _quiet_end(alert: Alert, flow: Flow, state: StateRow) -> _Judged:
    """A firing alert on a flow it no longer watches: back to ok, no message."""
    change = StateChange(
        bot_id=state.bot_id,
        alert_id=state.alert_id,
        flow_id=state.flow_id,
        before=(state.state, state.transitions),
        state="ok",
        value=state.value,
        notifications=state.notifications,
    )
    return _Judged(alert, flow, state, None, change)


def _judge_all(session: Session, now: datetime) -> list[_Judged]:
    """Judge every active alert on its flows (reads only), with the writes they need."""
    alerts = active_alerts(session)
    conn = session.connection()
    states: dict[int, dict[int, StateRow]] = {}
    for state in read_states(conn, [a.id for a in alerts if a.id is not None]):
        states.setdefault(state.alert_id, {})[state.flow_id] = state
    coverage = AlertCoverage(session, alerts)
    facts: dict[int, FlowFacts] = {}
    errors: dict[tuple[int, str], int] = {}
    judged: list[_Judged] = []
    for alert in alerts:
        assert alert.id is not None
        condition = Condition.of(alert)
        code = error_code_of(alert.metric)
        mine = states.get(alert.id, {})
        watched: set[int] = set()
        for flow in coverage.flows(alert):
            assert flow.id is not None
            watched.add(flow.id)
            if flow.id not in facts:  # one KPI report per flow, whatever watches it
                facts[flow.id] = FlowFacts.of(compute_kpis(conn, flow, now=now))
            count = None
            if code is not None:
                if (flow.id, code) not in errors:
                    errors[(flow.id, code)] = failed_with_error_code(conn, flow.id, code)
                count = errors[(flow.id, code)]
            judgement = judge(condition, facts[flow.id], count)
            state = mine.get(flow.id)
            change = _change(alert, flow, state, judgement, now)
            judged.append(_Judged(alert, flow, state, judgement, change))
        for flow_id, state in sorted(mine.items()):
            if flow_id not in watched and state.state == "firing":
                flow = session.get(Flow, flow_id)
                assert flow is not None  # the state row's foreign key
                judged.append(_quiet_end(alert, flow, state))
    return judged


def check_alerts(runtime: Runtime, now: datetime | None = None) -> AlertCheck:
    """Judge every alert now; record transitions with their messages (blocking: a thread)."""
    now = now or runtime.clock()
    with Session(runtime.engine) as session:
        judged = _judge_all(session, now)
        session.expunge_all()
    changes = [j.change for j in judged if j.change is not None]
    recorded = Recorded()
    if changes:
        with write_transaction(runtime.engine) as conn:
            recorded = record_judgements(
                conn, changes, now=now, deadline_at=now + runtime.retry.deadline
            )
    check = AlertCheck(events=recorded.events)
    described: dict[int, str] = {}
    for item in judged:
        line = _line(item, recorded, described)
        check.lines.append(line)
        _log(item, line)
    fired = sum(line.previous == "ok" and line.state == "firing" for line in check.lines)
    resolved = sum(line.previous == "firing" and line.state == "ok" for line in check.lines)
    logger.info(
        "alert check: %s judgement(s), %s fired, %s resolved, %s message(s) queued",
        len(check.lines),
        fired,
        resolved,
        len(check.events),
        extra={
            "event": "alerts",
            "judgements": len(check.lines),
            "fired": fired,
            "resolved": resolved,
            "queued": len(check.events),
        },
    )
    return check


def _line(item: _Judged, recorded: Recorded, described: dict[int, str]) -> AlertLine:
    alert, flow, state, change = item.alert, item.flow, item.state, item.change
    assert alert.id is not None and flow.id is not None
    if alert.id not in described:
        described[alert.id] = Condition.of(alert).describe()
    pair = (alert.id, flow.id)
    previous = "ok" if state is None else state.state
    applied = change is not None and change.transition and pair in recorded.transitions
    event_id = recorded.transitions.get(pair) if applied else None
    if item.judgement is None:
        value, notifications = state.value if state else None, state.notifications if state else 0
        outcome = "the flow is no longer live or scheduled (or visible): ended quietly"
    else:
        value, notifications = item.judgement.value, item.judgement.notifications
        outcome = _outcome(item, applied, pair in recorded.skipped, event_id)
    return AlertLine(
        alert_id=alert.id,
        flow_id=flow.id,
        flow=f"{flow.name} ({flow.bot_id}/{flow.workflow_id})",
        condition=described[alert.id],
        value=format_value(alert.metric, value),
        notifications=notifications,
        previous=previous,
        state=change.state if applied and change is not None else previous,
        outcome=outcome,
        event_id=event_id,
    )


def _outcome(item: _Judged, applied: bool, skipped: bool, event_id: str | None) -> str:
    assert item.judgement is not None
    if skipped:
        return "already recorded by another check: no message"
    if applied and item.change is not None and item.change.announce is not None:
        count = len(item.change.announce.recipients)
        kind = item.change.announce.kind
        return f"{kind} message {event_id} queued for {count} recipient{'s' * (count != 1)}"
    if applied:
        return "muted: no message"
    if item.judgement.firing is None:
        return "not judged (fewer notifications than min:, or no value yet): no message"
    return "no change: no message"


def _log(item: _Judged, line: AlertLine) -> None:
    """One structured line per judgement: INFO when the state changed, DEBUG otherwise."""
    transition = line.previous != line.state
    level = logging.INFO if transition else logging.DEBUG
    if not logger.isEnabledFor(level):  # a check judges thousands: skip building the fields
        return
    logger.log(
        level,
        "alert %s on flow %s: %s %s, %s%s",
        line.alert_id,
        line.flow_id,
        item.alert.metric,
        line.value,
        line.state,
        f" (was {line.previous})" if transition else "",
        extra={
            "event": "alert",
            "alert_id": line.alert_id,
            "flow_id": line.flow_id,
            "bot_id": item.flow.bot_id,
            "metric": item.alert.metric,
            "value": line.value,
            "notifications": line.notifications,
            "state": line.state,
            "previous": line.previous,
            "transition": transition,
            "alert_event_id": line.event_id,
            "outcome": line.outcome,
        },
    )


def load_alert_content(runtime: Runtime, event_id: str) -> AlertContent:
    """The message of alert event ``event_id`` (the outbox's content of an alert delivery)."""
    with Session(runtime.engine) as session:
        event = session.exec(select(AlertEvent).where(AlertEvent.id == event_id)).first()
        if event is None:
            raise PermanentDeliveryError("the alert's message is gone from the store")
        return AlertContent(
            event_id=event.id,
            alert_id=event.alert_id,
            flow_id=event.flow_id,
            kind=event.kind,
            judgement=dict(event.content),
            zone=runtime.config.zone,
        )
