"""The mail sender is woken by the database after a commit that queued mail (conference/core/db.py), not by hand:
every way of queueing wakes it once the transaction commits, and nothing else does."""

from __future__ import annotations

import sqlalchemy as sa

from conference.core.db import Database, insert_rows
from conference.core.models import AuditEntry, OutboxEmail
from conference.core.settings import Settings
from conference.mail.outbox import outbox_row, queue_email


class Calls:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def _outbox_table() -> sa.Table:
    table = OutboxEmail.metadata.tables[OutboxEmail.__tablename__]
    assert isinstance(table, sa.Table)
    return table


async def test_an_orm_insert_wakes_the_sender_after_commit_not_before(
    database: Database, settings: Settings
) -> None:
    woken = Calls()
    database.after_insert_commit(OutboxEmail.__tablename__, woken)
    async with database.transaction() as db:
        queue_email(db, settings, kind="manage_link", to="ada@example.org")
        await db.flush()
        assert woken.count == 0  # written, not yet committed: the sender would find nothing
    assert woken.count == 1


async def test_a_core_insert_wakes_it_too(database: Database, settings: Settings) -> None:
    woken = Calls()
    database.after_insert_commit(OutboxEmail.__tablename__, woken)
    async with database.transaction() as db:
        conn = await db.connection()
        row = outbox_row(settings, kind="manage_link", to="grace@example.org")
        await insert_rows(conn, [(_outbox_table(), row)])
    assert woken.count == 1


async def test_a_rollback_or_another_table_does_not_wake_it(database: Database, settings: Settings) -> None:
    woken = Calls()
    database.after_insert_commit(OutboxEmail.__tablename__, woken)

    class Abandon(Exception):
        pass

    try:
        async with database.transaction() as db:
            queue_email(db, settings, kind="manage_link", to="ada@example.org")
            await db.flush()
            raise Abandon
    except Abandon:
        pass
    async with database.transaction() as db:
        db.add(AuditEntry(action="conference.test", actor="test", subject="", data={}))
    assert woken.count == 0
    # The rolled-back insert left nothing behind on the pooled connection: a later empty commit stays quiet.
    async with database.transaction() as db:
        await db.execute(sa.select(1))
    assert woken.count == 0


async def test_a_released_savepoint_wakes_it_only_when_the_transaction_commits(
    database: Database, settings: Settings
) -> None:
    woken = Calls()
    database.after_insert_commit(OutboxEmail.__tablename__, woken)
    async with database.transaction() as db:
        async with db.begin_nested():
            queue_email(db, settings, kind="manage_link", to="ada@example.org")
        assert woken.count == 0
    assert woken.count == 1


async def test_a_stopped_watch_is_not_called(database: Database, settings: Settings) -> None:
    woken = Calls()
    stop = database.after_insert_commit(OutboxEmail.__tablename__, woken)
    stop()
    async with database.transaction() as db:
        queue_email(db, settings, kind="manage_link", to="ada@example.org")
    assert woken.count == 0
