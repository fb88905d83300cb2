"""invoice payment record: what an organiser records on marking an invoice paid

invoice.paid_on: the day the money arrived (asked for, today by default; paid_at stays the time it was recorded);
invoice.paid_amount_pence: the amount received (the invoice's total by default); invoice.payment_reference: the
bank's reference, "" when none was given. Null / "" on card receipts and on invoices marked paid before.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 16:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paid_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("paid_amount_pence", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "payment_reference",
                sqlmodel.sql.sqltypes.AutoString(length=100),
                nullable=False,
                server_default="",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_column("payment_reference")
        batch_op.drop_column("paid_amount_pence")
        batch_op.drop_column("paid_on")
