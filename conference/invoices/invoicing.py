"""Invoices and credit notes for places the delegate's organisation pays for against a purchase order.

Every function runs inside the caller's transaction. Numbers are gapless and sequential (HMRC asks for a
unique, sequential invoice number): the next one comes from an UPDATE ... RETURNING on the conference row, in
the transaction that writes the invoice, so a rollback gives the number back and two transactions queue on the
row lock. Lock order, as everywhere: conference → registration → its invoices.

The amounts stored on an invoice are worked out by `invoice_pdf.totals` from the document it prints as, so
the database, the email and the PDF never disagree. A credit note carries the same positive amounts as the
invoice it cancels. PDFs are rendered when asked for (download, email), never stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit, errors, formats
from conference.core.audit import Actor
from conference.core.code_models import price_of
from conference.core.db import lock_for_update
from conference.core.formats import conference_zone
from conference.core.group_models import GroupBooking, InvoiceLine
from conference.core.models import (
    Conference,
    Invoice,
    PaymentMethod,
    Registration,
    Status,
    TicketType,
    utcnow,
)
from conference.core.schemas import BillingDetails
from conference.core.settings import Settings
from conference.invoices.pdf import InvoiceDocument, Line, Party, render, totals
from conference.mail.outbox import queue_email

__all__ = [
    "AlreadyCredited",
    "AlreadyInvoiced",
    "AlreadyPaid",
    "NotAnInvoice",
    "credit_for_cancellation",
    "credit_invoice",
    "credit_on_cancel",
    "document",
    "invoice_group_member",
    "invoice_public",
    "invoices_for",
    "invoices_public",
    "issue_card_receipt",
    "issue_group_invoice",
    "issue_invoice",
    "mark_paid",
    "pdf_for",
]

OPEN = ("issued", "paid")  # an invoice in one of these states can still be credited

# The emails that carry an invoice or a credit note to the billing contact (conference.invoices.emails).
INVOICE_KINDS = ("invoice", "credit_note")


class AlreadyInvoiced(errors.DomainError):
    code = "already_invoiced"
    message = "This registration already has an invoice that has not been credited."


class NotAnInvoice(errors.DomainError):
    code = "not_an_invoice"
    message = "This is a credit note; only an invoice can be paid or credited."


class AlreadyPaid(errors.DomainError):
    code = "invoice_already_paid"
    message = "This invoice is already marked paid."


class AlreadyCredited(errors.DomainError):
    code = "invoice_already_credited"
    message = "This invoice has already been credited; it cannot be paid or credited again."


def today(conference: Conference) -> date:
    """Today where the conference is: the date an invoice or credit note is issued on."""
    return datetime.now(conference_zone(conference)).date()


async def _number(db: AsyncSession, column: str, prefix: str, conference_id: int) -> str:
    """The next number of a gapless sequence kept on the conference row ("INV-000042")."""
    seq = getattr(Conference, column)
    stmt = (
        sa.update(Conference)
        .where(col(Conference.id) == conference_id)
        .values({column: seq + 1})
        .returning(seq)
    )
    value = (await db.execute(stmt)).scalar_one()
    return f"{prefix}-{value:06d}"


def _billing(registration: Registration) -> BillingDetails:
    try:
        return BillingDetails.model_validate(registration.billing or {})
    except ValidationError as exc:
        fields = {
            f"billing.{name}": text for name, text in (errors.from_validation_error(exc).fields or {}).items()
        }
        raise errors.InvalidInput("The billing details are incomplete.", fields=fields) from None


def _event_dates(conference: Conference) -> str:
    """The event's day, e.g. 'Tue 8 Dec 2026', or its first and last days: the one format (core/formats.py)."""
    starts = conference.starts_at.astimezone(conference_zone(conference)).date()
    ends = conference.ends_at.astimezone(conference_zone(conference)).date()
    if starts == ends:
        return formats.day(starts)
    return f"{formats.day(starts)} to {formats.day(ends)}"


