"""What the programme's tests share: every test's settings keep library uploads in its own temporary folder (never
in the checkout), and `library` is the best-practice library of tests/sessions/library_world.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from conference.core.db import Database
from conference.core.settings import Settings
from tests.factories import set_call
from tests.sessions.library_world import Library, make_library
from tests.support import make_settings


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, CONFERENCE_LIBRARY_DIR=str(tmp_path / "library"))


@pytest.fixture
async def library(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> Library:
    await set_call(database, open_=True)
    return await make_library(client, database, settings, tickets)
