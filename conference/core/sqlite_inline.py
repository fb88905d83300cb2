"""SQLite run on the event loop's own thread, for SQLAlchemy's async engine.

aiosqlite runs every statement on a helper thread and hands the result back through the event loop. For the
statements this service runs on its hot paths (a lookup by key, one insert) the two hand-offs cost about ten
times the statement itself: on a 2-core machine, 450 three-statement transactions/s through aiosqlite against
4,500/s through the same SQLAlchemy stack on plain `sqlite3` (bench/README.md). SQLite is a library inside this
process and such statements take microseconds on an indexed WAL database, so this adapter runs them inline and
keeps SQLAlchemy's async API (and aiosqlite's dialect) unchanged: `Database` passes `connect` as the engine's
`async_creator`.

Only one thing may block for long in SQLite: waiting for the write lock that another process (another worker)
holds. So connections get no busy timeout of SQLite's (which would sleep on this thread): a statement that finds
the database locked (in practice `BEGIN IMMEDIATE`; in WAL mode readers don't wait) is retried after an
`asyncio.sleep`, which lets this process's other requests run meanwhile, until `busy_timeout` seconds have
passed; then SQLite's error surfaces as OperationalError (answered with 503).

The objects below implement the part of aiosqlite's interface that SQLAlchemy's aiosqlite adapter uses;
tests/conference/test_sqlite_inline.py pins that contract for the SQLAlchemy version in the lock file.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

_LOCKED = ("database is locked", "database table is locked")


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    return any(text in str(exc) for text in _LOCKED)


class InlineCursor:
    __slots__ = ("_busy_timeout", "_cursor")

    def __init__(self, cursor: sqlite3.Cursor, busy_timeout: float) -> None:
        self._cursor = cursor
        self._busy_timeout = busy_timeout

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> InlineCursor:
        try:
            self._cursor.execute(sql, parameters)
        except sqlite3.OperationalError as exc:
            if not _is_locked(exc):
                raise
            await self._retry(sql, parameters)
        return self

    async def _retry(self, sql: str, parameters: Sequence[Any] | dict[str, Any]) -> None:
        # Another process holds the lock: wait for it without blocking this process's event loop.
        deadline = time.monotonic() + self._busy_timeout
        delay = 0.0005
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.02)
            try:
                self._cursor.execute(sql, parameters)
                return
            except sqlite3.OperationalError as exc:
                if not _is_locked(exc) or time.monotonic() >= deadline:
                    raise

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _RunNow:
    """Stands in for aiosqlite's request queue, which SQLAlchemy uses to set the isolation level."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:  # noqa: BLE001  (handed to the awaiting caller, as aiosqlite would)
            future.set_exception(exc)


class InlineConnection:
    def __init__(self, connection: sqlite3.Connection, busy_timeout: float) -> None:
        self._conn = connection
        self._connection: sqlite3.Connection | None = (
            connection  # SQLAlchemy checks this is set before commit
        )
        self._tx = _RunNow()
        self._busy_timeout = busy_timeout

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor(), self._busy_timeout)

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args: Any, **kw: Any) -> None:
        self._conn.create_function(*args, **kw)

    async def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()


def connector(path: str, *, busy_timeout: float = 30.0) -> Callable[[], Any]:
    """An `async_creator` for create_async_engine: a new inline connection to the database file at `path`."""

    async def connect() -> InlineConnection:
        # check_same_thread off: the pool may hand a connection to whichever thread runs the event loop (tests
        # run several loops); SQLAlchemy's pool guarantees one user at a time.
        connection = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
        return InlineConnection(connection, busy_timeout)

    return connect


class Checkpointer:
    """Moves WAL checkpoints off the event loop: a daemon thread runs a PASSIVE checkpoint every `interval`.

    With statements inline, SQLite's automatic checkpoint (at 1,000 WAL pages, inside some commit) would stall the
    loop for as long as it takes to copy pages and fsync the database file: about 90 ms here, every ~600 check-ins.
    So connections turn it off (`PRAGMA wal_autocheckpoint=0`) and this thread does the work on its own
    connection. PASSIVE never waits for readers or writers; one that finds another checkpoint running just skips.
    """

    def __init__(self, path: str, interval: float = 1.0) -> None:
        self._path = path
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        try:
            while not self._stop.wait(self._interval):
                try:
                    if connection is None:  # here, not before the loop: the file may not be reachable yet
                        connection = sqlite3.connect(
                            self._path, timeout=0, isolation_level=None, check_same_thread=False
                        )
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    pass  # busy, not yet a WAL database, or not reachable: the next round tries again
        finally:
            if connection is not None:
                connection.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
