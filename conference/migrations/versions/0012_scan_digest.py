"""what a scan id was used for: a digest of the scanned code or reference

A repeat of a scan id is answered from the first record only when it scanned the same thing on the same list and
device (checkin.scan_digest, checkin.list, checkin.device); any other use of the id is refused (409). Rows made
before this have no digest and are matched by the delegate they were for.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 10:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scan_digest", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.drop_column("scan_digest")
