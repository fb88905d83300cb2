"""What a group booking pays: one invoice for the members that hold a place (a line each), or one card payment
for those whose place waits for it."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference import places
from conference.core.audit import Actor
from conference.core.group_models import GroupBooking, InvoiceLine
from conference.core.models import HOLDING, Invoice, PaymentMethod, Status, TicketType
from conference.core.settings import Settings
from conference.group_views import members_of
from conference.invoices import invoicing
from conference.payments import checkout


async def invoice_placed(
    db: AsyncSession, settings: Settings, *, group: GroupBooking, ticket: TicketType, actor: Actor
) -> Invoice | None:
    """Invoice the group's members that now hold a decided place and are not on an invoice yet (one invoice for
    them all, a line each). Card groups get their receipt when the payment arrives (`confirm_paid`)."""
    if group.payment_method != PaymentMethod.invoice.value:
        return None
    on_lines = set(
        (
            await db.execute(
                sa.select(col(InvoiceLine.registration_id))
                .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
                .where(col(Invoice.group_id) == group.id, col(Invoice.kind) == "invoice")
            )
        ).scalars()
    )
    due = [
        (r, places.price_of(r, ticket))
        for r in await members_of(db, group.id)
        if r.status in HOLDING and r.status not in places.UNDECIDED and r.id not in on_lines
    ]
    due = [(r, net) for r, net in due if net > 0]
    if not due:
        return None
    return await invoicing.issue_group_invoice(
        db, settings, group=group, members=due, ticket=ticket, actor=actor
    )


async def group_checkout_amount(db: AsyncSession, group: GroupBooking) -> int:
    """What the group's card payment charges: each member's place with its VAT (pence)."""
    ticket = await db.get(TicketType, group.ticket_type_id)
    assert ticket is not None
    members = [r for r in await members_of(db, group.id) if r.status == Status.pending_payment]
    return sum(
        places.price_of(r, ticket) + checkout.vat_pence(places.price_of(r, ticket), ticket.vat_rate_percent)
        for r in members
    )
