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

from reports.kpis import DELIVERY_REPORTING_CHANNELS
from store.demo import generate_demo_events
from tests.support import ingest, kpis, timeline

IMPRESSION = (
    "((m.source = 'whatsapp' AND m.status IN ('delivered', 'read'))"
    " OR (m.source <> 'whatsapp' AND m.status IN ('sent', 'delivered', 'read')))"
)


def _one(conn: Connection, sql: str, **params: Any) -> Any:
    return conn.execute(sa.text(sql), params).scalar_one()


def _oracle(conn: Connection, flow_id: int, channel: str | None) -> dict[str, Any]:
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


def _channels(conn: Connection, flow_id: int) -> dict[str, dict[str, Any]]:
    rows = conn.execute(sa.text(
        "SELECT source, sum(CASE WHEN status <> 'queued' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status IN ('sent', 'delivered', 'read') THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status IN ('delivered', 'read') THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 'read' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END)"
        " FROM message WHERE flow_id = :flow GROUP BY source"), {"flow": flow_id})  # fmt: skip
    out = {}
    for source, notifications, sent, delivered, read, failed in rows:
        whatsapp = source == "whatsapp"
        out[source] = {"notifications": notifications, "sent": sent, "failed": failed,
                       "delivered": delivered if whatsapp else None,
                       "read": read if whatsapp else None}  # fmt: skip
    return out


def test_rollups_equal_counts_from_raw_rows(store_engine: Engine) -> None:
    events = list(generate_demo_events(messages=1500, seed=3))
    ingest(store_engine, *events)
    # Drop the segment size so the computed audience (users with a message or entered) shows.
    ingest(store_engine, {"type": "flow", "bot_id": "acme-support", "workflow_id": "wf_42",
                          "audience": None})  # fmt: skip
    with store_engine.connect() as conn:
        flow_id = _one(conn, "SELECT id FROM flow WHERE workflow_id = 'wf_42'")
        for channel in (None, "whatsapp", "sms", "email", "push", "voice"):
            data = kpis(store_engine, "wf_42", channel)
            got = data["overview"] | data["analysis"]
            for key, value in _oracle(conn, flow_id, channel).items():
                assert got[key] == value, (channel, key)
        data = kpis(store_engine, "wf_42")
        assert data["flow_users"] == _flow_users(conn, flow_id)
        expected = _channels(conn, flow_id)
        for row in data["channels"]:
            assert {k: row[k] for k in expected[row["channel"]]} == expected[row["channel"]]
        assert sorted(row["channel"] for row in data["channels"]) == sorted(expected)


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
            sources = ", ".join(f"'{s}'" for s in sorted(DELIVERY_REPORTING_CHANNELS))
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
    reports_delivery = channel is None or channel in DELIVERY_REPORTING_CHANNELS
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
