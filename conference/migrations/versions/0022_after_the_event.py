"""after the event: CPD rules and after-event emails, certificates of attendance and their bulk runs, the
best-practice library's resources (sessions/models/attendance.py, sessions/models/library.py)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 19:15:06.556331
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import conference.core.models

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "after_event_settings",
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("kind_rates", sa.JSON(), nullable=False),
        sa.Column("plenaries_on_door_scan", sa.Boolean(), nullable=False),
        sa.Column("daily_cap_hours", sa.Float(), nullable=True),
        sa.Column("rounding_minutes", sa.Integer(), nullable=False),
        sa.Column("certificate_email_at", conference.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("feedback_email_at", conference.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conference.id"],
        ),
        sa.PrimaryKeyConstraint("conference_id"),
    )
    op.create_table(
        "certificate_run",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("started_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("issued", sa.Integer(), nullable=False),
        sa.Column("finished_at", conference.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conference.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("certificate_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certificate_run_conference_id"), ["conference_id"], unique=False)

    op.create_table(
        "library_resource",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind", sa.Enum("file", "link", name="resourcekind", native_enum=False, length=8), nullable=False
        ),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("file_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("stored_name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("format", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column(
            "visibility",
            sa.Enum("public", "delegates", "public_sector", name="visibility", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("pending", "approved", "rejected", name="resourcestatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("uploaded_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("reviewed_at", conference.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("review_note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conference.id"],
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposal.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("library_resource", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_library_resource_conference_id"), ["conference_id"], unique=False
        )
        batch_op.create_index("ix_library_resource_proposal", ["proposal_id", "status"], unique=False)

    op.create_table(
        "certificate",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Uuid(), nullable=True),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "issued", "superseded", "withdrawn", name="certificatestatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("organisation", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("cpd_minutes", sa.Integer(), nullable=False),
        sa.Column("sessions", sa.JSON(), nullable=False),
        sa.Column("days", sa.JSON(), nullable=False),
        sa.Column("issued_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column("withdrawn_at", conference.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("withdrawn_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conference.id"],
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registration.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certificate_conference_id"), ["conference_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_certificate_registration_id"), ["registration_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_certificate_run_id"), ["run_id"], unique=False)
        batch_op.create_index(
            "uq_certificate_current",
            ["registration_id"],
            unique=True,
            sqlite_where=sa.text("status = 'issued'"),
            postgresql_where=sa.text("status = 'issued'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_certificate_current",
            sqlite_where=sa.text("status = 'issued'"),
            postgresql_where=sa.text("status = 'issued'"),
        )
        batch_op.drop_index(batch_op.f("ix_certificate_run_id"))
        batch_op.drop_index(batch_op.f("ix_certificate_registration_id"))
        batch_op.drop_index(batch_op.f("ix_certificate_conference_id"))

    op.drop_table("certificate")
    with op.batch_alter_table("library_resource", schema=None) as batch_op:
        batch_op.drop_index("ix_library_resource_proposal")
        batch_op.drop_index(batch_op.f("ix_library_resource_conference_id"))

    op.drop_table("library_resource")
    with op.batch_alter_table("certificate_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificate_run_conference_id"))

    op.drop_table("certificate_run")
    op.drop_table("after_event_settings")
