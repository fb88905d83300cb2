"""badges and check-in

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 12:41:12.915770
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import conference.core.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "checkin",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("registration_id", sa.Uuid(), nullable=True),
        sa.Column("list", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("result", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("device", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("staff", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("scanned_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("offline", sa.Boolean(), nullable=False),
        sa.Column("conflict", sa.Boolean(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registration.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.create_index("ix_checkin_list_at", ["list", "scanned_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_checkin_registration_id"), ["registration_id"], unique=False)
        batch_op.create_index(
            "uq_checkin_admitted",
            ["registration_id", "list"],
            unique=True,
            sqlite_where=sa.text("result = 'ok'"),
            postgresql_where=sa.text("result = 'ok'"),
        )

    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.add_column(sa.Column("badge_version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(
            sa.Column("badge_printed_at", conference.core.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_column("badge_printed_at")
        batch_op.drop_column("badge_version")

    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_checkin_admitted",
            sqlite_where=sa.text("result = 'ok'"),
            postgresql_where=sa.text("result = 'ok'"),
        )
        batch_op.drop_index(batch_op.f("ix_checkin_registration_id"))
        batch_op.drop_index("ix_checkin_list_at")

    op.drop_table("checkin")