def email_invoice(db: AsyncSession, settings: Settings, *, invoice: Invoice) -> None:
    """Queue the invoice's email, its PDF attached, to its billing contact."""
    queue_email(
        db,
        settings,
        kind="invoice",
        to=invoice.billing_email,
        registration_id=invoice.registration_id,
        invoice_id=str(invoice.id),
        number=invoice.number,
    )


def _place(conference: Conference, ticket: TicketType) -> str:
    """What one place is, on an invoice or a group's line."""
    return f"{conference.name}, {_event_dates(conference)}: {ticket.name} place"[:300]


async def _new_invoice(
    db: AsyncSession,
    settings: Settings,
    *,
    conference: Conference,
    ticket: TicketType,
    paid_at: datetime | None = None,
    **fields: Any,
) -> Invoice:
    """An invoice numbered from the gapless sequence, issued today: due within the terms, or (`paid_at`) a card
    payment's receipt, issued paid. Its sums are worked out by `_issue`."""
    assert conference.id is not None
    number = await _number(db, "invoice_seq", "INV", conference.id)
    issued_on = today(conference)
    return Invoice(
        number=number,
        kind="invoice",
        vat_rate_percent=ticket.vat_rate_percent,
        vat_pence=0,
        gross_pence=0,
        currency=ticket.currency,
        status="paid" if paid_at else "issued",
        paid_by="card" if paid_at else "",
        issued_on=issued_on,
        due_on=None if paid_at else issued_on + timedelta(days=int(settings.invoice_terms_days)),
        paid_at=paid_at,
        **fields,
    )


async def _issue(
    db: AsyncSession,
    settings: Settings,
    *,
    invoice: Invoice,
    registration: Registration,
    actor: Actor,
    about: dict[str, Any],
    lines: Sequence[InvoiceLine] = (),
    group_reference: str = "",
) -> Invoice:
    """Store a new invoice (and a group's lines) with its sums, email it to its billing contact and audit it
    (`about`: what it is for, in the audit trail)."""
    # The sums come from the document the invoice prints as (a group's: VAT line by line).
    sums = totals(document(invoice, registration, settings, lines=lines, group_reference=group_reference))
    invoice.net_pence, invoice.vat_pence, invoice.gross_pence = (
        sums.net_pence,
        sums.vat_pence,
        sums.gross_pence,
    )
    db.add(invoice)
    if lines:
        await db.flush()  # the invoice row before its lines (their foreign key)
        db.add_all(lines)
    email_invoice(db, settings, invoice=invoice)
    await audit.record(
        db,
        "conference.invoice.issued",
        actor=actor,
        subject=invoice.number,
        **about,
        gross_pence=invoice.gross_pence,
        **({"paid_by": "card"} if invoice.paid_at else {}),
    )
    await db.flush()
    return invoice


async def issue_invoice(
    db: AsyncSession, settings: Settings, *, registration: Registration, ticket: TicketType, actor: Actor
) -> Invoice:
    """Invoice the registration's organisation for its place. Call with the conference (capacity) lock held.

    `registration` may be a detached model (e.g. built from a Core insert in the same transaction): it is only
    read. Emails the invoice to the billing contact.
    """
    assert db.in_transaction()
    if registration.payment_method != PaymentMethod.invoice:
        raise errors.DomainError("Only a registration paid by invoice can be invoiced.")
    if price_of(registration, ticket) <= 0:  # a code may have made a priced ticket free
        raise errors.DomainError("A free ticket needs no invoice.")
    billing = _billing(registration)
    if await _open_invoice(db, registration.id) is not None:
        raise AlreadyInvoiced()
    conference = await db.get(Conference, registration.conference_id)
    assert conference is not None
    invoice = await _new_invoice(
        db,
        settings,
        conference=conference,
        ticket=ticket,
        registration_id=registration.id,
        billing_organisation=billing.organisation,
        billing_contact=billing.contact_name,
        billing_email=str(billing.email),
        billing_address=billing.address,
        purchase_order=billing.purchase_order,
        delegate_name=registration.name,
        description=_place(conference, ticket),
        net_pence=price_of(registration, ticket),  # after a code's discount
    )
    about = {"registration": registration.reference}
    return await _issue(db, settings, invoice=invoice, registration=registration, actor=actor, about=about)


