"""registration questions: the organisers' own questions, the answers on each registration, and until when
delegates may change them

Questions are a table (question); answers are JSON on the registration (registration.answers), each kept with
the question's label, kind and version as it was asked, so a later change to the question leaves old answers
readable. conference.answers_editable_until: delegates change their answers on the manage page until then (null:
until the conference starts). Existing registrations have no answers (null).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import conference.core.models

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("text", "long_text", "number", "yes_no", "single_choice", "multiple_choice", "date")


def upgrade() -> None:
    op.create_table(
        "question",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("kind", sa.Enum(*KINDS, name="questionkind", native_enum=False, length=24), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("help_text", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("ticket_type_ids", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("on_badge", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conference_id"], ["conference.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("question", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_question_conference_id"), ["conference_id"], unique=False)

    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answers", sa.JSON(), nullable=True))

    with op.batch_alter_table("conference", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "answers_editable_until", conference.core.models.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("conference", schema=None) as batch_op:
        batch_op.drop_column("answers_editable_until")

    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_column("answers")

    with op.batch_alter_table("question", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_question_conference_id"))

    op.drop_table("question")
