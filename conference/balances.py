"""What each registration owes: amounts outstanding and payment states (the registrations list, the dashboard)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from conference.core.models import Invoice, Payment, PaymentMethod, Refund, Registration, Status, TicketType
from conference.payments import checkout


def issued_invoices_pence() -> Any:
    """Per registration (correlated): the gross of its invoices issued and neither paid nor credited."""
    return (
        sa.select(sa.func.coalesce(sa.func.sum(Invoice.gross_pence), 0))
        .where(
            col(Invoice.registration_id) == Registration.id,
            col(Invoice.kind) == "invoice",
            col(Invoice.status) == "issued",
        )
        .correlate(Registration)
        .scalar_subquery()
    )


def outstanding_pence(r: Registration, ticket: TicketType, issued_invoices_pence: int) -> int:
    """What the delegate's side still owes: unpaid invoices (an invoice that stands after a late cancellation is
    still owed), or the card payment a held place waits for."""
    if r.payment_method == PaymentMethod.invoice:
        return int(issued_invoices_pence)
    if r.payment_method == PaymentMethod.card and r.status == Status.pending_payment:
        return checkout.gross_of(r, ticket)
    return 0


def _invoice_exists(*conditions: Any) -> Any:
    return sa.exists().where(col(Invoice.registration_id) == Registration.id, *conditions)


def payment_state_filter(state: str) -> Any:
    if state == "outstanding":
        return sa.or_(
            sa.and_(
                col(Registration.payment_method) == PaymentMethod.invoice,
                _invoice_exists(col(Invoice.kind) == "invoice", col(Invoice.status) == "issued"),
            ),
            sa.and_(
                col(Registration.payment_method) == PaymentMethod.card,
                col(Registration.status) == Status.pending_payment,
            ),
        )
    if state == "paid":
        return sa.or_(
            _invoice_exists(col(Invoice.kind) == "invoice", col(Invoice.status) == "paid"),
            sa.exists().where(
                col(Payment.registration_id) == Registration.id,
                col(Payment.status) == "paid",
                col(Payment.refunded_pence) < Payment.amount_pence,
            ),
        )
    if state == "refunded":
        return sa.or_(
            _invoice_exists(col(Invoice.kind) == "credit_note"),
            sa.exists().where(col(Refund.registration_id) == Registration.id),
        )
    assert state == "free"
    return col(Registration.payment_method) == PaymentMethod.none
