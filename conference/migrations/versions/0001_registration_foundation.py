"""registration foundation

Revision ID: 0001
Revises:
Create Date: 2026-11-25 04:31:13.472065
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import conference.core.models

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "api_token",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", conference.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", conference.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_entry_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_entry_at"), ["at"], unique=False)

    op.create_table(
        "conference",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("venue", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("starts_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("registration_open", sa.Boolean(), nullable=False),
        sa.Column("registration_seq", sa.Integer(), nullable=False),
        sa.Column("created_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "idempotency_key",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("request_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("registration_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "outbox_email",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("to_address", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("registration_id", sa.Uuid(), nullable=True),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", conference.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("created_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", conference.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outbox_email", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outbox_email_registration_id"), ["registration_id"], unique=False
        )

    op.create_table(
        "ticket_type",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("price_pence", sa.Integer(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("cap", sa.Integer(), nullable=True),
        sa.Column(
            "approval",
            sa.Enum("none", "manual", "domain", name="approval", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("approval_domains", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conference.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ticket_type", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_type_conference_id"), ["conference_id"], unique=False)

    op.create_table(
        "registration",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("ticket_type_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "confirmed",
                "pending_payment",
                "awaiting_approval",
                "waitlisted",
                "cancelled",
                name="status",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("email_key", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("organisation", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column(
            "sector",
            sa.Enum(
                "local_authority",
                "police",
                "youth_offending_team",
                "school",
                "further_higher_education",
                "health",
                "probation",
                "prison",
                "fire_rescue",
                "community_faith",
                "central_government",
                "other",
                name="sector",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("job_title", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("region", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("dietary", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("access_needs", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("manage_token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("consent_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", conference.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conference.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_type_id"],
            ["ticket_type.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("manage_token_hash"),
        sa.UniqueConstraint("reference"),
    )
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.create_index(
            "ix_registration_status_number", ["conference_id", "status", "number"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_registration_ticket_type_id"), ["ticket_type_id"], unique=False)
        batch_op.create_index(
            "uq_registration_live_email",
            ["conference_id", "email_key"],
            unique=True,
            sqlite_where=sa.text("status != 'cancelled'"),
            postgresql_where=sa.text("status != 'cancelled'"),
        )


def downgrade() -> None:

    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_registration_live_email",
            sqlite_where=sa.text("status != 'cancelled'"),
            postgresql_where=sa.text("status != 'cancelled'"),
        )
        batch_op.drop_index(batch_op.f("ix_registration_ticket_type_id"))
        batch_op.drop_index("ix_registration_status_number")

    op.drop_table("registration")
    with op.batch_alter_table("ticket_type", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_type_conference_id"))

    op.drop_table("ticket_type")
    with op.batch_alter_table("outbox_email", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_email_registration_id"))
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("outbox_email")
    op.drop_table("idempotency_key")
    op.drop_table("conference")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entry_at"))
        batch_op.drop_index(batch_op.f("ix_audit_entry_action"))

    op.drop_table("audit_entry")
    op.drop_table("api_token")
