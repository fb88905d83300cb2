"""Invoice and credit-note emails: to the paying organisation's billing contact, with the document attached."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from conference.core import formats
from conference.core.formats import money
from conference.core.group_models import InvoiceLine
from conference.core.models import Conference, Invoice, OutboxEmail, Registration
from conference.core.settings import Settings
from conference.invoices.invoicing import INVOICE_KINDS, lines_of, pdf_for
from conference.mail import mailtext


async def compose(db: AsyncSession, settings: Settings, row: OutboxEmail) -> mailtext.Composed:
    registration = await db.get(Registration, row.registration_id) if row.registration_id else None
    conference = await db.get(Conference, registration.conference_id) if registration else None
    invoice, pdf = await pdf_for(db, settings, uuid.UUID(row.context["invoice_id"]))
    lines, group_reference = await lines_of(db, invoice)
    subject, body = _compose_invoice(row, invoice, registration, conference)
    if lines:
        # A group's invoice (a line per member) or a credit note for one member's line.
        subject, body = _group_wording(row, invoice, subject, body, lines, group_reference)
    return subject, body, (f"{invoice.number}.pdf", pdf)


def install() -> None:
    """Register the composers with the mail queue (called by the composition roots: app and CLI)."""
    for kind in INVOICE_KINDS:
        mailtext.register_kind(kind, compose)


def _compose_invoice(
    row: OutboxEmail, invoice: Invoice, reg: Registration | None, conf: Conference | None
) -> tuple[str, str]:
    # To the billing contact, who is not the delegate: no manage link, which would let them change the booking.
    if reg is None or conf is None:
        raise LookupError("registration behind this email no longer exists")
    event = conf.name
    greeting = f"Dear {invoice.billing_contact},\n\n"
    details = f"Delegate: {reg.name}\nBooking reference: {reg.reference}\n" + (
        f"Purchase order: {invoice.purchase_order}\n" if invoice.purchase_order else ""
    )
    if invoice.paid_by == "card":
        return _compose_card(row, invoice, reg, event, greeting, details)
    what = "credit note" if row.kind == "credit_note" else "invoice"
    footer = f"\nIf you have a question about this {what}, reply to this email.\n\n{event}\n"
    gross = money(invoice.gross_pence, invoice.currency)
    vat = money(invoice.vat_pence, invoice.currency)
    if row.kind == "invoice":
        due = f"Due date: {formats.day(invoice.due_on)}\n" if invoice.due_on else ""
        return f"{event}: invoice {invoice.number} ({reg.reference})", (
            greeting
            + f"Please find attached invoice {invoice.number} for a place at {event}.\n\n"
            + details
            + f"Amount due: {gross} (including VAT of {vat})\n"
            + due
            + f"\nPlease pay by BACS, quoting {invoice.number} as the payment reference; the bank details are on "
            "the invoice.\n" + footer
        )
    credited = row.context.get("credits", "")
    reason = row.context.get("reason", "")
    if row.context.get("was_paid"):
        money_line = (
            f"We will refund {gross} to the account invoice {credited} was paid from within 14 days.\n"
        )
    else:
        money_line = f"Nothing is now due on invoice {credited}: please do not pay it.\n"
    return f"{event}: credit note {invoice.number} for invoice {credited} ({reg.reference})", (
        greeting + f"Please find attached credit note {invoice.number}, which cancels invoice {credited} "
        f"({gross}) in full.\n\n"
        + (f"Reason: {reason}\n\n" if reason else "")
        + details
        + "\n"
        + money_line
        + footer
    )


def _group_wording(
    row: OutboxEmail,
    invoice: Invoice,
    subject: str,
    body: str,
    lines: list[InvoiceLine],
    group_reference: str,
) -> tuple[str, str]:
    """The single-place wording, turned to a group's: its reference, every member named, a line credited."""
    reg_reference = next((line.delegate_reference for line in lines if line.delegate_reference), "")
    named = "\n".join(f"  {line.delegate_name} ({line.delegate_reference})" for line in lines)
    for line in body.splitlines():
        if line.startswith("Delegate: "):
            body = body.replace(line + "\n", f"Group booking: {group_reference}\nDelegates:\n{named}\n", 1)
        elif line.startswith("Booking reference: "):
            body = body.replace(line + "\n", "", 1)
    if invoice.kind == "credit_note":
        body = body.replace("in full.", f"for {lines[0].delegate_name}'s place only.", 1)
    body = body.replace("for a place at", f"for {len(lines)} places at", 1)
    body = body.replace("for your place at", f"for {len(lines)} places at", 1)
    if reg_reference:
        subject = subject.replace(f"({reg_reference})", f"({group_reference})")
    return subject, body


def _compose_card(
    row: OutboxEmail, invoice: Invoice, reg: Registration, event: str, greeting: str, details: str
) -> tuple[str, str]:
    # To the delegate who paid by card: their receipt, then the credit note when the payment is refunded.
    gross = money(invoice.gross_pence, invoice.currency)
    vat = money(invoice.vat_pence, invoice.currency)
    footer = "\nIf you have a question about this, reply to this email.\n\n" + event + "\n"
    if row.kind == "invoice":
        return f"{event}: receipt and VAT invoice {invoice.number} ({reg.reference})", (
            greeting
            + f"Thank you for your payment. Please find attached invoice {invoice.number} for your place at "
            f"{event}, paid in full by card.\n\n"
            + details
            + f"Amount paid: {gross} (including VAT of {vat})\nNothing more is due.\n"
            + footer
        )
    credited = row.context.get("credits", "")
    return f"{event}: credit note {invoice.number} for invoice {credited} ({reg.reference})", (
        greeting
        + f"Please find attached credit note {invoice.number}, which cancels invoice {credited} ({gross}) in "
        "full.\n\n" + details + f"\nWe are refunding {gross} to the card you paid with.\n" + footer
    )
