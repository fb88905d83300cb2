"""Registrations an organiser adds by hand: a VIP, a phone booking, a speaker's or a complimentary place.

Any ticket type may be booked this way, hidden ones (Speaker) included, whatever its sale window and whether
registration is open: the organiser decides, so approval rules and the address check do not apply. The place is
taken under the capacity lock every registration takes (`places.get_conference(db, for_update=True)`: the same
conference row the public form's UPDATE locks on PostgreSQL, the same write lock on SQLite), so a hand-made
booking racing the public form can never oversell. When the conference is full the delegate joins the waiting
list, unless the organiser ticks the override: then the place is given over capacity (or over the type's own
cap), and the audit entry says so.

A complimentary place has nothing to pay (PaymentMethod.none, `complimentary`); otherwise a priced ticket is paid
by card (the delegate pays from their manage link; the usual hold applies) or by invoice (issued at once). The
delegate is emailed their manage link unless the organiser says not to; an invoice still goes to the billing
contact.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference import delegates, places, registration
from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.models import HOLDING, PaymentMethod, Registration, Status, TicketType, utcnow
from conference.core.schemas import BillingDetails, RegistrationCreate
from conference.core.security import hash_token, manage_token, new_reference
from conference.core.settings import Settings
from conference.invoices import invoicing
from conference.mail.outbox import queue_email

BILLING_FIELDS = ("organisation", "contact_name", "email", "address", "purchase_order")
# The form's fields in its order (the error summary follows it).
FIELDS = (
    "ticket_type_id",
    *delegates.FIELDS,
    "complimentary",
    "payment_method",
    *(f"billing_{name}" for name in BILLING_FIELDS),
    "no_email",
    "over_capacity",
)
YES = "yes"


@dataclass(frozen=True)
class HandBooking:
    registration_id: uuid.UUID
    reference: str
    status: Status
    waitlist_position: int | None
    over_capacity: bool  # given a place beyond the conference's capacity (or the type's cap) by the override


@dataclass(frozen=True)
class _Checked:
    data: RegistrationCreate
    ticket: TicketType
    method: PaymentMethod
    complimentary: bool
    send_email: bool
    override: bool


async def _check(db: AsyncSession, settings: Settings, values: dict[str, str]) -> _Checked:
    """Everything the form says, checked at once: raises InvalidInput naming every field at fault."""
    problems: dict[str, str] = {}
    details: dict[str, Any] = {}
    try:
        details = delegates.parse_details(values)
    except errors.InvalidInput as exc:
        problems.update(exc.fields or {})
    ticket: TicketType | None = None
    raw_ticket = values.get("ticket_type_id", "").strip()
    try:
        ticket = await db.get(TicketType, uuid.UUID(raw_ticket)) if raw_ticket else None
    except ValueError:
        ticket = None
    if ticket is None:
        problems["ticket_type_id"] = "Choose a ticket type from the list."
    complimentary = values.get("complimentary") == YES
    method = PaymentMethod.none
    billing: dict[str, str] | None = None
    if ticket is not None and ticket.price_pence > 0 and not complimentary:
        chosen = values.get("payment_method", "")
        if chosen not in (PaymentMethod.card.value, PaymentMethod.invoice.value):
            problems["payment_method"] = (
                "This ticket has a price: choose card or invoice, or tick complimentary."
            )
        else:
            method = PaymentMethod(chosen)
        if method == PaymentMethod.invoice:
            billing = {name: values.get(f"billing_{name}", "") for name in BILLING_FIELDS}
            try:
                BillingDetails.model_validate(billing)
            except ValidationError as exc:
                for name, problem in (errors.from_validation_error(exc).fields or {}).items():
                    problems.setdefault(f"billing_{name}", problem)
    data: RegistrationCreate | None = None
    if not problems and ticket is not None:
        data = RegistrationCreate.model_validate(
            {
                **details,
                "ticket_type_id": ticket.id,
                "consent": True,  # the organiser takes the booking under the event's privacy notice
                "payment_method": method if method != PaymentMethod.none else None,
                "billing": billing,
            }
        )
        if method != PaymentMethod.none:
            try:  # the type's own rules: card set up and allowed for it, invoice allowed for it
                registration.payment_method(settings, ticket, data)
            except errors.InvalidInput as exc:
                problems.update(exc.fields or {})
    if problems:
        raise errors.InvalidInput(fields={k: problems[k] for k in FIELDS if k in problems})
    assert data is not None and ticket is not None
    return _Checked(
        data=data,
        ticket=ticket,
        method=method,
        complimentary=complimentary,
        send_email=values.get("no_email") != YES,
        override=values.get("over_capacity") == YES,
    )


async def _live_reference(db: AsyncSession, conference_id: int, email_key: str) -> str | None:
    return (
        await db.execute(
            sa.select(col(Registration.reference))
            .where(
                col(Registration.conference_id) == conference_id,
                col(Registration.email_key) == email_key,
                col(Registration.status) != Status.cancelled,
            )
            .limit(1)
        )
    ).scalar_one_or_none()


async def book_by_hand(
    db: AsyncSession, *, settings: Settings, values: dict[str, str], actor: Actor
) -> HandBooking:
    """Add the registration the form describes, in the caller's transaction, under the capacity lock."""
    assert db.in_transaction()
    checked = await _check(db, settings, values)
    data, ticket = checked.data, checked.ticket
    # The capacity lock, before anything about places is read.
    conference = await places.get_conference(db, for_update=True)
    assert conference.id is not None
    if ticket.conference_id != conference.id:
        raise errors.InvalidInput(fields={"ticket_type_id": "Choose a ticket type from the list."})
    email_key = str(data.email).lower()
    taken = await _live_reference(db, conference.id, email_key)
    if taken is not None:
        raise errors.AlreadyRegistered(
            fields={
                "email": f"Registration {taken} already uses this email address; one live registration per address."
            }
        )
    seen = await places.availability(db, conference)
    # Codes' reserved blocks are kept for their holders (the override books over them).
    has_place = seen.remaining > 0
    type_full = ticket.cap is not None and await places.held_by_type(db, ticket.id) >= ticket.cap
    if has_place and type_full and not checked.override:
        raise errors.TicketTypeUnavailable(
            f"{ticket.name} has all {ticket.cap} places of its own cap taken.",
            fields={
                "over_capacity": f"{ticket.name} has all {ticket.cap} places of its own cap taken: choose another "
                "type, or tick this box to book over the cap."
            },
        )
    over = checked.override and not (has_place and not type_full)
    waitlisted = not has_place and not checked.override
    if waitlisted:
        status = Status.waitlisted
    elif checked.complimentary:
        status = Status.confirmed
    else:
        # The organiser's booking needs no approval and no address check: only payment may be outstanding.
        status = places.status_approved(ticket, checked.method)

    conference.registration_seq += 1
    now = utcnow()
    registration_id = uuid.uuid4()
    token = manage_token(str(settings.secret_key), registration_id, 1)
    row = Registration(
        id=registration_id,
        conference_id=conference.id,
        ticket_type_id=ticket.id,
        number=conference.registration_seq,
        reference=new_reference(),
        status=status,
        name=data.name,
        email=str(data.email),
        email_key=email_key,
        organisation=data.organisation,
        sector=data.sector,
        job_title=data.job_title,
        region=data.region,
        dietary=data.dietary,
        access_needs=data.access_needs,
        manage_token_hash=hash_token(token),
        consent_at=now,
        created_at=now,
        updated_at=now,
        payment_method=checked.method,
        complimentary=checked.complimentary,
        billing=data.billing.model_dump(mode="json") if data.billing else None,
        hold_expires_at=places.hold_until(settings, now)
        if places.needs_hold(status, checked.method)
        else None,
    )
    db.add(row)
    try:
        await db.flush()
    except IntegrityError:  # the unique index on live emails: cannot happen under the lock, but never a 500
        raise errors.AlreadyRegistered(
            fields={"email": "This email address is already registered."}
        ) from None
    position = await places.waitlist_position(db, row)
    if checked.method == PaymentMethod.invoice and status in HOLDING:
        await invoicing.issue_invoice(db, settings, registration=row, ticket=ticket, actor=actor)
    if checked.send_email:
        queue_email(
            db,
            settings,
            kind="registration",
            to=row.email,
            registration_id=row.id,
            status=status.value,
            position=position,
            by_hand=True,
        )
    await audit.record(
        db,
        "conference.registration.added_by_hand",
        actor=actor,
        subject=row.reference,
        status=status.value,
        ticket_type=str(ticket.id),
        complimentary=checked.complimentary,
        payment_method=checked.method.value,
        emailed=checked.send_email,
        over_capacity=over,
    )
    await db.flush()
    return HandBooking(row.id, row.reference, status, position, over)
