"""email verification before a domain-approved place is confirmed; idempotency records and card payments carry the
manage token's version

A place approved because of the email's domain is held as awaiting_verification until the delegate follows a
link sent to that address (registration.email_verified_at, registration.verify_expires_at). The status column
is a plain string (no native enum, no check constraint), so the new value needs no change to it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import conference.core.models

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("email_verified_at", conference.core.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("verify_expires_at", conference.core.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_registration_verify_expires_at"), ["verify_expires_at"], unique=False
        )

    with op.batch_alter_table("idempotency_key", schema=None) as batch_op:
        # The registration's token_version when the answer was recorded: a replay after the token changed
        # (a transfer, a new link) carries no manage token. Existing rows: version 1, as every first token.
        batch_op.add_column(sa.Column("token_version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.create_index(batch_op.f("ix_idempotency_key_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_idempotency_key_registration_id"), ["registration_id"], unique=False
        )

    with op.batch_alter_table("payment", schema=None) as batch_op:
        # The registration's token_version when the Checkout page was opened: the return page links to the booking
        # only while it is unchanged. Existing rows: version 1.
        batch_op.add_column(sa.Column("token_version", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_column("token_version")

    with op.batch_alter_table("idempotency_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_key_registration_id"))
        batch_op.drop_index(batch_op.f("ix_idempotency_key_created_at"))
        batch_op.drop_column("token_version")

    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registration_verify_expires_at"))
        batch_op.drop_column("verify_expires_at")
        batch_op.drop_column("email_verified_at")
