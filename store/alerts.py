"""Alerts: storing, ending, muting them, and recording their judgements (the writes).

What an alert says is parsed by the Slack grammar (``commands.grammar``) and judged by
``reports.alerts``; this module keeps it. ``record_judgements`` is the heart of "no loss, no
repeat": a state change and the outbox rows of its message are written in one transaction,
and only when the state is still the one the judgement started from — so two checkers
running at once (the scheduler and ``campaign-bot alerts check``) announce a transition once.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Session, select

from store.models import Alert, AlertEvent, AlertState, Delivery, Flow

_state = AlertState.__table__
_event = AlertEvent.__table__
_delivery = Delivery.__table__


def create_alert(
    session: Session,
    *,
    team_id: str,
    created_by: str,
    flow_id: int | None,
    metric: str,
    op: str,
    threshold: float,
    min_notifications: int,
    recipients: Sequence[str],
    now: datetime,
) -> Alert:
    """Store an alert of workspace ``team_id`` (``flow_id`` None: all its live flows)."""
    alert = Alert(
        team_id=team_id,
        created_by=created_by,
        flow_id=flow_id,
        metric=metric,
        op=op,
        threshold=threshold,
        min_notifications=min_notifications,
        recipients=list(recipients),
        created_at=now,
    )
    session.add(alert)
    session.commit()
    session.refresh(alert)
    return alert


def end_alert(session: Session, alert_id: int, team_id: str) -> bool:
    """Remove workspace ``team_id``'s alert; False when it has no such active one."""
    alert = session.get(Alert, alert_id)
    if alert is None or alert.team_id != team_id or not alert.active:
        return False
    alert.active = False
    session.add(alert)
    session.commit()
    return True


def active_alerts(
    session: Session, *, team_id: str | None = None, limit: int | None = None
) -> list[Alert]:
    """Active alerts by id, of one workspace or of all."""
    query = select(Alert).where(Alert.active).order_by(Alert.id)  # type: ignore[arg-type]
    if team_id is not None:
        query = query.where(Alert.team_id == team_id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))


def alert_states(session: Session, alert_ids: Collection[int]) -> list[AlertState]:
    """The recorded states of those alerts on every flow they were judged on."""
    if not alert_ids:
        return []
    query = select(AlertState).where(AlertState.alert_id.in_(sorted(alert_ids)))  # type: ignore[attr-defined]
    return list(session.exec(query))


@dataclass(frozen=True, slots=True)
class StateRow:
    """An ``alert_state`` row as read by a check (plain values: a check reads thousands)."""

    bot_id: str
    alert_id: int
    flow_id: int
    state: str
    value: float | None
    notifications: int
    transitions: int
    muted_until: datetime | None


def read_states(conn: Connection, alert_ids: Collection[int]) -> list[StateRow]:
    """The recorded states of those alerts on every flow they were judged on."""
    if not alert_ids:
        return []
    columns = [_state.c[name] for name in StateRow.__slots__]
    rows = conn.execute(sa.select(*columns).where(_state.c.alert_id.in_(sorted(alert_ids))))
    return [StateRow(*row) for row in rows]


def mute_alert(
    session: Session, *, team_id: str, alert_id: int, flow_id: int, until: datetime
) -> Alert | None:
    """Mute workspace ``team_id``'s alert on one flow until ``until``; None when the alert is
    not that workspace's (or was removed) or the flow is gone."""
    alert = session.get(Alert, alert_id)
    flow = session.get(Flow, flow_id)
    if alert is None or alert.team_id != team_id or not alert.active or flow is None:
        return None
    if alert.flow_id is not None and alert.flow_id != flow_id:
        return None
    state = session.get(AlertState, (flow.bot_id, alert_id, flow_id))
    if state is None:
        state = AlertState(bot_id=flow.bot_id, alert_id=alert_id, flow_id=flow_id)
    state.muted_until = until
    session.add(state)
    session.commit()
    session.refresh(alert)
    return alert


@dataclass(frozen=True)
class Announcement:
    """The message of a transition: its kind, what it says, to whom."""

    kind: str  # firing | resolved
    content: dict[str, Any]
    recipients: Sequence[tuple[str, str]]  # (channel, address)
    owner: str | None  # the Slack user told when a delivery fails


@dataclass(frozen=True)
class StateChange:
    """One judgement to record: the state it read, the state it found, and its message.

    ``before`` is ``(state, transitions)`` as read when judging (None: no row yet); a change
    of state is written only while the row still says so. ``announce`` None: a quiet change
    (muted, or the flow left live/scheduled).
    """

    bot_id: str
    alert_id: int
    flow_id: int
    before: tuple[str, int] | None
    state: str
    value: float | None
    notifications: int
    announce: Announcement | None = None

    @property
    def transition(self) -> bool:
        """True when the state changes (ok → firing or firing → ok)."""
        return self.state != (self.before[0] if self.before else "ok")


