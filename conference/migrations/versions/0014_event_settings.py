"""the event's settings in the console: registration window, venue details, privacy notice, accessibility statement

conference.registration_opens_at / registration_closes_at: the public form and API take registrations between
them (either may be null: no limit on that side), while the organisers' switch `registration_open` is on.
venue_address, travel_notes, accessibility_notes: the venue beyond its name. privacy_notice and
accessibility_statement: the texts of the public pages /privacy and /accessibility. contact_email: the
organisers' address for questions (null: none given). Existing rows: no window, empty texts.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import conference.core.models

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conference", schema=None) as batch_op:
        for name in ("registration_opens_at", "registration_closes_at"):
            batch_op.add_column(
                sa.Column(name, conference.core.models.UTCDateTime(timezone=True), nullable=True)
            )
        for name, length in (("venue_address", 1000), ("travel_notes", 3000), ("accessibility_notes", 3000)):
            batch_op.add_column(
                sa.Column(
                    name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=False, server_default=""
                )
            )
        for name in ("privacy_notice", "accessibility_statement"):
            batch_op.add_column(sa.Column(name, sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("contact_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("conference", schema=None) as batch_op:
        for name in (
            "contact_email",
            "accessibility_statement",
            "privacy_notice",
            "accessibility_notes",
            "travel_notes",
            "venue_address",
            "registration_closes_at",
            "registration_opens_at",
        ):
            batch_op.drop_column(name)
