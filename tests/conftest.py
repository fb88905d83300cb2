"""Fixtures: a fresh migrated database per test (SQLite by default, PostgreSQL with
CONFERENCE_TEST_DATABASE=postgresql), an app on it, an httpx client that talks to it in-process, and a real SMTP
server (aiosmtpd) on a free port with its mailbox.

Helpers (not fixtures) are in tests/support.py and tests/factories.py: import them from there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from conference.core.db import Database
from conference.core.settings import Settings
from conference.server import plugins
from conference.server.app import create_app
from tests import support
from tests.factories import make_conference
from tests.support import KIND, Mailbox, make_settings, running_app, smtp_env, start_smtp


@pytest.fixture(scope="session", autouse=True)
def installed() -> None:
    """What the app and the CLI plug in at start-up (email composers, hooks), for tests that call the domain
    without making an app first: otherwise such a test would pass or fail by what ran before it."""
    plugins.install()


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


# --- mail -------------------------------------------------------------------------------------------------------


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def smtp_port() -> int:
    return support.free_port()


@pytest.fixture
def smtp_server(mailbox: Mailbox, smtp_port: int) -> Iterator[Controller]:
    controller = start_smtp(mailbox, smtp_port)
    yield controller
    controller.stop()


@pytest.fixture
async def mail_client(
    database_url: str, tickets: dict[str, Any], smtp_server: Controller, smtp_port: int
) -> AsyncIterator[httpx.AsyncClient]:
    """A client for an app that sends through the test's SMTP server (the conference is seeded first)."""
    async with running_app(database_url, **smtp_env(smtp_port)) as client:
        yield client
