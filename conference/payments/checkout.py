"""Prices and the Stripe Checkout page: a card hold's session, created once per attempt and reused while open.

An attempt is one Payment row and one Idempotency-Key (`checkout-{payment id}`). Stripe stores its first answer
under the key, errors included, and replays it to every retry; so an attempt whose create got an answer that
was an error is over, and the next try opens a new attempt with a new key (and a fresh expiry). Only when no
answer came back (a connection error) is the same key tried again: Stripe may have made the session, and the
key makes sure it is not made twice.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import stripe

from conference.core import errors
from conference.core.code_models import price_of
from conference.core.db import Database, lock_for_update
from conference.core.formats import conference_zone, when
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
from conference.payments.records import group_members, lock_conference, payments_of

if TYPE_CHECKING:
    from stripe.params.checkout import SessionCreateParams

log = logging.getLogger("conference.payments")

# Stripe accepts a Checkout Session's expires_at from 30 minutes to 24 hours after it is created; its clock may
# differ from ours, so keep a margin at both ends.
STRIPE_MIN_EXPIRY = timedelta(minutes=30)
STRIPE_MAX_EXPIRY = timedelta(hours=24)
CLOCK_MARGIN = timedelta(minutes=1)
# Attempts per booking: each new one may move the hold on (to at least 31 minutes from then), so this bounds how
# long a place can be held by failing creates.
MAX_CHECKOUT_ATTEMPTS = 5
# Card only: no delayed methods, so a place is never held for days while a bank debit clears. (A tuple so tests
# can model a deployment that accepts a delayed method.)
PAYMENT_METHODS: tuple[str, ...] = ("card",)
# Stripe's minimum charge (docs.stripe.com/currencies): below it Checkout refuses the session.
MIN_CHARGE_PENCE = {"gbp": 30, "eur": 50, "usd": 50}


def vat_pence(net_pence: int, rate_percent: int) -> int:
    # Half-up to the penny, in integers (as the invoice does).
    return (net_pence * rate_percent + 50) // 100


def gross_pence(ticket: TicketType) -> int:
    return ticket.price_pence + vat_pence(ticket.price_pence, ticket.vat_rate_percent)


def gross_of(registration: Registration, ticket: TicketType) -> int:
    """What this registration's place costs with VAT: its own price when a code set one (places.price_of)."""
    net = price_of(registration, ticket)
    return net + vat_pence(net, ticket.vat_rate_percent)


@dataclass(frozen=True)
class Checkout:
    url: str | None
    error: str | None = None


def session_expiry(hold_expires_at: datetime | None, now: datetime) -> datetime:
    """When a new attempt's session (and so the hold) ends: the hold as it stands, moved on to Stripe's minimum
    if it is closer than that, and never past Stripe's maximum."""
    earliest = now + STRIPE_MIN_EXPIRY + CLOCK_MARGIN
    latest = now + STRIPE_MAX_EXPIRY - CLOCK_MARGIN
    return min(max(hold_expires_at or earliest, earliest), latest)