@dataclass
class Recorded:
    """What ``record_judgements`` wrote, by (alert id, flow id)."""

    # State changes written: the alert event announcing each (None: a quiet change).
    transitions: dict[tuple[int, int], str | None] = field(default_factory=dict)
    skipped: set[tuple[int, int]] = field(default_factory=set)  # another checker was first

    @property
    def events(self) -> list[str]:
        """The alert events written (each with its deliveries)."""
        return [event for event in self.transitions.values() if event is not None]


def _insert(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def record_judgements(
    conn: Connection, changes: Iterable[StateChange], *, now: datetime, deadline_at: datetime
) -> Recorded:
    """Write judgements in the caller's write transaction; transitions with their messages.

    A transition that announces becomes one ``alert_event`` and one pending ``delivery`` per
    recipient in this same transaction, so the outbox sends it exactly once: a crash before
    the commit leaves the state unchanged (the next check finds the transition again), a crash
    after it leaves the deliveries to the outbox.
    """
    recorded = Recorded()
    quiet_rows: list[dict[str, Any]] = []
    values: list[dict[str, Any]] = []
    for change in changes:
        key = {"bot_id": change.bot_id, "alert_id": change.alert_id, "flow_id": change.flow_id}
        if not change.transition:
            row = {**key, "value": change.value, "notifications": change.notifications}
            if change.before is None:
                quiet_rows.append(row | {"state": "ok", "transitions": 0})
            else:
                values.append(row)
            continue
        pair = (change.alert_id, change.flow_id)
        seq = _write_transition(conn, change, key, now)
        if seq is None:
            recorded.skipped.add(pair)
            continue
        announced = change.announce is not None
        recorded.transitions[pair] = (
            _announce(conn, change, seq, now, deadline_at) if announced else None
        )
    if quiet_rows:  # first judgements that found the flow ok
        conn.execute(_insert(conn)(_state).on_conflict_do_nothing(), quiet_rows)
    if values:
        conn.execute(
            sa.update(_state)
            .where(
                _state.c.bot_id == sa.bindparam("b_bot"),
                _state.c.alert_id == sa.bindparam("b_alert"),
                _state.c.flow_id == sa.bindparam("b_flow"),
            )
            .values(value=sa.bindparam("value"), notifications=sa.bindparam("notifications")),
            [
                {"b_bot": v["bot_id"], "b_alert": v["alert_id"], "b_flow": v["flow_id"]}
                | {"value": v["value"], "notifications": v["notifications"]}
                for v in values
            ],
        )
    return recorded


def _write_transition(
    conn: Connection, change: StateChange, key: dict[str, Any], now: datetime
) -> int | None:
    """Change the state if it is still ``change.before``; the transition's number, or None."""
    new = {"state": change.state, "value": change.value, "notifications": change.notifications}
    if change.before is None:
        # RETURNING says whether the row went in (an INSERT's rowcount is not reliable).
        inserted = conn.execute(
            _insert(conn)(_state)
            .values(**key, **new, changed_at=now, transitions=1)
            .on_conflict_do_nothing()
            .returning(_state.c.transitions)
        ).first()
        return 1 if inserted is not None else None
    state, transitions = change.before
    done = conn.execute(
        sa.update(_state)
        .where(
            *(_state.c[name] == value for name, value in key.items()),
            _state.c.state == state,
            _state.c.transitions == transitions,
        )
        .values(**new, changed_at=now, transitions=transitions + 1)
    ).rowcount
    return transitions + 1 if done else None


def alert_event_id(alert_id: int, flow_id: int, seq: int) -> str:
    """``"3.12.2"``: the 2nd transition of alert 3 on flow 12."""
    return f"{alert_id}.{flow_id}.{seq}"


def _announce(
    conn: Connection, change: StateChange, seq: int, now: datetime, deadline_at: datetime
) -> str:
    announce = change.announce
    assert announce is not None
    event_id = alert_event_id(change.alert_id, change.flow_id, seq)
    conn.execute(
        sa.insert(_event).values(
            bot_id=change.bot_id,
            id=event_id,
            alert_id=change.alert_id,
            flow_id=change.flow_id,
            seq=seq,
            kind=announce.kind,
            content=announce.content,
            created_at=now,
        )
    )
    rows = [
        {
            "request_id": None,
            "alert_event_id": event_id,
            "channel": channel,
            "recipient": address,
            "owner": announce.owner,
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "deadline_at": deadline_at,
            "created_at": now,
        }
        for channel, address in dict.fromkeys(announce.recipients)
    ]
    if rows:
        conn.execute(sa.insert(_delivery), rows)
    return event_id
