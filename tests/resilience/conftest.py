"""Fixtures for the resilience tests: a fresh PostgreSQL database each, and a real SMTP server.

They break things on purpose (several servers on one database, kill -9, a PostgreSQL restart), so they run
once, in the PostgreSQL pass of scripts/test (CONFERENCE_TEST_DATABASE=postgresql), not in the SQLite pass too.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller

from tests import conftest, support
from tests.conference.test_email import Mailbox, start_smtp


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if conftest.KIND != "postgresql":
        pytest.skip("resilience tests run in the PostgreSQL pass (CONFERENCE_TEST_DATABASE=postgresql)")
    support.require_postgres()
    factory: support.DatabaseFactory = request.getfixturevalue("pg_databases")
    url = factory.new()
    yield url
    factory.drop(url)


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def smtp_port(mailbox: Mailbox) -> Iterator[int]:
    port = support.free_port()
    controller: Controller = start_smtp(mailbox, port)
    yield port
    controller.stop()
