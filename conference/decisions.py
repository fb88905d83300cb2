"""Decisions on a registration once it exists: cancel it, credit its invoice (and cancel), approve or reject it.

Every function runs inside the caller's transaction (`async with database.transaction() as db:`) and takes
the conference's capacity lock itself, then the registration's (the lock order of `registration`).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from conference import places
from conference.core import audit, errors, hooks
from conference.core.audit import Actor
from conference.core.db import lock_for_update
from conference.core.models import HOLDING, Conference, Invoice, Registration, Status, TicketType, utcnow
from conference.core.settings import Settings
from conference.invoices import invoicing
from conference.mail.outbox import queue_email
from conference.payments import refunds


async def _lock_registration(db: AsyncSession, registration_id: uuid.UUID) -> Registration:
    # Lock order: conference → this registration → its sessions (sessions/workshops/capacity.py).
    if await db.get(Registration, registration_id) is None:
        raise errors.NotFound("No registration has this id.")
    return await lock_for_update(db, Registration, registration_id)


async def cancel_registration(
    db: AsyncSession, *, settings: Settings, registration_id: uuid.UUID, actor: Actor
) -> Registration:
    conference = await places.get_conference(db)
    await lock_for_update(db, Conference, conference.id)
    registration = await _lock_registration(db, registration_id)
    if registration.status == Status.cancelled:
        raise errors.AlreadyCancelled()
    if actor.kind == "attendee" and conference.ends_at <= utcnow():
        # A delegate's own cancellation after the event would only ask for a refund of a place used or left
        # empty; organisers can still cancel (and credit) by hand.
        raise errors.EventOver()
    held_place = registration.status in HOLDING
    registration.status = Status.cancelled
    registration.cancelled_at = registration.updated_at = utcnow()
    registration.cancel_reason = "delegate" if actor.kind == "attendee" else "organiser"
    registration.hold_expires_at = registration.verify_expires_at = None
    await refunds.refund_on_cancel(db, settings, registration)
    await invoicing.credit_on_cancel(db, settings, registration, actor=actor)
    queue_email(db, settings, kind="cancelled", to=registration.email, registration_id=registration.id)
    await audit.record(db, "conference.registration.cancelled", actor=actor, subject=registration.reference)
    await db.flush()
    await hooks.run_registration_released(db, settings, registration)
    if held_place:
        await places.promote_waitlist(db, settings=settings, conference=conference)
    return registration


async def credit_invoice(
    db: AsyncSession,
    *,
    settings: Settings,
    invoice_id: uuid.UUID,
    actor: Actor,
    reason: str = "",
    cancel: bool = True,
) -> tuple[Invoice, Registration, bool]:
    """Credit an invoice and, unless told not to, cancel its registration: (credit note, registration, cancelled)."""
    note = await invoicing.credit_invoice(db, settings, invoice_id=invoice_id, actor=actor, reason=reason)
    registration = await db.get(Registration, note.registration_id)
    assert registration is not None
    if not cancel or registration.status == Status.cancelled:
        return note, registration, False
    # After the credit, so the cancellation (which credits open invoices itself) finds none left.
    registration = await cancel_registration(
        db, settings=settings, registration_id=registration.id, actor=actor
    )
    registration.cancel_reason = "credited"
    await db.flush()
    return note, registration, True


async def decide_approval(
    db: AsyncSession, *, settings: Settings, registration_id: uuid.UUID, approve: bool, actor: Actor
) -> Registration:
    conference = await places.get_conference(db)
    await lock_for_update(db, Conference, conference.id)
    registration = await _lock_registration(db, registration_id)
    if registration.status != Status.awaiting_approval:
        raise errors.DomainError(
            f"Only registrations awaiting approval can be decided; this one is {registration.status.value}."
        )
    ticket = await db.get(TicketType, registration.ticket_type_id)
    assert ticket is not None
    registration.updated_at = utcnow()
    if approve:
        await places.grant_place(
            db,
            settings,
            registration,
            ticket,
            places.status_approved(ticket, registration.payment_method),
            actor,
        )
    else:
        registration.status = Status.cancelled
        registration.cancelled_at = registration.updated_at
    kind = "approved" if approve else "rejected"
    queue_email(
        db,
        settings,
        kind=kind,
        to=registration.email,
        registration_id=registration.id,
        status=registration.status.value,
    )
    await audit.record(db, f"conference.registration.{kind}", actor=actor, subject=registration.reference)
    await db.flush()
    if not approve:
        await hooks.run_registration_released(db, settings, registration)
        await places.promote_waitlist(db, settings=settings, conference=conference)
    return registration
