"""Stripe, through the official SDK's client: whether card payments are set up, and the calls we make."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import stripe

from conference.core import logs
from conference.core.settings import Settings

if TYPE_CHECKING:
    from stripe.checkout import Session
    from stripe.params import RefundCreateParams
    from stripe.params.checkout import SessionCreateParams


# Stripe is called from request handlers (the Checkout page, the return page, webhooks): a slow Stripe must cost
# a delegate seconds, not the SDK's default 80 s per attempt. One retry (connection errors, 409, 5xx; our
# idempotency keys make it safe) bounds a call at about 2 x 4 s plus a backoff of at most a second or so.
SDK_TIMEOUT = httpx.Timeout(4.0, connect=2.0)
SDK_RETRIES = 1


def card_available(settings: Settings) -> bool:
    return settings.stripe_secret_key is not None


def live_mode(settings: Settings) -> bool:
    """Whether the secret key is a live one (`sk_live_`/`rk_live_`); events must carry the same `livemode`."""
    key = str(settings.stripe_secret_key or "")
    return key.startswith(("sk_live_", "rk_live_"))


def unknown_to_stripe(exc: stripe.StripeError) -> bool:
    """Stripe says the object does not exist (404 `resource_missing`): a permanent answer, unlike a timeout, a
    5xx, a rate limit or a key problem, which may pass."""
    return isinstance(exc, stripe.InvalidRequestError) and (
        exc.http_status == 404 or exc.code == "resource_missing"
    )


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
        logs.quiet_sdk_loggers()  # the SDK and httpx log request URLs (Checkout Session ids) at INFO
        # Async, on the httpx the service already depends on.
        self.http = stripe.HTTPXClient(timeout=SDK_TIMEOUT)
        self.client = stripe.StripeClient(
            str(settings.stripe_secret_key),
            base_addresses={"api": settings.stripe_api_base} if settings.stripe_api_base else None,
            max_network_retries=SDK_RETRIES,
            http_client=self.http,
        )

    async def create_checkout(self, params: SessionCreateParams, idempotency_key: str) -> Session:
        return await self.client.v1.checkout.sessions.create_async(
            params=params,
            options={"idempotency_key": idempotency_key},
        )

    async def retrieve(self, session_id: str) -> Session:
        return await self.client.v1.checkout.sessions.retrieve_async(session_id)

    async def expire(self, session_id: str) -> Session:
        return await self.client.v1.checkout.sessions.expire_async(session_id)

    async def refund(self, params: RefundCreateParams, idempotency_key: str) -> stripe.Refund:
        return await self.client.v1.refunds.create_async(
            params=params,
            options={"idempotency_key": idempotency_key},
        )

    async def retrieve_refund(self, refund_id: str) -> stripe.Refund:
        return await self.client.v1.refunds.retrieve_async(refund_id)

    async def refunds_of(self, payment_intent: str) -> list[stripe.Refund]:
        """The payment's refunds, newest first (ours carry our refund id in their metadata)."""
        page = await self.client.v1.refunds.list_async(
            params={"payment_intent": payment_intent, "limit": 100}
        )
        return list(page.data)

    async def close(self) -> None:
        await self.http.close_async()  # type: ignore[no-untyped-call]  # stripe's HTTPXClient.close_async has no annotations


async def expire_quietly(gateway: Gateway, session_id: str) -> Session:
    """Expire an open session; if it is not open any more, return it as Stripe has it."""
    try:
        return await gateway.expire(session_id)
    except stripe.InvalidRequestError:
        return await gateway.retrieve(session_id)
