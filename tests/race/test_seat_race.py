"""Hundreds of delegates race for a 30-seat workshop on real uvicorn processes (2 workers), on both databases."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.schemas import RegistrationCreate
from conference.registration import register
from sessions.models import Kind, RoomCreate, SeatBooking, SessionCreate, TimeSlotCreate
from sessions.workshops import programme
from tests import support
from tests.factories import make_conference, registration_body
from tests.support import make_settings

pytestmark = pytest.mark.race

DELEGATES = 300
SEATS = 30


async def _seed(url: str) -> tuple[list[tuple[uuid.UUID, str]], uuid.UUID]:
    """A conference, 300 confirmed delegates and a 30-seat workshop."""
    settings = make_settings(url)
    database = Database.from_settings(settings)
    try:
        tickets = await make_conference(database, capacity=1000)
        people = []
        for _ in range(DELEGATES):
            async with database.transaction() as db:
                result = await register(
                    db,
                    settings=settings,
                    data=RegistrationCreate(**registration_body(tickets["delegate"])),
                    actor=Actor("anonymous"),
                )
            people.append((result.registration.id, result.manage_token))
        actor = Actor("organiser", "race")
        async with database.transaction() as db:
            small = await programme.create_room(
                db, data=RoomCreate(name="Small", capacity=SEATS), actor=actor
            )
            start = datetime(2026, 12, 8, 11, tzinfo=UTC)
            slot = await programme.create_slot(
                db, data=TimeSlotCreate(starts_at=start, ends_at=start.replace(hour=12)), actor=actor
            )
            popular = await programme.create_session(
                db,
                data=SessionCreate(
                    title="Popular", kind=Kind.workshop, room_id=small.id, start_slot_id=slot.id
                ),
                actor=actor,
            )
        return people, popular.id
    finally:
        await database.dispose()


async def _seats(url: str, session_id: uuid.UUID) -> list[SeatBooking]:
    database = Database.from_settings(make_settings(url))
    try:
        async with database.read() as db:
            stmt = (
                sa.select(SeatBooking)
                .where(SeatBooking.session_id == session_id)
                .order_by(SeatBooking.number)
            )
            return list((await db.execute(stmt)).scalars())
    finally:
        await database.dispose()


async def _race(
    base: str, people: list[tuple[uuid.UUID, str]], session_id: uuid.UUID
) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=DELEGATES, max_keepalive_connections=DELEGATES)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        return await asyncio.gather(
            *[
                client.post(
                    f"/api/v1/registrations/{rid}/sessions",
                    json={"session_id": str(session_id)},
                    headers={"authorization": f"Bearer {token}"},
                )
                for rid, token in people
            ]
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def race_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        support.require_postgres()
    factory = support.DatabaseFactory(request.param, tmp_path)
    url = factory.new()
    request.addfinalizer(lambda: (factory.drop(url), factory.close()))
    return url


def test_300_delegates_race_for_30_seats(race_db: str, tmp_path: Path) -> None:
    people, popular = asyncio.run(_seed(race_db))
    with support.live_server(race_db, workers=2, log_path=tmp_path / "server.log") as base:
        responses = asyncio.run(_race(base, people, popular))
        listed = httpx.get(f"{base}/api/v1/sessions/{popular}").json()
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: DELEGATES}, statuses
    answers = Counter(r.json()["status"] for r in responses)
    assert answers == {"booked": SEATS, "waitlisted": DELEGATES - SEATS}
    seats = asyncio.run(_seats(race_db, popular))
    assert sum(s.status == "booked" for s in seats) == SEATS
    assert (listed["booked"], listed["remaining"], listed["waitlisted"]) == (SEATS, 0, DELEGATES - SEATS)
    # The waiting list is in arrival order: positions 1..270 follow the arrival numbers, none repeated.
    positions = sorted(r.json()["waitlist_position"] for r in responses if r.json()["status"] == "waitlisted")
    assert positions == list(range(1, DELEGATES - SEATS + 1))
    booked_numbers = sorted(s.number for s in seats if s.status == "booked")
    waiting_numbers = sorted(s.number for s in seats if s.status == "waitlisted")
    assert booked_numbers == list(range(1, SEATS + 1)) and max(booked_numbers) < min(waiting_numbers)


def test_giving_up_races_with_new_bookings_and_promotes_in_order(race_db: str, tmp_path: Path) -> None:
    """20 seat holders give up while 100 more delegates book: never more than 30 seats, the queue moves in order."""
    people, popular = asyncio.run(_seed(race_db))
    first, later = people[:60], people[60:160]
    with support.live_server(race_db, workers=2, log_path=tmp_path / "server.log") as base:
        booked = asyncio.run(_race(base, first, popular))
        holders = [p for p, r in zip(first, booked) if r.json()["status"] == "booked"]
        waiting_before = [
            p
            for p, r in sorted(zip(first, booked), key=lambda x: x[1].json().get("waitlist_position") or 0)
            if r.json()["status"] == "waitlisted"
        ]

        async def mixed() -> list[httpx.Response]:
            async with httpx.AsyncClient(
                base_url=base, timeout=60, limits=httpx.Limits(max_connections=200)
            ) as client:
                gives = [
                    client.delete(
                        f"/api/v1/registrations/{rid}/sessions/{popular}",
                        headers={"authorization": f"Bearer {token}"},
                    )
                    for rid, token in holders[:20]
                ]
                books = [
                    client.post(
                        f"/api/v1/registrations/{rid}/sessions",
                        json={"session_id": str(popular)},
                        headers={"authorization": f"Bearer {token}"},
                    )
                    for rid, token in later
                ]
                return await asyncio.gather(*gives, *books)

        responses = asyncio.run(mixed())
    assert all(r.status_code in (200, 201) for r in responses), Counter(r.status_code for r in responses)
    seats = asyncio.run(_seats(race_db, popular))
    now_booked = {s.registration_id for s in seats if s.status == "booked"}
    assert len(now_booked) == SEATS
    # The 20 freed seats went to the first 20 who were already waiting, not to newcomers.
    assert {rid for rid, _ in waiting_before[:20]} <= now_booked
    assert not now_booked & {rid for rid, _ in later}
