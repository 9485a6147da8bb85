# ruff: noqa: S608  (SQL built from this file's own constants; no values from outside)
"""timeline: per-message first times, users' first goal, the flow_timeline rollup; report
files in other formats (xlsx) and the timeline kept with each rendered report

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 09:00:00.000000

Existing data is carried over as well as it can be: a stored message kept only its final
status and that status's time, so its ``first_*_at`` columns of the series its final status
counts in are set to ``status_at``; users' first goals come from ``user_event``; and
``flow_timeline`` is filled from those, so it equals what ingestion would have kept.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIRST_TIMES = ("first_sent_at", "first_delivered_at", "first_read_at", "first_failed_at")
GOAL_FLAG = 1 << 2  # store.ingest.rules.GOAL


def upgrade() -> None:
    for name in FIRST_TIMES:
        op.add_column("message", sa.Column(name, store.models.UTCDateTime(), nullable=True))
    for table in ("flow_user", "flow_user_channel"):
        op.add_column(table, sa.Column("first_goal_at", store.models.UTCDateTime(), nullable=True))
    op.create_table(
        "flow_timeline",
        sa.Column("bot_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("flow_id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=False),
        sa.Column("read", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("goals", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["flow_id"], ["flow.id"]),
        sa.PrimaryKeyConstraint("bot_id", "flow_id", "source", "slot"),
        sqlite_with_rowid=False,
    )
    _backfill()
    for table in ("report_request", "subscription"):
        op.add_column(
            table,
            sa.Column(
                "formats",
                sqlmodel.sql.sqltypes.AutoString(length=32),
                server_default="csv,pdf",
                nullable=False,
            ),
        )
    op.add_column(
        "report_request",
        sa.Column("xlsx_file", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    )
    op.add_column("report_request", sa.Column("timeline", sa.JSON(), nullable=True))


def _slot(column: str) -> str:
    """SQL for ``floor(epoch seconds of column / 900)`` (store.ingest.rules.slot_of)."""
    if op.get_bind().dialect.name == "postgresql":
        return f"CAST(floor(extract(epoch FROM {column}) / 900) AS INTEGER)"
    seconds = f"CAST(strftime('%s', {column}) AS INTEGER)"
    return f"(({seconds}) - ((({seconds}) % 900) + 900) % 900) / 900"


def _backfill() -> None:
    op.execute(
        "UPDATE message SET "
        "first_sent_at = CASE WHEN status IN ('sent', 'delivered', 'read') THEN status_at END, "
        "first_delivered_at = CASE WHEN status IN ('delivered', 'read') THEN status_at END, "
        "first_read_at = CASE WHEN status = 'read' THEN status_at END, "
        "first_failed_at = CASE WHEN status = 'failed' THEN status_at END"
    )
    goals = (
        "SELECT flow_id, user_id, {source} min(at) AS at FROM user_event "
        "WHERE type = 'goal_achieved' {where} GROUP BY flow_id, user_id {group}"
    )
    op.execute(
        "UPDATE flow_user SET first_goal_at = g.at FROM ("
        + goals.format(source="", where="", group="")
        + ") g WHERE flow_user.flow_id = g.flow_id AND flow_user.user_id = g.user_id"
    )
    op.execute(
        "UPDATE flow_user_channel SET first_goal_at = g.at FROM ("
        + goals.format(source="source,", where="AND source IS NOT NULL", group=", source")
        + ") g WHERE flow_user_channel.flow_id = g.flow_id "
        "AND flow_user_channel.user_id = g.user_id AND flow_user_channel.source = g.source"
    )
    zeros = dict.fromkeys(("sent", "delivered", "read", "failed", "clicks", "goals"), "0")

    def counts(**ones: str) -> str:
        return ", ".join(f'{ones.get(name, value)} AS "{name}"' for name, value in zeros.items())

    parts = [
        f"SELECT bot_id, flow_id, {_slot(column)} AS slot, {source} AS source, "
        f"{counts(**{series: '1'})} FROM message WHERE {column} IS NOT NULL"
        for series, column in zip(("sent", "delivered", "read", "failed"), FIRST_TIMES, strict=True)
        for source in ("source", "''")  # the channel's row and the flow's
    ]
    click = (
        "SELECT f.bot_id, e.flow_id, {slot} AS slot, {source} AS source, {counts} "
        "FROM user_event e JOIN flow f ON f.id = e.flow_id WHERE e.type = 'click' {where}"
    )
    parts.append(click.format(slot=_slot("e.at"), source="''", counts=counts(clicks="1"), where=""))
    parts.append(
        click.format(
            slot=_slot("e.at"),
            source="e.source",
            counts=counts(clicks="1"),
            where="AND e.source IS NOT NULL",
        )
    )
    for table, source in (("flow_user", "''"), ("flow_user_channel", "u.source")):
        parts.append(
            f"SELECT f.bot_id, u.flow_id, {_slot('u.first_goal_at')} AS slot, {source} AS source, "
            f"{counts(goals='1')} FROM {table} u JOIN flow f ON f.id = u.flow_id "
            "WHERE u.first_goal_at IS NOT NULL"
        )
    sums = ", ".join(f'sum("{name}")' for name in zeros)
    names = ", ".join(f'"{name}"' for name in zeros)
    op.execute(
        f"INSERT INTO flow_timeline (bot_id, flow_id, source, slot, {names}) "
        f"SELECT bot_id, flow_id, source, slot, {sums} FROM ("
        + " UNION ALL ".join(parts)
        + ") t GROUP BY bot_id, flow_id, source, slot"
    )


def downgrade() -> None:
    with op.batch_alter_table("report_request") as batch_op:
        for name in ("timeline", "xlsx_file", "formats"):
            batch_op.drop_column(name)
    with op.batch_alter_table("subscription") as batch_op:
        batch_op.drop_column("formats")
    op.drop_table("flow_timeline")
    for table in ("flow_user_channel", "flow_user"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("first_goal_at")
    with op.batch_alter_table("message") as batch_op:
        for name in reversed(FIRST_TIMES):
            batch_op.drop_column(name)
