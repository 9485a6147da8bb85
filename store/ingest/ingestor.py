"""The ``Ingestor``: applies batches of events inside one open write transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store.events import AnyEvent, FlowEvent, MessageEvent, UserActionEvent
from store.ingest.bulk import BulkSql, dialect_insert
from store.ingest.deltas import StatDeltas, TimelineDeltas, UserDeltas
from store.ingest.reporting import DEFAULT_DELIVERY_CHANNELS, load_delivery_channels
from store.ingest.result import IngestResult
from store.ingest.rules import (
    FLAG_OF_TYPE,
    MESSAGED,
    MessageState,
    failure_reason,
    is_impression,
    merge_message,
    new_message_state,
    slot_of,
)
from store.ingest.waiting import take_waiting
from store.models import (
    ALL_CHANNELS,
    STAT_COUNTERS,
    TIMELINE_COUNTERS,
    Bot,
    FailureReasonStat,
    Flow,
    FlowStat,
    FlowTimeline,
    FlowUser,
    FlowUserChannel,
    Message,
    UserEvent,
    utcnow,
)
from store.vocabulary import ENGAGEMENT_TYPES

_INGEST_LOCK_KEY = 0x43524230  # "CRB0": the advisory lock that serializes ingestion on PostgreSQL
_bot = Bot.__table__
_flow = Flow.__table__
_flow_stat = FlowStat.__table__
_failure_stat = FailureReasonStat.__table__
_timeline = FlowTimeline.__table__

MESSAGE_COLUMNS = (
    "flow_id", "bot_id", "message_id", "user_id", "source", "status", "status_at",
    "ip_address", "custom_payload", "template_id", "sent_by", "comments", "error_code",
    "created_at", "scheduled_at", "updated_at",
    "first_sent_at", "first_delivered_at", "first_read_at", "first_failed_at",
)  # fmt: skip


def message_row(state: MessageState, sql: BulkSql, bot_id: str, message_id: str) -> tuple[Any, ...]:
    """The row in ``MESSAGE_COLUMNS`` order, ready for the driver."""
    status_at = sql.time(state.status_at)
    created_at = status_at if state.created_at is state.status_at else sql.time(state.created_at)

    def time(moment: datetime | None) -> Any:  # most messages have one event: reuse its text
        return status_at if moment is state.status_at else sql.time(moment)

    return (
        state.flow_id, bot_id, message_id, state.user_id, state.source, state.status,
        status_at, state.ip_address, sql.json(state.custom_payload),
        state.template_id, state.sent_by, state.comments, state.error_code,
        created_at, sql.time(state.scheduled_at), status_at,
        time(state.first_sent_at), time(state.first_delivered_at), time(state.first_read_at),
        time(state.first_failed_at),
    )  # fmt: skip


class Ingestor:
    """Applies batches of events within one open write transaction on ``conn``."""

    def __init__(self, conn: Connection, now: datetime | None = None) -> None:
        self.conn = conn
        self.sql = BulkSql(conn)
        self.now = now or utcnow()
        self.result = IngestResult()
        self._locked = False
        self.reporting = DEFAULT_DELIVERY_CHANNELS  # the recorded set, read by ``_lock``
        self._bots: set[str] = set()
        self._flow_ids: dict[tuple[str, str], int] = {}
        self._bot_of_flow: dict[int, str] = {}

    def apply(self, batch: Sequence[tuple[str, AnyEvent]]) -> IngestResult:
        """Apply ``(where, event)`` pairs in order; raises ``EventError`` on a bad event."""
        result = IngestResult()
        if not batch:
            return result
        self._lock()
        self._ensure_bots({event.bot_id for _, event in batch})
        fresh = self._drop_duplicates(batch, result)
        self._ensure_flows(fresh, result)
        flow_events: list[tuple[str, AnyEvent]] = []
        messages: list[tuple[str, AnyEvent]] = []
        actions: list[tuple[str, AnyEvent]] = []
        kinds = {FlowEvent: flow_events, MessageEvent: messages, UserActionEvent: actions}
        for item in fresh:
            kinds[type(item[1])].append(item)
        self._apply_flow_events(flow_events)
        stats = StatDeltas(self.reporting)
        users = UserDeltas()
        timeline = TimelineDeltas()
        self._apply_messages(messages, stats, users, timeline)
        self._apply_actions(actions, stats, users, timeline)
        self._write_user_table(FlowUser.__tablename__, users.flow, stats, timeline, channel=False)
        self._write_user_table(
            FlowUserChannel.__tablename__, users.channel, stats, timeline, channel=True
        )
        self._write_stats(stats)
        self._write_timeline(timeline)
        self._touch_flows({self._flow_ids[(e.bot_id, e.workflow_id)] for _, e in fresh})
        result.accepted = len(fresh)
        result.by_type.update(event.type for _, event in fresh)
        self.result.merge(result)
        self._apply_waiting(messages)
        return result

    def lock(self) -> None:
        """Take the ingestion lock now, before reading what a batch will be built from."""
        self._lock()

    def _lock(self) -> None:
        if self._locked:
            return
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _INGEST_LOCK_KEY}
            )
        self._locked = True
        # Under the lock: a rebuild for another set either finished before or waits for us.
        self.reporting = load_delivery_channels(self.conn)

    def _ensure_bots(self, bot_ids: set[str]) -> None:
        missing = sorted(bot_ids - self._bots)
        if not missing:
            return
        stmt = dialect_insert(self.conn)(_bot).on_conflict_do_nothing(index_elements=["bot_id"])
        self.conn.execute(stmt, [{"bot_id": b, "created_at": self.now} for b in missing])
        self._bots.update(missing)

    def _drop_duplicates(
        self, batch: Sequence[tuple[str, AnyEvent]], result: IngestResult
    ) -> list[tuple[str, AnyEvent]]:
        keys: list[tuple[str, str] | None] = []
        for _, event in batch:
            event_id = getattr(event, "event_id", None)
            keys.append(None if event_id is None else (event.bot_id, event_id))
        # Claiming a receipt is the check: the insert skips ids already there and returns
        # only the ones it wrote, so a fresh id costs one write and no separate look-up.
        unclaimed = self.sql.claim_receipts(list(dict.fromkeys(k for k in keys if k)))
        fresh: list[tuple[str, AnyEvent]] = []
        for item, key in zip(batch, keys, strict=True):
            if key is None:
                fresh.append(item)
            elif key in unclaimed:
                unclaimed.discard(key)  # a second copy later in the same batch is a duplicate
                fresh.append(item)
            else:
                result.duplicates += 1
        return fresh

    def _ensure_flows(self, batch: Sequence[tuple[str, AnyEvent]], result: IngestResult) -> None:
        keys = {(e.bot_id, e.workflow_id) for _, e in batch} - self._flow_ids.keys()
        by_bot: dict[str, list[str]] = defaultdict(list)
        for bot_id, workflow_id in keys:
            by_bot[bot_id].append(workflow_id)
        query = (
            "SELECT workflow_id, id FROM flow "
            f"WHERE bot_id = {self.sql.mark} AND workflow_id IN ({{}})"
        )
        for bot_id, workflow_ids in by_bot.items():
            rows = list(self.sql.select_in(query, (bot_id,), sorted(workflow_ids)))
            self._flow_ids.update({(bot_id, wf): flow_id for wf, flow_id in rows})
            self._bot_of_flow.update({flow_id: bot_id for _, flow_id in rows})
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
            self._bot_of_flow[flow_id] = bot_id
            result.flows_created += 1

    def _apply_flow_events(self, events: Sequence[tuple[str, AnyEvent]]) -> None:
        for _, event in events:
            assert isinstance(event, FlowEvent)
            values = event.model_dump(exclude={"type", "bot_id", "workflow_id"}, exclude_unset=True)
            if not values:
                continue
            flow_id = self._flow_ids[(event.bot_id, event.workflow_id)]
            self.conn.execute(_flow.update().where(_flow.c.id == flow_id).values(**values))

    def _load_messages(
        self, events: Sequence[tuple[str, AnyEvent]]
    ) -> dict[tuple[str, str], MessageState]:
        wanted: dict[str, set[str]] = defaultdict(set)
        for _, event in events:
            assert isinstance(event, MessageEvent)
            wanted[event.bot_id].add(event.message_id)
        query = (
            "SELECT message_id, id, flow_id, user_id, source, status, status_at, comments, "
            "error_code, template_id, ip_address, custom_payload, sent_by, created_at, "
            "scheduled_at, first_sent_at, first_delivered_at, first_read_at, first_failed_at "
            f"FROM message WHERE bot_id = {self.sql.mark} AND message_id IN ({{}})"
        )
        found = [
            (bot_id, row)
            for bot_id, ids in wanted.items()
            for row in self.sql.select_in(query, (bot_id,), sorted(ids))
        ]
        workflows = self._workflow_ids({row[2] for _, row in found})
        read_time, read_json = self.sql.read_time, self.sql.read_json
        return {
            (bot_id, row[0]): MessageState(
                row[1],
                row[2],
                workflows[row[2]],
                row[3],
                row[4],
                row[5],
                read_time(row[6]),
                row[7],
                row[8],
                row[9],
                row[10],
                read_json(row[11]),
                row[12],
                read_time(row[13]),
                read_time(row[14]),
                read_time(row[15]),
                read_time(row[16]),
                read_time(row[17]),
                read_time(row[18]),
            )
            for bot_id, row in found
        }

    def _workflow_ids(self, flow_ids: set[int]) -> dict[int, str]:
        known = {flow_id: key[1] for key, flow_id in self._flow_ids.items()}
        missing = sorted(flow_ids - known.keys())
        if missing:
            query = "SELECT id, workflow_id FROM flow WHERE id IN ({})"
            known.update(self.sql.select_in(query, (), missing))  # type: ignore[arg-type]
        return known

    def _apply_messages(
        self,
        events: Sequence[tuple[str, AnyEvent]],
        stats: StatDeltas,
        users: UserDeltas,
        timeline: TimelineDeltas,
    ) -> None:
        if not events:
            return
        states = self._load_messages(events)
        before = {key: (s.status, s.error_code, s.comments) for key, s in states.items()}
        points_before = {key: s.timeline_points() for key, s in states.items()}
        dirty: dict[tuple[str, str], None] = {}  # ordered: rows are written in arrival order
        for where, event in events:
            assert isinstance(event, MessageEvent)
            key = (event.bot_id, event.message_id)
            flow_id = self._flow_ids[(event.bot_id, event.workflow_id)]
            state = states.get(key)
            if state is None:
                states[key] = new_message_state(flow_id, event)
                dirty[key] = None
            elif merge_message(state, event, where):
                dirty[key] = None
            stats.event(flow_id, event.source, engaged=False)
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        for key in dirty:
            state = states[key]
            values = message_row(state, self.sql, *key)
            if state.id is None:
                inserts.append(values)
            else:
                updates.append((*values, state.id))
            old = before.get(key)
            new = (state.status, state.error_code, state.comments)
            if old != new:
                self._count_message_change(state, old, new, stats, users)
            old_points, new_points = points_before.get(key, ()), state.timeline_points()
            if old_points != new_points:
                timeline.message(key[0], state.flow_id, state.source, old_points, new_points)
        self.sql.insert(Message.__tablename__, MESSAGE_COLUMNS, inserts)
        self.sql.update(Message.__tablename__, MESSAGE_COLUMNS, ("id",), updates)

    @staticmethod
    def _count_message_change(
        state: MessageState,
        old: tuple[str, str | None, str | None] | None,
        new: tuple[str, str | None, str | None],
        stats: StatDeltas,
        users: UserDeltas,
    ) -> None:
        flow_id, source = state.flow_id, state.source
        old_status = None if old is None else old[0]
        stats.message(flow_id, source, old_status, new[0])
        if old is not None and old[0] == "failed":
            stats.reason(flow_id, source, failure_reason(old[1], old[2]), -1)
        if new[0] == "failed":
            stats.reason(flow_id, source, failure_reason(new[1], new[2]), +1)
        was = old_status is not None and is_impression(source, old_status, stats.reporting)
        impressions = int(is_impression(source, new[0], stats.reporting)) - int(was)
        users.touch(flow_id, state.user_id, source, flags=MESSAGED, impressions=impressions)

    def _apply_actions(
        self,
        events: Sequence[tuple[str, AnyEvent]],
        stats: StatDeltas,
        users: UserDeltas,
        timeline: TimelineDeltas,
    ) -> None:
        rows: list[tuple[Any, ...]] = []
        time = self.sql.time
        for _, event in events:
            assert isinstance(event, UserActionEvent)
            flow_id = self._flow_ids[(event.bot_id, event.workflow_id)]
            stats.event(flow_id, event.source, engaged=event.type in ENGAGEMENT_TYPES)
            flag = FLAG_OF_TYPE.get(event.type, 0)
            if flag:
                goal_at = event.at if event.type == "goal_achieved" else None
                users.touch(
                    flow_id, event.user_id, event.source, flags=flag, impressions=0,
                    goal_at=goal_at,
                )  # fmt: skip
            if event.type == "click":  # clicks by their time, flow-wide and on their channel
                slot = slot_of(event.at)
                timeline.add(event.bot_id, flow_id, slot, ALL_CHANNELS, "clicks")
                if event.source is not None:
                    timeline.add(event.bot_id, flow_id, slot, event.source, "clicks")
            rows.append(
                (flow_id, event.type, event.user_id, event.source, event.message_id, event.url,
                 time(event.at), event.event_id)
            )  # fmt: skip
        columns = ("flow_id", "type", "user_id", "source", "message_id", "url", "at", "event_id")
        self.sql.insert(UserEvent.__tablename__, columns, rows)

    def _write_user_table(
        self,
        table: str,
        changes: dict[tuple[Any, ...], list[Any]],
        stats: StatDeltas,
        timeline: TimelineDeltas,
        *,
        channel: bool,
    ) -> None:
        if not changes:
            return
        existing = self._load_user_rows(table, list(changes), channel=channel)
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        time = self.sql.time
        for key, (flags, impressions, goal_at) in changes.items():
            old_flags, old_impressions, old_goal_at = existing.get(key, (0, 0, None))
            new_flags, new_impressions = old_flags | flags, old_impressions + impressions
            new_goal_at = old_goal_at
            if goal_at is not None and (old_goal_at is None or goal_at < old_goal_at):
                new_goal_at = goal_at
            old = (old_flags, old_impressions, old_goal_at)
            if (new_flags, new_impressions, new_goal_at) == old:
                continue
            source = key[2] if channel else ALL_CHANNELS
            if (new_flags, new_impressions) != old[:2]:
                stats.user(
                    key[0], source, (old_flags, old_impressions > 0),
                    (new_flags, new_impressions > 0), channel=channel,
                )  # fmt: skip
            if new_goal_at is not None and new_goal_at != old_goal_at:
                # The user's goal counts at their first goal_achieved: move it there.
                bot_id = self._bot_of_flow[key[0]]
                if old_goal_at is not None:
                    timeline.add(bot_id, key[0], slot_of(old_goal_at), source, "goals", -1)
                timeline.add(bot_id, key[0], slot_of(new_goal_at), source, "goals")
            goal_cell = None if new_goal_at is None else time(new_goal_at)
            if key in existing:
                updates.append((new_flags, new_impressions, goal_cell, *key))
            else:
                inserts.append((*key, new_flags, new_impressions, goal_cell))
        keys = ("flow_id", "user_id", "source") if channel else ("flow_id", "user_id")
        values = ("flags", "impressions", "first_goal_at")
        self.sql.insert(table, (*keys, *values), inserts)
        self.sql.update(table, values, keys, updates)

    def _load_user_rows(
        self, table: str, keys: list[tuple[Any, ...]], *, channel: bool
    ) -> dict[tuple[Any, ...], tuple[int, int, datetime | None]]:
        by_flow: dict[int, set[str]] = defaultdict(set)
        for key in keys:
            by_flow[key[0]].add(key[1])
        columns = "flow_id, user_id, source" if channel else "flow_id, user_id"
        query = (
            f'SELECT {columns}, flags, impressions, first_goal_at FROM "{table}" '
            f"WHERE flow_id = {self.sql.mark} AND user_id IN ({{}})"
        )
        found: dict[tuple[Any, ...], tuple[int, int, datetime | None]] = {}
        read_time = self.sql.read_time
        for flow_id, user_ids in by_flow.items():
            for row in self.sql.select_in(query, (flow_id,), sorted(user_ids)):
                found[tuple(row[:-3])] = (row[-3], row[-2], read_time(row[-1]))
        return found

    def _write_stats(self, stats: StatDeltas) -> None:
        insert = dialect_insert(self.conn)
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

    def _write_timeline(self, timeline: TimelineDeltas) -> None:
        rows = timeline.rows()
        if rows:
            stmt = dialect_insert(self.conn)(_timeline)
            stmt = stmt.on_conflict_do_update(
                index_elements=["bot_id", "flow_id", "source", "slot"],
                set_={name: _timeline.c[name] + stmt.excluded[name] for name in TIMELINE_COUNTERS},
            )
            self.conn.execute(stmt, rows)

    def _touch_flows(self, flow_ids: set[int]) -> None:
        """Remember when each flow last received data ("updated 2 min ago")."""
        if flow_ids:
            self.conn.execute(
                _flow.update().where(_flow.c.id.in_(sorted(flow_ids))).values(updated_at=self.now)
            )

    def _apply_waiting(self, messages: Sequence[tuple[str, AnyEvent]]) -> None:
        """Apply the provider statuses that waited for this batch's messages (``waiting``)."""
        keys = {(e.bot_id, e.message_id) for _, e in messages if isinstance(e, MessageEvent)}
        released = take_waiting(self.sql, keys)
        if released:  # counted apart: ``accepted`` stays the events of the batch
            outer, self.result = self.result, IngestResult()
            try:
                self.apply(released)
            finally:
                outer.released += self.result.accepted
                self.result = outer
