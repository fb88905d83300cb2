"""workshops and seats

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 04:40:37.769091
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import conference.core.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "allocation_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "booking_phase",
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("choices_open", sa.Boolean(), nullable=False),
        sa.Column("booking_open", sa.Boolean(), nullable=False),
        sa.Column("updated_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conference.id"],
        ),
        sa.PrimaryKeyConstraint("conference_id"),
    )
    op.create_table(
        "room",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("accessibility", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conference.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_conference_id"), ["conference_id"], unique=False)

    op.create_table(
        "time_slot",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conference.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("time_slot", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_time_slot_conference_id"), ["conference_id"], unique=False)

    op.create_table(
        "programme_session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("plenary", "workshop", "talk", name="kind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("room_id", sa.Uuid(), nullable=True),
        sa.Column("start_slot_id", sa.Uuid(), nullable=False),
        sa.Column("slot_count", sa.Integer(), nullable=False),
        sa.Column("capacity_limit", sa.Integer(), nullable=True),
        sa.Column("starts_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("theme", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("speakers", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("booking_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conference.id"],
        ),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["room.id"],
        ),
        sa.ForeignKeyConstraint(
            ["start_slot_id"],
            ["time_slot.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("programme_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_programme_session_conference_id"), ["conference_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_programme_session_room_id"), ["room_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_programme_session_start_slot_id"), ["start_slot_id"], unique=False
        )

    op.create_table(
        "seat_booking",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("registration_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("booked", "waitlisted", "cancelled", name="seatstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("created_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registration.id"],
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["programme_session.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("seat_booking", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_seat_booking_registration_id"), ["registration_id"], unique=False
        )
        batch_op.create_index(
            "ix_seat_session_status_number", ["session_id", "status", "number"], unique=False
        )
        batch_op.create_index(
            "uq_seat_live",
            ["session_id", "registration_id"],
            unique=True,
            sqlite_where=sa.text("status != 'cancelled'"),
            postgresql_where=sa.text("status != 'cancelled'"),
        )

    op.create_table(
        "session_choice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("created_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registration.id"],
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["programme_session.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("registration_id", "session_id"),
    )
    with op.batch_alter_table("session_choice", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_session_choice_registration_id"), ["registration_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_session_choice_session_id"), ["session_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("session_choice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_choice_session_id"))
        batch_op.drop_index(batch_op.f("ix_session_choice_registration_id"))

    op.drop_table("session_choice")
    with op.batch_alter_table("seat_booking", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_seat_live",
            sqlite_where=sa.text("status != 'cancelled'"),
            postgresql_where=sa.text("status != 'cancelled'"),
        )
        batch_op.drop_index("ix_seat_session_status_number")
        batch_op.drop_index(batch_op.f("ix_seat_booking_registration_id"))

    op.drop_table("seat_booking")
    with op.batch_alter_table("programme_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_programme_session_start_slot_id"))
        batch_op.drop_index(batch_op.f("ix_programme_session_room_id"))
        batch_op.drop_index(batch_op.f("ix_programme_session_conference_id"))

    op.drop_table("programme_session")
    with op.batch_alter_table("time_slot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_time_slot_conference_id"))

    op.drop_table("time_slot")
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_conference_id"))

    op.drop_table("room")
    op.drop_table("booking_phase")
    op.drop_table("allocation_run")