def net_for_gross(gross_pence: int, vat_rate_percent: int, list_net_pence: int) -> int:
    """The net price whose VAT (half-up, as `totals` works it out) brings it to `gross_pence`: the ticket's own
    price when it still adds up (the usual case), else the nearest net that does (the price changed while the
    delegate was paying); the receipt must show what was paid."""

    def gross(net: int) -> int:
        return net + (net * vat_rate_percent + 50) // 100

    if gross(list_net_pence) == gross_pence:
        return list_net_pence
    estimate = (gross_pence * 100) // (100 + vat_rate_percent)
    for net in sorted(range(max(estimate - 2, 0), estimate + 3), key=lambda n: abs(gross(n) - gross_pence)):
        if gross(net) == gross_pence:
            return net
    return estimate


async def issue_card_receipt(
    db: AsyncSession,
    settings: Settings,
    *,
    registration: Registration,
    ticket: TicketType,
    amount_pence: int,
    paid_at: datetime,
    actor: Actor,
) -> Invoice:
    """The paid invoice (a VAT invoice and receipt) for a place paid by card: numbered from the same gapless
    sequence as every invoice, marked paid by card, emailed to the delegate. Call in the transaction that
    confirms the place (conference lock held). A registration that already has an open invoice keeps it."""
    assert db.in_transaction()
    existing = await _open_invoice(db, registration.id)
    if existing is not None:
        return existing
    conference = await db.get(Conference, registration.conference_id)
    assert conference is not None
    invoice = await _new_invoice(
        db,
        settings,
        conference=conference,
        ticket=ticket,
        paid_at=paid_at,
        registration_id=registration.id,
        billing_organisation=(registration.organisation or registration.name)[:200],
        billing_contact=registration.name,
        billing_email=registration.email,
        billing_address="",
        purchase_order="",
        delegate_name=registration.name,
        description=_place(conference, ticket),
        net_pence=net_for_gross(amount_pence, ticket.vat_rate_percent, price_of(registration, ticket)),
    )
    about = {"registration": registration.reference}
    return await _issue(db, settings, invoice=invoice, registration=registration, actor=actor, about=about)


async def _open_invoice(db: AsyncSession, registration_id: uuid.UUID) -> Invoice | None:
    """The registration's invoice that is issued or paid and not credited (there is at most one); locked."""
    stmt = (
        sa.select(Invoice)
        .where(
            col(Invoice.registration_id) == registration_id,
            col(Invoice.kind) == "invoice",
            col(Invoice.status).in_(OPEN),
            # A group's invoice is the whole group's, not its first member's: a member's line is credited alone.
            col(Invoice.group_id).is_(None),
        )
        .order_by(col(Invoice.created_at))
        .limit(1)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await db.execute(stmt)).scalar_one_or_none()


async def _lock(db: AsyncSession, invoice_id: uuid.UUID) -> tuple[Invoice, Registration]:
    # Lock order: conference → registration → invoice.
    assert db.in_transaction()
    invoice = await db.get(Invoice, invoice_id)
    if invoice is None:
        raise errors.NotFound("No invoice has this id.")
    registration = await db.get(Registration, invoice.registration_id)
    assert registration is not None
    await lock_for_update(db, Conference, registration.conference_id)
    registration = await lock_for_update(db, Registration, registration.id)
    invoice = await lock_for_update(db, Invoice, invoice_id)
    return invoice, registration


def _check_open(invoice: Invoice) -> None:
    if invoice.kind != "invoice":
        raise NotAnInvoice()
    if invoice.status == "credited":
        raise AlreadyCredited()


MAX_PAID_PENCE = 100_000_000  # £1,000,000: a typing slip past this is refused rather than recorded
MAX_PAYMENT_REFERENCE = 100


