"""proposal sector: the sector of the organisation a talk comes from (the library's filter)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 19:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # PLACEHOLDER: written by the helper that owns this migration


def downgrade() -> None:
    pass
