"""The background payment worker: releases card holds past their time and sends due refunds, in every process."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime

import sqlalchemy as sa
import stripe
from sqlmodel import col

from conference.core import background
from conference.core.db import Database, lock_for_update
from conference.core.models import PaymentMethod, Registration, Status, utcnow
from conference.core.settings import Settings
from conference.payments.checkout import Checkout, start_checkout
from conference.payments.fulfilment import fulfil, release_hold
from conference.payments.gateway import Gateway, card_available, expire_quietly
from conference.payments.records import lock_conference, payments_of
from conference.payments.refunds import send_due_refunds

log = logging.getLogger("conference.payments")


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
                    sa.select(col(Registration.id))
                    .where(
                        col(Registration.status) == Status.pending_payment,
                        col(Registration.payment_method) == PaymentMethod.card,
                        col(Registration.hold_expires_at) <= now,
                    )
                    .order_by(col(Registration.hold_expires_at))
                    .limit(100)
                )
            ).scalars()
        )
    released = 0
    for registration_id in due:
        async with database.read() as db:
            sessions = [
                p.checkout_session_id
                for p in await payments_of(db, registration_id)
                if p.status in {"open", "creating"} and p.checkout_session_id
            ]
        paid = False
        for session_id in sessions:
            # Close the Checkout page first; if it was paid meanwhile, fulfil instead of releasing.
            try:
                session = await expire_quietly(gateway, session_id)
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
            conference = await lock_conference(db)
            registration = await lock_for_update(db, Registration, registration_id)
            if (
                registration.status != Status.pending_payment
                or registration.hold_expires_at is None
                or registration.hold_expires_at > now
            ):
                continue
            for payment in await payments_of(db, registration_id):
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
                for p in await payments_of(db, registration_id)
                if p.status == "open" and p.checkout_session_id
            ]
        for session_id in open_:
            try:
                session = await expire_quietly(self.gateway, session_id)
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