async def mark_paid(
    db: AsyncSession,
    settings: Settings,
    *,
    invoice_id: uuid.UUID,
    actor: Actor,
    paid_on: date | None = None,
    amount_pence: int | None = None,
    reference: str = "",
) -> Invoice:
    """Record that an invoice has been paid: on `paid_on` (today in the conference's time zone if not given),
    `amount_pence` (the invoice's total if not given) with the bank's `reference`. A place held for it
    (pending_payment) is confirmed."""
    invoice, registration = await _lock(db, invoice_id)
    _check_open(invoice)
    if invoice.status == "paid":
        raise AlreadyPaid()
    conference = await db.get(Conference, registration.conference_id)
    today = utcnow().astimezone(conference_zone(conference)).date()
    problems: dict[str, str] = {}
    if paid_on is not None and paid_on > today:
        problems["paid_on"] = f"Enter the day the money arrived: today ({formats.day(today)}) or before."
    if amount_pence is not None and not 0 < amount_pence <= MAX_PAID_PENCE:
        problems["amount_pence"] = "Enter the amount received, more than £0.00 and at most £1,000,000.00."
    if len(reference) > MAX_PAYMENT_REFERENCE:
        problems["reference"] = f"Use at most {MAX_PAYMENT_REFERENCE} characters."
    if problems:
        raise errors.InvalidInput(fields=problems)
    invoice.status = "paid"
    invoice.paid_at = utcnow()
    invoice.paid_on = paid_on or today
    invoice.paid_amount_pence = invoice.gross_pence if amount_pence is None else amount_pence
    invoice.payment_reference = reference
    await audit.record(
        db,
        "conference.invoice.paid",
        actor=actor,
        subject=invoice.number,
        registration=registration.reference,
        paid_on=invoice.paid_on.isoformat(),
        amount_pence=invoice.paid_amount_pence,
        reference=reference or None,
    )
    members = [registration]
    if invoice.group_id is not None:
        # A group's invoice pays for every member on a line still charged.
        members = await _members_charged(db, invoice)
    for registration in members:
        await _confirm_paid(db, settings, invoice=invoice, registration=registration, actor=actor)
    await db.flush()
    return invoice


async def _confirm_paid(
    db: AsyncSession, settings: Settings, *, invoice: Invoice, registration: Registration, actor: Actor
) -> None:
    if registration.status == Status.pending_payment and registration.payment_method == PaymentMethod.invoice:
        registration.status = Status.confirmed
        registration.hold_expires_at = None
        registration.updated_at = utcnow()
        queue_email(
            db,
            settings,
            kind="payment_confirmed",
            to=registration.email,
            registration_id=registration.id,
            status=Status.confirmed.value,
            invoice_id=str(invoice.id),
            number=invoice.number,
        )
        await audit.record(
            db,
            "conference.registration.confirmed",
            actor=actor,
            subject=registration.reference,
            by="invoice_paid",
            invoice=invoice.number,
        )


async def credit_invoice(
    db: AsyncSession, settings: Settings, *, invoice_id: uuid.UUID, actor: Actor, reason: str = ""
) -> Invoice:
    """Cancel an issued or paid invoice with a credit note (returned). The registration is left as it is."""
    invoice, registration = await _lock(db, invoice_id)
    _check_open(invoice)
    if invoice.paid_by == "card":
        # A card receipt is credited with the refund it goes with: crediting it alone would tell the delegate
        # that money is on its way back when none is.
        raise errors.DomainError(
            f"Invoice {invoice.number} was paid by card: cancel the registration instead, which refunds the card "
            "and issues the credit note."
        )
    return await _credit(db, settings, invoice, registration, actor=actor, reason=reason)


async def credit_for_cancellation(
    db: AsyncSession, settings: Settings, *, registration: Registration, actor: Actor
) -> Invoice | None:
    """Credit the registration's open invoice, if it has one; for the cancellation path, which already holds
    the conference and registration locks. Returns the credit note, or None when there was nothing to credit
    (no invoice, or it was credited already), so calling it twice is harmless."""
    invoice = await _open_invoice(db, registration.id)
    if invoice is None:
        if registration.group_id is not None:
            # A member of a group booking: a credit note for their line of the group's invoice.
            return await credit_group_line(
                db, settings, registration=registration, actor=actor, reason="Registration cancelled."
            )
        return None
    return await _credit(db, settings, invoice, registration, actor=actor, reason="Registration cancelled.")


