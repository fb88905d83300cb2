"""Fixtures the conference tests share (the mail server and its mailbox are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from conference.core.db import Database
from tests import support
from tests.stripe_fake import FakeStripe
from tests.support import organiser_token, sign_in


@pytest.fixture
async def organiser(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> httpx.AsyncClient:
    """The test's client, signed in to the console as an organiser (the conference is seeded first)."""
    await sign_in(client, await organiser_token(database))
    return client


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    """The Stripe fake (tests/stripe_fake.py), serving for this test only."""
    with FakeStripe() as f:
        yield f


@pytest.fixture
async def paid(database_url: str, fake: FakeStripe) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The app taking card payments through `fake`, its lifespan running: a client, and the app (for
    `app.state.payments.tick()`)."""
    async with support.paid_app(database_url, fake) as client_and_app:
        yield client_and_app
