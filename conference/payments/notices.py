"""Payment emails composed here (registered with the mail queue on import, like conference/accounts.py's):

- `refund_failed`, to every organiser: a refund Stripe failed, canceled or refused for good, so the delegate has
  not had their money back and somebody must act. It names the booking by reference only and links to its page.
- `late_payment_declined`, to the delegate: a payment that arrived after the hold was released could not be
  honoured for a reason other than the conference being full (mailtext's `late_payment_refunded` says that one).
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core.formats import money
from conference.core.models import Conference, OutboxEmail, Payment, Refund, Registration, UserAccount
from conference.core.settings import Settings
from conference.mail import mailtext
from conference.mail.outbox import queue_email

REFUND_FAILED = "refund_failed"
LATE_PAYMENT_DECLINED = "late_payment_declined"

# What organisers read for Stripe's failure reasons and the refusals we treat as final.
FAILURE_TEXTS = {
    "charge_already_refunded": "the payment had already been refunded in full (for example from Stripe's "
    "Dashboard), so check that the delegate has had the money back",
    "expired_or_canceled_card": "the card has expired or been cancelled",
    "lost_or_stolen_card": "the card was reported lost or stolen",
    "declined": "the card's bank declined the refund",
    "insufficient_funds": "the Stripe balance could not cover the refund",
    "merchant_request": "the refund was cancelled at our request",
    "canceled": "the refund was cancelled in Stripe",
    "stripe_unavailable": "Stripe could not be reached for a long time, so we stopped trying",
}


def failure_text(reason: str) -> str:
    return FAILURE_TEXTS.get(reason, f"Stripe gave the reason {reason or 'unknown'!r}")


async def organiser_addresses(db: AsyncSession, settings: Settings) -> list[str]:
    """Every organiser who can sign in; the seller's contact address when there is none."""
    rows = (
        await db.execute(
            sa.select(col(UserAccount.email))
            .where(col(UserAccount.role) == "organiser", col(UserAccount.disabled_at).is_(None))
            .order_by(col(UserAccount.email_key))
        )
    ).scalars()
    return list(rows) or [settings.invoice_seller_contact]


async def alert_refund_failed(db: AsyncSession, settings: Settings, *, refund: Refund) -> None:
    # No registration_id on the row: an erasure of the delegate must not take the organisers' alert with it, and
    # the alert carries no personal data (the booking's reference, read when it is sent).
    for address in await organiser_addresses(db, settings):
        queue_email(db, settings, kind=REFUND_FAILED, to=address, refund_id=str(refund.id))


async def _refund_failed(db: AsyncSession, settings: Settings, row: OutboxEmail) -> tuple[str, str]:
    refund = await db.get(Refund, uuid.UUID(row.context["refund_id"]))
    registration = await db.get(Registration, refund.registration_id) if refund else None
    if refund is None or registration is None:
        raise LookupError("the refund behind this email no longer exists")
    payment = await db.get(Payment, refund.payment_id)
    amount = money(refund.amount_pence, payment.currency if payment else "GBP")
    link = f"{settings.base_url}/console/registrations/{registration.id}"
    state = "was refused by Stripe" if refund.stripe_refund_id is None else f"is {refund.status} at Stripe"
    return f"Refund failed: {amount} for booking {registration.reference}", (
        f"The refund of {amount} for booking {registration.reference} {state}: "
        f"{failure_text(refund.failure_reason)}.\n\n"
        "The delegate has not had this money back through Stripe. Please refund them another way, or contact "
        "them, and note what you did.\n\n"
        f"The booking: {link}\n"
    )


def queue_late_payment_declined(
    db: AsyncSession, settings: Settings, *, registration: Registration, amount_pence: int, why: str
) -> None:
    queue_email(
        db,
        settings,
        kind=LATE_PAYMENT_DECLINED,
        to=registration.email,
        registration_id=registration.id,
        amount_pence=amount_pence,
        why=why,
    )


_DECLINED_WHY = {
    "ticket_full": "the tickets of the type you chose have all gone",
    "registered_again": "you have since registered again with the same email address, and that booking stands",
}


async def _late_payment_declined(db: AsyncSession, settings: Settings, row: OutboxEmail) -> tuple[str, str]:
    registration = await db.get(Registration, row.registration_id) if row.registration_id else None
    conference = await db.get(Conference, registration.conference_id) if registration else None
    if registration is None or conference is None:
        raise LookupError("registration behind this email no longer exists")
    amount = row.context.get("amount_pence")
    sum_ = money(amount, "GBP") if isinstance(amount, int) else "your payment"
    why = _DECLINED_WHY.get(str(row.context.get("why")), "we could no longer give you this place")
    event = conference.name
    return f"{event}: refund of {sum_} ({registration.reference})", (
        f"Dear {registration.name},\n\n"
        f"Your payment arrived after the time we held your place had run out, and {why}, so we could not "
        f"honour it. We are refunding {sum_} in full to the card you paid with; it usually shows within 5 to 10 "
        "working days.\n"
        f"\nBooking reference: {registration.reference}\n\n{event}\n"
    )


mailtext.register_kind(REFUND_FAILED, _refund_failed)
mailtext.register_kind(LATE_PAYMENT_DECLINED, _late_payment_declined)
