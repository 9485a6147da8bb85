"""Ingestion rules: apply batches of events to the store and keep the rollups in step.

Every batch runs inside the caller's write transaction (``store.db.write_transaction``), so a
rejected batch or file writes nothing. Ingestion is serialized per database — SQLite by its
write lock (taken at ``BEGIN IMMEDIATE``), PostgreSQL by one transaction-scoped advisory
lock — because the rollups are read, changed and written back; batching keeps the
throughput up (see ``bench/``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from store.db import write_transaction
from store.events import (
    ENGAGEMENT_TYPES,
    STATUS_RANK,
    AnyEvent,
    EventError,
    FlowEvent,
    MessageEvent,
    UserActionEvent,
)
from store.models import (
    ALL_CHANNELS,
    STAT_COUNTERS,
    Bot,
    EventReceipt,
    FailureReasonStat,
    Flow,
    FlowStat,
    FlowUser,
    FlowUserChannel,
    Message,
    UserEvent,
    utcnow,
)

BATCH_SIZE = 5000
_CHUNK = 500  # keys per IN (...) look-up
_INGEST_LOCK_KEY = 0x43524230  # "CRB0": the advisory lock that serializes ingestion on PostgreSQL

# Bits of flow_user.flags / flow_user_channel.flags.
ENTERED, EXITED, GOAL, CLICKED, CONVERSATION, MESSAGED = (1 << i for i in range(6))
_FLAG_OF_TYPE = {
    "flow_entered": ENTERED,
    "flow_exited": EXITED,
    "goal_achieved": GOAL,
    "click": CLICKED,
    "conversation_started": CONVERSATION,
}
_CHANNEL_FLAGS = GOAL | CLICKED | CONVERSATION | MESSAGED  # entered/exited are flow-wide

_bot = Bot.__table__
_flow = Flow.__table__
_message = Message.__table__
_user_event = UserEvent.__table__
_receipt = EventReceipt.__table__
_flow_user = FlowUser.__table__
_flow_user_channel = FlowUserChannel.__table__
_flow_stat = FlowStat.__table__
_failure_stat = FailureReasonStat.__table__


def impression_threshold(source: str) -> int:
    """Lowest status rank that counts as an impression on a channel (DESIGN.md, KPIs)."""
    return STATUS_RANK["delivered"] if source == "whatsapp" else STATUS_RANK["sent"]


def is_impression(source: str, status: str) -> bool:
    """True when a message in ``status`` is an impression on ``source``."""
    return status != "failed" and STATUS_RANK[status] >= impression_threshold(source)


def failure_reason(error_code: str | None, comments: str | None) -> str:
    """The reason a failed message is grouped under: ``"1408 Not a WhatsApp number"``."""
    reason = " ".join(part for part in (error_code, comments) if part)
    return (reason or "Unknown")[:300]


def message_counters(source: str, status: str) -> dict[str, int]:
    """What one message adds to its channel's counters in ``status``."""
    rank = STATUS_RANK[status]
    return {
        "messages": 1,
        "notifications": int(status != "queued"),
        "sent": int(rank >= STATUS_RANK["sent"] and status != "failed"),
        "delivered": int(rank >= STATUS_RANK["delivered"]),
        "read": int(status == "read"),
        "failed": int(status == "failed"),
        "impressions": int(is_impression(source, status)),
    }


def user_counters(flags: int, impressions: int, *, channel: bool) -> dict[str, int]:
    """What one user adds to the distinct-user counters, flow-wide or on one channel."""
    counters = {
        "click_users": int(bool(flags & CLICKED)),
        "conversation_users": int(bool(flags & CONVERSATION)),
        "goal_users": int(bool(flags & GOAL)),
        "reach_users": int(impressions > 0),
    }
    if channel:
        counters["audience_users"] = int(bool(flags & MESSAGED))
        return counters
    counters["audience_users"] = int(bool(flags & (MESSAGED | ENTERED)))
    counters["entered_users"] = int(bool(flags & ENTERED))
    counters["exited_users"] = int(bool(flags & EXITED))
    counters["in_flow_users"] = int(bool(flags & ENTERED) and not flags & (EXITED | GOAL))
    return counters