async def credit_on_cancel(
    db: AsyncSession, settings: Settings, registration: Registration, *, actor: Actor
) -> Invoice | None:
    """The cancellation policy for invoices (as `payments.refund_on_cancel` for cards): a delegate's or an
    organiser's cancellation credits the open invoice until the conference's `refund_full_until`; after it the
    invoice stands. Call with the conference and registration locks held, after setting `cancel_reason`."""
    if registration.cancel_reason not in {"delegate", "organiser"}:
        return None
    if await _open_invoice(db, registration.id) is None and await _open_line(db, registration.id) is None:
        return None
    conference = await db.get(Conference, registration.conference_id)
    assert conference is not None
    if conference.refund_full_until is not None and utcnow() > conference.refund_full_until:
        await audit.record(
            db,
            "conference.invoice.not_credited",
            actor=audit.SYSTEM,
            subject=registration.reference,
            reason="after refund date",
        )
        return None
    return await credit_for_cancellation(db, settings, registration=registration, actor=actor)


async def _credit(
    db: AsyncSession,
    settings: Settings,
    invoice: Invoice,
    registration: Registration,
    *,
    actor: Actor,
    reason: str,
) -> Invoice:
    delegate_name = invoice.delegate_name or registration.name
    note = await _credit_note(
        db,
        settings,
        invoice=invoice,
        registration=registration,
        charged=invoice,
        delegate_name=delegate_name,
        actor=actor,
        reason=reason,
    )
    invoice.status = "credited"
    await db.flush()
    return note


async def _credit_note(
    db: AsyncSession,
    settings: Settings,
    *,
    invoice: Invoice,
    registration: Registration,
    charged: Invoice | InvoiceLine,
    delegate_name: str,
    actor: Actor,
    reason: str,
    **fields: Any,
) -> Invoice:
    """A credit note for `charged` (the whole `invoice`, or one line of a group's), emailed to the invoice's billing
    contact and audited. The caller marks what it credits."""
    conference = await db.get(Conference, registration.conference_id)
    assert conference is not None
    number = await _number(db, "credit_note_seq", "CN", registration.conference_id)
    was_paid = invoice.status == "paid"
    note = Invoice(
        number=number,
        kind="credit_note",
        registration_id=registration.id,
        credits_invoice_id=invoice.id,
        billing_organisation=invoice.billing_organisation,
        billing_contact=invoice.billing_contact,
        billing_email=invoice.billing_email,
        billing_address=invoice.billing_address,
        purchase_order=invoice.purchase_order,
        delegate_name=delegate_name,
        description=charged.description,
        net_pence=charged.net_pence,
        vat_rate_percent=charged.vat_rate_percent,
        vat_pence=charged.vat_pence,
        gross_pence=charged.gross_pence,
        currency=invoice.currency,
        status="issued",
        paid_by=invoice.paid_by,  # "card": the money goes back to the card it was paid with
        issued_on=today(conference),
        due_on=None,
        **fields,
    )
    db.add(note)
    queue_email(
        db,
        settings,
        kind="credit_note",
        to=note.billing_email,
        registration_id=registration.id,
        invoice_id=str(note.id),
        number=number,
        credits=invoice.number,
        was_paid=was_paid,
        reason=reason.strip()[:500],
    )
    # The reason is free text an organiser typed, so it goes to the billing contact, not the audit trail.
    await audit.record(
        db,
        "conference.invoice.credited",
        actor=actor,
        subject=invoice.number,
        credit_note=number,
        registration=registration.reference,
        was_paid=was_paid,
    )
    await db.flush()
    return note


def _seller(settings: Settings) -> Party:
    return Party(
        name=settings.invoice_seller_name,
        address=settings.invoice_seller_address,
        contact=settings.invoice_seller_contact,
        vat_number=settings.invoice_seller_vat_number,
    )


