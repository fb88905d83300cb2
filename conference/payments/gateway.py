"""Stripe, through the official SDK's client: whether card payments are set up, and the calls we make."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import stripe

from conference.core.settings import Settings

if TYPE_CHECKING:
    from stripe.checkout import Session
    from stripe.params import RefundCreateParams
    from stripe.params.checkout import SessionCreateParams


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
        self.http = stripe.HTTPXClient()  # async, on the httpx the service already depends on
        self.client = stripe.StripeClient(
            str(settings.stripe_secret_key),
            base_addresses={"api": settings.stripe_api_base} if settings.stripe_api_base else None,
            max_network_retries=2,  # connection errors, 409 and 5xx; our idempotency keys make retries safe
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

    async def close(self) -> None:
        await self.http.close_async()  # type: ignore[no-untyped-call]  # stripe's HTTPXClient.close_async has no annotations


async def expire_quietly(gateway: Gateway, session_id: str) -> Session:
    """Expire an open session; if it is not open any more, return it as Stripe has it."""
    try:
        return await gateway.expire(session_id)
    except stripe.InvalidRequestError:
        return await gateway.retrieve(session_id)
