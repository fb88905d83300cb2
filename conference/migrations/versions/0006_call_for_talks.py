"""call for talks: proposals and their speakers, reviewers and reviews, delegates' stars

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 14:49:49.167032
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import conference.core.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_for_talks",
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("opens_at", conference.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closes_at", conference.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("themes", sa.JSON(), nullable=False),
        sa.Column("formats", sa.JSON(), nullable=False),
        sa.Column("anonymous_review", sa.Boolean(), nullable=False),
        sa.Column("updated_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conference.id"],
        ),
        sa.PrimaryKeyConstraint("conference_id"),
    )
    op.create_table(
        "proposal",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("abstract", sqlmodel.sql.sqltypes.AutoString(length=3000), nullable=False),
        sa.Column(
            "format",
            sa.Enum("talk", "panel", "workshop", name="proposalformat", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("themes", sa.JSON(), nullable=False),
        sa.Column(
            "audience_level",
            sa.Enum(
                "introductory", "intermediate", "advanced", name="audiencelevel", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("access_needs", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "submitted",
                "accepted",
                "confirmed",
                "declined",
                "rejected",
                "withdrawn",
                name="proposalstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("edit_token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("created_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", conference.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_at", conference.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conference.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("edit_token_hash"),
    )
    with op.batch_alter_table("proposal", schema=None) as batch_op:
        batch_op.create_index("ix_proposal_conference_status", ["conference_id", "status"], unique=False)

    op.create_table(
        "reviewer",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("email_key", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("created_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", conference.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conference.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("conference_id", "email_key"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "proposal_speaker",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("email_key", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("organisation", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("unavailable_slots", sa.JSON(), nullable=False),
        sa.Column("unavailable_days", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposal.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("proposal_id", "position"),
    )
    with op.batch_alter_table("proposal_speaker", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proposal_speaker_email_key"), ["email_key"], unique=False)

    op.create_table(
        "review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("reviewer_id", sa.Uuid(), nullable=False),
        sa.Column("relevance", sa.Integer(), nullable=False),
        sa.Column("impact", sa.Integer(), nullable=False),
        sa.Column("transferability", sa.Integer(), nullable=False),
        sa.Column("comment", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("created_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposal.id"],
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["reviewer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("proposal_id", "reviewer_id"),
    )
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_reviewer_id"), ["reviewer_id"], unique=False)

    op.create_table(
        "star",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Uuid(), nullable=False),
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposal.id"],
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registration.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("registration_id", "proposal_id"),
    )
    with op.batch_alter_table("star", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_star_proposal_id"), ["proposal_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("star", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_star_proposal_id"))

    op.drop_table("star")
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_reviewer_id"))

    op.drop_table("review")
    with op.batch_alter_table("proposal_speaker", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proposal_speaker_email_key"))

    op.drop_table("proposal_speaker")
    op.drop_table("reviewer")
    with op.batch_alter_table("proposal", schema=None) as batch_op:
        batch_op.drop_index("ix_proposal_conference_status")

    op.drop_table("proposal")
    op.drop_table("call_for_talks")