@dataclass
class IngestResult:
    """What a run of ingestion accepted."""

    accepted: int = 0
    duplicates: int = 0
    flows_created: int = 0
    by_type: Counter[str] = field(default_factory=Counter)

    def merge(self, other: IngestResult) -> None:
        """Add another result's counts to this one."""
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.flows_created += other.flows_created
        self.by_type.update(other.by_type)


@dataclass
class _MessageState:
    id: int | None
    flow_id: int
    workflow_id: str
    user_id: str
    source: str
    status: str
    status_at: datetime
    comments: str | None
    error_code: str | None
    template_id: str | None
    ip_address: str | None
    custom_payload: Any
    sent_by: str | None
    created_at: datetime
    scheduled_at: datetime | None

    def outranks(self, event: MessageEvent) -> bool:
        """True when the stored status beats the event's (ties broken by time, then text)."""
        mine = (
            STATUS_RANK[self.status],
            self.status_at,
            self.comments or "",
            self.error_code or "",
        )
        theirs = (STATUS_RANK[event.status], event.at, event.comments or "", event.error_code or "")
        return mine >= theirs

    def row(self, bot_id: str, message_id: str) -> dict[str, Any]:
        return {
            "flow_id": self.flow_id,
            "bot_id": bot_id,
            "message_id": message_id,
            "user_id": self.user_id,
            "source": self.source,
            "status": self.status,
            "status_at": self.status_at,
            "ip_address": self.ip_address,
            "custom_payload": self.custom_payload,
            "template_id": self.template_id,
            "sent_by": self.sent_by,
            "comments": self.comments,
            "error_code": self.error_code,
            "created_at": self.created_at,
            "scheduled_at": self.scheduled_at,
            "updated_at": self.status_at,
        }


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _insert(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


class Ingestor:
    """Applies batches of events within one open write transaction on ``conn``."""

    def __init__(self, conn: Connection, now: datetime | None = None) -> None:
        self.conn = conn
        self.now = now or utcnow()
        self.result = IngestResult()
        self._locked = False
        self._bots: set[str] = set()
        self._flow_ids: dict[tuple[str, str], int] = {}

    # -- public -------------------------------------------------------------------------

    def apply(self, batch: Sequence[tuple[str, AnyEvent]]) -> IngestResult:
        """Apply ``(where, event)`` pairs in order; raises ``EventError`` on a bad event."""
        result = IngestResult()
        if not batch:
            return result
        self._lock()
        self._ensure_bots({event.bot_id for _, event in batch})
        fresh = self._drop_duplicates(batch, result)
        self._ensure_flows(fresh, result)
        flow_events = [(w, e) for w, e in fresh if isinstance(e, FlowEvent)]
        messages = [(w, e) for w, e in fresh if isinstance(e, MessageEvent)]
        actions = [(w, e) for w, e in fresh if isinstance(e, UserActionEvent)]
        self._apply_flow_events(flow_events)
        stats = _StatDeltas()
        users = _UserDeltas()
        self._apply_messages(messages, stats, users)
        self._apply_actions(actions, stats, users)
        self._write_user_rollups(users, stats)
        self._write_stats(stats)
        self._touch_flows({self._flow_ids[(e.bot_id, e.workflow_id)] for _, e in fresh})
        result.accepted = len(fresh)
        result.by_type.update(event.type for _, event in fresh)
        self.result.merge(result)
        return result

    # -- steps --------------------------------------------------------------------------

    def _lock(self) -> None:
        if self._locked:
            return
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _INGEST_LOCK_KEY}
            )
        self._locked = True

    def _ensure_bots(self, bot_ids: set[str]) -> None:
        missing = sorted(bot_ids - self._bots)
        if not missing:
            return
        stmt = _insert(self.conn)(_bot).on_conflict_do_nothing(index_elements=["bot_id"])
        self.conn.execute(stmt, [{"bot_id": b, "created_at": self.now} for b in missing])
        self._bots.update(missing)

    def _drop_duplicates(
        self, batch: Sequence[tuple[str, AnyEvent]], result: IngestResult
    ) -> list[tuple[str, AnyEvent]]:
        wanted: dict[str, set[str]] = defaultdict(set)
        for _, event in batch:
            event_id = getattr(event, "event_id", None)
            if event_id is not None:
                wanted[event.bot_id].add(event_id)
        seen: set[tuple[str, str]] = set()
        for bot_id, ids in wanted.items():
            for chunk in _chunks(sorted(ids)):
                rows = self.conn.execute(
                    sa.select(_receipt.c.event_id).where(
                        _receipt.c.bot_id == bot_id, _receipt.c.event_id.in_(chunk)
                    )
                )
                seen.update((bot_id, event_id) for (event_id,) in rows)
        fresh: list[tuple[str, AnyEvent]] = []
        receipts: list[dict[str, str]] = []
        for where, event in batch:
            event_id = getattr(event, "event_id", None)
            if event_id is not None:
                key = (event.bot_id, event_id)
                if key in seen:
                    result.duplicates += 1
                    continue
                seen.add(key)
                receipts.append({"bot_id": event.bot_id, "event_id": event_id})
            fresh.append((where, event))
        if receipts:
            self.conn.execute(_receipt.insert(), receipts)
        return fresh

    def _ensure_flows(self, batch: Sequence[tuple[str, AnyEvent]], result: IngestResult) -> None:
        keys = {(e.bot_id, e.workflow_id) for _, e in batch} - self._flow_ids.keys()
        by_bot: dict[str, list[str]] = defaultdict(list)
        for bot_id, workflow_id in keys:
            by_bot[bot_id].append(workflow_id)
        for bot_id, workflow_ids in by_bot.items():
            for chunk in _chunks(sorted(workflow_ids)):
                rows = self.conn.execute(
                    sa.select(_flow.c.workflow_id, _flow.c.id).where(
                        _flow.c.bot_id == bot_id, _flow.c.workflow_id.in_(chunk)
                    )
                )
                self._flow_ids.update({(bot_id, wf): flow_id for wf, flow_id in rows})
        for bot_id, workflow_id in sorted(keys - self._flow_ids.keys()):
            flow_id = self.conn.execute(
                _flow.insert()
                .values(
                    bot_id=bot_id,
                    workflow_id=workflow_id,
                    name=workflow_id,
                    status="completed",
                    channels=[],
                    created_at=self.now,
                    updated_at=self.now,
                )
                .returning(_flow.c.id)
            ).scalar_one()
            self._flow_ids[(bot_id, workflow_id)] = flow_id
            result.flows_created += 1

    def _apply_flow_events(self, events: Sequence[tuple[str, AnyEvent]]) -> None:
        for where, event in events:
            assert isinstance(event, FlowEvent)
            values = event.model_dump(exclude={"type", "bot_id", "workflow_id"}, exclude_unset=True)
            for name in ("name", "status", "channels"):
                if name in values and values[name] is None:
                    raise EventError(where, name, "must not be null")
            if not values:
                continue
            flow_id = self._flow_ids[(event.bot_id, event.workflow_id)]
            self.conn.execute(_flow.update().where(_flow.c.id == flow_id).values(**values))

    def _load_messages(
        self, events: Sequence[tuple[str, AnyEvent]]
    ) -> dict[tuple[str, str], _MessageState]:
        wanted: dict[str, set[str]] = defaultdict(set)
        for _, event in events:
            assert isinstance(event, MessageEvent)
            wanted[event.bot_id].add(event.message_id)
        m = _message.c
        columns = [
            m.bot_id, m.message_id, m.id, m.flow_id, _flow.c.workflow_id, m.user_id, m.source,
            m.status, m.status_at, m.comments, m.error_code, m.template_id, m.ip_address,
            m.custom_payload, m.sent_by, m.created_at, m.scheduled_at,
        ]  # fmt: skip
        states: dict[tuple[str, str], _MessageState] = {}
        for bot_id, ids in wanted.items():
            for chunk in _chunks(sorted(ids)):
                query = (
                    sa.select(*columns)
                    .join(_flow, _flow.c.id == m.flow_id)
                    .where(m.bot_id == bot_id, m.message_id.in_(chunk))
                )
                for row in self.conn.execute(query):
                    states[(row[0], row[1])] = _MessageState(*row[2:])
        return states

    def _apply_messages(
        self,
        events: Sequence[tuple[str, AnyEvent]],
        stats: _StatDeltas,
        users: _UserDeltas,
    ) -> None:
        if not events:
            return
        states = self._load_messages(events)
        before = {key: (s.status, s.error_code, s.comments) for key, s in states.items()}
        dirty: set[tuple[str, str]] = set()
        for where, event in events:
            assert isinstance(event, MessageEvent)
            key = (event.bot_id, event.message_id)
            flow_id = self._flow_ids[(event.bot_id, event.workflow_id)]
            state = states.get(key)
            if state is None:
                states[key] = _new_message_state(flow_id, event)
                dirty.add(key)
            elif _merge_message(state, event, where):
                dirty.add(key)
            stats.add(flow_id, event.source, events=1)
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for key in dirty:
            state = states[key]
            if state.id is None:
                inserts.append(state.row(*key))
            else:
                updates.append({"_id": state.id, **state.row(*key)})
            old = before.get(key)
            self._count_message_change(
                state, old, (state.status, state.error_code, state.comments), stats, users
            )
        if inserts:
            self.conn.execute(_message.insert(), inserts)
        if updates:
            stmt = (
                _message.update()
                .where(_message.c.id == sa.bindparam("_id"))
                .values({name: sa.bindparam(name) for name in updates[0] if name != "_id"})
            )
            self.conn.execute(stmt, updates)

    def _count_message_change(
        self,
        state: _MessageState,
        old: tuple[str, str | None, str | None] | None,
        new: tuple[str, str | None, str | None],
        stats: _StatDeltas,
        users: _UserDeltas,
    ) -> None:
        if old == new:
            return
        flow_id, source = state.flow_id, state.source
        delta = Counter(message_counters(source, new[0]))
        was_impression = False
        if old is not None:
            delta.subtract(message_counters(source, old[0]))
            was_impression = is_impression(source, old[0])
            if old[0] == "failed":
                stats.reason(flow_id, source, failure_reason(old[1], old[2]), -1)
        if new[0] == "failed":
            stats.reason(flow_id, source, failure_reason(new[1], new[2]), +1)
        stats.add(flow_id, source, **delta)
        users.touch(
            flow_id,
            state.user_id,
            source,
            flags=MESSAGED,
            impressions=int(is_impression(source, new[0])) - int(was_impression),
        )

    def _apply_actions(
        self,
        events: Sequence[tuple[str, AnyEvent]],
        stats: _StatDeltas,
        users: _UserDeltas,
    ) -> None:
        rows: list[dict[str, Any]] = []
        for _, event in events:
            assert isinstance(event, UserActionEvent)
            flow_id = self._flow_ids[(event.bot_id, event.workflow_id)]
            engagement = int(event.type in ENGAGEMENT_TYPES)
            stats.add(flow_id, event.source, events=1, engagement=engagement)
            flag = _FLAG_OF_TYPE.get(event.type, 0)
            if flag:
                users.touch(flow_id, event.user_id, event.source, flags=flag, impressions=0)
            rows.append(
                {
                    "flow_id": flow_id,
                    "type": event.type,
                    "user_id": event.user_id,
                    "source": event.source,
                    "message_id": event.message_id,
                    "url": event.url,
                    "at": event.at,
                    "event_id": event.event_id,
                }
            )
        if rows:
            self.conn.execute(_user_event.insert(), rows)

    def _write_user_rollups(self, users: _UserDeltas, stats: _StatDeltas) -> None:
        self._write_user_table(_flow_user, users.flow, stats, channel=False)
        self._write_user_table(_flow_user_channel, users.channel, stats, channel=True)

    def _write_user_table(
        self,
        table: sa.Table,
        changes: dict[tuple[Any, ...], list[int]],
        stats: _StatDeltas,
        *,
        channel: bool,
    ) -> None:
        if not changes:
            return
        existing = self._load_user_rows(table, list(changes), channel=channel)
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for key, (flags, impressions) in changes.items():
            old_flags, old_impressions = existing.get(key, (0, 0))
            new_flags, new_impressions = old_flags | flags, old_impressions + impressions
            if (new_flags, new_impressions) == (old_flags, old_impressions):
                continue
            source = key[2] if channel else ALL_CHANNELS
            delta = Counter(user_counters(new_flags, new_impressions, channel=channel))
            delta.subtract(user_counters(old_flags, old_impressions, channel=channel))
            stats.add_raw(key[0], source, delta)
            names = ("flow_id", "user_id", "source") if channel else ("flow_id", "user_id")
            row = dict(zip(names, key, strict=True))
            row.update(flags=new_flags, impressions=new_impressions)
            (updates if key in existing else inserts).append(row)
        if inserts:
            self.conn.execute(table.insert(), inserts)
        if updates:
            pk = [c.name for c in table.primary_key.columns]
            stmt = (
                table.update()
                .where(*(table.c[name] == sa.bindparam(f"k_{name}") for name in pk))
                .values(flags=sa.bindparam("flags"), impressions=sa.bindparam("impressions"))
            )
            self.conn.execute(
                stmt,
                [{**{f"k_{name}": row[name] for name in pk}, **row} for row in updates],
            )

    def _load_user_rows(
        self, table: sa.Table, keys: list[tuple[Any, ...]], *, channel: bool
    ) -> dict[tuple[Any, ...], tuple[int, int]]:
        by_flow: dict[int, set[str]] = defaultdict(set)
        for key in keys:
            by_flow[key[0]].add(key[1])
        found: dict[tuple[Any, ...], tuple[int, int]] = {}
        key_columns = [table.c.flow_id, table.c.user_id] + ([table.c.source] if channel else [])
        for flow_id, user_ids in by_flow.items():
            for chunk in _chunks(sorted(user_ids)):
                query = sa.select(*key_columns, table.c.flags, table.c.impressions).where(
                    table.c.flow_id == flow_id, table.c.user_id.in_(chunk)
                )
                for row in self.conn.execute(query):
                    found[tuple(row[:-2])] = (row[-2], row[-1])
        return found

    def _write_stats(self, stats: _StatDeltas) -> None:
        insert = _insert(self.conn)
        rows = stats.stat_rows()
        if rows:
            stmt = insert(_flow_stat)
            stmt = stmt.on_conflict_do_update(
                index_elements=["flow_id", "source"],
                set_={name: _flow_stat.c[name] + stmt.excluded[name] for name in STAT_COUNTERS},
            )
            self.conn.execute(stmt, rows)
        reasons = stats.reason_rows()
        if reasons:
            stmt = insert(_failure_stat)
            stmt = stmt.on_conflict_do_update(
                index_elements=["flow_id", "source", "reason"],
                set_={"count": _failure_stat.c.count + stmt.excluded.count},
            )
            self.conn.execute(stmt, reasons)

    def _touch_flows(self, flow_ids: set[int]) -> None:
        """Remember when each flow last received data ("updated 2 min ago")."""
        if flow_ids:
            self.conn.execute(
                _flow.update().where(_flow.c.id.in_(sorted(flow_ids))).values(updated_at=self.now)
            )


