"""The inline SQLite adapter: waiting for another process's write lock never blocks the event loop, the wait
gives up with a clear error, transactions behave as SQLAlchemy expects, and WAL checkpoints happen off the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from conference.core import sqlite_inline
from tests.support import PATIENCE, eventually, wait_until

METADATA = sa.MetaData()
ITEM = sa.Table("item", METADATA, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String))


def engine_for(path: Path, busy_timeout: float = 30.0):  # type: ignore[no-untyped-def]
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{path}",
        async_creator=sqlite_inline.connector(str(path), busy_timeout=busy_timeout),
    )

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # through the adapter's isolation-level path
        dbapi_connection.cursor().execute("PRAGMA journal_mode=WAL")

    @sa.event.listens_for(engine.sync_engine, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


async def create(path: Path) -> None:
    engine = engine_for(path)
    async with engine.begin() as conn:
        await conn.run_sync(METADATA.create_all)
    await engine.dispose()


async def test_commit_rollback_and_results(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    await create(path)
    engine = engine_for(path)
    try:
        async with engine.begin() as conn:
            await conn.execute(ITEM.insert(), [{"name": "kept"}, {"name": "also kept"}])
        with pytest.raises(RuntimeError):
            async with engine.begin() as conn:
                await conn.execute(ITEM.insert(), {"name": "rolled back"})
                raise RuntimeError("abort")
        async with engine.connect() as conn:
            names = (await conn.execute(sa.select(ITEM.c.name).order_by(ITEM.c.id))).scalars().all()
            inserted = await conn.execute(ITEM.insert().returning(ITEM.c.id), {"name": "x"})
            assert inserted.scalar_one() == 3
            await conn.rollback()
        assert names == ["kept", "also kept"]
    finally:
        await engine.dispose()


async def test_waiting_for_another_writer_does_not_block_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    await create(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's write transaction, say
    engine = engine_for(path)  # a busy timeout of 30 s: the write waits for the lock all through this test
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    async def write() -> None:
        async with engine.begin() as conn:
            await conn.execute(ITEM.insert(), {"name": "after the wait"})

    tick_task = asyncio.create_task(ticker())
    try:
        write_task = asyncio.create_task(write())
        # Counted, not timed: the loop serves others (20 ticks) while the write waits. A wait that blocked the
        # loop would run no tick until the write gave up, 30 s on: the write would be done, with an error.
        await eventually(lambda: ticks >= 20 or write_task.done(), what="20 ticks of the event loop")
        assert not write_task.done()  # still waiting for the lock...
        assert ticks >= 20  # ...while the loop kept serving others
        assert other.execute("SELECT count(*) FROM item").fetchall() == [(0,)]
        other.execute("COMMIT")
        await asyncio.wait_for(write_task, PATIENCE)  # and it goes on once the lock is free
        assert other.execute("SELECT name FROM item").fetchall() == [("after the wait",)]
    finally:
        tick_task.cancel()
        other.close()
        await engine.dispose()


async def test_gives_up_after_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    await create(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # held until the end: only the busy timeout can end the wait
    engine = engine_for(path, busy_timeout=0.2)

    async def write() -> None:
        async with engine.begin() as conn:
            await conn.execute(ITEM.insert(), {"name": "never"})

    try:
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"):
            # A generous deadline, but shorter than the connector's default busy timeout (30 s): a wait that
            # ignored busy_timeout=0.2 would time out here instead.
            await asyncio.wait_for(write(), PATIENCE / 2)
        assert time.monotonic() - started >= 0.2  # it did wait the busy timeout before giving up
    finally:
        other.execute("ROLLBACK")
        other.close()
        await engine.dispose()


def test_checkpointer_copies_the_wal_into_the_database(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # as Database's connections do
    writer.execute("CREATE TABLE t (v TEXT)")
    for _ in range(200):
        writer.execute("INSERT INTO t VALUES (?)", ("x" * 500,))
    # Every page is still only in the WAL: the database file itself holds at most its header page.
    assert path.stat().st_size <= 4096
    checkpointer = sqlite_inline.Checkpointer(str(path), interval=0.05)
    try:
        # 200 rows of 500 bytes, copied in by the checkpointer's thread
        wait_until(lambda: path.stat().st_size >= 100_000, what="the WAL copied into the database file")
    finally:
        checkpointer.stop()
        writer.close()
    assert path.stat().st_size >= 100_000
