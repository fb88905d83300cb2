"""GET /readyz: may this instance take traffic? The database answers, and its schema is the one this code needs.

/healthz says the process is up (for restarting it); /readyz is for the load balancer, which should send no
requests here while it fails. One query per call: the alembic_version row, which proves the database answers
and says which migration it is at. The code's own head revision is read once per process, at start-up.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cache

import sqlalchemy as sa
from sqlalchemy.exc import ProgrammingError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from conference.core.db import Database

TIMEOUT_SECONDS = 3.0  # a probe must answer promptly; a database slower than this is not ready either
_VERSION = sa.text("SELECT version_num FROM alembic_version")
UPGRADE = "run `conference db upgrade`"


@dataclass(frozen=True)
class Revisions:
    head: str
    known: frozenset[str]  # every revision this code has a script for


@cache
def revisions() -> Revisions:
    from alembic.script import ScriptDirectory

    from conference.core.migrate import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = scripts.get_current_head()
    assert head is not None
    return Revisions(head, frozenset(script.revision for script in scripts.walk_revisions()))


def _not_ready(check: str, message: str, **detail: str | None) -> Response:
    body = {
        "status": "not_ready",
        **detail,
        "error": {"code": "not_ready", "check": check, "message": message},
    }
    return JSONResponse(body, status_code=503, headers={"cache-control": "no-store"})


async def check(database: Database) -> Response:
    expected = revisions()
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            async with database.read() as db:
                current = (await db.execute(_VERSION)).scalar()
    except Exception as exc:  # noqa: BLE001 - whatever stops the query, this instance is not ready
        # Reached but without the table (SQLite: "no such table"; PostgreSQL: UndefinedTable): never migrated.
        if isinstance(exc, ProgrammingError) or "no such table" in str(getattr(exc, "orig", "")):
            return _not_ready(
                "migrations",
                f"The database has no schema yet: {UPGRADE}.",
                database="ok",
                migrations=None,
                expected=expected.head,
            )
        return _not_ready(
            "database",
            f"The database did not answer ({type(exc).__name__}): check that it is "
            f"running and that CONFERENCE_DATABASE_URL points at it.",
            database="unreachable",
            migrations=None,
            expected=expected.head,
        )
    if current != expected.head:
        if current in expected.known:
            message = f"The database schema is at {current}, this code needs {expected.head}: {UPGRADE}."
        else:
            message = (
                f"The database schema is at {current or 'nothing'}, which this code does not know (newer "
                f"code migrated it?); this code needs {expected.head}."
            )
        return _not_ready("migrations", message, database="ok", migrations=current, expected=expected.head)
    return JSONResponse(
        {"status": "ready", "database": "ok", "migrations": current}, headers={"cache-control": "no-store"}
    )


async def readyz(request: Request) -> Response:
    return await check(request.app.state.database)