def _payment_terms(invoice: Invoice, settings: Settings, credited_number: str) -> str:
    if invoice.kind == "credit_note" and invoice.paid_by == "card":
        return (
            f"This credit note cancels invoice {credited_number} in full. The amount paid by card is refunded "
            "to the card it was paid with."
        )
    if invoice.paid_by == "card":
        # Issued when the payment was confirmed, so its date of issue is the day it was paid.
        return f"Paid in full by card on {formats.day(invoice.issued_on)}. Nothing is due."
    if invoice.kind == "credit_note":
        return (
            f"This credit note cancels invoice {credited_number} in full. If that invoice has not been paid, "
            "please do not pay it. If it has, we will refund the amount to the account it was paid from "
            "within 14 days."
        )
    days = int(settings.invoice_terms_days)
    bank = settings.invoice_bank_details
    due = f" (by {formats.day(invoice.due_on)})" if invoice.due_on else ""
    return (
        f"Payment is due within {days} days of the invoice date{due}. Please pay by BACS to {bank}, "
        f"quoting the invoice number {invoice.number} as the payment reference."
    )


def document(
    invoice: Invoice,
    registration: Registration,
    settings: Settings,
    credited_number: str = "",
    *,
    lines: Sequence[InvoiceLine] = (),
    group_reference: str = "",
) -> InvoiceDocument:
    """What an invoice or credit note prints as (`credited_number`: the invoice a credit note cancels; `lines`: a
    group's document, one line per member, each with its VAT)."""
    contact = invoice.billing_contact
    if invoice.billing_email:
        contact = f"{contact} <{invoice.billing_email}>" if contact else invoice.billing_email
    kind: Literal["invoice", "credit_note"] = "credit_note" if invoice.kind == "credit_note" else "invoice"
    return InvoiceDocument(
        kind=kind,
        number=invoice.number,
        issued_on=invoice.issued_on,
        due_on=None if kind == "credit_note" else invoice.due_on,
        seller=_seller(settings),
        buyer=Party(name=invoice.billing_organisation, address=invoice.billing_address, contact=contact),
        purchase_order=invoice.purchase_order,
        booking_reference=group_reference or registration.reference,
        delegate_name="" if lines else invoice.delegate_name or registration.name,
        lines=tuple(
            Line(
                f"{line.delegate_name} ({line.delegate_reference}): {line.description}",
                1,
                line.net_pence,
                line.vat_rate_percent,
            )
            for line in lines
        )
        or (Line(invoice.description, 1, invoice.net_pence, invoice.vat_rate_percent),),
        vat_per_line=bool(lines),
        buyer_reference=invoice.buyer_reference,
        payment_terms=_payment_terms(invoice, settings, credited_number),
        currency=invoice.currency,
        credits_invoice=credited_number,
        paid_by=invoice.paid_by if kind == "invoice" else "",
    )


async def pdf_for(db: AsyncSession, settings: Settings, invoice_id: uuid.UUID) -> tuple[Invoice, bytes]:
    invoice = await db.get(Invoice, invoice_id)
    if invoice is None:
        raise errors.NotFound("No invoice has this id.")
    registration = await db.get(Registration, invoice.registration_id)
    assert registration is not None
    credited_number = ""
    if invoice.credits_invoice_id is not None:
        credited = await db.get(Invoice, invoice.credits_invoice_id)
        assert credited is not None
        credited_number = credited.number
    lines, group_reference = await lines_of(db, invoice)
    doc = document(
        invoice, registration, settings, credited_number, lines=lines, group_reference=group_reference
    )
    return invoice, render(doc)


async def invoices_for(
    db: AsyncSession, registration_id: uuid.UUID | None = None, *, group_id: uuid.UUID | None = None
) -> list[Invoice]:
    """The registration's (or the group's) invoices and credit notes, oldest first."""
    where = col(Invoice.registration_id) == registration_id
    if group_id is not None:
        where = col(Invoice.group_id) == group_id
    stmt = (
        sa.select(Invoice)
        .where(where)
        .order_by(col(Invoice.created_at), col(Invoice.kind), col(Invoice.number))
    )
    return list((await db.execute(stmt)).scalars())


