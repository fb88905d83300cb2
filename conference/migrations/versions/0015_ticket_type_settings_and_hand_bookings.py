"""ticket types set up in the console: card payment allowed, a sale window; complimentary places booked by hand

ticket_type.card_allowed: the type may be paid by card (invoice_allowed already says the same of invoices).
ticket_type.available_from / available_until: when the public form and API sell the type (an early-bird price
until a date); null means no limit. registration.complimentary: a place an organiser gave free by hand
(conference/bookings.py), nothing to pay whatever the ticket's price.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 13:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import conference.core.models

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket_type", schema=None) as batch_op:
        batch_op.add_column(sa.Column("card_allowed", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(
            sa.Column("available_from", conference.core.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("available_until", conference.core.models.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("complimentary", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_column("complimentary")
    with op.batch_alter_table("ticket_type", schema=None) as batch_op:
        batch_op.drop_column("available_until")
        batch_op.drop_column("available_from")
        batch_op.drop_column("card_allowed")
