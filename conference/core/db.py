"""The whole database lifecycle: engines, one transaction per use-case, and the capacity lock.

SQLite (the embedded default) gets a single writer connection per process whose transactions open with
`BEGIN IMMEDIATE`, so a write transaction holds SQLite's one write lock from its first statement: checks
made inside it cannot race, across workers too. Reads use a separate small pool (WAL lets them run beside
the writer). PostgreSQL uses one pooled engine for both, and `lock_for_update` takes a row lock
(`SELECT ... FOR UPDATE`) on the row whose availability a use-case is about to check.

A worker of this process can ask to hear when a write transaction that inserted into its table has committed
(`Database.after_insert_commit`): the mail sender is woken that way when mail is queued, by the ORM or by a
Core INSERT alike, and never before the rows are visible to it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.pool import AsyncAdaptedQueuePool

from conference.core import sqlite_inline
from conference.core.settings import Settings


class _WithId(Protocol):
    """A table with an `id` primary key: what lock_for_update and try_lock lock a row of."""

    id: Any


T = TypeVar("T", bound=_WithId)

# Exceptions that mean "the database is not reachable or too busy right now", answered with 503. PoolTimeout:
# every pooled connection stayed busy for pool_timeout (SQLAlchemy's own TimeoutError, not the builtin one).
UNAVAILABLE = (OperationalError, InterfaceError, ConnectionError, OSError, TimeoutError, PoolTimeout)
# SQLSTATEs of a server that is going away, starting up, or full (asyncpg raises them as plain PostgresErrors,
# which SQLAlchemy wraps as a bare DBAPIError): 08xxx connection exceptions, 57P01 admin_shutdown,
# 57P02 crash_shutdown, 57P03 cannot_connect_now ("the database system is starting up"), 53300
# too_many_connections.
UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


def _sqlite_engine(url: str, *, synchronous: str, immediate: bool, pool_size: int) -> AsyncEngine:
    path = make_url(url).database or ":memory:"
    engine = create_async_engine(
        url,
        # Statements run on the event loop's thread, not aiosqlite's (see conference/core/sqlite_inline.py).
        async_creator=sqlite_inline.connector(path, busy_timeout=30),
        poolclass=AsyncAdaptedQueuePool,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=30,
        hide_parameters=True,  # bound values (names, emails) never reach logs or error text
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (the SQLAlchemy docs' recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA wal_autocheckpoint=0")  # the Checkpointer's thread does it, off the event loop
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


# Keys of the notes that tie a write transaction to the tables it inserted into (see after_insert_commit).
_INSERTED = (
    "conference.inserted_tables"  # on the DBAPI connection: watched tables its transaction inserted into
)
_CONNECTION = "conference.connection_info"  # on the session: its connection's info dict
_DATABASE = "conference.database"  # on the session: the Database that made it


class _WriteSession(Session):
    """The sessions of Database.transaction(): once one commits, the callbacks for the tables it inserted into
    run (Database.after_insert_commit)."""


@event.listens_for(_WriteSession, "after_begin")
def _begun(session: Session, transaction: SessionTransaction, connection: sa.Connection) -> None:
    if transaction.nested:  # a savepoint inside the transaction: its inserts belong to the outer one
        return
    connection.info.pop(_INSERTED, None)  # left by a transaction that rolled back on this pooled connection
    session.info[_CONNECTION] = connection.info


@event.listens_for(_WriteSession, "after_commit")
def _committed(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the transaction has not committed yet
        return
    info = session.info.pop(_CONNECTION, None)
    inserted = info.pop(_INSERTED, None) if info is not None else None
    if inserted:
        session.info[_DATABASE].run_after_insert_commit(inserted)


@dataclass
class Database:
    settings: Settings
    writer: AsyncEngine
    reader: AsyncEngine
    checkpointer: sqlite_inline.Checkpointer | None = None
    _after_insert: dict[str, list[Callable[[], None]]] = field(default_factory=dict, init=False, repr=False)
    _watched: re.Pattern[str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        event.listen(self.writer.sync_engine, "before_cursor_execute", self._note_inserts)

    def after_insert_commit(self, table: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` (on the event loop, right after the commit) whenever a write transaction of this
        Database that inserted rows into `table` commits: by the ORM or a Core INSERT, a CTE's included.
        Returns the function that stops it."""
        self._after_insert.setdefault(table, []).append(callback)
        self._watch()

        def stop() -> None:
            callbacks = self._after_insert.get(table, [])
            if callback in callbacks:
                callbacks.remove(callback)
            if not callbacks:
                self._after_insert.pop(table, None)
            self._watch()

        return stop

    def _watch(self) -> None:
        names = "|".join(re.escape(name) for name in sorted(self._after_insert))
        self._watched = re.compile(rf'INSERT INTO "?({names})"?[\s(]') if names else None

    def _note_inserts(
        self, conn: sa.Connection, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        if self._watched is None or not statement.startswith(("INSERT", "WITH")):
            return
        for match in self._watched.finditer(statement):
            conn.info.setdefault(_INSERTED, set()).add(match.group(1))

    def run_after_insert_commit(self, tables: set[str]) -> None:
        for table in tables:
            for callback in list(self._after_insert.get(table, ())):
                callback()

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        url = settings.database_url
        if settings.is_sqlite:
            sync = settings.sqlite_synchronous
            if sync not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
                raise ValueError("CONFERENCE_SQLITE_SYNCHRONOUS must be OFF, NORMAL, FULL or EXTRA")
            writer = _sqlite_engine(url, synchronous=sync, immediate=True, pool_size=1)
            reader = _sqlite_engine(url, synchronous=sync, immediate=False, pool_size=4)
            path = make_url(url).database
            checkpointer = sqlite_inline.Checkpointer(path) if path and path != ":memory:" else None
            return cls(settings, writer, reader, checkpointer)
        engine = create_async_engine(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size,
            pool_timeout=10,
            pool_pre_ping=True,
            hide_parameters=True,
            # A statement stuck behind a lock fails fast instead of piling up requests.
            connect_args={"server_settings": {"lock_timeout": "5s", "statement_timeout": "30s"}},
        )
        return cls(settings, engine, engine)

    @property
    def is_sqlite(self) -> bool:
        return self.writer.dialect.name == "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        async with (
            AsyncSession(
                self.writer, expire_on_commit=False, sync_session_class=_WriteSession, info={_DATABASE: self}
            ) as db,
            db.begin(),
        ):
            yield db

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with AsyncSession(self.reader, expire_on_commit=False) as db, db.begin():
            yield db

    async def warm_up(self) -> None:
        """Open the pools' first connections before the first request, so it doesn't wait for them."""
        try:
            async with self.transaction() as db:
                await db.execute(sa.text("SELECT 1"))
            async with self.read() as db:
                await db.execute(sa.text("SELECT 1"))
        except Exception as exc:
            if not is_unavailable(exc):  # e.g. "the database system is starting up" (a bare DBAPIError)
                raise
            # not reachable yet: /readyz says so, and requests answer 503 until it is

    async def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


