"""delegates transfer their own place: conference.transfer_any_domain

Off (the default): a delegate hands their place only to a colleague at their own email domain
(conference/self_service.py); on, to an address at any domain. Their deadline for changes is the existing
conference.answers_editable_until (one date for every change a delegate makes to their booking).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 13:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conference", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("transfer_any_domain", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("conference", schema=None) as batch_op:
        batch_op.drop_column("transfer_any_domain")
