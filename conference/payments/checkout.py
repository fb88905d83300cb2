"""Card payments with Stripe Checkout: holds that expire, signed webhooks, one idempotent fulfilment, refunds.

The rules (../shared/notes/stripe.md):
- A paid place is held as `pending_payment` until `hold_expires_at`; the Checkout Session expires then too.
- Stripe is called outside our transactions; every state change happens in one transaction that takes the
  capacity lock (conference) and then the registration's, so the expiry task, webhooks and the landing page
  can race without selling a place twice.
- `fulfil` re-reads the session from Stripe (the payload may be stale or out of order) and changes nothing
  twice. A payment that lands after its hold was released confirms the place if one is free, and is
  refunded automatically otherwise.
- Refunds are decided inside the transaction (a `refund` row) and sent to Stripe after it, with an
  idempotency key per row, retried by the payment worker until Stripe answers.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
import stripe
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from conference.core import audit, background, errors, hooks
from conference.core.db import Database, lock_for_update
from conference.core.models import (
    HOLDING,
    Conference,
    Payment,
    PaymentMethod,
    Refund,
    Registration,
    Status,
    StripeEvent,
    TicketType,
    utcnow,
)
from conference.core.settings import Settings
from conference.mail.outbox import queue_email
from conference.places import get_conference, promote_waitlist

log = logging.getLogger("conference.payments")

# Stripe refuses a Checkout Session that expires sooner than 30 minutes after it is created; its clock may
# differ from ours, so keep a margin.
STRIPE_MIN_EXPIRY = timedelta(minutes=30)
CLOCK_MARGIN = timedelta(minutes=1)
MAX_CHECKOUT_ATTEMPTS = 3
REFUND_LEASE = timedelta(minutes=2)


def vat_pence(net_pence: int, rate_percent: int) -> int:
    # Half-up to the penny, in integers (as the invoice does).
    return (net_pence * rate_percent + 50) // 100


def gross_pence(ticket: TicketType) -> int:
    return ticket.price_pence + vat_pence(ticket.price_pence, ticket.vat_rate_percent)


def card_available(settings: Settings) -> bool:
    return settings.stripe_secret_key is not None


def checkout_origins(settings: Settings) -> tuple[str, ...]:
    """Where the registration form may send the delegate to pay (the pages' Content-Security-Policy)."""
    if not card_available(settings):
        return ()
    if settings.stripe_api_base:  # a local stand-in for Stripe (tests, demos) serves the page itself
        parts = urlsplit(settings.stripe_api_base)
        return (f"{parts.scheme}://{parts.netloc}",)
    return ("https://checkout.stripe.com",)


class Gateway:
    """The Stripe calls this service makes, through the official SDK's client (its async methods)."""

    def __init__(self, settings: Settings) -> None:
        assert settings.stripe_secret_key is not None
        base = {"api": settings.stripe_api_base} if settings.stripe_api_base else None
        self.http = stripe.HTTPXClient()  # async, on the httpx the service already depends on
        self.client = stripe.StripeClient(
            str(settings.stripe_secret_key),
            base_addresses=base,  # type: ignore[arg-type]
            max_network_retries=2,  # connection errors, 409 and 5xx; our idempotency keys make retries safe
            http_client=self.http,
        )

    async def create_checkout(self, params: dict[str, Any], idempotency_key: str) -> Any:
        return await self.client.v1.checkout.sessions.create_async(
            params=params,
            options={"idempotency_key": idempotency_key},  # type: ignore[arg-type]
        )

    async def retrieve(self, session_id: str) -> Any:
        return await self.client.v1.checkout.sessions.retrieve_async(session_id)

    async def expire(self, session_id: str) -> Any:
        return await self.client.v1.checkout.sessions.expire_async(session_id)

    async def refund(self, params: dict[str, Any], idempotency_key: str) -> Any:
        return await self.client.v1.refunds.create_async(
            params=params,
            options={"idempotency_key": idempotency_key},  # type: ignore[arg-type]
        )

    async def close(self) -> None:
        await self.http.close_async()  # type: ignore[no-untyped-call]


# --- Checkout ----------------------------------------------------------------------------------------------


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
        conference = await _lock_conference(db)
        registration = await lock_for_update(db, Registration, registration_id)
        if registration.status != Status.pending_payment or registration.payment_method != PaymentMethod.card:
            raise errors.DomainError("This registration has no card payment outstanding.")
        payments = await _payments(db, registration.id)
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
        await _lock_conference(db)
        registration = await lock_for_update(db, Registration, registration_id)
        payment = await lock_for_update(db, Payment, payment_id)
        payment.checkout_session_id = session.id
        payment.checkout_url = session.url
        payment.status = "open" if payment.status == "creating" else payment.status
        still_held = registration.status == Status.pending_payment
    if not still_held:
        # The hold was released while Stripe answered: close the page we just opened.
        await _expire_quietly(gateway, session.id)
        raise errors.DomainError("This booking's hold has ended; no payment is outstanding.")
    return Checkout(session.url)


def _checkout_params(
    settings: Settings,
    conference: Conference,
    registration: Registration,
    ticket: TicketType,
    payment: Payment,
) -> dict[str, Any]:
    metadata = {
        "registration_id": str(registration.id),
        "reference": registration.reference,
        "payment_id": str(payment.id),
    }
    return {
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


async def _expire_quietly(gateway: Gateway, session_id: str) -> Any | None:
    """Expire an open session; if it is not open any more, return it as Stripe has it."""
    try:
        return await gateway.expire(session_id)
    except stripe.InvalidRequestError:
        return await gateway.retrieve(session_id)


# --- Fulfilment --------------------------------------------------------------------------------------------


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
        if event is not None and not await _first_delivery(db, event):
            return Outcome("duplicate")
        payment = await payment_for(db, session_id)
        if payment is None:
            log.info("checkout session %s is not one of ours", session_id)
            return Outcome("ignored")
        conference = await _lock_conference(db)
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
        if registration.status == Status.pending_payment:
            _confirm(db, settings, registration)
            return Outcome("confirmed", registration.id)
        if registration.status == Status.confirmed:
            # Paid twice (two tabs): keep one payment, refund this one.
            _request_refund(db, payment, registration, reason="duplicate")
            return Outcome("confirmed", registration.id)
        late = registration.status == Status.cancelled and registration.cancel_reason in {
            "hold_expired",
            "payment_failed",
        }
        if late and await _place_free(db, conference):
            # The hold ran out before the money arrived, but a place is free: honour the payment.
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
            return Outcome("confirmed", registration.id)
        # Paid after the hold was released and the event is full, or after the delegate cancelled: refund it all.
        _request_refund(db, payment, registration, reason="late_payment" if late else "cancelled")
        queue_email(
            db,
            settings,
            kind="late_payment_refunded" if late else "refunded",
            to=registration.email,
            registration_id=registration.id,
            amount_pence=payment.amount_pence,
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
        p for p in await _payments(db, registration.id) if p.id != payment.id and p.status in {"open", "paid"}
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


async def _first_delivery(db: AsyncSession, event: Any) -> bool:
    """Record the event in this transaction; False if it was handled before (Stripe delivers at least once)."""
    try:
        async with db.begin_nested():
            db.add(StripeEvent(id=event.id, type=event.type))
            await db.flush()
    except IntegrityError:
        return False
    return True


async def _place_free(db: AsyncSession, conference: Conference) -> bool:
    held = await db.scalar(
        sa.select(sa.func.count()).where(
            Registration.conference_id == conference.id, Registration.status.in_(HOLDING)
        )  # type: ignore[attr-defined]
    )
    return int(held or 0) < conference.capacity


async def _lock_conference(db: AsyncSession) -> Conference:
    return await get_conference(db, for_update=True)


async def _payments(db: AsyncSession, registration_id: uuid.UUID) -> list[Payment]:
    stmt = sa.select(Payment).where(Payment.registration_id == registration_id).order_by(Payment.attempt)
    return list((await db.execute(stmt)).scalars())


async def payment_for(db: AsyncSession, session_id: str) -> Payment | None:
    return (
        await db.execute(sa.select(Payment).where(Payment.checkout_session_id == session_id))
    ).scalar_one_or_none()


# --- Webhooks ----------------------------------------------------------------------------------------------

FULFIL_EVENTS = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
}
REFUND_EVENTS = {"refund.created", "refund.updated", "refund.failed", "charge.refunded"}


def verify(settings: Settings, payload: bytes, signature: str) -> Any:
    """The event, if Stripe signed this exact body recently; errors.InvalidSignature otherwise."""
    if settings.stripe_webhook_secret is None:
        raise errors.NotFound()
    try:
        return stripe.Webhook.construct_event(payload, signature, str(settings.stripe_webhook_secret))
    except (stripe.SignatureVerificationError, ValueError):
        raise errors.InvalidSignature() from None


async def handle_event(database: Database, settings: Settings, gateway: Gateway, event: Any) -> Outcome:
    if event.type in FULFIL_EVENTS:
        return await fulfil(database, settings, gateway, event.data.object.id, event=event)
    if event.type in REFUND_EVENTS:
        return await _refund_event(database, event)
    return Outcome("ignored")


async def _refund_event(database: Database, event: Any) -> Outcome:
    obj = event.data.object
    refund_ids = (
        [obj.id]
        if obj.object == "refund"
        else [r.id for r in getattr(getattr(obj, "refunds", None), "data", [])]
    )
    async with database.transaction() as db:
        if not await _first_delivery(db, event):
            return Outcome("duplicate")
        for refund_id in refund_ids:
            row = (
                await db.execute(sa.select(Refund).where(Refund.stripe_refund_id == refund_id))
            ).scalar_one_or_none()
            if row is not None and obj.object == "refund" and row.status != "succeeded":
                row.status, row.updated_at = ("failed" if obj.status == "failed" else obj.status), utcnow()
    return Outcome("ignored")


# --- Refunds -----------------------------------------------------------------------------------------------


def _request_refund(
    db: AsyncSession, payment: Payment, registration: Registration, *, reason: str, amount: int | None = None
) -> Refund:
    amount = payment.amount_pence - payment.refunded_pence if amount is None else amount
    payment.refunded_pence += amount
    refund = Refund(
        payment_id=payment.id, registration_id=registration.id, amount_pence=amount, reason=reason
    )
    db.add(refund)
    db.add(
        audit.entry(
            "conference.payment.refund_requested",
            actor=audit.SYSTEM,
            subject=registration.reference,
            reason=reason,
            amount_pence=amount,
        )
    )
    return refund


async def refund_on_cancel(db: AsyncSession, settings: Settings, registration: Registration) -> None:
    """Cancellation policy for card payments: a full refund until the conference's date, none after it."""
    if registration.cancel_reason not in {"delegate", "organiser"}:
        return
    conference = await db.get(Conference, registration.conference_id)
    assert conference is not None
    if conference.refund_full_until is not None and utcnow() > conference.refund_full_until:
        await audit.record(
            db,
            "conference.payment.no_refund",
            actor=audit.SYSTEM,
            subject=registration.reference,
            reason="after refund date",
        )
        return
    for payment in await _payments(db, registration.id):
        if payment.status == "paid" and payment.refunded_pence < payment.amount_pence:
            _request_refund(db, payment, registration, reason="cancelled")
            queue_email(
                db,
                settings,
                kind="refunded",
                to=registration.email,
                registration_id=registration.id,
                amount_pence=payment.amount_pence,
            )


async def send_due_refunds(database: Database, gateway: Gateway, *, limit: int = 20) -> int:
    """Send requested refunds to Stripe. Claimed with a lease so two workers never send the same one."""
    now = utcnow()
    async with database.transaction() as db:
        rows = list(
            (
                await db.execute(
                    sa.select(Refund, Payment.payment_intent_id)
                    .join(Payment, Payment.id == Refund.payment_id)
                    .where(Refund.status == "requested", Refund.next_attempt_at <= now)
                    .order_by(Refund.created_at)
                    .limit(limit)
                    .with_for_update(of=Refund, skip_locked=True)
                )
            ).all()
        )
        for refund, _ in rows:
            refund.next_attempt_at, refund.attempts = now + REFUND_LEASE, refund.attempts + 1
        claimed = [
            (r.id, r.amount_pence, r.reason, r.registration_id, intent, r.attempts) for r, intent in rows
        ]
    for refund_id, amount, reason, registration_id, intent, attempts in claimed:
        params = {
            "payment_intent": intent,
            "amount": amount,
            "reason": "duplicate" if reason == "duplicate" else "requested_by_customer",
            "metadata": {
                "refund_id": str(refund_id),
                "registration_id": str(registration_id),
                "reason": reason,
            },
        }
        try:
            answer = await gateway.refund(params, idempotency_key=f"refund-{refund_id}")
        except stripe.StripeError as exc:
            delay = min(30 * 2 ** (attempts - 1), 3600)
            async with database.transaction() as db:
                await db.execute(
                    sa.update(Refund)
                    .where(Refund.id == refund_id)
                    .values(
                        next_attempt_at=utcnow() + timedelta(seconds=delay),
                        last_error=type(exc).__name__[:500],
                    )
                )
            log.warning("refund %s attempt %d failed: %s", refund_id, attempts, type(exc).__name__)
            continue
        async with database.transaction() as db:
            await db.execute(
                sa.update(Refund)
                .where(Refund.id == refund_id)
                .values(
                    stripe_refund_id=answer.id,
                    status="succeeded" if answer.status == "succeeded" else "pending",
                    updated_at=utcnow(),
                    last_error="",
                )
            )
    return len(claimed)


# --- Holds -------------------------------------------------------------------------------------------------


async def expire_holds(
    database: Database, settings: Settings, gateway: Gateway, *, now: datetime | None = None
) -> int:
    """Release every card hold past its time. State lives in the database, so this resumes after a restart;
    each release re-checks under the locks, so several workers can run it at once."""
    now = now or utcnow()
    async with database.read() as db:
        due = list(
            (
                await db.execute(
                    sa.select(Registration.id)
                    .where(
                        Registration.status == Status.pending_payment,
                        Registration.payment_method == PaymentMethod.card,
                        Registration.hold_expires_at <= now,  # type: ignore[operator]
                    )
                    .order_by(Registration.hold_expires_at)
                    .limit(100)
                )
            ).scalars()
        )
    released = 0
    for registration_id in due:
        async with database.read() as db:
            sessions = [
                p.checkout_session_id
                for p in await _payments(db, registration_id)
                if p.status in {"open", "creating"} and p.checkout_session_id
            ]
        paid = False
        for session_id in sessions:
            # Close the Checkout page first; if it was paid meanwhile, fulfil instead of releasing.
            try:
                session = await _expire_quietly(gateway, session_id)
            except stripe.StripeError as exc:
                log.warning(
                    "could not expire checkout session for %s: %s", registration_id, type(exc).__name__
                )
                session = None
                paid = True  # unknown: leave the hold for the next tick rather than release a paid place
            if session is not None and session.payment_status == "paid":
                await fulfil(database, settings, gateway, session_id)
                paid = True
        if paid:
            continue
        async with database.transaction() as db:
            conference = await _lock_conference(db)
            registration = await lock_for_update(db, Registration, registration_id)
            if (
                registration.status != Status.pending_payment
                or registration.hold_expires_at is None
                or registration.hold_expires_at > now
            ):
                continue
            for payment in await _payments(db, registration_id):
                if payment.status in {"open", "creating"}:
                    payment.status = "expired"
            await release_hold(db, settings, conference, registration, reason="hold_expired")
            released += 1
    return released


class PaymentWorker:
    """One per process: expires holds and sends refunds every few seconds (a no-op without Stripe keys)."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database, self.settings = database, settings
        self.gateway = Gateway(settings) if card_available(settings) else None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.gateway is not None:
            self._task = asyncio.create_task(self._run(), name="payment-worker")

    async def stop(self) -> None:
        await background.stop(self._task)
        if self.gateway is not None:
            await self.gateway.close()

    async def checkout(self, database: Database, settings: Settings, registration_id: uuid.UUID) -> Checkout:
        if self.gateway is None:
            return Checkout(None, "Card payment is not available; please contact the organisers.")
        return await start_checkout(database, settings, self.gateway, registration_id)

    async def close_checkouts(self, database: Database, registration_id: uuid.UUID) -> None:
        """After a cancellation: close any Checkout page still open, so nobody pays for a place they gave up.
        Best effort: a page left open expires with its hold, and a payment made on it is refunded."""
        if self.gateway is None:
            return
        async with database.read() as db:
            open_ = [
                p.checkout_session_id
                for p in await _payments(db, registration_id)
                if p.status == "open" and p.checkout_session_id
            ]
        for session_id in open_:
            try:
                session = await _expire_quietly(self.gateway, session_id)
            except stripe.StripeError as exc:
                log.warning("could not close checkout for %s: %s", registration_id, type(exc).__name__)
                continue
            await fulfil(database, self.settings, self.gateway, session.id)

    async def tick(self) -> None:
        assert self.gateway is not None
        await expire_holds(self.database, self.settings, self.gateway)
        await send_due_refunds(self.database, self.gateway)

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the database or Stripe may be down; next tick retries
                log.warning("payment worker tick failed: %s", type(exc).__name__)
            await asyncio.sleep(self.settings.payment_poll_seconds)


async def payments_view(db: AsyncSession, registration_id: uuid.UUID) -> dict[str, Any]:
    """What organisers (and the delegate) see of a registration's money."""
    payments = await _payments(db, registration_id)
    refunds = list(
        (
            await db.execute(
                sa.select(Refund).where(Refund.registration_id == registration_id).order_by(Refund.created_at)
            )
        ).scalars()
    )
    return {
        "payments": [
            {
                "id": str(p.id),
                "attempt": p.attempt,
                "status": p.status,
                "amount_pence": p.amount_pence,
                "currency": p.currency,
                "refunded_pence": p.refunded_pence,
                "created_at": p.created_at.isoformat(),
                "paid_at": p.paid_at.isoformat() if p.paid_at else None,
            }
            for p in payments
        ],
        "refunds": [
            {
                "id": str(r.id),
                "amount_pence": r.amount_pence,
                "reason": r.reason,
                "status": r.status,
                "created_at": r.created_at.isoformat(),
            }
            for r in refunds
        ],
    }
