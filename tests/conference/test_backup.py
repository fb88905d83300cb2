"""`conference backup` / `conference restore`: a backup taken while a live server takes registrations, seat
bookings and check-ins restores into a fresh database whole and self-consistent; wrong-kind files and
non-empty targets are refused.

The load goes on during the backup, so the restored database can't be compared with the source at a known
moment. Instead it is checked against itself (every seat and check-in belongs to a registration there, each
registration has its confirmation email and audit entry, the statuses add up) and against what the load knew:
everything that got its 2xx before the backup started is there, nothing the load started after the backup
ended is, and whatever is there is exactly as the source has it.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from badges.codes import BadgeSigner
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.migrate import current_head
from conference.server import backup as backup_module
from conference.web.auth import create_api_token
from sessions.models import Kind, RoomCreate, SessionCreate, TimeSlotCreate
from sessions.workshops import programme
from tests import support
from tests.factories import make_conference, registration_body
from tests.support import make_settings

CAPACITY = 20  # conference places: later registrations are waitlisted
ROOM = 8  # workshop seats: later bookings are waitlisted
BEFORE = 30  # registrations the load completes before the backup starts
AFTER = 12  # and after it ends
CLIENTS = 4


def cli(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CONFERENCE_DATABASE_URL": database_url,
        "CONFERENCE_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    }
    return subprocess.run(
        [sys.executable, "-m", "conference.server.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- the load ----------------------------------------------------------------------------------------------


@dataclass
class Done:
    """What the load got a success for, with the monotonic time its request was sent and answered."""

    kind: str  # registration | seat | checkin
    key: str  # registration id (seat and check-in: the registration's)
    sent: float
    answered: float
    status: str = ""


@dataclass
class Load:
    base: str
    session_id: uuid.UUID
    staff: dict[str, str]
    signer: BadgeSigner
    ticket: uuid.UUID
    done: list[Done] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def registrations(self) -> int:
        with self.lock:
            return sum(d.kind == "registration" for d in self.done)

    def record(self, d: Done) -> None:
        with self.lock:
            self.done.append(d)

    async def one_delegate(self, client: httpx.AsyncClient) -> None:
        sent = time.monotonic()
        r = await client.post("/api/v1/registrations", json=registration_body(self.ticket))
        if r.status_code != 201:
            self.failures.append(f"register {r.status_code} {r.text[:200]}")
            return
        body = r.json()
        rid = body["id"]
        self.record(Done("registration", rid, sent, time.monotonic(), body["status"]))
        if body["status"] != "confirmed":
            return
        sent = time.monotonic()
        r = await client.post(
            f"/api/v1/registrations/{rid}/sessions",
            json={"session_id": str(self.session_id)},
            headers={"authorization": f"Bearer {body['manage_token']}"},
        )
        if r.status_code != 201:
            self.failures.append(f"book {r.status_code} {r.text[:200]}")
            return
        self.record(Done("seat", rid, sent, time.monotonic(), r.json()["status"]))
        sent = time.monotonic()
        r = await client.post(
            "/api/v1/checkins",
            headers=self.staff,
            json={"code": self.signer.code_for(body["reference"], 1), "list": "door", "device": "door-a"},
        )
        if r.status_code != 200 or r.json()["result"] != "ok":
            self.failures.append(f"checkin {r.status_code} {r.text[:200]}")
            return
        self.record(Done("checkin", rid, sent, time.monotonic(), "ok"))

    async def run(self) -> None:
        async with httpx.AsyncClient(base_url=self.base, timeout=30) as client:

            async def worker() -> None:
                while not self.stop.is_set() and not self.failures:
                    await self.one_delegate(client)

            await asyncio.gather(*[worker() for _ in range(CLIENTS)])


def _wait_for(condition: Any, what: str, load: Load, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert not load.failures, load.failures
        assert time.monotonic() < deadline, f"the load did not reach {what} in {seconds} s"
        time.sleep(0.02)


# --- the database's contents -------------------------------------------------------------------------------


@dataclass
class Contents:
    revision: str
    registrations: dict[str, tuple[str, str, int]]  # id -> (status, reference, number)
    seats: dict[str, tuple[str, str, int]]  # id -> (registration id, status, number)
    checkins: dict[str, tuple[str | None, str, str]]  # id -> (registration id, list, result)
    emails: Counter[str]  # registration id -> "registration" emails
    created_audits: Counter[str]  # reference -> conference.registration.created entries
    seat_audits: Counter[str]  # reference -> sessions.seat.* entries
    capacity: int


def read_contents(database_url: str) -> Contents:
    async def run() -> Contents:
        database = Database.from_settings(make_settings(database_url))
        try:
            async with database.read() as db:

                def rows(sql: str) -> Any:
                    return db.execute(sa.text(sql))

                revision = (await rows("SELECT version_num FROM alembic_version")).scalar_one()
                regs = {
                    str(uuid.UUID(str(r[0]))): (r[1], r[2], r[3])
                    for r in await rows("SELECT id, status, reference, number FROM registration")
                }
                seats = {
                    str(r[0]): (str(uuid.UUID(str(r[1]))), r[2], r[3])
                    for r in await rows("SELECT id, registration_id, status, number FROM seat_booking")
                }
                checkins = {
                    str(r[0]): (str(uuid.UUID(str(r[1]))) if r[1] else None, r[2], r[3])
                    for r in await rows("SELECT id, registration_id, list, result FROM checkin")
                }
                emails = Counter(
                    str(uuid.UUID(str(r[0])))
                    for r in await rows(
                        "SELECT registration_id FROM outbox_email WHERE kind = 'registration'"
                    )
                )
                created = Counter(
                    r[0]
                    for r in await rows(
                        "SELECT subject FROM audit_entry WHERE action = 'conference.registration.created'"
                    )
                )
                seat_audits = Counter(
                    r[0]
                    for r in await rows("SELECT subject FROM audit_entry WHERE action LIKE 'sessions.seat.%'")
                )
                capacity = (await rows("SELECT capacity FROM conference")).scalar() or 0
        finally:
            await database.dispose()
        return Contents(revision, regs, seats, checkins, emails, created, seat_audits, capacity)

    return asyncio.run(run())


def assert_self_consistent(c: Contents) -> None:
    """What any committed state of the database satisfies: no half-written registration, booking or scan."""
    statuses = Counter(status for status, _, _ in c.registrations.values())
    assert sum(statuses.values()) == len(c.registrations)
    assert set(statuses) <= {"confirmed", "waitlisted"}, statuses
    assert statuses["confirmed"] <= c.capacity
    # Places go in arrival order: the confirmed are exactly the first numbers.
    numbers = sorted(n for _, _, n in c.registrations.values())
    assert numbers == list(range(1, len(numbers) + 1)), "registration numbers have a gap"
    confirmed_numbers = sorted(n for s, _, n in c.registrations.values() if s == "confirmed")
    assert confirmed_numbers == list(range(1, len(confirmed_numbers) + 1))
    for rid, (_, reference, _) in c.registrations.items():
        assert c.emails[rid] == 1, f"registration {reference} without exactly one confirmation email"
        assert c.created_audits[reference] == 1, f"registration {reference} without its audit entry"
    assert set(c.emails) <= set(c.registrations), "an email for a registration that isn't there"
    references = {ref: rid for rid, (_, ref, _) in c.registrations.items()}
    assert set(c.created_audits) <= set(references), "an audit entry for a registration that isn't there"
    for seat_id, (rid, _status, _) in c.seats.items():
        assert rid in c.registrations, f"seat {seat_id} of a registration that isn't there"
        assert c.registrations[rid][0] == "confirmed"
        assert c.seat_audits[c.registrations[rid][1]] == 1, "a seat booking without its audit entry"
    assert sum(c.seat_audits.values()) == len(c.seats)
    booked = sorted(n for _, s, n in c.seats.values() if s == "booked")
    assert len(booked) <= ROOM and booked == list(range(1, len(booked) + 1))
    assert len({rid for rid, _, _ in c.seats.values()}) == len(c.seats), "a delegate with two seats"
    for checkin_id, (rid, list_, result) in c.checkins.items():
        assert rid in c.registrations, f"check-in {checkin_id} of a registration that isn't there"
        assert (list_, result) == ("door", "ok")
    assert len({rid for rid, _, _ in c.checkins.values()}) == len(c.checkins), "admitted twice"


# --- the test under load -----------------------------------------------------------------------------------


async def _seed(url: str) -> tuple[uuid.UUID, uuid.UUID, dict[str, str]]:
    database = Database.from_settings(make_settings(url))
    try:
        tickets = await make_conference(database, capacity=CAPACITY)
        actor = Actor("organiser", "test")
        async with database.transaction() as db:
            room = await programme.create_room(db, data=RoomCreate(name="Room 1", capacity=ROOM), actor=actor)
            start = datetime(2026, 12, 8, 11, tzinfo=UTC)
            slot = await programme.create_slot(
                db, data=TimeSlotCreate(starts_at=start, ends_at=start.replace(hour=12)), actor=actor
            )
            session = await programme.create_session(
                db,
                data=SessionCreate(
                    title="Sharing data safely", kind=Kind.workshop, room_id=room.id, start_slot_id=slot.id
                ),
                actor=actor,
            )
            staff = {"authorization": f"Bearer {await create_api_token(db, role='staff', name='Door A')}"}
        return tickets["delegate"], session.id, staff
    finally:
        await database.dispose()


def backup_under_load_then_restore(source: str, target: str, tmp_path: Path) -> None:
    ticket, session_id, staff = asyncio.run(_seed(source))
    out = tmp_path / "conference.backup"
    with support.live_server(source, workers=2, log_path=tmp_path / "server.log") as base:
        load = Load(base, session_id, staff, BadgeSigner.from_settings(make_settings(source)), ticket)
        thread = threading.Thread(target=lambda: asyncio.run(load.run()), daemon=True)
        thread.start()
        try:
            _wait_for(lambda: load.registrations() >= BEFORE, f"{BEFORE} registrations", load)
            # In this process (the command's own code, without its start-up time), so that `started` is the
            # moment the copy begins: what was acknowledged just before is often only in SQLite's WAL yet.
            started = time.monotonic()
            made = backup_module.backup(source, out)
            ended = time.monotonic()
            count_at_end = load.registrations()
            _wait_for(
                lambda: load.registrations() >= count_at_end + AFTER,
                "more registrations after the backup",
                load,
            )
        finally:
            load.stop.set()
            thread.join(timeout=60)
        assert not thread.is_alive()
        assert not load.failures, load.failures
    assert made.kind == backup_module.kind_of_file(out) == backup_module.kind_of_url(source)

    restored = cli("restore", str(out), database_url=target)
    assert restored.returncode == 0, restored.stderr
    assert "restored" in restored.stderr

    source_now, back = read_contents(source), read_contents(target)
    assert back.revision == current_head()
    assert_self_consistent(source_now)
    assert_self_consistent(back)

    # Everything acknowledged before the backup began is in it.
    for d in load.done:
        if d.answered < started:
            if d.kind == "registration":
                assert d.key in back.registrations, "a registration answered 201 before the backup is missing"
            elif d.kind == "seat":
                assert any(rid == d.key for rid, _, _ in back.seats.values()), (
                    "a seat booked before the backup"
                )
            else:
                assert any(rid == d.key for rid, _, _ in back.checkins.values()), (
                    "a check-in before the backup"
                )
    # Nothing the load sent after the backup had finished is.
    late = {d.key for d in load.done if d.kind == "registration" and d.sent > ended}
    assert late and not late & set(back.registrations)
    # Whatever is in the backup is exactly as the source has it (the load never changes a row once written,
    # except the waiting list, which moves only on a cancellation, and there are none).
    assert len(back.registrations) >= BEFORE
    for rid, row in back.registrations.items():
        assert source_now.registrations[rid] == row
    for seat_id, row in back.seats.items():
        assert source_now.seats[seat_id] == row
    for checkin_id, row in back.checkins.items():
        assert source_now.checkins[checkin_id] == row
    statuses = Counter(s for s, _, _ in back.registrations.values())
    assert statuses["confirmed"] == CAPACITY and statuses["waitlisted"] >= BEFORE - CAPACITY

    # The restored database serves: a delegate's booking, by the manage token they were sent.
    some = next(d for d in load.done if d.kind == "registration" and d.answered < started)
    with support.live_server(target) as base:
        assert httpx.get(f"{base}/api/v1/sessions/{session_id}").status_code == 200
        listed = httpx.get(f"{base}/api/v1/checkins/door-list", headers=staff)
        assert listed.status_code == 200, listed.text
        assert some.key in back.registrations


@pytest.fixture(scope="module")
def sqlite_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> support.DatabaseFactory:
    if support.KIND == "sqlite":
        factory: support.DatabaseFactory = request.getfixturevalue("databases")
        return factory
    return support.DatabaseFactory("sqlite", tmp_path_factory.mktemp("backup-sqlite"))


@pytest.mark.race  # real uvicorn processes; runs once (the SQLite pass), on both databases
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_backup_while_serving_restores_a_consistent_database(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if kind == "postgresql":
        support.require_postgres()
    factory: support.DatabaseFactory = request.getfixturevalue(
        "pg_databases" if kind == "postgresql" else "sqlite_factory"
    )
    source, target = factory.new(), factory.new()
    try:
        backup_under_load_then_restore(source, target, tmp_path)
    finally:
        factory.drop(source)
        factory.drop(target)


# --- refusals (on the suite's database kind) ---------------------------------------------------------------


def test_restore_refuses_a_wrong_kind_file_and_a_non_empty_target(
    databases: support.DatabaseFactory, tmp_path: Path
) -> None:
    source, target = databases.new(), databases.new()
    try:
        asyncio.run(_seed(source))
        out = tmp_path / "one.backup"
        assert backup_module.backup(source, out).kind == backup_module.kind_of_file(out) == databases.kind

        # A file of the other kind: refused before anything is touched, naming both kinds.
        other = tmp_path / "other.backup"
        if databases.kind == "sqlite":
            other.write_bytes(backup_module.PG_MAGIC + b"\x01\x0e\x00" + b"\x00" * 100)
        else:
            with sqlite3.connect(other) as c:
                c.execute("CREATE TABLE alembic_version (version_num TEXT)")
            c.close()
        wrong = cli("restore", str(other), database_url=target)
        assert wrong.returncode == 2
        assert "error:" in wrong.stderr and "Traceback" not in wrong.stderr
        other_kind = "postgresql" if databases.kind == "sqlite" else "sqlite"
        assert other_kind.replace("postgresql", "PostgreSQL").replace("sqlite", "SQLite") in wrong.stderr
        assert f"is a {databases.kind} database" in wrong.stderr

        # Neither a database nor a dump.
        junk = tmp_path / "junk.backup"
        junk.write_text("hello")
        with pytest.raises(backup_module.BackupError, match="not a conference backup") as refused:
            backup_module.restore(target, junk)
        assert refused.value.usage
        with pytest.raises(backup_module.BackupError, match="no such file") as refused:
            backup_module.restore(target, tmp_path / "missing")
        assert refused.value.usage

        # An empty (migrated, never used) database takes the backup; once it holds data only --force does.
        assert backup_module.restore(target, out).revision == current_head()
        again = cli("restore", str(out), database_url=target)
        assert again.returncode == 2 and "already holds data" in again.stderr and "--force" in again.stderr
        forced = cli("restore", str(out), "--force", database_url=target)
        assert forced.returncode == 0, forced.stderr
        assert read_contents(target).registrations == read_contents(source).registrations
        assert read_contents(target).capacity == CAPACITY
    finally:
        databases.drop(source)
        databases.drop(target)


def test_an_older_backup_is_migrated_on_restore(databases: support.DatabaseFactory, tmp_path: Path) -> None:
    """A backup from an earlier schema comes up to the current one, even over a database already at it."""
    from conference.core.migrate import upgrade

    if databases.kind == "sqlite":
        old_url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    else:
        name = f"t_old_{uuid.uuid4().hex[:10]}"
        asyncio.run(support._pg([f'CREATE DATABASE "{name}"']))
        old_url = support._with_db(support.PG_ADMIN_URL, name).replace(
            "postgresql://", "postgresql+asyncpg://"
        )
    target = databases.new()
    try:
        upgrade(old_url, "0005")
        out = tmp_path / "old.backup"
        made = cli("backup", "--out", str(out), database_url=old_url)
        assert made.returncode == 0 and "schema 0005" in made.stderr, made.stderr
        restored = cli("restore", str(out), database_url=target)
        assert restored.returncode == 0, restored.stderr
        assert read_contents(target).revision == current_head()
    finally:
        databases.drop(target)
        if databases.kind == "postgresql":
            databases.drop(old_url)


def test_backup_errors_are_one_line(databases: support.DatabaseFactory, tmp_path: Path) -> None:
    if databases.kind == "sqlite":
        missing = f"sqlite+aiosqlite:///{tmp_path / 'nothing-here.db'}"
    else:
        missing = support._with_db(support.PG_ADMIN_URL, "no_such_database_here")
    answer = cli("backup", "--out", str(tmp_path / "x.backup"), database_url=missing)
    assert answer.returncode == 1
    assert answer.stderr.startswith("error:") and "Traceback" not in answer.stderr
    assert not (tmp_path / "x.backup").exists() and not list(tmp_path.glob(".x.backup*"))
    if databases.kind == "sqlite":
        assert not Path(tmp_path / "nothing-here.db").exists(), "backup must not create the database"
    assert cli("backup", "--out", str(tmp_path), database_url=missing).returncode == 2


def test_postgres_connection_goes_through_the_environment() -> None:
    env = backup_module._pg_env("postgresql+asyncpg://app:s%40cret@db.internal:6543/conf?ssl=require")
    assert (env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGDATABASE"]) == (
        "db.internal",
        "6543",
        "app",
        "conf",
    )
    assert env["PGPASSWORD"] == "s@cret" and env["PGSSLMODE"] == "require"


def test_sqlite_restore_refuses_a_database_a_server_has_open(tmp_path: Path) -> None:
    """Renaming a file under a running server would lose its writes (and its WAL would corrupt the new file)."""
    from conference.core.migrate import upgrade

    source, target = tmp_path / "source.db", tmp_path / "target.db"
    upgrade(f"sqlite+aiosqlite:///{source}")
    upgrade(f"sqlite+aiosqlite:///{target}")
    out = tmp_path / "b.backup"
    backup_module.backup(f"sqlite:///{source}", out)
    server = sqlite3.connect(target)  # what `conference serve` holds: a WAL-mode connection
    try:
        server.execute("PRAGMA journal_mode=WAL").fetchall()
        server.execute("INSERT INTO alembic_version VALUES ('marker')")
        server.commit()
        with pytest.raises(backup_module.BackupError, match="in use") as refused:
            backup_module.restore(f"sqlite:///{target}", out, force=True)
        assert not refused.value.usage
        assert server.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 2  # untouched
    finally:
        server.close()
    assert backup_module.restore(f"sqlite:///{target}", out, force=True).revision == current_head()
    with sqlite3.connect(target) as check:
        assert [r[0] for r in check.execute("SELECT version_num FROM alembic_version")] == [current_head()]
    check.close()
    assert not Path(f"{target}-wal").exists() and not list(tmp_path.glob(".target.db.*"))
