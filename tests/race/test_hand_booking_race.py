"""Organisers adding registrations by hand race a rush of delegates on the public API, on real uvicorn processes
(2 workers), on SQLite and PostgreSQL: both paths take the one capacity lock, so the places are never oversold.

The evidence that both paths were serialised by the same lock: the arrival numbers of all the registrations,
made by either path, are unique and gapless (each path bumps the conference's counter under the lock, so a path
without it would repeat numbers on PostgreSQL), exactly `CAPACITY` registrations hold a place, and the first
`CAPACITY` arrivals, whichever path they came by, are the ones that hold them. The hand bookings are sent first so
that, once past the console's session and CSRF checks, they reach the lock around the moment the last places go
(the test prints where they landed).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference.core.db import Database
from conference.core.models import HOLDING, Registration, Status
from tests import support
from tests.factories import make_conference, registration_body
from tests.support import HTML, csrf, make_settings, organiser_token

pytestmark = pytest.mark.race

CAPACITY = 100
PUBLIC = 120
BY_HAND = 40


async def _seed(url: str) -> tuple[dict[str, uuid.UUID], str]:
    database = Database.from_settings(make_settings(url))
    try:
        tickets = await make_conference(database, capacity=CAPACITY)
        token = await organiser_token(database)
    finally:
        await database.dispose()  # before the server starts: no connection of ours outlives the seeding
    return tickets, token


async def _registrations(url: str) -> list[Registration]:
    database = Database.from_settings(make_settings(url))
    try:
        async with database.read() as db:
            return list(
                (await db.execute(sa.select(Registration).order_by(col(Registration.number)))).scalars()
            )
    finally:
        await database.dispose()


async def _race(
    base: str, tickets: dict[str, uuid.UUID], token: str
) -> tuple[list[httpx.Response], list[httpx.Response]]:
    limits = httpx.Limits(max_connections=PUBLIC + BY_HAND, max_keepalive_connections=PUBLIC + BY_HAND)
    async with (
        httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as public,
        httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as console,
    ):
        page = await console.get("/login")
        signed_in = await console.post(
            "/login", data={"token": token, "csrf_token": csrf(page.text), "next": "/console"}
        )
        assert signed_in.status_code == 303, signed_in.text
        form_token = csrf((await console.get("/console/bookings/new", headers=HTML)).text)

        def hand(n: int) -> dict[str, str]:
            # Speakers (a hidden type) and complimentary delegates: what organisers book by hand.
            ticket = tickets["speaker"] if n % 2 else tickets["delegate"]
            return {
                "csrf_token": form_token,
                "ticket_type_id": str(ticket),
                "name": f"Hand {n}",
                "email": f"hand{n}-{uuid.uuid4().hex[:6]}@example.org",
                "organisation": "Guests",
                "sector": "other",
                "complimentary": "yes",
                "no_email": "yes" if n % 3 == 0 else "",
            }

        bodies = [registration_body(tickets["delegate"]) for _ in range(PUBLIC)]
        calls = [public.post("/api/v1/registrations", json=b) for b in bodies]
        # All in flight at once; the hand bookings are sent first, as each costs more before it reaches the lock
        # (the console session, the CSRF check), so that both paths contest the last places.
        hands = [console.post("/console/bookings", data=hand(n), headers=HTML) for n in range(BY_HAND)]
        mixed = [*hands, *calls]
        answers = await asyncio.gather(*mixed)
    public_answers = [a for a in answers if a.request.url.path == "/api/v1/registrations"]
    hand_answers = [a for a in answers if a.request.url.path == "/console/bookings"]
    return public_answers, hand_answers


def test_hand_bookings_racing_the_public_form_never_oversell(race_url: str, tmp_path: Path) -> None:
    tickets, token = asyncio.run(_seed(race_url))
    with support.live_server(race_url, workers=2, log_path=tmp_path / "server.log") as base:
        public_answers, hand_answers = asyncio.run(_race(base, tickets, token))
        counts = httpx.get(f"{base}/api/v1/conference", timeout=10).json()

    assert len(public_answers) == PUBLIC and len(hand_answers) == BY_HAND
    assert all(a.status_code == 201 for a in public_answers), Counter(a.status_code for a in public_answers)
    assert all(a.status_code == 303 for a in hand_answers), [
        a.text[:200] for a in hand_answers if a.status_code != 303
    ]
    outcomes = Counter(parse_qs(urlsplit(a.headers["location"]).query)["done"][0] for a in hand_answers)
    assert set(outcomes) <= {"confirmed", "waitlisted"}, outcomes

    registrations = asyncio.run(_registrations(race_url))
    assert len(registrations) == PUBLIC + BY_HAND
    # One counter, bumped under the one lock by both paths: unique and gapless.
    assert [r.number for r in registrations] == list(range(1, PUBLIC + BY_HAND + 1))
    holding = [r for r in registrations if r.status in HOLDING]
    assert len(holding) == CAPACITY, Counter(r.status for r in registrations)
    assert all(r.status in (Status.confirmed, Status.waitlisted) for r in registrations)
    # The first CAPACITY arrivals, whichever path they came by, hold the places; everyone after waits.
    assert all(r.status == Status.confirmed for r in registrations[:CAPACITY])
    assert all(r.status == Status.waitlisted for r in registrations[CAPACITY:])
    by_hand = [r for r in registrations if r.organisation == "Guests"]
    assert len(by_hand) == BY_HAND and all(r.complimentary for r in by_hand)
    # Each hand booking was answered with what it got.
    assert outcomes["confirmed"] == sum(r.status == Status.confirmed for r in by_hand)
    assert outcomes["waitlisted"] == sum(r.status == Status.waitlisted for r in by_hand)
    print(f"hand bookings: {dict(outcomes)}; their arrival numbers: {sorted(r.number for r in by_hand)}")
    assert (counts["registered"], counts["remaining"], counts["waitlisted"]) == (
        CAPACITY,
        0,
        PUBLIC + BY_HAND - CAPACITY,
    )
