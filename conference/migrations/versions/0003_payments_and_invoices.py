"""payments and invoices

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 12:21:39.723530
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import conference.core.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stripe_event",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("received_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "invoice",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("registration_id", sa.Uuid(), nullable=False),
        sa.Column("credits_invoice_id", sa.Uuid(), nullable=True),
        sa.Column("billing_organisation", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("billing_contact", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("billing_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("billing_address", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("purchase_order", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("net_pence", sa.Integer(), nullable=False),
        sa.Column("vat_rate_percent", sa.Integer(), nullable=False, server_default="20"),
        sa.Column("vat_pence", sa.Integer(), nullable=False),
        sa.Column("gross_pence", sa.Integer(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("paid_at", conference.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["credits_invoice_id"],
            ["invoice.id"],
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registration.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoice_registration_id"), ["registration_id"], unique=False)

    op.create_table(
        "payment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("registration_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("checkout_session_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("checkout_url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("payment_intent_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("amount_pence", sa.Integer(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("refunded_pence", sa.Integer(), nullable=False),
        sa.Column("expires_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("paid_at", conference.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registration.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("checkout_session_id"),
    )
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_payment_intent_id"), ["payment_intent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_payment_registration_id"), ["registration_id"], unique=False)

    op.create_table(
        "refund",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("registration_id", sa.Uuid(), nullable=False),
        sa.Column("amount_pence", sa.Integer(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("stripe_refund_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("created_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", conference.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payment.id"],
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registration.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("stripe_refund_id"),
    )
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.create_index("ix_refund_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_refund_payment_id"), ["payment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_refund_registration_id"), ["registration_id"], unique=False)

    with op.batch_alter_table("conference", schema=None) as batch_op:
        batch_op.add_column(sa.Column("invoice_seq", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("credit_note_seq", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("refund_full_until", conference.core.models.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "cancel_reason",
                sqlmodel.sql.sqltypes.AutoString(length=40),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(
            sa.Column(
                "payment_method",
                sa.Enum("none", "card", "invoice", name="paymentmethod", native_enum=False, length=16),
                nullable=False,
                server_default="none",
            )
        )
        batch_op.add_column(
            sa.Column("hold_expires_at", conference.core.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("billing", sa.JSON(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_registration_hold_expires_at"), ["hold_expires_at"], unique=False
        )

    with op.batch_alter_table("ticket_type", schema=None) as batch_op:
        batch_op.add_column(sa.Column("vat_rate_percent", sa.Integer(), nullable=False, server_default="20"))
        batch_op.add_column(
            sa.Column("invoice_allowed", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column("invoice_confirms", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("ticket_type", schema=None) as batch_op:
        batch_op.drop_column("invoice_confirms")
        batch_op.drop_column("invoice_allowed")
        batch_op.drop_column("vat_rate_percent")

    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registration_hold_expires_at"))
        batch_op.drop_column("billing")
        batch_op.drop_column("hold_expires_at")
        batch_op.drop_column("payment_method")
        batch_op.drop_column("cancel_reason")

    with op.batch_alter_table("conference", schema=None) as batch_op:
        batch_op.drop_column("refund_full_until")
        batch_op.drop_column("credit_note_seq")
        batch_op.drop_column("invoice_seq")

    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refund_registration_id"))
        batch_op.drop_index(batch_op.f("ix_refund_payment_id"))
        batch_op.drop_index("ix_refund_due")

    op.drop_table("refund")
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_registration_id"))
        batch_op.drop_index(batch_op.f("ix_payment_payment_intent_id"))

    op.drop_table("payment")
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_registration_id"))

    op.drop_table("invoice")
    op.drop_table("stripe_event")
