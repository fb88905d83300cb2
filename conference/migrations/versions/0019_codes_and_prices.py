"""codes and prices: codes (complimentary, a discount, a reserved block of places) and the price a place sold at

Table code (conference/core/code_models.py): the code's text (upper-case, unique), who it is for, its discount,
use limit, validity window, ticket types, reserved block and revocation. registration.code_id: the code a place
was booked with (its uses are counted from these); registration.price_pence: the net price that code set (null:
the ticket type's list price, as for every registration before this migration).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 16:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import conference.core.models

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DISCOUNTS = ("none", "complimentary", "percent", "fixed")


def upgrade() -> None:
    when = conference.core.models.UTCDateTime(timezone=True)
    op.create_table(
        "code",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column(
            "discount", sa.Enum(*DISCOUNTS, name="discount", native_enum=False, length=16), nullable=False
        ),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("valid_from", when, nullable=True),
        sa.Column("valid_until", when, nullable=True),
        sa.Column("ticket_type_ids", sa.JSON(), nullable=False),
        sa.Column("reserved_places", sa.Integer(), nullable=False),
        sa.Column("reserved_until", when, nullable=True),
        sa.Column("revoked_at", when, nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.ForeignKeyConstraint(["conference_id"], ["conference.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("text"),
    )
    with op.batch_alter_table("code", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_code_conference_id"), ["conference_id"], unique=False)

    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("price_pence", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_registration_code_id"), ["code_id"], unique=False)
        batch_op.create_foreign_key("fk_registration_code_id_code", "code", ["code_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_constraint("fk_registration_code_id_code", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_registration_code_id"))
        batch_op.drop_column("price_pence")
        batch_op.drop_column("code_id")

    with op.batch_alter_table("code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_code_conference_id"))

    op.drop_table("code")
