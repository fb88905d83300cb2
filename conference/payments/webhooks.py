"""Stripe's webhooks: the signature check, and what each kind of event does."""

from __future__ import annotations

import logging
import time
from typing import Any

import stripe

from conference.core import errors
from conference.core.db import Database
from conference.core.settings import Settings
from conference.payments.fulfilment import Outcome, fulfil
from conference.payments.gateway import Gateway, live_mode
from conference.payments.refunds import refund_event

log = logging.getLogger("conference.payments")

# How far a signature's timestamp may be from our clock, either way (the SDK's default, and it checks only
# the past): Stripe signs each delivery when it sends it.
TOLERANCE_SECONDS = 300

FULFIL_EVENTS = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
}
# Refund events are re-read from Stripe (payments.refunds.refund_event); charge.refund.updated is the legacy twin
# of refund.updated, and charge.refunded names the payment whose refunds to re-read.
REFUND_EVENTS = {
    "refund.created",
    "refund.updated",
    "refund.failed",
    "charge.refund.updated",
    "charge.refunded",
}


class WrongMode(errors.DomainError):
    status_code = 400
    code = "livemode_mismatch"
    message = "This event's livemode is not the mode of this service's Stripe key; it was not processed."


def verify(settings: Settings, payload: bytes, signature: str, *, now: float | None = None) -> Any:
    """The event, if Stripe signed this exact body within the tolerance (past or future) and it comes from the
    mode (test or live) of our key; errors.InvalidSignature or WrongMode otherwise."""
    if settings.stripe_webhook_secret is None:
        raise errors.NotFound()
    try:
        event = stripe.Webhook.construct_event(
            payload, signature, str(settings.stripe_webhook_secret), tolerance=TOLERANCE_SECONDS
        )
    except (stripe.SignatureVerificationError, ValueError):
        raise errors.InvalidSignature() from None
    # The SDK refuses only old timestamps; one far ahead is a delivery signed to be replayed later (or a clock
    # gone wrong), and would pass its check until then.
    stamp = _signed_at(signature)
    if stamp is None or stamp > (time.time() if now is None else now) + TOLERANCE_SECONDS:
        raise errors.InvalidSignature("The Stripe-Signature timestamp is in the future.")
    livemode, expected = getattr(event, "livemode", None), live_mode(settings)
    if livemode is not expected:
        # A test-mode endpoint getting live events (or the other way round) is set up wrongly: say so loudly.
        log.warning(
            "refused a Stripe event: its livemode is %s but the secret key is a %s key",
            livemode,
            "live" if expected else "test",
        )
        raise WrongMode()
    return event


def _signed_at(signature: str) -> int | None:
    for item in signature.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def handle_event(database: Database, settings: Settings, gateway: Gateway, event: Any) -> Outcome:
    if event.type in FULFIL_EVENTS:
        return await fulfil(database, settings, gateway, event.data.object.id, event=event)
    if event.type in REFUND_EVENTS:
        return Outcome(await refund_event(database, settings, gateway, event))
    return Outcome("ignored")
