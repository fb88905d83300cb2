"""Fixtures the conference tests share (the mail server and its mailbox are in tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conference.core.db import Database
from tests.support import organiser_token, sign_in


@pytest.fixture
async def organiser(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> httpx.AsyncClient:
    """The test's client, signed in to the console as an organiser (the conference is seeded first)."""
    await sign_in(client, await organiser_token(database))
    return client