async def start_checkout(
    database: Database, settings: Settings, gateway: Gateway, registration_id: uuid.UUID
) -> Checkout:
    """The Checkout page for a registration holding a place until it pays by card: reused while it is open.

    Safe to call again (retries, a second tab): an open session is reused; an attempt that got no answer is
    retried under its own key while its expiry is still acceptable to Stripe; otherwise a new attempt starts.
    """
    async with database.transaction() as db:
        conference = await lock_conference(db)
        registration = await lock_for_update(db, Registration, registration_id)
        if registration.status != Status.pending_payment or registration.payment_method != PaymentMethod.card:
            raise errors.DomainError("This registration has no card payment outstanding.")
        now = utcnow()
        if registration.hold_expires_at is not None and registration.hold_expires_at <= now:
            # The payment worker is about to release it; a new page now would outlive the place.
            raise errors.DomainError("This booking's hold has ended; no payment is outstanding.")
        payments = await payments_of(db, registration.id)
        open_ = [p for p in payments if p.status == "open" and p.checkout_url]
        if open_:
            return Checkout(open_[-1].checkout_url)
        ticket = await db.get(TicketType, registration.ticket_type_id)
        assert ticket is not None
        # A group booking pays in one Checkout for every member whose place is held for it; their holds move
        # together (conference/groups.py).
        holders = (
            await group_members(db, registration.group_id, Status.pending_payment)
            if registration.group_id is not None
            else [registration]
        )
        payment = next((p for p in reversed(payments) if p.status == "creating"), None)
        if payment is not None and payment.expires_at < now + STRIPE_MIN_EXPIRY + CLOCK_MARGIN:
            # Its create got no answer, but its expiry is now too close for Stripe to accept it: a retry under
            # its key could only fail. (Had Stripe made that session, nobody ever got its address.)
            payment.status = "failed"
            payment = None
        if payment is None:
            if len(payments) >= MAX_CHECKOUT_ATTEMPTS:
                raise errors.DomainError(
                    "Too many payment attempts for this booking; please contact the organisers."
                )
            amount, currency = sum(gross_of(r, ticket) for r in holders), ticket.currency.lower()
            if amount < MIN_CHARGE_PENCE.get(currency, 0):
                raise errors.DomainError(
                    "This ticket costs less than the card processor's minimum charge; please contact the "
                    "organisers."
                )
            # The session must live at least 30 minutes; the hold moves with it so both end together.
            expires = session_expiry(registration.hold_expires_at, now)
            for holder in holders:
                holder.hold_expires_at, holder.updated_at = expires, now
            payment = Payment(
                registration_id=registration.id,
                attempt=len(payments) + 1,
                amount_pence=amount,
                currency=currency,
                expires_at=expires,
                token_version=registration.token_version,
            )
            db.add(payment)
            await db.flush()
        params = _checkout_params(settings, conference, registration, ticket, payment, places=len(holders))
        payment_id = payment.id
        retry = _retry_message(conference, registration.hold_expires_at)
    try:
        session = await gateway.create_checkout(params, idempotency_key=f"checkout-{payment_id}")
    except stripe.APIConnectionError:
        # No answer: Stripe may or may not have made the session. The next try replays this key.
        log.warning("checkout for payment %s got no answer from Stripe", payment_id)
        return Checkout(None, retry)
    except stripe.StripeError as exc:
        # An answer, and Stripe keeps it under this key: this attempt is over; the next try starts another.
        log.warning("checkout for payment %s failed: %s", payment_id, type(exc).__name__)
        await _attempt_failed(database, payment_id)
        return Checkout(None, retry)
    async with database.transaction() as db:
        await lock_conference(db)
        registration = await lock_for_update(db, Registration, registration_id)
        payment = await lock_for_update(db, Payment, payment_id)
        payment.checkout_session_id = session.id
        payment.checkout_url = session.url
        if payment.status in {
            "creating",
            "failed",
        }:  # failed: a later try gave up on it, but the session exists
            payment.status = "open"
        still_held = registration.status == Status.pending_payment
    if not still_held:
        # The hold was released while Stripe answered: close the page we just opened.
        await expire_quietly(gateway, session.id)
        raise errors.DomainError("This booking's hold has ended; no payment is outstanding.")
    return Checkout(session.url)


def _retry_message(conference: Conference, hold_until: datetime | None) -> str:
    held = f"Your place is held until {when(hold_until, conference_zone(conference))}" if hold_until else ""
    return (
        "Card payment could not be started just now. "
        + (f"{held}: " if held else "Your place is held: ")
        + "try again in a minute from your booking page (the link is in your confirmation email)."
    )


async def _attempt_failed(database: Database, payment_id: uuid.UUID) -> None:
    async with database.transaction() as db:
        payment = await lock_for_update(db, Payment, payment_id)
        if payment.status == "creating":
            payment.status = "failed"


def _checkout_params(
    settings: Settings,
    conference: Conference,
    registration: Registration,
    ticket: TicketType,
    payment: Payment,
    *,
    places: int = 1,
) -> SessionCreateParams:
    metadata = {
        "registration_id": str(registration.id),
        "reference": registration.reference,
        "payment_id": str(payment.id),
    }
    return {
        "mode": "payment",
        # API 2026-09-30.endive replaced payment_method_types with this filter (tests/stripe_fake.py checks it).
        "allowed_payment_method_types": list(PAYMENT_METHODS),
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": payment.currency,
                    "unit_amount": payment.amount_pence,
                    "product_data": {
                        "name": f"{conference.name}: {ticket.name}"
                        + (f" × {places} (group booking)" if places > 1 else "")
                        + " (incl. VAT)"
                    },
                },
            }
        ],
        "customer_email": registration.email,
        "client_reference_id": str(registration.id),
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "expires_at": int(payment.expires_at.timestamp()),
        # Stripe fills in {CHECKOUT_SESSION_ID} in the success URL only; the cancel URL names our own payment.
        "success_url": f"{settings.base_url}/payment/return?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{settings.base_url}/payment/return?payment={payment.id}&cancelled=1",
    }
