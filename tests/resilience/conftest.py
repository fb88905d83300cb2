"""Fixtures for the resilience tests: a fresh PostgreSQL database each, and a real SMTP server.

They break things on purpose (several servers on one database, kill -9, a PostgreSQL restart), so they run
once, in the PostgreSQL pass of scripts/test (CONFERENCE_TEST_DATABASE=postgresql), not in the SQLite pass too.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller

from tests import support
from tests.support import Mailbox, start_smtp


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if support.KIND != "postgresql":
        pytest.skip("resilience tests run in the PostgreSQL pass (CONFERENCE_TEST_DATABASE=postgresql)")
    support.require_postgres()
    factory: support.DatabaseFactory = request.getfixturevalue("pg_databases")
    url = factory.new()
    yield url
    factory.drop(url)


# `mailbox` is tests/conftest.py's; here the SMTP server runs for the whole test, from the moment its port is asked
# for, since these tests pass the port to servers in processes of their own.
@pytest.fixture
def smtp_port(mailbox: Mailbox) -> Iterator[int]:
    port = support.free_port()
    controller: Controller = start_smtp(mailbox, port)
    yield port
    controller.stop()
