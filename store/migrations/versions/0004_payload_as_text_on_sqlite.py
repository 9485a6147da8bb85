"""message.custom_payload kept as text on SQLite

A column declared JSON has NUMERIC affinity in SQLite, which stored a payload that is a bare
number (JSON text such as ``1.0`` or ``12345678901234567890``) as a REAL or INTEGER and gave
back another value. The column becomes TEXT (SQLite rebuilds the table); payloads already
stored as numbers are written back as the JSON text of the number they hold. PostgreSQL's
``json`` keeps the text as written: nothing changes there.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 02:40:00.000000
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    numbers = bind.execute(
        sa.text(
            "SELECT id, custom_payload FROM message "
            "WHERE typeof(custom_payload) IN ('integer', 'real')"
        )
    ).all()
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.alter_column(
            "custom_payload", existing_type=sa.JSON(), type_=sa.Text(), existing_nullable=True
        )
    if numbers:
        bind.execute(
            sa.text("UPDATE message SET custom_payload = :payload WHERE id = :id"),
            [{"id": row_id, "payload": json.dumps(value)} for row_id, value in numbers],
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.alter_column(
            "custom_payload", existing_type=sa.Text(), type_=sa.JSON(), existing_nullable=True
        )
