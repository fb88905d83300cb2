"""Seat booking: capacity, waiting lists, clashes, multi-slot sessions, cascades, and the organiser's API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import icalendar
import pytest
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import OutboxEmail
from sessions.models import SeatBooking
from tests.factories import Programme, make_conference, make_programme
from tests.support import bearer, count_rows, organiser_token, register, staff_token


@pytest.fixture
async def prog(database: Database) -> tuple[dict[str, Any], Programme]:
    tickets = await make_conference(database, capacity=50)
    return tickets, await make_programme(database)


async def book(client: httpx.AsyncClient, r: dict[str, Any], session_id: Any) -> httpx.Response:
    return await client.post(
        f"/api/v1/registrations/{r['id']}/sessions",
        json={"session_id": str(session_id)},
        headers=bearer(r["manage_token"]),
    )


async def test_sessions_list_matches_the_contract(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme]
) -> None:
    sessions = (await client.get("/api/v1/sessions")).json()
    assert len(sessions) == 6
    a = next(s for s in sessions if s["title"] == "Workshop A")
    for key in (
        "id",
        "title",
        "starts_at",
        "ends_at",
        "room",
        "capacity",
        "booked",
        "remaining",
        "waitlisted",
    ):
        assert key in a
    assert (a["room"], a["capacity"], a["booked"], a["remaining"], a["waitlisted"]) == ("Small", 3, 0, 3, 0)
    long = next(s for s in sessions if s["title"] == "Workshop Long")
    assert long["starts_at"].startswith("2026-12-08T10:00") and long["ends_at"].startswith("2026-12-08T12:30")
    plenary = next(s for s in sessions if s["kind"] == "plenary")
    assert plenary["bookable"] is False and plenary["remaining"] is None


async def test_full_workshop_waitlists_and_giving_up_promotes(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme], database: Database
) -> None:
    tickets, p = prog
    people = [await register(client, tickets["delegate"]) for _ in range(5)]
    results = [(await book(client, r, p.sessions["A"])).json() for r in people]
    assert [x["status"] for x in results] == ["booked"] * 3 + ["waitlisted"] * 2
    assert [x["waitlist_position"] for x in results[3:]] == [1, 2]
    a = (await client.get(f"/api/v1/sessions/{p.sessions['A']}")).json()
    assert (a["booked"], a["remaining"], a["waitlisted"]) == (3, 0, 2)

    response = await client.delete(
        f"/api/v1/registrations/{people[1]['id']}/sessions/{p.sessions['A']}",
        headers=bearer(people[1]["manage_token"]),
    )
    assert response.status_code == 200
    fourth = (
        await client.get(
            f"/api/v1/registrations/{people[3]['id']}", headers=bearer(people[3]["manage_token"])
        )
    ).json()
    assert [(s["title"], s["status"]) for s in fourth["sessions"]] == [("Workshop A", "booked")]
    fifth = (
        await client.get(
            f"/api/v1/registrations/{people[4]['id']}", headers=bearer(people[4]["manage_token"])
        )
    ).json()
    assert fifth["sessions"][0]["waitlist_position"] == 1
    async with database.read() as db:
        promoted_to = (
            (
                await db.execute(
                    sa.select(OutboxEmail.registration_id).where(OutboxEmail.kind == "seat_promoted")
                )
            )
            .scalars()
            .all()
        )
    assert promoted_to == [uuid.UUID(people[3]["id"])]


async def test_time_clash_and_multi_slot_sessions(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme]
) -> None:
    tickets, p = prog
    r = await register(client, tickets["delegate"])
    assert (await book(client, r, p.sessions["Long"])).status_code == 201
    for clashing in ("A", "B", "C"):  # Long covers slots 0 and 1
        response = await book(client, r, p.sessions[clashing])
        assert response.status_code == 409 and response.json()["error"]["code"] == "time_clash", clashing
    assert (await book(client, r, p.sessions["D"])).status_code == 201
    again = await book(client, r, p.sessions["D"])
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_booked"
    await client.delete(
        f"/api/v1/registrations/{r['id']}/sessions/{p.sessions['Long']}", headers=bearer(r["manage_token"])
    )
    assert (await book(client, r, p.sessions["A"])).status_code == 201
    assert (await book(client, r, p.sessions["C"])).status_code == 201


async def test_waitlisted_delegate_with_a_clashing_seat_is_passed_over(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme]
) -> None:
    tickets, p = prog
    holders = [await register(client, tickets["delegate"]) for _ in range(3)]
    for h in holders:
        await book(client, h, p.sessions["A"])
    first, second = await register(client, tickets["delegate"]), await register(client, tickets["delegate"])
    assert (await book(client, first, p.sessions["A"])).json()["status"] == "waitlisted"
    assert (await book(client, second, p.sessions["A"])).json()["status"] == "waitlisted"
    assert (await book(client, first, p.sessions["B"])).json()["status"] == "booked"  # same time as A
    await client.delete(
        f"/api/v1/registrations/{holders[0]['id']}/sessions/{p.sessions['A']}",
        headers=bearer(holders[0]["manage_token"]),
    )
    one = (
        await client.get(f"/api/v1/registrations/{first['id']}", headers=bearer(first["manage_token"]))
    ).json()
    two = (
        await client.get(f"/api/v1/registrations/{second['id']}", headers=bearer(second["manage_token"]))
    ).json()
    assert {s["title"]: s["status"] for s in one["sessions"]} == {
        "Workshop A": "waitlisted",
        "Workshop B": "booked",
    }
    assert {s["title"]: s["status"] for s in two["sessions"]} == {"Workshop A": "booked"}


async def test_cancelling_the_registration_releases_every_seat_and_promotes(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme], database: Database
) -> None:
    tickets, p = prog
    leaver = await register(client, tickets["delegate"])
    others = [await register(client, tickets["delegate"]) for _ in range(3)]
    await book(client, leaver, p.sessions["A"])
    await book(client, leaver, p.sessions["D"])
    for o in others:
        await book(client, o, p.sessions["A"])
    assert (await client.get(f"/api/v1/sessions/{p.sessions['A']}")).json()["waitlisted"] == 1
    await client.delete(f"/api/v1/registrations/{leaver['id']}", headers=bearer(leaver["manage_token"]))
    a = (await client.get(f"/api/v1/sessions/{p.sessions['A']}")).json()
    d = (await client.get(f"/api/v1/sessions/{p.sessions['D']}")).json()
    assert (a["booked"], a["waitlisted"], d["booked"]) == (3, 0, 0)
    async with database.read() as db:
        live = (
            await db.execute(
                sa.select(sa.func.count())
                .select_from(SeatBooking)
                .where(
                    SeatBooking.registration_id == uuid.UUID(leaver["id"]), SeatBooking.status != "cancelled"
                )
            )
        ).scalar_one()
    assert live == 0


async def test_only_confirmed_registrations_book(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme]
) -> None:
    tickets, p = prog
    pending = await register(client, tickets["press"])  # awaiting approval
    response = await book(client, pending, p.sessions["B"])
    assert response.status_code == 409 and response.json()["error"]["code"] == "registration_not_confirmed"
    r = await register(client, tickets["delegate"])
    await client.delete(f"/api/v1/registrations/{r['id']}", headers=bearer(r["manage_token"]))
    assert (await book(client, r, p.sessions["B"])).json()["error"]["code"] == "registration_not_confirmed"


async def test_bad_booking_requests(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme], database: Database
) -> None:
    tickets, p = prog
    r, other = await register(client, tickets["delegate"]), await register(client, tickets["delegate"])
    unknown = await book(client, r, "7d8e3c1e-0000-4000-8000-000000000000")
    assert unknown.status_code == 422 and "session_id" in unknown.json()["error"]["fields"]
    not_uuid = await client.post(
        f"/api/v1/registrations/{r['id']}/sessions",
        json={"session_id": "x"},
        headers=bearer(r["manage_token"]),
    )
    assert not_uuid.status_code == 422
    plenary = await book(client, r, p.sessions["P"])
    assert plenary.status_code == 409 and plenary.json()["error"]["code"] == "not_bookable"
    # Booking someone else's seat with your own token.
    theirs = await client.post(
        f"/api/v1/registrations/{other['id']}/sessions",
        json={"session_id": str(p.sessions["B"])},
        headers=bearer(r["manage_token"]),
    )
    assert theirs.status_code == 403
    anonymous = await client.post(
        f"/api/v1/registrations/{other['id']}/sessions", json={"session_id": str(p.sessions["B"])}
    )
    assert anonymous.status_code == 401
    staff = await client.post(
        f"/api/v1/registrations/{other['id']}/sessions",
        json={"session_id": str(p.sessions["B"])},
        headers=bearer(await staff_token(database)),
    )
    assert staff.status_code == 403
    not_held = await client.delete(
        f"/api/v1/registrations/{r['id']}/sessions/{p.sessions['B']}", headers=bearer(r["manage_token"])
    )
    assert not_held.status_code == 404 and not_held.json()["error"]["code"] == "not_booked"
    assert await count_rows(database, SeatBooking) == 0
    # An organiser may book on a delegate's behalf.
    organiser = await client.post(
        f"/api/v1/registrations/{other['id']}/sessions",
        json={"session_id": str(p.sessions["B"])},
        headers=bearer(await organiser_token(database)),
    )
    assert organiser.status_code == 201


async def test_organiser_programme_rules(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme], database: Database
) -> None:
    _tickets, p = prog
    h = bearer(await organiser_token(database))
    bad_slot = await client.post(
        "/api/v1/slots",
        json={"starts_at": "2026-12-08T16:00:00+00:00", "ends_at": "2026-12-08T15:00:00+00:00"},
        headers=h,
    )
    assert bad_slot.status_code == 422 and "ends_at" in bad_slot.json()["error"]["fields"]
    naive = await client.post(
        "/api/v1/slots",
        json={"starts_at": "2026-12-08T16:00:00", "ends_at": "2026-12-08T17:00:00"},
        headers=h,
    )
    assert naive.status_code == 422
    outside = await client.post(
        "/api/v1/slots",
        json={"starts_at": "2027-01-08T16:00:00+00:00", "ends_at": "2027-01-08T17:00:00+00:00"},
        headers=h,
    )
    assert outside.status_code == 422
    negative = await client.post("/api/v1/rooms", json={"name": "Cupboard", "capacity": -4}, headers=h)
    assert negative.status_code == 422 and "capacity" in negative.json()["error"]["fields"]
    taken = await client.post(
        "/api/v1/sessions",
        json={
            "title": "Clash",
            "kind": "workshop",
            "room_id": str(p.rooms["Small"]),
            "start_slot_id": str(p.slots[0]),
        },
        headers=h,
    )
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "room_taken"
    too_long = await client.post(
        "/api/v1/sessions",
        json={
            "title": "Three",
            "kind": "workshop",
            "room_id": str(p.rooms["Big"]),
            "start_slot_id": str(p.slots[1]),
            "slot_count": 3,
        },
        headers=h,
    )
    assert too_long.status_code == 422 and "slot_count" in too_long.json()["error"]["fields"]
    bigger = await client.post(
        "/api/v1/sessions",
        json={
            "title": "Huge",
            "kind": "workshop",
            "room_id": str(p.rooms["Small"]),
            "start_slot_id": str(p.slots[2]),
            "capacity": 99,
        },
        headers=h,
    )
    assert bigger.status_code == 422 and "capacity" in bigger.json()["error"]["fields"]
    ok = await client.post(
        "/api/v1/sessions",
        json={
            "title": "Evening",
            "kind": "workshop",
            "room_id": str(p.rooms["Small"]),
            "start_slot_id": str(p.slots[2]),
            "capacity": 2,
        },
        headers=h,
    )
    assert ok.status_code == 201 and ok.json()["capacity"] == 2
    staff = await client.post(
        "/api/v1/rooms", json={"name": "X", "capacity": 4}, headers=bearer(await staff_token(database))
    )
    assert staff.status_code == 403
    before = (await client.get("/api/v1/rooms")).json()
    assert len(before) == 4


async def test_room_capacity_cut_below_bookings_is_refused_and_raise_promotes(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme], database: Database
) -> None:
    tickets, p = prog
    h = bearer(await organiser_token(database))
    people = [await register(client, tickets["delegate"]) for _ in range(4)]
    for r in people:
        await book(client, r, p.sessions["A"])
    cut = await client.patch(f"/api/v1/rooms/{p.rooms['Small']}", json={"capacity": 2}, headers=h)
    assert cut.status_code == 409
    raised = await client.patch(f"/api/v1/rooms/{p.rooms['Small']}", json={"capacity": 4}, headers=h)
    assert raised.status_code == 200
    a = (await client.get(f"/api/v1/sessions/{p.sessions['A']}")).json()
    assert (a["capacity"], a["booked"], a["waitlisted"]) == (4, 4, 0)


async def test_cancelling_a_session_frees_its_seats_and_tells_delegates(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme], database: Database
) -> None:
    tickets, p = prog
    r = await register(client, tickets["delegate"])
    await book(client, r, p.sessions["B"])
    h = bearer(await organiser_token(database))
    response = await client.patch(f"/api/v1/sessions/{p.sessions['B']}", json={"cancelled": True}, headers=h)
    assert response.status_code == 200
    assert all(s["title"] != "Workshop B" for s in (await client.get("/api/v1/sessions")).json())
    mine = (await client.get(f"/api/v1/registrations/{r['id']}", headers=bearer(r["manage_token"]))).json()
    assert mine["sessions"] == []
    assert (await book(client, r, p.sessions["B"])).json()["error"]["code"] == "session_cancelled"
    outbox = (await client.get("/api/v1/outbox", headers=h)).json()["data"]
    assert any(m["kind"] == "programme_changed" and m["registration_id"] == r["id"] for m in outbox)


async def test_agenda_ics_feed(client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme]) -> None:
    tickets, p = prog
    r = await register(client, tickets["delegate"])
    await book(client, r, p.sessions["Long"])
    await book(client, r, p.sessions["D"])
    response = await client.get(f"/manage/{r['manage_token']}/agenda.ics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(response.content)
    events = sorted(
        (str(e["summary"]), e.decoded("dtstart"), str(e.get("location", ""))) for e in cal.walk("VEVENT")
    )
    assert [e[0] for e in events] == ["Opening plenary", "Workshop D", "Workshop Long"]
    long = next(e for e in events if e[0] == "Workshop Long")
    assert long[1].hour == 10 and "Medium" in long[2]
    assert (await client.get("/manage/m_nope/agenda.ics")).status_code == 404


async def test_room_sheets(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme], database: Database
) -> None:
    tickets, p = prog
    for name in ("Zoë Young", "Ade Adebayo", "=cmd Evil"):
        r = await register(client, tickets["delegate"], name=name)
        await book(client, r, p.sessions["B"])
    h = bearer(await organiser_token(database))
    csv_text = (await client.get(f"/api/v1/sessions/{p.sessions['B']}/delegates.csv", headers=h)).text
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("reference,name,organisation")
    assert [line.split(",")[1] for line in lines[1:]] == ["Ade Adebayo", "'=cmd Evil", "Zoë Young"]
    pdf = await client.get(f"/api/v1/sessions/{p.sessions['B']}/delegates.pdf", headers=h)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert (
        await client.get(
            f"/api/v1/sessions/{p.sessions['B']}/delegates.pdf", headers=bearer(await staff_token(database))
        )
    ).status_code == 403
    assert (
        await client.get(f"/api/v1/sessions/{p.sessions['B']}/delegates.doc", headers=h)
    ).status_code == 404
