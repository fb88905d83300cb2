"""The mail queue: rows written inside the use-case's transaction, delivered after commit.

A message is rendered only when it is sent (from its kind and context), so manage links never sit in the
database. Delivery is at-least-once with a lease: a sender claims due rows for a while, and a crashed
sender's rows become due again when the lease runs out (a row it had already handed to the mail server is
then sent twice, with the same Message-ID: tests/resilience/test_crash.py). Queueing is here; claiming,
rendering and delivering are in conference.mail.sender, whose worker is woken when the transaction that queued
a row commits (nobody calls it by hand).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from conference.core.models import OutboxEmail
from conference.core.settings import Settings

# Every kind of email the mail queue knows how to compose (conference.mail.mailtext; packages built on this
# one add theirs with mailtext.register_kind).
KINDS = {
    "registration",
    "promoted",
    "cancelled",
    "manage_link",
    "approved",
    "rejected",
    "seat_promoted",
    "programme_changed",
    "allocation",
    "payment_confirmed",
    "invoice",
    "credit_note",
    "hold_expired",
    "payment_failed",
    "refunded",
    "late_payment_refunded",
    "verify_email",  # the link that confirms the delegate reads their address (conference/verification.py)
    "email_verified",
    "verification_expired",
}


def queue_email(
    db: AsyncSession,
    settings: Settings,
    *,
    kind: str,
    to: str,
    registration_id: uuid.UUID | None = None,
    **context: Any,
) -> OutboxEmail:
    row = OutboxEmail(**outbox_row(settings, kind=kind, to=to, registration_id=registration_id, **context))
    db.add(row)
    return row


def outbox_row(
    settings: Settings, *, kind: str, to: str, registration_id: uuid.UUID | None = None, **context: Any
) -> dict[str, Any]:
    """The columns of one queued email (for a Core INSERT on hot paths, or an ORM object)."""
    if kind not in KINDS:
        raise ValueError(f"unknown email kind {kind!r}")
    # Without a mail server the message is kept for organisers to read instead of being delivered.
    return {
        "kind": kind,
        "to_address": to,
        "registration_id": registration_id,
        "context": context,
        "status": "queued" if settings.smtp_url else "kept",
    }
