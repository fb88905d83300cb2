"""What the resilience tests share: seeding, sending registrations, and the invariants checked after the damage."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import httpx
import sqlalchemy as sa

from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import HOLDING, AuditEntry, Conference, OutboxEmail, Registration, Status
from sessions.models import Kind, RoomCreate, SeatBooking, SeatStatus, SessionCreate, TimeSlotCreate
from sessions.workshops import programme
from tests.factories import make_conference, registration_body
from tests.support import make_settings


@dataclass
class Seeded:
    ticket: uuid.UUID
    session_id: uuid.UUID | None = None


async def _seed(url: str, capacity: int, seats: int | None) -> Seeded:
    database = Database.from_settings(make_settings(url))
    try:
        tickets = await make_conference(database, capacity=capacity)
        seeded = Seeded(tickets["delegate"])
        if seats is not None:
            actor = Actor("organiser", "resilience")
            async with database.transaction() as db:
                room = await programme.create_room(
                    db, data=RoomCreate(name="Small", capacity=seats), actor=actor
                )
                start = datetime(2026, 12, 8, 11, tzinfo=UTC)
                slot = await programme.create_slot(
                    db, data=TimeSlotCreate(starts_at=start, ends_at=start.replace(hour=12)), actor=actor
                )
                session = await programme.create_session(
                    db,
                    data=SessionCreate(
                        title="Workshop", kind=Kind.workshop, room_id=room.id, start_slot_id=slot.id
                    ),
                    actor=actor,
                )
            seeded.session_id = session.id
        return seeded
    finally:
        await database.dispose()  # before any server starts: no connection of ours outlives the seeding


def seed(url: str, *, capacity: int, seats: int | None = None) -> Seeded:
    return asyncio.run(_seed(url, capacity, seats))


def client(base: str, connections: int = 200, timeout: float = 30) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout)


@dataclass
class Sent:
    """One registration request and what came back: a response, or the exception that ended it."""

    body: dict[str, Any]
    response: httpx.Response | None = None
    error: BaseException | None = None

    @property
    def created(self) -> bool:
        return self.response is not None and self.response.status_code == 201


def bodies(ticket: uuid.UUID, n: int) -> list[dict[str, Any]]:
    out = [registration_body(ticket) for _ in range(n)]
    assert len({b["email"] for b in out}) == n
    return out


# --- what the database holds ----------------------------------------------------------------------------------


@dataclass
class Snapshot:
    conference: Conference
    registrations: list[Registration]
    outbox: list[OutboxEmail]
    seats: list[SeatBooking]
    created_audits: Counter[str] = field(default_factory=Counter)


async def _snapshot(url: str) -> Snapshot:
    database = Database.from_settings(make_settings(url))
    try:
        async with database.read() as db:
            conference = (await db.execute(sa.select(Conference))).scalar_one()
            registrations = list(
                (await db.execute(sa.select(Registration).order_by(Registration.number))).scalars()
            )
            outbox = list((await db.execute(sa.select(OutboxEmail))).scalars())
            seats = list((await db.execute(sa.select(SeatBooking))).scalars())
            audits = Counter(
                (
                    await db.execute(
                        sa.select(AuditEntry.subject).where(
                            AuditEntry.action == "conference.registration.created"
                        )
                    )
                ).scalars()
            )
        return Snapshot(conference, registrations, outbox, seats, audits)
    finally:
        await database.dispose()


def snapshot(url: str) -> Snapshot:
    return asyncio.run(_snapshot(url))


def check_invariants(url: str, sent: list[Sent], *, seats: int | None = None) -> Snapshot:
    """Nothing half-written, nothing oversold, every 201 stored as answered. Returns what it read."""
    snap = snapshot(url)
    regs = snap.registrations
    by_id = {str(r.id): r for r in regs}
    capacity = snap.conference.capacity

    # Every 201 is in the database, with the fields the delegate sent and the answer they were given.
    for s in sent:
        if not s.created:
            continue
        assert s.response is not None
        answer = s.response.json()
        row = by_id.get(answer["id"])
        assert row is not None, f"registration {answer['reference']} was answered 201 but is not stored"
        assert (row.reference, row.status.value) == (answer["reference"], answer["status"])
        assert (row.name, row.email, row.organisation) == (
            s.body["name"],
            s.body["email"],
            s.body["organisation"],
        )
        assert row.email_key == s.body["email"].lower()

    # Arrival numbers come from the counter bumped under the capacity lock: unique, gapless, and the counter is
    # exactly the last one (these tests send no request that is refused, so a batch never skips a number).
    assert [r.number for r in regs] == list(range(1, len(regs) + 1))
    assert snap.conference.registration_seq == len(regs)
    # Never oversold, and places went in arrival order: the first `capacity` hold one, the rest wait.
    holding = [r for r in regs if r.status in HOLDING]
    assert len(holding) == min(capacity, len(regs)), (len(holding), capacity, len(regs))
    assert all(r.status == Status.confirmed for r in regs[:capacity])
    assert all(r.status == Status.waitlisted for r in regs[capacity:])

    # Each registration was written whole: its token hash, its audit entry, its confirmation email.
    assert all(r.manage_token_hash and len(r.manage_token_hash) == 64 for r in regs)
    assert len({r.manage_token_hash for r in regs}) == len(regs)
    assert snap.created_audits == Counter(r.reference for r in regs)
    confirmations = Counter(o.registration_id for o in snap.outbox if o.kind == "registration")
    assert confirmations == Counter(r.id for r in regs), (
        "a registration without exactly one confirmation email"
    )
    # No orphans: every email and seat belongs to a stored registration.
    ids = {r.id for r in regs}
    assert all(o.registration_id in ids for o in snap.outbox if o.registration_id is not None)
    assert all(s.registration_id in ids for s in snap.seats)

    if seats is not None:
        booked = [s for s in snap.seats if s.status == SeatStatus.booked]
        assert len(booked) <= seats
        by_session = Counter((s.session_id, s.number) for s in snap.seats)
        assert all(n == 1 for n in by_session.values()), "two seat bookings share a number"
        confirmed = {r.id for r in regs if r.status == Status.confirmed}
        assert all(s.registration_id in confirmed for s in snap.seats)
    return snap


# --- email ----------------------------------------------------------------------------------------------------


async def _drained(url: str, timeout: float) -> list[OutboxEmail]:
    database = Database.from_settings(make_settings(url))
    try:
        deadline = time.monotonic() + timeout
        while True:
            async with database.read() as db:
                rows = list((await db.execute(sa.select(OutboxEmail))).scalars())
            if all(r.status == "sent" for r in rows) or time.monotonic() > deadline:
                return rows
            await asyncio.sleep(0.25)
    finally:
        await database.dispose()


def wait_until_sent(url: str, timeout: float = 60) -> list[OutboxEmail]:
    """The outbox once every row is `sent` (or as it is when the timeout ends, for the assertion to show)."""
    rows = asyncio.run(_drained(url, timeout))
    pending = Counter(r.status for r in rows if r.status != "sent")
    assert not pending, f"the outbox did not drain: {dict(pending)}"
    return rows


def outbox_row_of(message: EmailMessage) -> uuid.UUID:
    """The outbox row a message was rendered from: its Message-ID is `<row id@...>` (sender.deliver_due)."""
    return uuid.UUID(str(message["Message-ID"]).strip("<>").split("@", 1)[0])


def deliveries(messages: list[EmailMessage]) -> Counter[uuid.UUID]:
    return Counter(outbox_row_of(m) for m in messages)
