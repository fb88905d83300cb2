"""Fixtures for the race tests: a fresh migrated database of each kind for every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import support


@pytest.fixture(scope="module")
def sqlite_databases(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> support.DatabaseFactory:
    """The suite's own factory when it is on SQLite, else one just for this module (SQLite needs no cleanup)."""
    if support.KIND == "sqlite":
        factory: support.DatabaseFactory = request.getfixturevalue("databases")
        return factory
    return support.DatabaseFactory("sqlite", tmp_path_factory.mktemp("race-sqlite"))


@pytest.fixture(params=["sqlite", "postgresql"])
def race_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh migrated database of each kind (PostgreSQL from the session's pg_databases factory)."""
    factory: support.DatabaseFactory = request.getfixturevalue(
        "pg_databases" if request.param == "postgresql" else "sqlite_databases"
    )
    url = factory.new()
    yield url
    factory.drop(url)
