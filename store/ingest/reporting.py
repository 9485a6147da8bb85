"""The channels that report delivery (DELIVERY_REPORTING_CHANNELS): recorded with the rollups.

A channel in the set has impression status ``delivered`` (and reports delivered/read); any
other has ``sent`` (DESIGN.md, "Delivery-reporting channels"). Ingestion keeps impressions
and reach as rollups, so they are only right for the set they were counted with. Per-channel
impressions could be derived at read time from the ``sent``/``delivered`` counters, but
*reach* — distinct users with an impression on any channel — cannot: whether a user with a
WhatsApp message at ``sent`` and an SMS at ``delivered`` is reached depends on the whole set.
Keeping a counter per possible set (2^channels) is not sensible, and counting users at read
time would make a report's cost grow with the flow.

So the store records the set its rollups were built with (``store_setting``), and:

- ingestion counts with the recorded set (read under the ingestion lock), whatever the
  process's settings say, so the rollups never mix two sets;
- the KPI engine reads the same recorded set, so delivered/read and impressions always
  agree;
- the composition root compares the setting with the recorded set when a process starts and
  refuses to run until ``campaign-bot db rebuild-rollups`` has recounted the impressions and
  reach of every flow from the raw messages under the new set (``rebuild_impressions``);
  a store without messages simply takes the new set.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store.ingest.bulk import dialect_insert
from store.models import ALL_CHANNELS, StoreSetting

SETTING = "delivery_reporting_channels"
DEFAULT_DELIVERY_CHANNELS = frozenset({"whatsapp"})  # the seed: Delivered/Read only for WhatsApp

_setting = StoreSetting.__table__


def format_channels(channels: Iterable[str]) -> str:
    """``sms,whatsapp``: sorted, comma-separated, as stored and as the setting is written."""
    return ",".join(sorted(set(channels)))


def parse_channels(text: str) -> frozenset[str]:
    """The inverse of ``format_channels``."""
    return frozenset(part.strip() for part in text.split(",") if part.strip())


def load_delivery_channels(conn: Connection) -> frozenset[str]:
    """The set the store's rollups were built with (the default before any was recorded)."""
    value = conn.execute(sa.select(_setting.c.value).where(_setting.c.name == SETTING)).scalar()
    return DEFAULT_DELIVERY_CHANNELS if value is None else parse_channels(value)


def record_delivery_channels(conn: Connection, channels: Iterable[str], now: datetime) -> None:
    """Record the set the rollups are now built with."""
    value = format_channels(channels)
    stmt = dialect_insert(conn)(_setting).values(name=SETTING, value=value, updated_at=now)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["name"], set_={"value": value, "updated_at": now}
        )
    )


def _impression(channels: frozenset[str]) -> sa.ColumnElement[bool]:
    """SQL: the message ``m`` is an impression under ``channels``."""
    m = sa.table("message", sa.column("source"), sa.column("status")).alias("m")
    delivered = m.c.status.in_(("delivered", "read"))
    sent = m.c.status.in_(("sent", "delivered", "read"))
    if not channels:
        return sent
    reporting = m.c.source.in_(sorted(channels))
    return sa.or_(sa.and_(reporting, delivered), sa.and_(sa.not_(reporting), sent))


def rebuild_impressions(conn: Connection, channels: frozenset[str]) -> None:
    """Recount every rollup that depends on the set, from the raw messages.

    ``flow_user_channel.impressions`` (impressions of a user on a channel), ``flow_user``'s
    (their sum), and in ``flow_stat`` each channel's ``impressions`` (its ``delivered`` or
    ``sent`` counter) and ``reach_users`` (users with an impression there), and the same
    flow-wide. Nothing else in the rollups depends on the set. Run it in the caller's write
    transaction, under the ingestion lock.
    """
    where = _impression(channels).compile(conn, compile_kwargs={"literal_binds": True})
    per_channel = (
        "SELECT m.flow_id AS flow_id, m.user_id AS user_id, m.source AS source, "
        f"count(*) AS n FROM message m WHERE {where} GROUP BY m.flow_id, m.user_id, m.source"
    )
    per_user = (
        "SELECT m.flow_id AS flow_id, m.user_id AS user_id, count(*) AS n "
        f"FROM message m WHERE {where} GROUP BY m.flow_id, m.user_id"
    )
    run = conn.exec_driver_sql
    run("UPDATE flow_user_channel SET impressions = 0 WHERE impressions <> 0")
    run(
        f"UPDATE flow_user_channel SET impressions = a.n FROM ({per_channel}) a "
        "WHERE flow_user_channel.flow_id = a.flow_id AND flow_user_channel.user_id = a.user_id "
        "AND flow_user_channel.source = a.source"
    )
    run("UPDATE flow_user SET impressions = 0 WHERE impressions <> 0")
    run(
        f"UPDATE flow_user SET impressions = a.n FROM ({per_user}) a "
        "WHERE flow_user.flow_id = a.flow_id AND flow_user.user_id = a.user_id"
    )
    reporting = _literal_list(conn, channels)
    channel_impressions = (
        f"CASE WHEN source IN ({reporting}) THEN delivered ELSE sent END" if channels else "sent"
    )
    run(
        f"UPDATE flow_stat SET impressions = {channel_impressions}, reach_users = 0 "
        f"WHERE source <> '{ALL_CHANNELS}'"
    )
    run(
        "UPDATE flow_stat SET reach_users = a.n FROM (SELECT flow_id, source, count(*) AS n "
        "FROM flow_user_channel WHERE impressions > 0 GROUP BY flow_id, source) a "
        f"WHERE flow_stat.flow_id = a.flow_id AND flow_stat.source = a.source "
        f"AND flow_stat.source <> '{ALL_CHANNELS}'"
    )
    run(f"UPDATE flow_stat SET impressions = 0, reach_users = 0 WHERE source = '{ALL_CHANNELS}'")
    run(
        "UPDATE flow_stat SET impressions = a.impressions, reach_users = a.reach FROM ("
        "SELECT u.flow_id AS flow_id, sum(u.impressions) AS impressions, "
        "sum(CASE WHEN u.impressions > 0 THEN 1 ELSE 0 END) AS reach "
        "FROM flow_user u GROUP BY u.flow_id) a "
        f"WHERE flow_stat.flow_id = a.flow_id AND flow_stat.source = '{ALL_CHANNELS}'"
    )


def _literal_list(conn: Connection, values: Iterable[str]) -> str:
    """``'sms', 'whatsapp'`` (channel names are identifiers: ``SOURCE_PATTERN``)."""
    return ", ".join("'" + value.replace("'", "''") + "'" for value in sorted(values))