def _new_message_state(flow_id: int, event: MessageEvent) -> _MessageState:
    return _MessageState(
        id=None,
        flow_id=flow_id,
        workflow_id=event.workflow_id,
        user_id=event.user_id,
        source=event.source,
        status=event.status,
        status_at=event.at,
        comments=event.comments,
        error_code=event.error_code,  # type: ignore[arg-type]  (normalized to str)
        template_id=event.template_id,
        ip_address=event.ip_address,
        custom_payload=event.custom_payload,
        sent_by=event.sent_by,
        created_at=event.created_at or event.at,
        scheduled_at=event.scheduled_at,
    )


def _merge_message(state: _MessageState, event: MessageEvent, where: str) -> bool:
    """Fold another event for a known message into its state; True if anything changed."""
    for name in ("workflow_id", "user_id", "source"):
        if getattr(state, name) != getattr(event, name):
            raise EventError(
                where,
                name,
                f"message {event.message_id!r} already has {name} {getattr(state, name)!r}, "
                f"not {getattr(event, name)!r}",
            )
    changed = wins = not state.outranks(event)
    if wins:
        state.status = event.status
        state.status_at = event.at
        state.comments = event.comments
        state.error_code = event.error_code  # type: ignore[assignment]
    for name in ("template_id", "ip_address", "custom_payload", "sent_by", "scheduled_at"):
        value = getattr(event, name)
        current = getattr(state, name)
        if value is not None and value != current and (wins or current is None):
            setattr(state, name, value)
            changed = True
    created_at = event.created_at or event.at
    if created_at < state.created_at:
        state.created_at = created_at
        changed = True
    return changed


