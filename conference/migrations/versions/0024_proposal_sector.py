"""proposal sector: the sector of the organisation a talk comes from (the library's filter)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 19:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


SECTORS = (
    "local_authority",
    "police",
    "youth_offending_team",
    "school",
    "further_higher_education",
    "health",
    "probation",
    "prison",
    "fire_rescue",
    "community_faith",
    "central_government",
    "other",
)


def upgrade() -> None:
    with op.batch_alter_table("proposal", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "sector",
                sa.Enum(*SECTORS, name="sector", native_enum=False, length=40),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("proposal", schema=None) as batch_op:
        batch_op.drop_column("sector")