async def lock_for_update(db: AsyncSession, model: type[T], ident: Any) -> T:
    """Lock one row for the rest of the transaction and return it fresh from the database.

    Take it once per transaction, late, but before the availability check (pretix's rule). On SQLite the
    transaction already holds the database's write lock (BEGIN IMMEDIATE), so FOR UPDATE is not rendered.
    """
    assert db.in_transaction(), "lock_for_update needs a transaction"
    stmt = (
        sa.select(model).where(model.id == ident).with_for_update().execution_options(populate_existing=True)
    )
    return (await db.execute(stmt)).scalar_one()


async def try_lock(db: AsyncSession, model: type[T], ident: Any) -> T | None:
    """Like lock_for_update, but None instead of waiting when another transaction holds the row.

    For locks taken against the usual order (see sessions/workshops/capacity.py), where waiting could deadlock.
    """
    assert db.in_transaction(), "try_lock needs a transaction"
    stmt = (
        sa.select(model)
        .where(model.id == ident)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return (await db.execute(stmt)).scalar_one_or_none()


def is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and not isinstance(exc, (OperationalError, InterfaceError)):
        if getattr(exc, "connection_invalidated", False):
            return True
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return isinstance(sqlstate, str) and sqlstate.startswith(UNAVAILABLE_SQLSTATES)
    return isinstance(exc, UNAVAILABLE)


def _with_defaults(table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for column in table.c:
        if column.name not in out and column.default is not None:
            default: Any = column.default
            out[column.name] = default.arg(None) if default.is_callable else default.arg
    return out


_TOGETHER: dict[tuple[tuple[str, tuple[str, ...]], ...], sa.Insert] = {}


async def insert_rows(conn: AsyncConnection, rows: list[tuple[sa.Table, dict[str, Any]]]) -> None:
    """Insert one row into each of several tables, in one round trip on PostgreSQL.

    PostgreSQL runs them as one statement of data-modifying CTEs, which matters on paths that hold the capacity
    lock: each round trip there is time every other registration waits. SQLite (no INSERT in a CTE, and no
    round trips to save) runs them one by one. An IntegrityError names the violated constraint either way.
    """
    if conn.dialect.name != "postgresql" or len(rows) == 1:
        for table, row in rows:
            await conn.execute(sa.insert(table), row)
        return
    full = [(table, _with_defaults(table, row)) for table, row in rows]
    shape = tuple((table.name, tuple(sorted(row))) for table, row in full)
    stmt = _TOGETHER.get(shape)
    if stmt is None:
        inserts = [
            sa.insert(table).values(
                {name: sa.bindparam(f"p{i}_{name}", type_=table.c[name].type) for name in row}
            )
            for i, (table, row) in enumerate(full)
        ]
        stmt = inserts[-1].add_cte(*(insert.cte(f"row{i}") for i, insert in enumerate(inserts[:-1])))
        _TOGETHER[shape] = stmt
    params = {f"p{i}_{name}": value for i, (_table, row) in enumerate(full) for name, value in row.items()}
    await conn.execute(stmt, params)