class _StatDeltas:
    """Counter changes per (flow, channel) and failure reason, written once per batch."""

    def __init__(self) -> None:
        self._stats: dict[tuple[int, str], Counter[str]] = defaultdict(Counter)
        self._reasons: Counter[tuple[int, str, str]] = Counter()

    def add(self, flow_id: int, source: str | None, **delta: int) -> None:
        """Add to the flow's all-channel row and, when given, to its channel's row."""
        self.add_raw(flow_id, ALL_CHANNELS, delta)
        if source is not None:
            self.add_raw(flow_id, source, delta)

    def add_raw(self, flow_id: int, source: str, delta: dict[str, int]) -> None:
        """Add to exactly one (flow, channel) row."""
        self._stats[(flow_id, source)].update(delta)

    def reason(self, flow_id: int, source: str, reason: str, delta: int) -> None:
        """Count one more (or one fewer) failed message for a reason."""
        self._reasons[(flow_id, source, reason)] += delta

    def stat_rows(self) -> list[dict[str, Any]]:
        rows = []
        for (flow_id, source), delta in sorted(self._stats.items()):
            if any(delta.values()):
                rows.append(
                    {"flow_id": flow_id, "source": source}
                    | {name: delta.get(name, 0) for name in STAT_COUNTERS}
                )
        return rows

    def reason_rows(self) -> list[dict[str, Any]]:
        return [
            {"flow_id": f, "source": s, "reason": r, "count": n}
            for (f, s, r), n in sorted(self._reasons.items())
            if n
        ]


