"""console sessions kept on the server (a row per signed-in browser) instead of a session version in the cookie

Signing out ends the browser's row, so a copy of its cookie stops working too. The row replaces
user_account.session_version, which is dropped: cookies made before this revision name no session and are
refused, so everyone signs in to the console once more after the upgrade.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import conference.core.models

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("created_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", conference.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    with op.batch_alter_table("console_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_console_session_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_console_session_token_hash"), ["token_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_console_session_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("session_version")


def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_version", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.alter_column("session_version", server_default=None)

    with op.batch_alter_table("console_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_session_user_id"))
        batch_op.drop_index(batch_op.f("ix_console_session_token_hash"))
        batch_op.drop_index(batch_op.f("ix_console_session_expires_at"))

    op.drop_table("console_session")
