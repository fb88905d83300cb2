"""Fulfilment: act on what Stripe says about a Checkout Session, once, whatever order the news arrives in.

`fulfil` re-reads the session from Stripe (a webhook's payload may be stale or out of order) and changes nothing
twice. A payment that lands after its hold was released confirms the place if one is free, and is refunded
automatically otherwise: when the conference or its ticket type is full, or the delegate has registered again
with the same address. A payment that confirms a place gets its paid invoice (receipt) in the same transaction."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit, hooks
from conference.core.code_models import price_of
from conference.core.db import Database, lock_for_update
from conference.core.group_models import GroupBooking
from conference.core.models import (
    HOLDING,
    Conference,
    Payment,
    PaymentMethod,
    Registration,
    Status,
    TicketType,
    utcnow,
)
from conference.core.settings import Settings
from conference.invoices import invoicing
from conference.mail.outbox import queue_email
from conference.payments import notices
from conference.payments.checkout import gross_of
from conference.payments.gateway import Gateway
from conference.payments.records import (
    first_delivery,
    group_members,
    lock_conference,
    payment_for,
    payments_of,
)
from conference.payments.refunds import request_refund
from conference.places import held_by_type, promote_waitlist

log = logging.getLogger("conference.payments")


@dataclass(frozen=True)
class Outcome:
    state: str  # confirmed | confirming | refunding | released | ignored | duplicate
    registration_id: uuid.UUID | None = None


async def fulfil(
    database: Database, settings: Settings, gateway: Gateway, session_id: str, *, event: Any = None
) -> Outcome:
    """Act on what Stripe says about a Checkout Session now. Idempotent; safe to run concurrently."""
    session = await gateway.retrieve(session_id)
    async with database.transaction() as db:
        if event is not None and not await first_delivery(db, event):
            return Outcome("duplicate")
        payment = await payment_for(db, session_id)
        if payment is None:
            log.info("a Checkout Session that is not one of ours was ignored")  # its id stays out of the log
            return Outcome("ignored")
        conference = await lock_conference(db)
        registration = await lock_for_update(db, Registration, payment.registration_id)
        payment = await lock_for_update(db, Payment, payment.id)
        if session.payment_status != "paid":
            if session.status == "expired" or (
                event is not None and event.type.endswith("async_payment_failed")
            ):
                return await _payment_ended(db, settings, conference, registration, payment, session)
            return Outcome("confirming", registration.id)
        if payment.status == "paid":
            return Outcome(_state(registration), registration.id)
        payment.status, payment.paid_at = "paid", utcnow()
        intent = session.payment_intent
        payment.payment_intent_id = intent if intent is None or isinstance(intent, str) else intent.id
        await audit.record(
            db,
            "conference.payment.received",
            actor=audit.SYSTEM,
            subject=registration.reference,
            amount_pence=payment.amount_pence,
        )
        if registration.group_id is not None and registration.status != Status.confirmed:
            # A group's one payment: whoever of the group it still holds a place for is confirmed; the rest of
            # the money (members released or cancelled meanwhile) goes back.
            if await group_members(db, registration.group_id, Status.pending_payment):
                return await _confirm_group(db, settings, registration, payment)
            request_refund(db, payment, registration, reason="late_payment")
            queue_email(
                db,
                settings,
                kind="late_payment_refunded",
                to=registration.email,
                registration_id=registration.id,
                amount_pence=payment.amount_pence,
            )
            return Outcome("refunding", registration.id)
        if registration.status == Status.pending_payment:
            _confirm(db, settings, registration)
            await _receipt(db, settings, registration, payment)
            return Outcome("confirmed", registration.id)
        if registration.status == Status.confirmed:
            # Paid twice (two tabs): keep one payment, refund this one.
            request_refund(db, payment, registration, reason="duplicate")
            return Outcome("confirmed", registration.id)
        late = registration.status == Status.cancelled and registration.cancel_reason in {
            "hold_expired",
            "payment_failed",
        }
        refusal = await _why_not_reinstate(db, conference, registration) if late else None
        if late and refusal is None:
            # The hold ran out before the money arrived, but the place can still be had: honour the payment.
            registration.status, registration.cancelled_at, registration.cancel_reason = (
                Status.confirmed,
                None,
                "",
            )
            registration.hold_expires_at, registration.updated_at = None, utcnow()
            queue_email(
                db, settings, kind="payment_confirmed", to=registration.email, registration_id=registration.id
            )
            await audit.record(
                db, "conference.registration.reinstated", actor=audit.SYSTEM, subject=registration.reference
            )
            await _receipt(db, settings, registration, payment)
            return Outcome("confirmed", registration.id)
        # Paid after the hold was released and the place cannot be had, or after the delegate cancelled: refund
        # it all, and say why.
        request_refund(db, payment, registration, reason="late_payment" if late else "cancelled")
        if refusal in {"ticket_full", "registered_again"}:
            notices.queue_late_payment_declined(
                db, settings, registration=registration, amount_pence=payment.amount_pence, why=refusal
            )
        else:
            queue_email(
                db,
                settings,
                kind="late_payment_refunded" if late else "refunded",
                to=registration.email,
                registration_id=registration.id,
                amount_pence=payment.amount_pence,
            )
        if late:
            await audit.record(
                db,
                "conference.payment.late_refunded",
                actor=audit.SYSTEM,
                subject=registration.reference,
                why=refusal,
            )
        return Outcome("refunding", registration.id)


def _state(registration: Registration) -> str:
    return "confirmed" if registration.status == Status.confirmed else "refunding"


def _confirm(db: AsyncSession, settings: Settings, registration: Registration) -> None:
    registration.status, registration.hold_expires_at, registration.updated_at = (
        Status.confirmed,
        None,
        utcnow(),
    )
    queue_email(
        db, settings, kind="payment_confirmed", to=registration.email, registration_id=registration.id
    )
    db.add(
        audit.entry("conference.registration.confirmed", actor=audit.SYSTEM, subject=registration.reference)
    )


async def _payment_ended(
    db: AsyncSession,
    settings: Settings,
    conference: Conference,
    registration: Registration,
    payment: Payment,
    session: Any,
) -> Outcome:
    """The session expired or its delayed payment failed: release the place unless another payment is open."""
    if payment.status in {"open", "creating"}:
        payment.status = "expired" if session.status == "expired" else "failed"
    if registration.status != Status.pending_payment or registration.payment_method != PaymentMethod.card:
        return Outcome("ignored", registration.id)
    others = [
        p
        for p in await payments_of(db, registration.id)
        if p.id != payment.id and p.status in {"open", "paid"}
    ]
    if others:
        return Outcome("ignored", registration.id)
    reason = "hold_expired" if session.status == "expired" else "payment_failed"
    await release_hold(db, settings, conference, registration, reason=reason)
    return Outcome("released", registration.id)


async def release_hold(
    db: AsyncSession, settings: Settings, conference: Conference, registration: Registration, *, reason: str
) -> None:
    """Give an unpaid place back (capacity lock held); the waiting list moves up at once."""
    now = utcnow()
    registration.status, registration.cancelled_at, registration.updated_at = Status.cancelled, now, now
    registration.cancel_reason, registration.hold_expires_at = reason, None
    queue_email(db, settings, kind=reason, to=registration.email, registration_id=registration.id)
    await audit.record(
        db,
        "conference.registration.released",
        actor=audit.SYSTEM,
        subject=registration.reference,
        reason=reason,
    )
    await db.flush()
    await hooks.run_registration_released(db, settings, registration)
    await promote_waitlist(db, settings=settings, conference=conference)


async def _why_not_reinstate(
    db: AsyncSession, conference: Conference, registration: Registration
) -> str | None:
    """Why a cancelled registration cannot have its place back now (None: it can), under the capacity lock:
    the conference is full, its ticket type is, or the delegate has registered again with the same address (a
    second live registration would break the one-live-registration-per-email rule)."""
    held = await db.scalar(
        sa.select(sa.func.count()).where(
            col(Registration.conference_id) == conference.id, col(Registration.status).in_(HOLDING)
        )
    )
    if int(held or 0) >= conference.capacity:
        return "conference_full"
    ticket = await db.get(TicketType, registration.ticket_type_id)
    if ticket is not None and ticket.cap is not None and await held_by_type(db, ticket.id) >= ticket.cap:
        return "ticket_full"
    again = await db.scalar(
        sa.select(sa.func.count()).where(
            col(Registration.conference_id) == registration.conference_id,
            col(Registration.email_key) == registration.email_key,
            col(Registration.status) != Status.cancelled,
            col(Registration.id) != registration.id,
        )
    )
    return "registered_again" if int(again or 0) else None


async def _confirm_group(
    db: AsyncSession, settings: Settings, registration: Registration, payment: Payment
) -> Outcome:
    """A group booking's one payment (conference/groups.py): every member whose place it holds is confirmed, with
    one paid receipt (a line per member); the share of any member released meanwhile goes back to the card."""
    assert registration.group_id is not None
    ticket = await db.get(TicketType, registration.ticket_type_id)
    group = await db.get(GroupBooking, registration.group_id)
    assert ticket is not None and group is not None
    members: list[Registration] = []
    total = 0
    for member in await group_members(db, registration.group_id, Status.pending_payment):
        # Only the places this payment pays for, in booking order: a colleague the lead added after the page
        # opened stays held for the group's next page (conference/pages/groups.py "Pay by card").
        total += gross_of(member, ticket)
        if total > payment.amount_pence:
            break
        members.append(member)
    if not members:
        request_refund(db, payment, registration, reason="late_payment")
        return Outcome("refunding", registration.id)
    for member in members:
        _confirm(db, settings, member)
    await invoicing.issue_group_invoice(
        db,
        settings,
        group=group,
        members=[(m, price_of(m, ticket)) for m in members],
        ticket=ticket,
        actor=audit.SYSTEM,
        paid_at=payment.paid_at or utcnow(),
    )
    covered = sum(gross_of(m, ticket) for m in members)
    if covered < payment.amount_pence:
        request_refund(
            db, payment, registration, reason="late_payment", amount=payment.amount_pence - covered
        )
    return Outcome("confirmed", registration.id)


async def _receipt(
    db: AsyncSession, settings: Settings, registration: Registration, payment: Payment
) -> None:
    """The card payer's paid invoice, issued with the confirmation (same transaction, same locks)."""
    ticket = await db.get(TicketType, registration.ticket_type_id)
    assert ticket is not None
    await invoicing.issue_card_receipt(
        db,
        settings,
        registration=registration,
        ticket=ticket,
        amount_pence=payment.amount_pence,
        paid_at=payment.paid_at or utcnow(),
        actor=audit.SYSTEM,
    )
