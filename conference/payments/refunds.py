"""Refunds: decided inside a transaction (a `refund` row), sent to Stripe after it, and followed until Stripe says
how they ended.

A row's status is Stripe's (`pending`, `requires_action`, `succeeded`, `failed`, `canceled`), or `requested`
until Stripe has accepted it. What Stripe says arrives three ways: the answer to the create call, webhooks
(`refund.*`, `charge.refund.updated`, `charge.refunded`: the refund is re-read from Stripe, never taken from the
event's snapshot, and matched by our id in its metadata when its Stripe id is not stored yet), and the payment
worker re-reading refunds still pending. A status only moves forward (`_RANK`), so a stale answer changes
nothing, except that Stripe's own answer always replaces what we decided without one (a refusal we took as final,
or giving up). A refusal Stripe will repeat (a 4xx such as `charge_already_refunded`) ends the refund as `failed`
with that reason at once; anything else is retried with a backoff, each retry under a new idempotency key (Stripe
replays an answered key's error for ever), and a retry refused as already refunded looks for the refund an
earlier attempt may have made (its answer lost) by our id in its metadata before calling it a failure.
Organisers are emailed (`notices`) and see it on the dashboard and the registration's page whenever a refund
ends `failed` or `canceled`: the delegate has not had the money back.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import stripe
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit
from conference.core.db import Database, lock_for_update
from conference.core.models import Conference, Payment, Refund, Registration, TicketType, utcnow
from conference.core.settings import Settings
from conference.mail.outbox import queue_email
from conference.payments import notices
from conference.payments.checkout import gross_of
from conference.payments.gateway import Gateway
from conference.payments.records import covering_payments, first_delivery, payments_of

if TYPE_CHECKING:
    from stripe.params import RefundCreateParams

log = logging.getLogger("conference.payments")

REFUND_LEASE = timedelta(minutes=2)
RECHECK_PENDING = timedelta(hours=1)  # re-read a refund still pending from Stripe, in case its event was lost
MAX_ATTEMPTS = 40  # about a day and a half of hourly retries: then organisers are told and do it by hand
FINAL = frozenset({"succeeded", "failed", "canceled"})
NOT_RETURNED = frozenset({"failed", "canceled"})  # the money stayed with us
IN_PROGRESS = frozenset({"requested", "pending", "requires_action"})
_RANK = {"requested": 0, "pending": 1, "requires_action": 1, "succeeded": 2, "failed": 3, "canceled": 3}


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
    if registration.group_id is not None:
        await _refund_group_share(db, settings, registration)
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


async def _refund_group_share(db: AsyncSession, settings: Settings, registration: Registration) -> None:
    """A member of a group paid by one card payment: a partial refund of their place (with its VAT) only."""
    ticket = await db.get(TicketType, registration.ticket_type_id)
    assert ticket is not None
    share = gross_of(registration, ticket)
    for payment in await covering_payments(db, registration):
        left = payment.amount_pence - payment.refunded_pence
        if payment.status == "paid" and left > 0:
            amount = min(share, left)
            request_refund(db, payment, registration, reason="cancelled", amount=amount)
            queue_email(
                db,
                settings,
                kind="refunded",
                to=registration.email,
                registration_id=registration.id,
                amount_pence=amount,
            )
            return


# --- what Stripe says about a refund ------------------------------------------------------------------------


def _field(obj: Any, name: str) -> Any:
    return getattr(obj, name, None)  # a StripeObject raises AttributeError for a field it was sent without


def _our_id(answer: Any) -> uuid.UUID | None:
    metadata = _field(answer, "metadata")
    value = _field(metadata, "refund_id") if metadata is not None else None
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _moves(row: Refund, status: str) -> bool:
    if status not in _RANK or status == row.status:
        return False
    if row.stripe_refund_id is None:
        return True  # Stripe's first word on it beats whatever we decided without one
    old, new = _RANK[row.status], _RANK[status]
    return new > old or new == old == 1  # pending ↔ requires_action


async def _set_status(
    db: AsyncSession, settings: Settings, row: Refund, status: str, *, reason: str = ""
) -> None:
    """Change the row's status (row locked), keeping its payment's refunded sum and the organisers in step."""
    was_returned = row.status not in NOT_RETURNED
    row.status, row.updated_at = status, utcnow()
    returned = status not in NOT_RETURNED
    if was_returned != returned:
        payment = await lock_for_update(db, Payment, row.payment_id)
        payment.refunded_pence += row.amount_pence if returned else -row.amount_pence
    if status in NOT_RETURNED:
        row.failure_reason = (reason or status)[:60]
        registration = await db.get(Registration, row.registration_id)
        await audit.record(
            db,
            "conference.payment.refund_failed",
            actor=audit.SYSTEM,
            subject=registration.reference if registration else "",
            status=status,
            reason=row.failure_reason,
            amount_pence=row.amount_pence,
        )
        await notices.alert_refund_failed(db, settings, refund=row)
    else:
        row.failure_reason = ""
    row.next_attempt_at = utcnow() + RECHECK_PENDING  # only read again while it is not final


async def reflect(db: AsyncSession, settings: Settings, answer: Any) -> bool:
    """Apply Stripe's refund object `answer` to our row, found by its Stripe id or by our id in its metadata.
    Returns whether anything changed. Not ours (a refund made in Stripe's Dashboard): nothing."""
    stripe_id = str(_field(answer, "id") or "")
    row_id = (
        await db.execute(sa.select(col(Refund.id)).where(col(Refund.stripe_refund_id) == stripe_id))
    ).scalar_one_or_none() or _our_id(answer)
    if row_id is None or await db.get(Refund, row_id) is None:
        return False
    row = await lock_for_update(db, Refund, row_id)
    if row.stripe_refund_id not in (None, stripe_id):
        log.warning("refund %s: Stripe has two refunds for it; kept the first", row.id)
        return False
    status = str(_field(answer, "status") or "")
    changed = row.stripe_refund_id is None
    row.stripe_refund_id = stripe_id
    if _moves(row, status):
        await _set_status(db, settings, row, status, reason=str(_field(answer, "failure_reason") or ""))
        changed = True
    if changed:
        row.last_error = ""
    await db.flush()
    return changed


async def reflect_all(database: Database, settings: Settings, answers: list[Any]) -> bool:
    async with database.transaction() as db:
        return any([await reflect(db, settings, a) for a in answers])


# --- sending, retrying, re-reading ---------------------------------------------------------------------------


def permanent_reason(exc: stripe.StripeError) -> str | None:
    """Why Stripe refused for good (it answers the same again whatever the key), or None if a retry may work:
    a 4xx about the request or the charge (400, 402, 404); not 401/403 (our keys, fixable), 409, 429 or 5xx."""
    if isinstance(exc, stripe.InvalidRequestError | stripe.CardError):
        return str(exc.code or "invalid_request")[:60]
    return None


def _key(refund_id: uuid.UUID, attempt: int) -> str:
    # The first attempt's key is the refund's; a retry gets a new one (a key Stripe answered replays that
    # answer, errors included), after checking that no earlier attempt made the refund.
    return f"refund-{refund_id}" if attempt <= 1 else f"refund-{refund_id}-{attempt}"


async def _claim(database: Database, now: datetime, limit: int, *, requested: bool) -> list[Any]:
    async with database.transaction() as db:
        statuses = ["requested"] if requested else ["pending", "requires_action"]
        rows = list(
            (
                await db.execute(
                    sa.select(Refund, col(Payment.payment_intent_id))
                    .join(Payment, col(Payment.id) == col(Refund.payment_id))
                    .where(col(Refund.status).in_(statuses), col(Refund.next_attempt_at) <= now)
                    .order_by(col(Refund.next_attempt_at))
                    .limit(limit)
                    .with_for_update(of=Refund, skip_locked=True)
                )
            ).all()
        )
        for refund, _ in rows:
            refund.next_attempt_at = now + (REFUND_LEASE if requested else RECHECK_PENDING)
            if requested:
                refund.attempts += 1
        return [
            (r.id, r.amount_pence, r.reason, r.registration_id, intent, r.attempts, r.stripe_refund_id)
            for r, intent in rows
        ]


async def _earlier_attempt(gateway: Gateway, intent: str, refund_id: uuid.UUID) -> Any:
    for answer in await gateway.refunds_of(intent):
        if _our_id(answer) == refund_id:
            return answer
    return None


async def _failed(
    database: Database, settings: Settings, refund_id: uuid.UUID, *, reason: str, error: str
) -> None:
    async with database.transaction() as db:
        row = await lock_for_update(db, Refund, refund_id)
        if row.status != "requested":
            return  # Stripe's answer arrived meanwhile (a webhook): it stands
        row.last_error = error[:500]
        await _set_status(db, settings, row, "failed", reason=reason)


async def send_due_refunds(
    database: Database,
    settings: Settings,
    gateway: Gateway,
    *,
    limit: int = 20,
    now: datetime | None = None,
) -> int:
    """Send requested refunds to Stripe, then re-read the ones still pending. Claimed with a lease, so two
    workers never send the same one at once."""
    now = now or utcnow()
    claimed = await _claim(database, now, limit, requested=True)
    for refund_id, amount, reason, registration_id, intent, attempts, _ in claimed:
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
            answer = await gateway.refund(params, idempotency_key=_key(refund_id, attempts))
        except stripe.StripeError as exc:
            # Refused as already refunded after an attempt whose answer we never had: that attempt may be the
            # refund. Stripe lists it with our id in its metadata.
            earlier = None
            if permanent_reason(exc) is not None and attempts > 1 and intent:
                try:
                    earlier = await _earlier_attempt(gateway, intent, refund_id)
                except stripe.StripeError as lookup:
                    exc = lookup  # not known yet: try again later
            if earlier is None:
                await _refused(database, settings, refund_id, attempts, exc)
                continue
            answer = earlier
        await reflect_all(database, settings, [answer])
    rechecked = await _claim(database, now, limit, requested=False)
    for refund_id, *_, stripe_id in rechecked:
        if stripe_id is None:
            continue
        try:
            answer = await gateway.retrieve_refund(stripe_id)
        except stripe.StripeError as exc:
            log.warning("could not re-read refund %s: %s", refund_id, type(exc).__name__)
            continue
        await reflect_all(database, settings, [answer])
    return len(claimed)


async def _refused(
    database: Database, settings: Settings, refund_id: uuid.UUID, attempts: int, exc: stripe.StripeError
) -> None:
    permanent = permanent_reason(exc)
    error = f"{type(exc).__name__}: {exc.user_message or ''}".strip()
    if permanent is not None:
        log.warning("refund %s refused by Stripe for good: %s", refund_id, permanent)
        await _failed(database, settings, refund_id, reason=permanent, error=error)
        return
    if attempts >= MAX_ATTEMPTS:
        log.warning("refund %s: giving up after %d attempts (%s)", refund_id, attempts, type(exc).__name__)
        await _failed(database, settings, refund_id, reason="stripe_unavailable", error=error)
        return
    delay = min(30 * 2 ** (attempts - 1), 3600)
    async with database.transaction() as db:
        await db.execute(
            sa.update(Refund)
            .where(col(Refund.id) == refund_id, col(Refund.status) == "requested")
            .values(next_attempt_at=utcnow() + timedelta(seconds=delay), last_error=error[:500])
        )
    log.warning("refund %s attempt %d failed: %s", refund_id, attempts, type(exc).__name__)


async def refund_event(database: Database, settings: Settings, gateway: Gateway, event: Any) -> str:
    """A refund's webhook: re-read the refunds it is about from Stripe and reflect them. Returns the outcome."""
    obj = event.data.object
    kind = _field(obj, "object")
    answers: list[Any] = []
    try:
        if kind == "refund":
            answers = [await gateway.retrieve_refund(str(obj.id))]
        elif kind == "charge" and isinstance(_field(obj, "payment_intent"), str):
            answers = list(
                await gateway.refunds_of(obj.payment_intent)
            )  # charge.refunded: its refunds, re-read
    except stripe.InvalidRequestError as exc:
        # Stripe does not know it (a 4xx it would repeat): nothing of ours to change, and a 503 would only bring
        # the same event back for days. Anything else (a timeout, a 5xx) goes up: 503, and Stripe retries.
        log.warning(
            "refund event %s: Stripe refused to re-read it (%s)", event.id, exc.code or "invalid_request"
        )
    async with database.transaction() as db:
        if not await first_delivery(db, event):
            return "duplicate"
        changed = [await reflect(db, settings, a) for a in answers]
    return "refund_updated" if any(changed) else "ignored"
