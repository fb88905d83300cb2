"""Refunds: decided inside a transaction (a `refund` row), sent to Stripe after it with an idempotency key per row,
and retried by the payment worker until Stripe answers."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
import stripe
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit
from conference.core.db import Database
from conference.core.models import Conference, Payment, Refund, Registration, utcnow
from conference.core.settings import Settings
from conference.mail.outbox import queue_email
from conference.payments.gateway import Gateway
from conference.payments.records import payments_of

if TYPE_CHECKING:
    from stripe.params import RefundCreateParams

log = logging.getLogger("conference.payments")

REFUND_LEASE = timedelta(minutes=2)


def request_refund(
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
    for payment in await payments_of(db, registration.id):
        if payment.status == "paid" and payment.refunded_pence < payment.amount_pence:
            request_refund(db, payment, registration, reason="cancelled")
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
                    sa.select(Refund, col(Payment.payment_intent_id))
                    .join(Payment, col(Payment.id) == col(Refund.payment_id))
                    .where(col(Refund.status) == "requested", col(Refund.next_attempt_at) <= now)
                    .order_by(col(Refund.created_at))
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
        params: RefundCreateParams = {
            "amount": amount,
            "reason": "duplicate" if reason == "duplicate" else "requested_by_customer",
            "metadata": {
                "refund_id": str(refund_id),
                "registration_id": str(registration_id),
                "reason": reason,
            },
        }
        if intent is not None:  # (the SDK leaves out a None, so there is no difference on the wire)
            params["payment_intent"] = intent
        try:
            answer = await gateway.refund(params, idempotency_key=f"refund-{refund_id}")
        except stripe.StripeError as exc:
            delay = min(30 * 2 ** (attempts - 1), 3600)
            async with database.transaction() as db:
                await db.execute(
                    sa.update(Refund)
                    .where(col(Refund.id) == refund_id)
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
                .where(col(Refund.id) == refund_id)
                .values(
                    stripe_refund_id=answer.id,
                    status="succeeded" if answer.status == "succeeded" else "pending",
                    updated_at=utcnow(),
                    last_error="",
                )
            )
    return len(claimed)