def invoice_public(invoice: Invoice, credits_number: str | None = None) -> dict[str, Any]:
    """The API's view of an invoice or credit note (`credits_number`: the invoice a credit note cancels)."""
    return {
        "id": str(invoice.id),
        "number": invoice.number,
        "kind": invoice.kind,
        "status": invoice.status,
        "purchase_order": invoice.purchase_order,
        "net_pence": invoice.net_pence,
        "vat_pence": invoice.vat_pence,
        "gross_pence": invoice.gross_pence,
        "currency": invoice.currency,
        "issued_on": invoice.issued_on.isoformat(),
        "due_on": invoice.due_on.isoformat() if invoice.due_on else None,
        "paid_at": invoice.paid_at.isoformat() if invoice.paid_at else None,
        "paid_by": invoice.paid_by or None,
        "paid_on": invoice.paid_on.isoformat() if invoice.paid_on else None,
        "paid_amount_pence": invoice.paid_amount_pence,
        "payment_reference": invoice.payment_reference or None,
        "credits_invoice": credits_number,
        "pdf_url": f"/api/v1/invoices/{invoice.id}.pdf",
    }


async def invoices_public(
    db: AsyncSession, registration_id: uuid.UUID | None = None, *, group_id: uuid.UUID | None = None
) -> list[dict[str, Any]]:
    """`invoice_public` for each of the registration's (or the group's) invoices and credit notes, oldest first."""
    rows = await invoices_for(db, registration_id, group_id=group_id)
    numbers = {r.id: r.number for r in rows}
    return [
        invoice_public(r, numbers.get(r.credits_invoice_id)) if r.credits_invoice_id else invoice_public(r)
        for r in rows
    ]


# --- group bookings: one invoice, one line per member (conference/groups.py) ---------------------------------------


async def lines_of(db: AsyncSession, invoice: Invoice) -> tuple[list[InvoiceLine], str]:
    """A group document's lines in order, and its group's reference; ([], "") for a single registration's."""
    if invoice.group_id is None:
        return [], ""
    group = await db.get(GroupBooking, invoice.group_id)
    stmt = (
        sa.select(InvoiceLine)
        .where(col(InvoiceLine.invoice_id) == invoice.id)
        .order_by(col(InvoiceLine.position), col(InvoiceLine.delegate_name))
    )
    return list((await db.execute(stmt)).scalars()), group.reference if group else ""


async def issue_group_invoice(
    db: AsyncSession,
    settings: Settings,
    *,
    group: GroupBooking,
    members: Sequence[tuple[Registration, int]],
    ticket: TicketType,
    actor: Actor,
    paid_at: datetime | None = None,
) -> Invoice:
    """One invoice to the group's organisation with a line (and its VAT) per member: `members` pairs each member
    with the net price of their place. `paid_at`: a card payment's receipt, issued paid. Call with the capacity
    lock held, in the transaction that books (or confirms) the members."""
    assert db.in_transaction() and members
    conference = await db.get(Conference, group.conference_id)
    assert conference is not None
    billing = group.billing or {}
    lead = members[0][0]
    invoice = await _new_invoice(
        db,
        settings,
        conference=conference,
        ticket=ticket,
        paid_at=paid_at,
        registration_id=lead.id,
        group_id=group.id,
        billing_organisation=str(billing.get("organisation") or group.organisation)[:200],
        billing_contact=str(billing.get("contact") or group.lead_name)[:120],
        billing_email=str(billing.get("email") or group.lead_email)[:254],
        billing_address=str(billing.get("address") or "")[:1000],
        purchase_order=str(billing.get("purchase_order") or "")[:60],
        buyer_reference=str(billing.get("buyer_reference") or "")[:60],
        delegate_name="",
        description=f"Group booking {group.reference}: {len(members)} × {ticket.name} place"[:300],
        net_pence=0,
    )
    lines = []
    for position, (member, net) in enumerate(members):
        vat = (net * ticket.vat_rate_percent + 50) // 100
        lines.append(
            InvoiceLine(
                invoice_id=invoice.id,
                registration_id=member.id,
                position=position,
                description=_place(conference, ticket),
                delegate_name=member.name,
                delegate_reference=member.reference,
                net_pence=net,
                vat_rate_percent=ticket.vat_rate_percent,
                vat_pence=vat,
                gross_pence=net + vat,
            )
        )
    about = {"group": group.reference, "lines": len(lines)}
    return await _issue(
        db,
        settings,
        invoice=invoice,
        registration=lead,
        actor=actor,
        about=about,
        lines=lines,
        group_reference=group.reference,
    )


