"""The dashboard's workshop fill is each workshop's seats booked as a share of its own capacity (issue 23): a
small room and a big hall are compared by how full they are, in the JSON (`fill_percent`) and in the page's
table, with the counts beside it; and the demo's registrations are spread over the weeks before the event."""

from __future__ import annotations

import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from conference import dashboard
from conference.core.audit import Actor
from conference.core.db import Database
from conference.server import demo
from sessions.models import RoomCreate, SessionCreate, TimeSlotCreate
from sessions.workshops import capacity, programme
from tests.factories import make_conference, registration_body
from tests.support import organiser_token, sign_in

ORGANISER = Actor("organiser", "test")
HTML = {"accept": "text/html"}


async def _programme(client: httpx.AsyncClient, database: Database) -> str:
    """Four delegates; in one slot a 4-seat workshop with 3 booked and a 300-seat hall with 1 booked; and a
    workshop with no seats at all. Returns an organiser token."""
    tickets = await make_conference(database, capacity=20)
    token = await organiser_token(database)
    ids = []
    for _ in range(4):
        answer = await client.post("/api/v1/registrations", json=registration_body(tickets["delegate"]))
        assert answer.status_code == 201, answer.text
        ids.append(uuid.UUID(answer.json()["id"]))
    async with database.transaction() as db:
        small = await programme.create_room(
            db, data=RoomCreate(name="Small room", capacity=4), actor=ORGANISER
        )
        hall = await programme.create_room(db, data=RoomCreate(name="Hall", capacity=300), actor=ORGANISER)
        start = datetime(2026, 12, 8, 11, tzinfo=UTC)
        slot = await programme.create_slot(
            db, data=TimeSlotCreate(starts_at=start, ends_at=start + timedelta(hours=1)), actor=ORGANISER
        )
        later = await programme.create_slot(
            db,
            data=TimeSlotCreate(starts_at=start + timedelta(hours=2), ends_at=start + timedelta(hours=3)),
            actor=ORGANISER,
        )
        cosy = await programme.create_session(
            db,
            data=SessionCreate(title="Cosy", kind="workshop", room_id=small.id, start_slot_id=slot.id),
            actor=ORGANISER,
        )
        big = await programme.create_session(
            db,
            data=SessionCreate(title="Big", kind="workshop", room_id=hall.id, start_slot_id=slot.id),
            actor=ORGANISER,
        )
        await programme.create_session(
            db,
            data=SessionCreate(
                title="No seats", kind="workshop", room_id=small.id, start_slot_id=later.id, capacity=0
            ),
            actor=ORGANISER,
        )
    async with database.transaction() as db:
        for who, session in ((ids[0], cosy), (ids[1], cosy), (ids[2], cosy), (ids[3], big)):
            await capacity.book_seat(
                db,
                settings=database.settings,
                registration_id=who,
                session_id=session.id,
                actor=ORGANISER,
                source="organiser",
            )
    return token


async def test_fill_is_a_share_of_each_workshops_own_capacity(
    client: httpx.AsyncClient, database: Database
) -> None:
    token = await _programme(client, database)
    answer = await client.get("/api/v1/dashboard", headers={"authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    first, second = answer.json()["series"]["workshops"]
    fills = {s["title"]: (s["booked"], s["capacity"], s["fill_percent"]) for s in first["sessions"]}
    # Three of four seats is 75% full; one of 300 is a third of one percent, not "a quarter of a 1,000 axis".
    assert fills == {"Cosy": (3, 4, 75.0), "Big": (1, 300, 0.3)}
    # The slot's own share: 4 of its 304 seats.
    assert (first["booked"], first["capacity"], first["fill_percent"]) == (4, 304, 1.3)
    # A workshop without seats is 0% full rather than a division by zero.
    assert [(s["title"], s["capacity"], s["fill_percent"]) for s in second["sessions"]] == [
        ("No seats", 0, 0.0)
    ]
    assert second["fill_percent"] == 0.0

    # The page's table (the chart's text alternative) has the counts and the share side by side.
    await sign_in(client, token)
    page = await client.get("/console/dashboard", headers=HTML)
    assert page.status_code == 200
    table = page.text[page.text.index('id="table-workshops"') :]
    table = table[: table.index("</table>")]
    assert '<th scope="col">Full</th>' in table
    assert re.search(r"Cosy \(Small room\)</td><td>3</td><td>4</td><td>75%</td><td>0</td>", table)
    assert re.search(r"Big \(Hall\)</td><td>1</td><td>300</td><td>0%</td><td>0</td>", table)


def test_fill_percent_rounds_to_one_place_and_survives_no_seats() -> None:
    assert dashboard.fill_percent(45, 45) == 100.0
    assert dashboard.fill_percent(2, 3) == 66.7
    assert dashboard.fill_percent(0, 80) == 0.0
    assert dashboard.fill_percent(3, 0) == 0.0


def test_the_demos_registrations_arrive_over_the_weeks_before_the_event() -> None:
    closes = datetime(2026, 12, 3, 15, tzinfo=UTC)
    times = demo.arrival_times(random.Random(1), 300, closes=closes)
    assert times == sorted(times) and len(times) == 300
    assert all(closes - timedelta(weeks=demo.ARRIVAL_WEEKS, days=1) <= t < closes for t in times)
    days = {t.astimezone(demo.LONDON).date() for t in times}
    assert len(days) > 40  # a curve over many days, not one dot
    # More arrive in the last fortnight than in the quiet fortnight before it.
    late = sum(1 for t in times if t >= closes - timedelta(weeks=2))
    middle = sum(1 for t in times if closes - timedelta(weeks=4) <= t < closes - timedelta(weeks=2))
    assert late > middle


async def test_the_loaded_demo_draws_a_curve(settings: Any, database: Database) -> None:
    await demo.load_demo(settings, attendees=40)
    async with database.read() as db:
        over_time = (await dashboard.dashboard(db))["series"]["registrations_over_time"]
    assert len(over_time["days"]) > 14
    taken = over_time["places_taken"]
    assert taken == sorted(taken) and taken[0] < taken[-1]
