"""seats remember what they were when their session was cancelled, so restoring the session gives them back

seat_booking.held_before_cancel is "booked" or "waitlisted" for a seat released by its session's cancellation
(sessions/workshops/cancellation.py), and "" otherwise. Seats released by cancellations before this revision
stay "": their sessions can be restored, but without those seats.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("seat_booking", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "held_before_cancel",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("seat_booking", schema=None) as batch_op:
        batch_op.drop_column("held_before_cancel")
