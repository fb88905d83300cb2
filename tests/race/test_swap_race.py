"""Swaps and bookings race for a workshop's last seat on real uvicorn processes (2 workers), on SQLite and
PostgreSQL (issue 18): the workshop is never oversold, and a delegate who swaps either gets the new seat and gives
up the old one, or keeps the old one: never both, never neither.

Twelve delegates hold a seat in "Other" and press "Swap" for "Target" at 11:00, while twelve with no seat at that
time press "Book" for it; "Target" has 3 seats, 2 already taken. Every request goes through the agenda page's
forms (CSRF cookie and token, as a browser sends them).
"""

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
from conference.core.models import AuditEntry
from conference.core.schemas import RegistrationCreate
from conference.registration import register
from sessions.models import Kind, RoomCreate, SeatBooking, SessionCreate, TimeSlotCreate
from sessions.workshops import capacity, programme
from tests import support
from tests.factories import make_conference, registration_body
from tests.support import csrf, make_settings

pytestmark = pytest.mark.race

SEATS = 3
TAKEN = 2
SWAPPERS = 12
BOOKERS = 12


async def _seed(url: str) -> tuple[list[str], list[str], list[uuid.UUID], uuid.UUID, uuid.UUID]:
    """(swappers' tokens, bookers' tokens, swappers' registration ids, Target's id, Other's id)."""
    settings = make_settings(url)
    database = Database.from_settings(settings)
    try:
        tickets = await make_conference(database, capacity=100)
        actor = Actor("organiser", "race")
        async with database.transaction() as db:
            small = await programme.create_room(
                db, data=RoomCreate(name="Small", capacity=SEATS), actor=actor
            )
            hall = await programme.create_room(db, data=RoomCreate(name="Hall", capacity=200), actor=actor)
            start = datetime(2026, 12, 8, 11, tzinfo=UTC)
            slot = await programme.create_slot(
                db, data=TimeSlotCreate(starts_at=start, ends_at=start.replace(hour=12)), actor=actor
            )
            made = [
                await programme.create_session(
                    db,
                    data=SessionCreate(
                        title=title, kind=Kind.workshop, room_id=room.id, start_slot_id=slot.id
                    ),
                    actor=actor,
                )
                for title, room in (("Target", small), ("Other", hall))
            ]
            target, other = made
        people = []
        for _ in range(TAKEN + SWAPPERS + BOOKERS):
            async with database.transaction() as db:
                result = await register(
                    db,
                    settings=settings,
                    data=RegistrationCreate(**registration_body(tickets["delegate"])),
                    actor=Actor("anonymous"),
                )
            people.append((result.registration.id, result.manage_token))
        early, swappers, bookers = (
            people[:TAKEN],
            people[TAKEN : TAKEN + SWAPPERS],
            people[TAKEN + SWAPPERS :],
        )
        for seats_in, holders in ((target.id, early), (other.id, swappers)):
            for rid, _token in holders:
                async with database.transaction() as db:
                    await capacity.book_seat(
                        db, settings=settings, registration_id=rid, session_id=seats_in, actor=actor
                    )
        return (
            [t for _, t in swappers],
            [t for _, t in bookers],
            [r for r, _ in swappers],
            target.id,
            other.id,
        )
    finally:
        await database.dispose()


async def _race(
    base: str, swappers: list[str], bookers: list[str], target: uuid.UUID
) -> list[httpx.Response]:
    """Each delegate opens their agenda (the CSRF cookie and token), then all press their button at once."""
    clients = [httpx.AsyncClient(base_url=base, timeout=60) for _ in swappers + bookers]
    try:
        tokens = []
        for client, token in zip(clients, swappers + bookers):
            page = await client.get(f"/manage/{token}/agenda")
            assert page.status_code == 200, page.text
            tokens.append(csrf(page.text))
        posts = [
            client.post(f"/manage/{token}/sessions/{target}/swap", data={"csrf_token": form})
            for client, token, form in zip(clients, swappers, tokens)
        ] + [
            client.post(f"/manage/{token}/sessions", data={"csrf_token": form, "session_id": str(target)})
            for client, token, form in zip(clients[len(swappers) :], bookers, tokens[len(swappers) :])
        ]
        return await asyncio.gather(*posts)
    finally:
        for client in clients:
            await client.aclose()


async def _state(url: str) -> tuple[list[SeatBooking], list[AuditEntry]]:
    database = Database.from_settings(make_settings(url))
    try:
        async with database.read() as db:
            seats = list((await db.execute(sa.select(SeatBooking))).scalars())
            audit = list(
                (await db.execute(sa.select(AuditEntry).where(AuditEntry.action == "sessions.seat.released")))
                .scalars()
                .all()
            )
        return seats, audit
    finally:
        await database.dispose()


def test_swaps_and_bookings_for_the_last_seat_never_oversell(race_url: str, tmp_path: Path) -> None:
    swappers, bookers, swapper_ids, target, other = asyncio.run(_seed(race_url))
    with support.live_server(race_url, workers=2, log_path=tmp_path / "server.log") as base:
        responses = asyncio.run(_race(base, swappers, bookers, target))

    swaps, books = responses[:SWAPPERS], responses[SWAPPERS:]
    assert all(r.status_code in (303, 409) for r in swaps), Counter(r.status_code for r in swaps)
    assert all(r.status_code == 303 for r in books), Counter(r.status_code for r in books)
    refused = [r for r in swaps if r.status_code == 409]
    assert all("“Target” is full, so you keep your seat in “Other”" in r.text for r in refused)

    seats, released = asyncio.run(_state(race_url))
    booked = [s for s in seats if s.status == "booked"]
    assert sum(s.session_id == target for s in booked) == SEATS  # the last seat went once, to one delegate
    for rid in swapper_ids:  # every swapper holds exactly one seat at 11:00: never both, never neither
        theirs = {s.session_id for s in booked if s.registration_id == rid}
        assert theirs in ({target}, {other}), theirs
    swapped = [r for r in swaps if r.status_code == 303]
    assert all(r.headers["location"].endswith("done=swapped") for r in swapped)
    got_target_by_swap = sum(
        1 for s in booked if s.session_id == target and s.registration_id in set(swapper_ids)
    )
    assert got_target_by_swap == len(swapped) == len(released)  # each swap audited, and only those
    outcomes = Counter(r.headers["location"].rsplit("done=", 1)[-1] for r in books)
    assert outcomes["booked"] + len(swapped) == SEATS - TAKEN
    assert outcomes["waitlisted"] == BOOKERS - outcomes["booked"]
