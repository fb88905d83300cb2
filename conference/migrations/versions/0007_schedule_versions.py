"""schedule versions: drafts and published versions of the workshop programme; the talks in each workshop session

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import conference.core.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "schedule_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "building",
                "draft",
                "published",
                "superseded",
                "discarded",
                name="schedulestate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("base_version_id", sa.Integer(), nullable=True),
        sa.Column("created_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("published_at", conference.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("published_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("time_limit", sa.Float(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("workshops", sa.JSON(), nullable=False),
        sa.Column("placement", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conference.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("schedule_version", schema=None) as batch_op:
        batch_op.create_index(
            "ix_schedule_version_conference_state", ["conference_id", "state"], unique=False
        )

    op.create_table(
        "session_talk",
        sa.Column("programme_session_id", sa.Uuid(), nullable=False),
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["programme_session_id"],
            ["programme_session.id"],
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposal.id"],
        ),
        sa.PrimaryKeyConstraint("programme_session_id", "proposal_id"),
    )
    with op.batch_alter_table("session_talk", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_talk_proposal_id"), ["proposal_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("session_talk", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_talk_proposal_id"))
    op.drop_table("session_talk")
    with op.batch_alter_table("schedule_version", schema=None) as batch_op:
        batch_op.drop_index("ix_schedule_version_conference_state")
    op.drop_table("schedule_version")
