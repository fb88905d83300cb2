"""Which database errors are answered 503: the cases the PostgreSQL restart test met, pinned without a restart.

While PostgreSQL starts up or shuts down, asyncpg refuses new connections with plain PostgresErrors
(SQLSTATE 57P03 "the database system is starting up", 57P01 admin_shutdown...), which SQLAlchemy wraps as a
bare DBAPIError, neither OperationalError nor invalidated: they were answered 500 before.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.requests import Request
from starlette.routing import Route

from conference.core.db import is_unavailable
from conference.server.app import create_app
from tests.support import make_settings

pytestmark = pytest.mark.resilience


class FakePgError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__("driver error")
        self.sqlstate = self.pgcode = sqlstate


def wrapped(sqlstate: str | None, cls: type[DBAPIError] = DBAPIError) -> DBAPIError:
    return cls("SELECT 1", None, FakePgError(sqlstate))


@pytest.mark.parametrize("sqlstate", ["57P03", "57P01", "57P02", "08006", "08001", "53300"])
def test_server_going_away_or_starting_is_unavailable(sqlstate: str) -> None:
    assert is_unavailable(wrapped(sqlstate))


@pytest.mark.parametrize("error", [wrapped("23505", IntegrityError), wrapped("42P01"), wrapped(None)])
def test_bugs_are_not_unavailable(error: DBAPIError) -> None:
    assert not is_unavailable(error)


def test_pool_timeout_and_refused_connections_are_unavailable() -> None:
    assert is_unavailable(PoolTimeout("QueuePool limit reached"))
    assert is_unavailable(ConnectionRefusedError())


async def test_unavailable_is_a_503_answered_without_re_raising() -> None:
    """Answered by a handler that does not re-raise (Starlette's Exception handler does, and uvicorn then closes
    the keep-alive connection); a real bug still reaches the 500 handler."""
    app = create_app(make_settings("sqlite+aiosqlite:///:memory:"))

    async def starting(request: Request) -> None:
        raise wrapped("57P03")

    async def bug(request: Request) -> None:
        raise wrapped("42P01")

    app.router.routes.insert(0, Route("/api/v1/test-starting", starting))
    app.router.routes.insert(0, Route("/api/v1/test-bug", bug))
    # The default transport raises whatever the app re-raises: the 503 must come back as a plain answer.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        unavailable = await client.get("/api/v1/test-starting")
        with pytest.raises(DBAPIError):
            await client.get(
                "/api/v1/test-bug"
            )  # re-raised after the 500 answer, so uvicorn logs its traceback
    lenient = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=lenient, base_url="http://testserver") as client:
        broken = await client.get("/api/v1/test-bug")
    assert unavailable.status_code == 503
    assert unavailable.json()["error"]["code"] == "service_unavailable"
    assert broken.status_code == 500
    assert broken.json()["error"]["code"] == "internal_error"
