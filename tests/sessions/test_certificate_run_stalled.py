"""A bulk run whose worker stopped (a restart, a crash) stops moving: its page says it stopped, with what it got
through, and the next run may start at once instead of being refused as "already running"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference.core.db import Database
from conference.core.models import utcnow
from conference.core.settings import Settings
from conference.places import get_conference
from sessions.attendance import bulk
from sessions.attendance.console import run_public
from sessions.models import CertificateRun
from tests.sessions.test_certificates import ORGANISER, attended_a_and_c, world  # noqa: F401  (fixture)


async def _start(database: Database) -> CertificateRun:
    async with database.transaction() as db:
        conference = await get_conference(db)
        assert conference.id is not None
        return await bulk.start_run(db, conference_id=conference.id, actor=ORGANISER)


async def _age(database: Database, run: CertificateRun, by: timedelta) -> None:
    async with database.transaction() as db:
        await db.execute(
            sa.update(CertificateRun)
            .where(col(CertificateRun.id) == run.id)
            .values(updated_at=utcnow() - by, done=1)
        )


async def test_a_run_that_stopped_moving_is_shown_stopped_and_does_not_block_the_next(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    world: Any,  # noqa: F811
) -> None:
    await attended_a_and_c(client, database, world)
    first = await _start(database)
    # Still moving (a batch a moment ago): a second run is refused, and the page polls on.
    await _age(database, first, timedelta(seconds=30))
    with pytest.raises(bulk.RunInProgress):
        await _start(database)
    async with database.read() as db:
        moving = await db.get(CertificateRun, first.id)
    assert moving is not None and not run_public(moving)["finished"]

    # Its worker died: nothing moved for longer than STALE_AFTER.
    await _age(database, first, bulk.STALE_AFTER + timedelta(seconds=5))
    async with database.read() as db:
        dead = await db.get(CertificateRun, first.id)
    assert dead is not None
    shown = run_public(dead)
    assert shown["finished"] and shown["failed"]
    assert "stopped after 1 of 1 delegates" in shown["error"] and "Issue certificates again" in shown["error"]

    second = await _start(database)
    async with database.read() as db:
        closed = await db.get(CertificateRun, first.id, populate_existing=True)
    assert closed is not None and closed.finished_at is not None and "stopped after 1 of 1" in closed.error
    finished = await bulk.run_issue(database, settings, run_id=second.id, actor=ORGANISER)
    assert (finished.done, finished.issued, finished.error) == (1, 1, "")
