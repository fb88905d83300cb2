"""group bookings: group_booking, registration.group_id, invoice lines, invoice.group_id and buyer_reference,
ticket_type.po_optional

A lead books several colleagues at once (conference/groups.py); each member is a registration with group_id set.
A group's invoice has one line per member (invoice_line), each with its own VAT, so a cancelled member's credit
note carries exactly their line.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 16:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from conference.core.models import UTCDateTime

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "group_booking",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("lead_name", sa.String(length=120), nullable=False),
        sa.Column("lead_email", sa.String(length=254), nullable=False),
        sa.Column("lead_email_key", sa.String(length=254), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("sector", sa.String(length=40), nullable=False),
        sa.Column("lead_attends", sa.Boolean(), nullable=False),
        sa.Column("payment_method", sa.String(length=16), nullable=False),
        sa.Column("billing", sa.JSON(), nullable=True),
        sa.Column("manage_token_hash", sa.String(length=64), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("ticket_type_id", sa.Uuid(), nullable=False),
        sa.Column("code_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["conference_id"], ["conference.id"]),
        sa.ForeignKeyConstraint(["ticket_type_id"], ["ticket_type.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("manage_token_hash"),
        sa.UniqueConstraint("reference"),
    )
    with op.batch_alter_table("group_booking", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_booking_conference_id"), ["conference_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_group_booking_lead_email_key"), ["lead_email_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_group_booking_ticket_type_id"), ["ticket_type_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_group_booking_code_id"), ["code_id"], unique=False)
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_registration_group_id"), ["group_id"], unique=False)
        batch_op.create_foreign_key("fk_registration_group_id", "group_booking", ["group_id"], ["id"])
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("buyer_reference", sa.String(length=60), nullable=False, server_default="")
        )
        batch_op.create_index(batch_op.f("ix_invoice_group_id"), ["group_id"], unique=False)
        batch_op.create_foreign_key("fk_invoice_group_id", "group_booking", ["group_id"], ["id"])
    with op.batch_alter_table("ticket_type", schema=None) as batch_op:
        batch_op.add_column(sa.Column("po_optional", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "invoice_line",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("registration_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("delegate_name", sa.String(length=120), nullable=False),
        sa.Column("delegate_reference", sa.String(length=16), nullable=False),
        sa.Column("net_pence", sa.Integer(), nullable=False),
        sa.Column("vat_rate_percent", sa.Integer(), nullable=False),
        sa.Column("vat_pence", sa.Integer(), nullable=False),
        sa.Column("gross_pence", sa.Integer(), nullable=False),
        sa.Column("credited_by_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoice.id"]),
        sa.ForeignKeyConstraint(["registration_id"], ["registration.id"]),
        sa.ForeignKeyConstraint(["credited_by_id"], ["invoice.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("invoice_line", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoice_line_invoice_id"), ["invoice_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_invoice_line_registration_id"), ["registration_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("invoice_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_line_registration_id"))
        batch_op.drop_index(batch_op.f("ix_invoice_line_invoice_id"))
    op.drop_table("invoice_line")
    with op.batch_alter_table("ticket_type", schema=None) as batch_op:
        batch_op.drop_column("po_optional")
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_constraint("fk_invoice_group_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_invoice_group_id"))
        batch_op.drop_column("buyer_reference")
        batch_op.drop_column("group_id")
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_constraint("fk_registration_group_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_registration_group_id"))
        batch_op.drop_column("group_id")
    with op.batch_alter_table("group_booking", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_booking_code_id"))
        batch_op.drop_index(batch_op.f("ix_group_booking_ticket_type_id"))
        batch_op.drop_index(batch_op.f("ix_group_booking_lead_email_key"))
        batch_op.drop_index(batch_op.f("ix_group_booking_conference_id"))
    op.drop_table("group_booking")