async def invoice_group_member(
    db: AsyncSession, settings: Settings, *, registration: Registration, ticket: TicketType, actor: Actor
) -> Invoice | None:
    """A group member given a place later (promoted from the waiting list, approved): an invoice of the group's, to
    its organisation, with their line; None if they are on a line still charged already or pay nothing."""
    assert registration.group_id is not None
    group = await db.get(GroupBooking, registration.group_id)
    assert group is not None
    net = price_of(registration, ticket)
    if net <= 0 or await _open_line(db, registration.id) is not None:
        return None
    return await issue_group_invoice(
        db, settings, group=group, members=[(registration, net)], ticket=ticket, actor=actor
    )


async def _open_line(db: AsyncSession, registration_id: uuid.UUID) -> InvoiceLine | None:
    """The member's line on their group's invoice that is still charged (the invoice issued or paid)."""
    stmt = (
        sa.select(InvoiceLine)
        .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
        .where(
            col(InvoiceLine.registration_id) == registration_id,
            col(InvoiceLine.credited_by_id).is_(None),
            col(Invoice.kind) == "invoice",
            col(Invoice.status).in_(OPEN),
        )
        .limit(1)
    )
    return (await db.execute(stmt)).scalar_one_or_none()


async def _members_charged(db: AsyncSession, invoice: Invoice) -> list[Registration]:
    stmt = (
        sa.select(Registration)
        .join(InvoiceLine, col(InvoiceLine.registration_id) == col(Registration.id))
        .where(col(InvoiceLine.invoice_id) == invoice.id, col(InvoiceLine.credited_by_id).is_(None))
        .order_by(col(InvoiceLine.position))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list((await db.execute(stmt)).scalars())


async def credit_group_line(
    db: AsyncSession, settings: Settings, *, registration: Registration, actor: Actor, reason: str = ""
) -> Invoice | None:
    """A credit note for one member's line of their group's invoice (the member's place, its VAT), or None when the
    line was credited already (or there is none). Call with the conference and member locks held. When every line
    has been credited the invoice itself is marked credited."""
    line = await _open_line(db, registration.id)
    if line is None:
        return None
    invoice = await lock_for_update(db, Invoice, line.invoice_id)
    note = await _credit_note(
        db,
        settings,
        invoice=invoice,
        registration=registration,
        charged=line,
        delegate_name=line.delegate_name,
        actor=actor,
        reason=reason,
        group_id=invoice.group_id,
        buyer_reference=invoice.buyer_reference,
    )
    db.add(
        InvoiceLine(
            invoice_id=note.id,
            registration_id=registration.id,
            description=line.description,
            delegate_name=line.delegate_name,
            delegate_reference=line.delegate_reference,
            net_pence=line.net_pence,
            vat_rate_percent=line.vat_rate_percent,
            vat_pence=line.vat_pence,
            gross_pence=line.gross_pence,
        )
    )
    line.credited_by_id = note.id
    await db.flush()
    remaining = await db.execute(
        sa.select(sa.func.count()).where(
            col(InvoiceLine.invoice_id) == invoice.id, col(InvoiceLine.credited_by_id).is_(None)
        )
    )
    if remaining.scalar_one() == 0:
        invoice.status = "credited"
    await db.flush()
    return note
