"""scan ids

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 13:25:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scan_id", sa.String(length=64), nullable=True))
        batch_op.create_index("uq_checkin_scan_id", ["scan_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.drop_index("uq_checkin_scan_id")
        batch_op.drop_column("scan_id")
