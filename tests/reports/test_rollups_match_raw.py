"""The rollup-based KPIs and timeline equal the same numbers counted from the raw rows, on
the demo data.

The counting below is a deliberately naive oracle: plain SQL over ``message`` and
``user_event``, written from DESIGN.md's definitions, independent of the ingestion rollups.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from store.demo import generate_demo_events
from store.rollups import rebuild_rollups
from tests.support import NOW, ingest, kpis, msg, timeline

DEFAULT = frozenset({"whatsapp"})


def impression(reporting: frozenset[str]) -> str:
    """SQL: message ``m`` is an impression (DESIGN.md, with "whatsapp" read as the set)."""
    listed = ", ".join(f"'{c}'" for c in sorted(reporting))
    reports = f"m.source IN ({listed})" if reporting else "1 = 0"
    return (
        f"(({reports} AND m.status IN ('delivered', 'read'))"
        f" OR (NOT ({reports}) AND m.status IN ('sent', 'delivered', 'read')))"
    )


def _one(conn: Connection, sql: str, **params: Any) -> Any:
    return conn.execute(sa.text(sql), params).scalar_one()


def _oracle(
    conn: Connection, flow_id: int, channel: str | None, reporting: frozenset[str] = DEFAULT
) -> dict[str, Any]:
    IMPRESSION = impression(reporting)
    src = "" if channel is None else " AND source = :channel"
    msrc = "" if channel is None else " AND m.source = :channel"
    p = {"flow": flow_id, "channel": channel}

    def users(kind: str) -> int:
        return _one(conn, "SELECT count(DISTINCT user_id) FROM user_event "
                          f"WHERE flow_id = :flow AND type = '{kind}'{src}", **p)  # fmt: skip

    notifications = _one(conn, "SELECT count(*) FROM message m WHERE flow_id = :flow "
                               f"AND status <> 'queued'{msrc}", **p)  # fmt: skip
    impressions = _one(
        conn, f"SELECT count(*) FROM message m WHERE flow_id = :flow AND {IMPRESSION}{msrc}", **p
    )
    rate = None if not notifications else round(impressions * 100 / notifications + 1e-9, 1)
    return {
        "unique_clicks": users("click"),
        "conversations_initiated": users("conversation_started"),
        "goal_conversion": users("goal_achieved"),
        "impressions": impressions,
        "delivery_rate": rate,
        "reach": _one(
            conn,
            f"SELECT count(DISTINCT user_id) FROM message m WHERE flow_id = :flow AND {IMPRESSION}{msrc}",
            **p,
        ),
        "engagement": _one(
            conn,
            "SELECT count(*) FROM user_event WHERE flow_id = :flow AND type IN "
            f"('click', 'reply', 'like', 'share', 'comment'){src}",
            **p,
        ),
        "audience": _one(
            conn,
            "SELECT count(DISTINCT user_id) FROM (SELECT user_id FROM message "
            f"WHERE flow_id = :flow{src} UNION SELECT user_id FROM user_event "
            "WHERE flow_id = :flow AND type = 'flow_entered' AND CAST(:channel AS TEXT) IS NULL) u",
            **p,
        ),
    }


def _flow_users(conn: Connection, flow_id: int) -> dict[str, int]:
    def users(kind: str) -> str:
        return f"SELECT user_id FROM user_event WHERE flow_id = :flow AND type = '{kind}'"

    p = {"flow": flow_id}
    return {
        "users_entered_flow": _one(
            conn, f"SELECT count(DISTINCT user_id) FROM ({users('flow_entered')}) u", **p
        ),
        "users_in_flow": _one(
            conn,
            f"SELECT count(*) FROM ({users('flow_entered')} EXCEPT "
            f"{users('flow_exited')} EXCEPT {users('goal_achieved')}) u",
            **p,
        ),
        "users_exited_flow": _one(
            conn, f"SELECT count(DISTINCT user_id) FROM ({users('flow_exited')}) u", **p
        ),
        "users_achieved_goal": _one(
            conn, f"SELECT count(DISTINCT user_id) FROM ({users('goal_achieved')}) u", **p
        ),
    }


def _channels(
    conn: Connection, flow_id: int, reporting: frozenset[str] = DEFAULT
) -> dict[str, dict[str, Any]]:
    rows = conn.execute(sa.text(
        "SELECT source, sum(CASE WHEN status <> 'queued' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status IN ('sent', 'delivered', 'read') THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status IN ('delivered', 'read') THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 'read' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END)"
        " FROM message WHERE flow_id = :flow GROUP BY source"), {"flow": flow_id})  # fmt: skip
    out = {}
    for source, notifications, sent, delivered, read, failed in rows:
        reports = source in reporting
        out[source] = {"notifications": notifications, "sent": sent, "failed": failed,
                       "delivered": delivered if reports else None,
                       "read": read if reports else None}  # fmt: skip
    return out


def _check_against_oracle(engine: Engine, reporting: frozenset[str] = DEFAULT) -> None:
    with engine.connect() as conn:
        flow_id = _one(conn, "SELECT id FROM flow WHERE workflow_id = 'wf_42'")
        for channel in (None, "whatsapp", "sms", "email", "push", "voice"):
            data = kpis(engine, "wf_42", channel)
            got = data["overview"] | data["analysis"]
            for key, value in _oracle(conn, flow_id, channel, reporting).items():
                assert got[key] == value, (channel, key)
        data = kpis(engine, "wf_42")
        assert data["flow_users"] == _flow_users(conn, flow_id)
        expected = _channels(conn, flow_id, reporting)
        for row in data["channels"]:
            assert {k: row[k] for k in expected[row["channel"]]} == expected[row["channel"]]
        assert sorted(row["channel"] for row in data["channels"]) == sorted(expected)


def _load_demo(engine: Engine) -> None:
    ingest(engine, *generate_demo_events(messages=1500, seed=3))
    # Drop the segment size so the computed audience (users with a message or entered) shows.
    ingest(engine, {"type": "flow", "bot_id": "acme-support", "workflow_id": "wf_42",
                    "audience": None})  # fmt: skip


def test_rollups_equal_counts_from_raw_rows(store_engine: Engine) -> None:
    _load_demo(store_engine)
    _check_against_oracle(store_engine)


ROLLUP_TABLES = ("flow_stat", "flow_user", "flow_user_channel", "failure_reason_stat")


def _rollups(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            t: sorted(map(tuple, conn.exec_driver_sql(f"SELECT * FROM {t}"))) for t in ROLLUP_TABLES
        }


def test_another_delivery_reporting_set_gives_the_kpis_of_that_set(store_engine: Engine) -> None:
    _load_demo(store_engine)
    as_ingested = _rollups(store_engine)
    rebuild_rollups(store_engine, DEFAULT, now=NOW)  # the same set: not one row changes
    assert _rollups(store_engine) == as_ingested
    wider = frozenset({"whatsapp", "sms", "email"})
    rebuild_rollups(store_engine, wider, now=NOW)
    _check_against_oracle(store_engine, wider)
    sms = next(r for r in kpis(store_engine, "wf_42")["channels"] if r["channel"] == "sms")
    assert sms["delivered"] is not None and sms["read"] is not None
    # Ingestion after the rebuild counts with the recorded set: move some messages on, add one.
    with store_engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT m.message_id, m.user_id, m.source FROM message m JOIN flow f "
            "ON f.id = m.flow_id WHERE f.workflow_id = 'wf_42' AND m.status = 'sent' "
            "ORDER BY m.message_id LIMIT 40"
        ).all()
    moves = [msg(mid, user, source, "delivered" if n % 2 else "read", bot_id="acme-support",
                 at="2026-11-30T09:00:00Z") for n, (mid, user, source) in enumerate(rows)]  # fmt: skip
    fresh = msg("new-sms", "+919999999999", "sms", "delivered", bot_id="acme-support")
    ingest(store_engine, *moves, fresh)
    _check_against_oracle(store_engine, wider)
    for reporting in (DEFAULT, frozenset[str]()):  # back to the seed's set, then to none
        rebuild_rollups(store_engine, reporting, now=NOW)
        _check_against_oracle(store_engine, reporting)
    assert as_ingested["failure_reason_stat"] == _rollups(store_engine)["failure_reason_stat"]


# -- the timeline, recounted from the raw rows ------------------------------------------------

MESSAGE_SERIES = {  # series: (final statuses counted, the message's time column)
    "sent": (("sent", "delivered", "read"), "first_sent_at"),
    "delivered": (("delivered", "read"), "first_delivered_at"),
    "read": (("read",), "first_read_at"),
    "failed": (("failed",), "first_failed_at"),
}
SERIES = ("sent", "delivered", "read", "failed", "clicks", "goals")


def _as_utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _bucket_of(moment: datetime, zone: ZoneInfo, bucket: str) -> str:
    local = moment.astimezone(zone)
    if bucket == "day":
        return datetime(local.year, local.month, local.day, tzinfo=zone).isoformat()
    return local.replace(minute=0, second=0, microsecond=0).isoformat()


def _raw_counts(conn: Connection, flow_id: int, channel: str | None) -> list[tuple[str, Any, int]]:
    """(series, time, how many) straight from ``message`` and ``user_event``."""
    src = "" if channel is None else " AND source = :channel"
    p = {"flow": flow_id, "channel": channel}
    out: list[tuple[str, Any, int]] = []
    for series, (statuses, column) in MESSAGE_SERIES.items():
        where = ", ".join(f"'{s}'" for s in statuses)
        if series in ("delivered", "read"):  # only channels that report delivery
            sources = ", ".join(f"'{s}'" for s in sorted(DEFAULT))
            where += f") AND source IN ({sources}"
        rows = conn.execute(sa.text(
            f"SELECT {column}, count(*) FROM message WHERE flow_id = :flow "
            f"AND status IN ({where}){src} GROUP BY {column}"), p)  # fmt: skip
        out += [(series, moment, n) for moment, n in rows]
    rows = conn.execute(sa.text(
        "SELECT at, count(*) FROM user_event WHERE flow_id = :flow AND type = 'click'"
        f"{src} GROUP BY at"), p)  # fmt: skip
    out += [("clicks", moment, n) for moment, n in rows]
    rows = conn.execute(sa.text(
        "SELECT first_goal, count(*) FROM (SELECT user_id, min(at) AS first_goal "
        f"FROM user_event WHERE flow_id = :flow AND type = 'goal_achieved'{src} "
        "GROUP BY user_id) g GROUP BY first_goal"), p)  # fmt: skip
    out += [("goals", moment, n) for moment, n in rows]
    return out


def _timeline_oracle(
    conn: Connection, flow_id: int, channel: str | None, zone: ZoneInfo, bucket: str
) -> list[dict[str, Any]]:
    counts = [(s, _as_utc(t), n) for s, t, n in _raw_counts(conn, flow_id, channel)]
    if not counts:
        return []
    first = min(t for _, t, _ in counts).replace(second=0, microsecond=0)
    last = max(t for _, t, _ in counts)
    buckets: dict[str, dict[str, Any]] = {}
    moment = first
    while moment <= last:  # minute by minute: every bucket in between, empty or not
        buckets.setdefault(_bucket_of(moment, zone, bucket), dict.fromkeys(SERIES, 0))
        moment += timedelta(minutes=1)
    for series, moment, n in counts:
        buckets[_bucket_of(moment, zone, bucket)][series] += n
    reports_delivery = channel is None or channel in DEFAULT
    return [
        {"start": start} | values | ({} if reports_delivery else {"delivered": None, "read": None})
        for start, values in buckets.items()
    ]


def test_timeline_equals_counts_from_raw_rows(store_engine: Engine) -> None:
    events = list(generate_demo_events(messages=600, seed=5))
    random.Random(5).shuffle(events)  # any arrival order, in three batches
    third = len(events) // 3
    for start in (0, third, 2 * third):
        ingest(store_engine, *events[start : start + third if start < 2 * third else None])
    with store_engine.connect() as conn:
        flow_id = _one(conn, "SELECT id FROM flow WHERE workflow_id = 'wf_42'")
        for zone in ("Asia/Kolkata", "America/New_York"):  # NY falls back on 1 Nov 2026
            for bucket in ("hour", "day"):
                for channel in (None, "whatsapp", "sms", "email"):
                    got = timeline(store_engine, "wf_42", zone=zone, bucket=bucket,
                                   channel=channel)["series"]  # fmt: skip
                    expected = _timeline_oracle(conn, flow_id, channel, ZoneInfo(zone), bucket)
                    assert got == expected, (zone, bucket, channel)
