"""session feedback: the organisers' questions and delegates' answers (sessions/models/feedback.py)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 19:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import conference.core.models

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feedback_question",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("rating", "text", name="questionkind", native_enum=False, length=8),
            nullable=False,
        ),
        sa.Column(
            "applies_to",
            sa.Enum("sessions", "event", "both", name="appliesto", native_enum=False, length=8),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conference_id"], ["conference.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("feedback_question", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feedback_question_conference_id"), ["conference_id"], unique=False
        )

    op.create_table(
        "feedback_answer",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Uuid(), nullable=True),
        sa.Column("target", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("comment", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("created_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conference_id"], ["conference.id"]),
        sa.ForeignKeyConstraint(["registration_id"], ["registration.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("registration_id", "target", name="uq_feedback_answer_target"),
    )
    with op.batch_alter_table("feedback_answer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_answer_conference_id"), ["conference_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_feedback_answer_target"), ["target"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("feedback_answer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_answer_target"))
        batch_op.drop_index(batch_op.f("ix_feedback_answer_conference_id"))
    op.drop_table("feedback_answer")
    with op.batch_alter_table("feedback_question", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_question_conference_id"))
    op.drop_table("feedback_question")
