"""refunds keep why they failed; invoices say when they were issued already paid by card

refund.failure_reason: Stripe's failure_reason (a bank returned the refund) or the error code of a permanent
refusal (charge_already_refunded), shown to organisers. invoice.paid_by: "card" for the paid invoice (VAT receipt)
a card payer gets when the payment is confirmed; "" for invoices paid against a purchase order.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 12:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "failure_reason",
                sqlmodel.sql.sqltypes.AutoString(length=60),
                nullable=False,
                server_default="",
            )
        )
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "paid_by", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default=""
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_column("paid_by")
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.drop_column("failure_reason")
