"""alerts: alert, alert_state, alert_event; a delivery names a report request or an alert event

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 03:51:04.539799
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("flow_id", sa.Integer(), nullable=True),
        sa.Column("metric", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("op", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("min_notifications", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["flow_id"], ["flow.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_team_id"), ["team_id"], unique=False)

    op.create_table(
        "alert_event",
        sa.Column("bot_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("flow_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("created_at", store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alert.id"]),
        sa.ForeignKeyConstraint(["flow_id"], ["flow.id"]),
        sa.PrimaryKeyConstraint("bot_id", "id"),
    )
    with op.batch_alter_table("alert_event", schema=None) as batch_op:
        batch_op.create_index("ix_alert_event_id", ["id"], unique=False)

    op.create_table(
        "alert_state",
        sa.Column("bot_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("flow_id", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("notifications", sa.Integer(), nullable=False),
        sa.Column("changed_at", store.models.UTCDateTime(), nullable=True),
        sa.Column("transitions", sa.Integer(), nullable=False),
        sa.Column("muted_until", store.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alert.id"]),
        sa.ForeignKeyConstraint(["flow_id"], ["flow.id"]),
        sa.PrimaryKeyConstraint("bot_id", "alert_id", "flow_id"),
        sqlite_with_rowid=False,
    )
    # The outbox delivers alert messages too: a row names its report request or alert event.
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("alert_event_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.alter_column("request_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_unique_constraint(
            "uq_delivery_alert_recipient", ["alert_event_id", "channel", "recipient"]
        )


def downgrade() -> None:
    # Alert messages cannot be kept in an outbox that only knows report requests.
    op.execute("DELETE FROM delivery WHERE request_id IS NULL")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_constraint("uq_delivery_alert_recipient", type_="unique")
        batch_op.alter_column("request_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("alert_event_id")

    op.drop_table("alert_state")
    with op.batch_alter_table("alert_event", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_event_id")

    op.drop_table("alert_event")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_team_id"))

    op.drop_table("alert")
