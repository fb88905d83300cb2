"""Fixtures: a fresh migrated database per test (SQLite by default, PostgreSQL with
CONFERENCE_TEST_DATABASE=postgresql), an app on it, and an httpx client that talks to it in-process."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.config import Config

from conference.core.db import Database
from conference.core.settings import Settings, load_settings
from conference.server.app import create_app
from tests import support
from tests.factories import make_conference

KIND = os.environ.get("CONFERENCE_TEST_DATABASE", "sqlite")


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[support.DatabaseFactory]:
    if KIND == "postgresql":
        support.require_postgres()
    factory = support.DatabaseFactory(KIND, tmp_path_factory.mktemp("db"))
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def pg_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[support.DatabaseFactory]:
    """PostgreSQL databases whatever CONFERENCE_TEST_DATABASE says (for tests that must run on both)."""
    support.require_postgres()
    factory = support.DatabaseFactory("postgresql", tmp_path_factory.mktemp("pg"))
    yield factory
    factory.close()


@pytest.fixture
def database_url(databases: support.DatabaseFactory) -> Iterator[str]:
    url = databases.new()
    yield url
    databases.drop(url)


def make_settings(database_url: str, **env: str) -> Settings:
    return load_settings(
        Config(
            environ={
                "CONFERENCE_DATABASE_URL": database_url,
                "CONFERENCE_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
                "CONFERENCE_BASE_URL": "http://testserver",
                "CONFERENCE_RATE_LIMIT": "",
                **env,
            }
        )
    )


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database.from_settings(settings)
    yield db
    await db.dispose()


@pytest.fixture
async def tickets(database: Database) -> dict[str, object]:
    return await make_conference(database, capacity=5)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    return tmp_path
