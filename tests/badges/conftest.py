"""Fixtures the badge tests share: delegates in every state a scan can meet, staff and other tokens, a workshop
with a seat booked, and the scans recorded."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import Checkin, Registration, Status
from conference.web.auth import create_api_token
from sessions.models import RoomCreate, SeatBooking, SeatStatus, SessionCreate, TimeSlotCreate
from sessions.workshops import programme
from tests.factories import make_conference, registration_body


@pytest.fixture
async def people(client: httpx.AsyncClient, database: Database) -> dict[str, dict[str, Any]]:
    tickets = await make_conference(database, capacity=4)
    made = {}
    for who in ("ada", "grace", "cancelled", "unpaid", "extra", "waiting"):
        body = registration_body(tickets["delegate"], name=f"{who.title()} Delegate")
        made[who] = {**(await client.post("/api/v1/registrations", json=body)).json(), "name": body["name"]}
    async with database.transaction() as db:
        await db.execute(
            sa.update(Registration)
            .where(Registration.id == uuid.UUID(made["unpaid"]["id"]))
            .values(status=Status.pending_payment)
        )
    await client.delete(
        f"/api/v1/registrations/{made['cancelled']['id']}",
        headers={"authorization": f"Bearer {made['cancelled']['manage_token']}"},
    )
    # The cancellation moved "extra" up; "waiting" stays on the waiting list.
    return made


@pytest.fixture
def token(database: Database) -> Callable[[str, str], Awaitable[dict[str, str]]]:
    """Makes the headers of a new API token: `await token("organiser", "Lead")`."""

    async def make(role: str, name: str) -> dict[str, str]:
        async with database.transaction() as db:
            return {"authorization": f"Bearer {await create_api_token(db, role=role, name=name)}"}

    return make


@pytest.fixture
async def staff(token: Callable[[str, str], Awaitable[dict[str, str]]]) -> dict[str, str]:
    return await token("staff", "Door A")


@pytest.fixture
async def workshop(database: Database, people: dict[str, dict[str, Any]]) -> str:
    """The id of a workshop ("Sharing data safely", Room 1 at 11:00) in which Ada, and only Ada, has a seat."""
    actor = Actor("organiser", "test")
    async with database.transaction() as db:
        room = await programme.create_room(db, data=RoomCreate(name="Room 1", capacity=10), actor=actor)
        start = datetime(2026, 12, 8, 11, tzinfo=UTC)
        slot = await programme.create_slot(
            db, data=TimeSlotCreate(starts_at=start, ends_at=start + timedelta(hours=1)), actor=actor
        )
        session = await programme.create_session(
            db,
            data=SessionCreate(
                title="Sharing data safely", kind="workshop", room_id=room.id, start_slot_id=slot.id
            ),
            actor=actor,
        )
        db.add(
            SeatBooking(
                session_id=session.id,
                registration_id=uuid.UUID(people["ada"]["id"]),
                status=SeatStatus.booked,
                number=1,
            )
        )
    return str(session.id)


@pytest.fixture
def scans_recorded(database: Database) -> Callable[[], Awaitable[list[Checkin]]]:
    """Reads every scan recorded so far, in the order the server received them: `await scans_recorded()`."""

    async def read() -> list[Checkin]:
        async with database.read() as db:
            return list((await db.execute(sa.select(Checkin).order_by(Checkin.received_at))).scalars())

    return read
