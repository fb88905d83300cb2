"""The payment rows: the capacity lock, a registration's payments, Stripe events seen, what organisers see."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core.models import Conference, Payment, Refund, Registration, Status, StripeEvent
from conference.places import get_conference


async def lock_conference(db: AsyncSession) -> Conference:
    return await get_conference(db, for_update=True)


async def payments_of(db: AsyncSession, registration_id: uuid.UUID) -> list[Payment]:
    stmt = (
        sa.select(Payment)
        .where(col(Payment.registration_id) == registration_id)
        .order_by(col(Payment.attempt))
    )
    return list((await db.execute(stmt)).scalars())


async def covering_payments(db: AsyncSession, registration: Registration) -> list[Payment]:
    """The payments that may pay for this registration's place: its own, then, for a member of a group booking
    (one Checkout for the whole group, conference/groups.py), those opened for other members of its group."""
    own = await payments_of(db, registration.id)
    if registration.group_id is None:
        return own
    stmt = (
        sa.select(Payment)
        .join(Registration, col(Registration.id) == col(Payment.registration_id))
        .where(
            col(Registration.group_id) == registration.group_id,
            col(Payment.registration_id) != registration.id,
        )
        .order_by(col(Payment.created_at))
    )
    return own + list((await db.execute(stmt)).scalars())


async def group_members(db: AsyncSession, group_id: uuid.UUID, status: Status) -> list[Registration]:
    """The members of a group booking in this status, in booking order, locked (capacity lock held first)."""
    stmt = (
        sa.select(Registration)
        .where(col(Registration.group_id) == group_id, col(Registration.status) == status)
        .order_by(col(Registration.number))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list((await db.execute(stmt)).scalars())


async def payment_for(db: AsyncSession, session_id: str) -> Payment | None:
    return (
        await db.execute(sa.select(Payment).where(col(Payment.checkout_session_id) == session_id))
    ).scalar_one_or_none()


async def first_delivery(db: AsyncSession, event: Any) -> bool:
    """Record the event in this transaction; False if it was handled before (Stripe delivers at least once)."""
    try:
        async with db.begin_nested():
            db.add(StripeEvent(id=event.id, type=event.type))
            await db.flush()
    except IntegrityError:
        return False
    return True


async def payments_view(db: AsyncSession, registration_id: uuid.UUID) -> dict[str, Any]:
    """What organisers (and the delegate) see of a registration's money."""
    payments = await payments_of(db, registration_id)
    refunds = list(
        (
            await db.execute(
                sa.select(Refund)
                .where(col(Refund.registration_id) == registration_id)
                .order_by(col(Refund.created_at))
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
                "failure_reason": r.failure_reason or None,
                "created_at": r.created_at.isoformat(),
                "updated_at": r.updated_at.isoformat(),
            }
            for r in refunds
        ],
    }