class _UserDeltas:
    """Flags to set and impression changes per (flow, user) and (flow, user, channel)."""

    def __init__(self) -> None:
        self.flow: dict[tuple[Any, ...], list[int]] = {}
        self.channel: dict[tuple[Any, ...], list[int]] = {}

    def touch(
        self, flow_id: int, user_id: str, source: str | None, *, flags: int, impressions: int
    ) -> None:
        """Record that a user gained ``flags`` and ``impressions`` (may be negative)."""
        entry = self.flow.setdefault((flow_id, user_id), [0, 0])
        entry[0] |= flags
        entry[1] += impressions
        if source is not None and (flags & _CHANNEL_FLAGS or impressions):
            entry = self.channel.setdefault((flow_id, user_id, source), [0, 0])
            entry[0] |= flags & _CHANNEL_FLAGS
            entry[1] += impressions


def iter_batches(
    items: Iterable[tuple[str, AnyEvent]], size: int = BATCH_SIZE
) -> Iterator[list[tuple[str, AnyEvent]]]:
    """Group ``(where, event)`` pairs into lists of at most ``size``."""
    batch: list[tuple[str, AnyEvent]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def ingest_events(
    engine: Engine,
    items: Iterable[tuple[str, AnyEvent]],
    *,
    now: datetime | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> IngestResult:
    """Apply parsed events in one write transaction: all of them, or none on an error."""
    with write_transaction(engine) as conn:
        ingestor = Ingestor(conn, now=now)
        for batch in iter_batches(items):
            ingestor.apply(batch)
            if on_batch is not None:
                on_batch(len(batch))
    return ingestor.result
