"""session feedback: the organisers' questions and delegates' answers (sessions/models/feedback.py)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 19:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # PLACEHOLDER: written by the helper that owns this migration


def downgrade() -> None:
    pass
