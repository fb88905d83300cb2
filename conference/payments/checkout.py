"""Prices and the Stripe Checkout page: a card hold's session, created once per attempt and reused while open."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import stripe

from conference.core import errors
from conference.core.db import Database, lock_for_update
from conference.core.models import (
    Conference,
    Payment,
    PaymentMethod,
    Registration,
    Status,
    TicketType,
    utcnow,
)
from conference.core.settings import Settings
from conference.payments.gateway import Gateway, expire_quietly
from conference.payments.records import lock_conference, payments_of

if TYPE_CHECKING:
    from stripe.params.checkout import SessionCreateParams

log = logging.getLogger("conference.payments")

# Stripe refuses a Checkout Session that expires sooner than 30 minutes after it is created; its clock may
# differ from ours, so keep a margin.
STRIPE_MIN_EXPIRY = timedelta(minutes=30)
CLOCK_MARGIN = timedelta(minutes=1)
MAX_CHECKOUT_ATTEMPTS = 3


def vat_pence(net_pence: int, rate_percent: int) -> int:
    # Half-up to the penny, in integers (as the invoice does).
    return (net_pence * rate_percent + 50) // 100


def gross_pence(ticket: TicketType) -> int:
    return ticket.price_pence + vat_pence(ticket.price_pence, ticket.vat_rate_percent)


@dataclass(frozen=True)
class Checkout:
    url: str | None
    error: str | None = None


async def start_checkout(
    database: Database, settings: Settings, gateway: Gateway, registration_id: uuid.UUID
) -> Checkout:
    """The Checkout page for a registration holding a place until it pays by card: reused while it is open.

    Safe to call again (retries, a second tab): an open session is reused, and a new one is created under a
    key derived from its attempt, so Stripe answers a repeated create with the same session.
    """
    async with database.transaction() as db:
        conference = await lock_conference(db)
        registration = await lock_for_update(db, Registration, registration_id)
        if registration.status != Status.pending_payment or registration.payment_method != PaymentMethod.card:
            raise errors.DomainError("This registration has no card payment outstanding.")
        payments = await payments_of(db, registration.id)
        open_ = [p for p in payments if p.status == "open" and p.checkout_url]
        if open_:
            return Checkout(open_[-1].checkout_url)
        creating = [p for p in payments if p.status == "creating"]
        if creating:
            payment = creating[-1]  # a create that failed or was cut off: the same key replays it
        else:
            if len(payments) >= MAX_CHECKOUT_ATTEMPTS:
                raise errors.DomainError(
                    "Too many payment attempts for this booking; please contact the organisers."
                )
            now = utcnow()
            # The session must live at least 30 minutes; the hold moves with it so both end together.
            expires = max(registration.hold_expires_at or now, now + STRIPE_MIN_EXPIRY + CLOCK_MARGIN)
            registration.hold_expires_at = expires
            ticket = await db.get(TicketType, registration.ticket_type_id)
            assert ticket is not None
            payment = Payment(
                registration_id=registration.id,
                attempt=len(payments) + 1,
                amount_pence=gross_pence(ticket),
                currency=ticket.currency.lower(),
                expires_at=expires,
                token_version=registration.token_version,
            )
            db.add(payment)
            await db.flush()
        ticket = await db.get(TicketType, registration.ticket_type_id)
        assert ticket is not None
        params = _checkout_params(settings, conference, registration, ticket, payment)
        payment_id = payment.id
    try:
        session = await gateway.create_checkout(params, idempotency_key=f"checkout-{payment_id}")
    except stripe.StripeError as exc:
        log.warning("checkout for payment %s failed: %s", payment_id, type(exc).__name__)
        return Checkout(
            None, "Card payment is unavailable at the moment; your place is held. Try again shortly."
        )
    async with database.transaction() as db:
        await lock_conference(db)
        registration = await lock_for_update(db, Registration, registration_id)
        payment = await lock_for_update(db, Payment, payment_id)
        payment.checkout_session_id = session.id
        payment.checkout_url = session.url
        payment.status = "open" if payment.status == "creating" else payment.status
        still_held = registration.status == Status.pending_payment
    if not still_held:
        # The hold was released while Stripe answered: close the page we just opened.
        await expire_quietly(gateway, session.id)
        raise errors.DomainError("This booking's hold has ended; no payment is outstanding.")
    return Checkout(session.url)


def _checkout_params(
    settings: Settings,
    conference: Conference,
    registration: Registration,
    ticket: TicketType,
    payment: Payment,
) -> SessionCreateParams:
    metadata = {
        "registration_id": str(registration.id),
        "reference": registration.reference,
        "payment_id": str(payment.id),
    }
    # payment_method_types is what we have always sent (tests/stripe_fake.py checks it); stripe 16's types (API
    # version "endive") know only allowed_payment_method_types.
    return {  # type: ignore[typeddict-unknown-key]  # payment_method_types: see the comment above
        "mode": "payment",
        "payment_method_types": ["card"],  # no delayed methods: a place is not held for days
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": payment.currency,
                    "unit_amount": payment.amount_pence,
                    "product_data": {"name": f"{conference.name}: {ticket.name} (incl. VAT)"},
                },
            }
        ],
        "customer_email": registration.email,
        "client_reference_id": str(registration.id),
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "expires_at": int(payment.expires_at.timestamp()),
        "success_url": f"{settings.base_url}/payment/return?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{settings.base_url}/payment/return?session_id={{CHECKOUT_SESSION_ID}}&cancelled=1",
    }
