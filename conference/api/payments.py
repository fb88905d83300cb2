"""Payment endpoints: Stripe's webhook, (re)opening Checkout, what a registration has paid, the return page."""

from __future__ import annotations

import uuid
from typing import Any

import stripe
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conference.core import errors
from conference.core.models import Payment, Registration, Status
from conference.invoices import invoicing
from conference.mail.mailtext import manage_url
from conference.payments import fulfilment, records, webhooks
from conference.payments.gateway import Gateway
from conference.web import templating
from conference.web.auth import authenticate, require_registration_access
from conference.web.request import database, path_uuid, payment_gateway, settings


def _gateway(request: Request) -> Gateway:
    gateway = payment_gateway(request).gateway
    if gateway is None:
        raise errors.NotFound("Card payments are not set up on this service.")
    return gateway


async def stripe_webhook(request: Request) -> Response:
    # The signature covers the exact bytes Stripe sent: read them before anything parses the body.
    payload = await request.body()
    event = webhooks.verify(settings(request), payload, request.headers.get("stripe-signature", ""))
    try:
        outcome = await webhooks.handle_event(database(request), settings(request), _gateway(request), event)
    except stripe.StripeError:
        raise errors.ServiceUnavailable(
            "Stripe could not be reached to check this event; deliver it again."
        ) from None
    return JSONResponse({"received": True, "outcome": outcome.state})


async def open_checkout(request: Request) -> Response:
    registration_id = path_uuid(request, "registration_id")
    async with database(request).read() as db:
        actor = await authenticate(db, request)
    require_registration_access(actor, registration_id, "organiser")
    checkout = await payment_gateway(request).checkout(database(request), settings(request), registration_id)
    if checkout.url is None:
        error = errors.ServiceUnavailable(checkout.error)
        raise error
    return JSONResponse({"checkout_url": checkout.url})


async def registration_payments(request: Request) -> Response:
    registration_id = path_uuid(request, "registration_id")
    async with database(request).read() as db:
        actor = await authenticate(db, request)
        require_registration_access(actor, registration_id, "organiser")
        registration = await db.get(Registration, registration_id)
        if registration is None:
            raise errors.NotFound("No registration has this id.")
        body: dict[str, Any] = {
            "status": registration.status.value,
            "payment_method": registration.payment_method.value,
            "hold_expires_at": registration.hold_expires_at.isoformat()
            if registration.hold_expires_at
            else None,
            **await records.payments_view(db, registration_id),
            "invoices": await invoicing.invoices_public(db, registration_id),
        }
    return JSONResponse(body)


async def payment_return(request: Request) -> Response:
    """Where Stripe sends the delegate back: after paying, with the session id Stripe fills in (the webhook may
    not have arrived yet, so ask Stripe ourselves), or after leaving the page, with our own payment id (Stripe
    fills in nothing in a cancel URL, and leaving changes nothing, so Stripe is not asked)."""
    if request.query_params.get("cancelled"):
        return await _left_payment_page(request)
    session_id = request.query_params.get("session_id", "")
    if not session_id.startswith("cs_") or len(session_id) > 255:
        raise errors.InvalidInput(fields={"session_id": "Follow the link from the payment page again."})
    async with database(request).read() as db:
        known = await records.payment_for(db, session_id)
    if known is None:  # only our own sessions cost a call to Stripe
        raise errors.NotFound("This payment page is not known; follow the link from your email.")
    try:
        outcome = await fulfilment.fulfil(database(request), settings(request), _gateway(request), session_id)
    except stripe.InvalidRequestError:
        raise errors.NotFound("This payment page is not known; follow the link from your email.") from None
    except stripe.StripeError:
        # Stripe is slow or down: say we are confirming and refresh; the webhook may confirm it meanwhile.
        outcome = fulfilment.Outcome("confirming", known.registration_id)
    if outcome.registration_id is None:
        raise errors.NotFound("This payment page is not known; follow the link from your email.")
    async with database(request).read() as db:
        payment = await records.payment_for(db, session_id)
    title, text, refresh = RETURN_TEXTS.get(outcome.state, CONFIRMING)
    return await _return_page(request, payment, title, text, refresh=refresh)


async def _left_payment_page(request: Request) -> Response:
    try:
        payment_id = uuid.UUID(request.query_params.get("payment", ""))
    except ValueError:
        # (A page opened before cancel URLs named our payment carries no usable id: say what to do anyway.)
        return await _return_page(request, None, *LEFT_UNKNOWN, refresh=False)
    async with database(request).read() as db:
        payment = await db.get(Payment, payment_id)
        registration = await db.get(Registration, payment.registration_id) if payment else None
    if payment is None or registration is None:
        raise errors.NotFound("This payment page is not known; follow the link from your email.")
    if registration.status == Status.confirmed:
        title, text = RETURN_TEXTS["confirmed"][:2]
    elif registration.status == Status.pending_payment:
        title, text = LEFT_HELD
    else:
        title, text = LEFT_ENDED
    return await _return_page(request, payment, title, text, refresh=False)


RETURN_TEXTS = {
    "confirmed": (
        "Payment received",
        "Your place is confirmed. We have emailed you the details and your badge link.",
        False,
    ),
    "refunding": (
        "Payment refunded",
        "Your payment arrived after your place was released and the conference is "
        "now full, so we are refunding it in full. We have emailed you.",
        False,
    ),
    "released": (
        "Payment not completed",
        "Your payment did not go through and the place has been released.",
        False,
    ),
}
CONFIRMING = (
    "Confirming your payment",
    "We are confirming your payment with the bank. This page refreshes by itself.",
    True,
)
LEFT_HELD = (
    "Payment not made",
    "You left the payment page. Your place is held for a while: you can pay from your booking page.",
)
LEFT_ENDED = ("Payment not made", "You left the payment page. This booking has no payment outstanding.")
LEFT_UNKNOWN = (
    "Payment not made",
    "You left the payment page. If your place is still held, you can pay from the link in your email.",
)


async def _return_page(
    request: Request, payment: Payment | None, title: str, text: str, *, refresh: bool
) -> Response:
    manage = None
    if payment is not None:
        async with database(request).read() as db:
            registration = await db.get(Registration, payment.registration_id)
        # The booking's link only while it is still the payer's: after a transfer (or an erasure) the manage
        # link was reissued to somebody else, and this page, found by the Checkout session alone, must not show it.
        if (
            registration is not None
            and payment.token_version == registration.token_version
            and registration.erased_at is None
        ):
            manage = manage_url(settings(request), registration)
    return templating.render(
        request,
        "conference/payment_return.html",
        {"title": title, "text": text, "manage": manage, "refresh": refresh},
    )


api_routes = [
    Route(
        "/registrations/{registration_id}/checkout",
        open_checkout,
        methods=["POST"],
        name="api-registration-checkout",
    ),
    Route(
        "/registrations/{registration_id}/payments",
        registration_payments,
        methods=["GET"],
        name="api-registration-payments",
    ),
]
routes = [
    Route("/stripe/webhook", stripe_webhook, methods=["POST"], name="stripe-webhook"),
    Route("/payment/return", payment_return, methods=["GET"], name="payment-return"),
]
