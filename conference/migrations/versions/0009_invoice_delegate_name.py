"""invoices keep the delegate's name as issued (a transfer or an erasure no longer changes a printed invoice)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 18:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "delegate_name",
                sqlmodel.sql.sqltypes.AutoString(length=120),
                nullable=False,
                server_default="",
            )
        )
    # Documents issued before: the best we know is the name the registration has now, unless it was erased.
    op.execute(
        "UPDATE invoice SET delegate_name = (SELECT r.name FROM registration r WHERE r.id = invoice.registration_id "
        "AND r.erased_at IS NULL) WHERE EXISTS (SELECT 1 FROM registration r WHERE r.id = invoice.registration_id "
        "AND r.erased_at IS NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_column("delegate_name")
