"""Stripe's webhooks: the signature check, and what each kind of event does."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import stripe

from conference.core import errors
from conference.core.db import Database
from conference.core.models import Refund, utcnow
from conference.core.settings import Settings
from conference.payments.fulfilment import Outcome, fulfil
from conference.payments.gateway import Gateway
from conference.payments.records import first_delivery

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
        if not await first_delivery(db, event):
            return Outcome("duplicate")
        for refund_id in refund_ids:
            row = (
                await db.execute(sa.select(Refund).where(Refund.stripe_refund_id == refund_id))
            ).scalar_one_or_none()
            if row is not None and obj.object == "refund" and row.status != "succeeded":
                row.status, row.updated_at = ("failed" if obj.status == "failed" else obj.status), utcnow()
    return Outcome("ignored")
