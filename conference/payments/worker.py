"""The background payment worker: releases card holds past their time and sends due refunds, in every process."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime

import sqlalchemy as sa
import stripe
from sqlmodel import col

from conference.core import background, errors
from conference.core.db import Database, lock_for_update
from conference.core.models import Payment, PaymentMethod, Registration, Status, TicketType, utcnow
from conference.core.settings import Settings
from conference.payments.checkout import Checkout, gross_of, start_checkout
from conference.payments.fulfilment import fulfil, release_hold
from conference.payments.gateway import Gateway, card_available, expire_quietly, unknown_to_stripe
from conference.payments.records import covering_payments, lock_conference, payments_of
from conference.payments.refunds import send_due_refunds

log = logging.getLogger("conference.payments")


RELEASE_BATCH = 100


async def expire_holds(
    database: Database, settings: Settings, gateway: Gateway, *, now: datetime | None = None
) -> int:
    """Release every card hold past its time. State lives in the database, so this resumes after a restart;
    each release re-checks under the locks, so several workers can run it at once.

    All due holds are walked, a page at a time: a hold Stripe cannot tell us about just now stays for the next
    tick without holding up the ones after it."""
    now = now or utcnow()
    released = 0
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        stmt = (
            sa.select(col(Registration.hold_expires_at), col(Registration.id))
            .where(
                col(Registration.status) == Status.pending_payment,
                col(Registration.payment_method) == PaymentMethod.card,
                col(Registration.hold_expires_at) <= now,
            )
            .order_by(col(Registration.hold_expires_at), col(Registration.id))
            .limit(RELEASE_BATCH)
        )
        if after is not None:
            stmt = stmt.where(
                sa.or_(
                    col(Registration.hold_expires_at) > after[0],
                    sa.and_(col(Registration.hold_expires_at) == after[0], col(Registration.id) > after[1]),
                )
            )
        async with database.read() as db:
            page: list[tuple[datetime, uuid.UUID]] = [
                (held, rid) for held, rid in (await db.execute(stmt)).all() if held is not None
            ]
        for _, registration_id in page:
            if await _release_if_unpaid(database, settings, gateway, registration_id, now):
                released += 1
        if len(page) < RELEASE_BATCH:
            return released
        after = page[-1]


async def _release_if_unpaid(
    database: Database, settings: Settings, gateway: Gateway, registration_id: uuid.UUID, now: datetime
) -> bool:
    async with database.read() as db:
        held = await db.get(Registration, registration_id)
        # A group member's place may be paid by the group's one Checkout (records.covering_payments).
        sessions = [
            p.checkout_session_id
            for p in (await covering_payments(db, held) if held is not None else [])
            if p.status in {"open", "creating"} and p.checkout_session_id
        ]
    keep = False
    for session_id in sessions:
        # Close the Checkout page first; if it was paid meanwhile, fulfil instead of releasing.
        try:
            session = await expire_quietly(gateway, session_id)
            if session.payment_status == "paid":
                keep = True
                await fulfil(database, settings, gateway, session_id)
        except stripe.StripeError as exc:
            if unknown_to_stripe(exc):
                # Stripe has no such session (say, the key changed account): nobody can pay on it.
                log.warning("checkout session of %s is unknown to Stripe; it cannot be paid", registration_id)
                continue
            log.warning("could not expire checkout session for %s: %s", registration_id, type(exc).__name__)
            keep = True  # unknown: leave the hold for the next tick rather than release a paid place
    if keep:
        return False
    async with database.transaction() as db:
        conference = await lock_conference(db)
        registration = await lock_for_update(db, Registration, registration_id)
        if (
            registration.status != Status.pending_payment
            or registration.hold_expires_at is None
            or registration.hold_expires_at > now
        ):
            return False
        for payment in await payments_of(db, registration_id):
            if payment.status in {"open", "creating"}:
                payment.status = "expired"
        await release_hold(db, settings, conference, registration, reason="hold_expired")
    return True


async def close_abandoned_checkouts(database: Database, settings: Settings, gateway: Gateway) -> int:
    """Close Checkout pages still open for a booking no longer waiting to pay (cancelled, erased, paid on
    another page), so nobody pays for a place they gave up; a payment that got in first is refunded by fulfil.
    Cancellations only ask for this (`PaymentWorker.close_checkouts`); this is what does it, restarts included."""
    async with database.read() as db:
        rows = (
            await db.execute(
                sa.select(col(Payment.registration_id), col(Payment.checkout_session_id))
                .join(Registration, col(Registration.id) == col(Payment.registration_id))
                .where(
                    col(Payment.status) == "open",
                    col(Payment.checkout_session_id).is_not(None),
                    col(Registration.status) != Status.pending_payment,
                )
                .order_by(col(Payment.created_at))
                .limit(RELEASE_BATCH)
            )
        ).all()
    closed = 0
    for registration_id, session_id in rows:
        assert session_id is not None
        try:
            session = await expire_quietly(gateway, session_id)
            await fulfil(database, settings, gateway, session.id)
        except stripe.StripeError as exc:
            if unknown_to_stripe(exc):
                await _mark_expired(database, session_id)
                continue
            log.warning("could not close checkout for %s: %s", registration_id, type(exc).__name__)
            continue
        closed += 1
    return closed


async def _mark_expired(database: Database, session_id: str) -> None:
    async with database.transaction() as db:
        await db.execute(
            sa.update(Payment)
            .where(col(Payment.checkout_session_id) == session_id, col(Payment.status) == "open")
            .values(status="expired")
        )


class PaymentWorker:
    """One per process: expires holds and sends refunds every few seconds (a no-op without Stripe keys)."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database, self.settings = database, settings
        self.gateway = Gateway(settings) if card_available(settings) else None
        self._task: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        if self.gateway is not None:
            self._task = asyncio.create_task(self._run(), name="payment-worker")

    async def stop(self) -> None:
        await background.stop(self._task)
        for task in list(self._closing):
            await background.stop(task)
        if self.gateway is not None:
            await self.gateway.close()

    async def checkout(self, database: Database, settings: Settings, registration_id: uuid.UUID) -> Checkout:
        if self.gateway is None:
            return Checkout(None, "Card payment is not available; please contact the organisers.")
        return await start_checkout(database, settings, self.gateway, registration_id)

    async def group_checkout(self, database: Database, settings: Settings, group_id: uuid.UUID) -> Checkout:
        """One Checkout page for every member of a group booking whose place is held for a card payment."""
        async with database.read() as db:
            held = list(
                (
                    await db.execute(
                        sa.select(Registration)
                        .where(
                            col(Registration.group_id) == group_id,
                            col(Registration.status) == Status.pending_payment,
                        )
                        .order_by(col(Registration.number))
                    )
                ).scalars()
            )
            if not held:
                raise errors.DomainError("Nothing is waiting to be paid by card for this group.")
            ticket = await db.get(TicketType, held[0].ticket_type_id)
            assert ticket is not None
            due = sum(gross_of(r, ticket) for r in held)
            # A member's open page is reused only if it charges what is due now: one opened before the lead
            # added a colleague does not cover them, so a member without a page of their own opens a new one.
            pages = {r.id: [p for p in await payments_of(db, r.id) if p.status == "open"] for r in held}
        current = next((r.id for r in held if any(p.amount_pence == due for p in pages[r.id])), None)
        fresh = next((r.id for r in held if not pages[r.id]), held[0].id)
        return await self.checkout(database, settings, current or fresh)

    async def close_checkouts(self, database: Database, registration_id: uuid.UUID) -> None:
        """After a cancellation: have any Checkout page still open closed, so nobody pays for a place they gave
        up. Not in the request: a slow Stripe must not hold up the answer. A task starts at once; if the
        process stops first, the next tick's `close_abandoned_checkouts` does it."""
        if self.gateway is None:
            return
        task = asyncio.create_task(self._close_soon(), name=f"close-checkouts-{registration_id}")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close_soon(self) -> None:
        assert self.gateway is not None
        try:
            await close_abandoned_checkouts(self.database, self.settings, self.gateway)
        except Exception as exc:  # noqa: BLE001 - best effort; the next tick tries again
            log.warning("closing checkout pages failed: %s", type(exc).__name__)

    async def tick(self) -> None:
        assert self.gateway is not None
        await expire_holds(self.database, self.settings, self.gateway)
        await close_abandoned_checkouts(self.database, self.settings, self.gateway)
        await send_due_refunds(self.database, self.settings, self.gateway)

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the database or Stripe may be down; next tick retries
                log.warning("payment worker tick failed: %s", type(exc).__name__)
            await asyncio.sleep(self.settings.payment_poll_seconds)
