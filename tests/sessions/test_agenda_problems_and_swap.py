"""The agenda page without dead ends (issue 18): a ranking or booking refused is shown beside the workshop concerned,
with what the delegate chose kept; "Swap" where a seat at the same time is held, atomic, audited, and a swap
into a full workshop keeps the old seat."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import AuditEntry
from sessions.models import SeatBooking, SessionChoice
from tests.factories import Programme, make_conference, make_programme
from tests.support import bearer, count_rows, csrf, organiser_token, register


@pytest.fixture
async def prog(database: Database) -> tuple[dict[str, Any], Programme]:
    tickets = await make_conference(database, capacity=50)
    return tickets, await make_programme(database)  # Workshop A (slot 0) has 3 seats; B (slot 0) has 50


async def agenda(client: httpx.AsyncClient, person: dict[str, Any]) -> httpx.Response:
    response = await client.get(f"/manage/{person['manage_token']}/agenda")
    assert response.status_code == 200, response.text
    return response


async def post(client: httpx.AsyncClient, person: dict[str, Any], path: str, **data: str) -> httpx.Response:
    page = await agenda(client, person)
    return await client.post(
        f"/manage/{person['manage_token']}{path}", data={"csrf_token": csrf(page.text), **data}
    )


def block(html: str, element_id: str, end: str) -> str:
    """The page's HTML from the element with this id up to `end`."""
    start = html.index(f'id="{element_id}"')
    return html[start : html.index(end, start)]


async def live_seats(database: Database, person: dict[str, Any]) -> dict[uuid.UUID, str]:
    async with database.read() as db:
        rows = await db.execute(
            sa.select(SeatBooking.session_id, SeatBooking.status).where(
                SeatBooking.registration_id == uuid.UUID(person["id"]), SeatBooking.status != "cancelled"
            )
        )
        return {sid: str(getattr(status, "value", status)) for sid, status in rows.all()}


async def test_a_duplicate_choice_is_shown_beside_both_workshops_and_nothing_is_lost(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme], database: Database
) -> None:
    tickets, p = prog
    phase = await client.patch(
        "/api/v1/seat-booking",
        json={"choices_open": True, "booking_open": False},
        headers=bearer(await organiser_token(database)),
    )
    assert phase.status_code == 200, phase.text
    me = await register(client, tickets["delegate"])
    a, b, c = (p.sessions[k] for k in ("A", "B", "C"))

    response = await post(client, me, "/choices", **{f"rank-{a}": "1", f"rank-{b}": "1", f"rank-{c}": "2"})

    assert response.status_code == 422
    html = response.text
    assert "<title>Error:" in html
    summary = block(html, "error-summary", "</div>")
    assert f'href="#rank-{a}"' in summary and f'href="#rank-{b}"' in summary and "Workshop A" in summary
    # Beside each of the two workshops ranked "choice 1" at 10:00, not beside Workshop C.
    for session_id in (a, b):
        row = block(html, f"rank-{session_id}-error", "</select>")
        assert "also your choice 1" in row and 'aria-invalid="true"' in row
    assert f'id="rank-{c}-error"' not in html
    # Nothing the delegate chose is lost: every select shows what was posted.
    for session_id, rank in ((a, "1"), (b, "1"), (c, "2")):
        select = block(html, f"rank-{session_id}", "</select>")
        assert re.search(rf'<option value="{rank}" selected>', select), session_id
        assert len(re.findall("selected", select)) == 1, session_id
    assert await count_rows(database, SessionChoice) == 0  # and nothing half-saved

    fixed = await post(client, me, "/choices", **{f"rank-{a}": "1", f"rank-{b}": "2", f"rank-{c}": "1"})
    assert fixed.status_code == 303 and fixed.headers["location"].endswith("done=ranked")
    assert await count_rows(database, SessionChoice) == 3


async def test_a_refused_booking_is_shown_beside_the_workshop(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme]
) -> None:
    tickets, p = prog
    me = await register(client, tickets["delegate"])
    assert (await post(client, me, "/sessions", session_id=str(p.sessions["Long"]))).status_code == 303
    # A stale page's "Book" in a slot where a seat is held: the clash is shown beside Workshop A, with "Swap".
    response = await post(client, me, "/sessions", session_id=str(p.sessions["A"]))
    assert response.status_code == 409
    row = block(response.text, f"workshop-{p.sessions['A']}", "</li>")
    assert "overlaps a session you have already booked" in row
    assert f"/sessions/{p.sessions['A']}/swap" in row and ">Book <" not in row
    assert f'href="#workshop-{p.sessions["A"]}"' in block(response.text, "error-summary", "</div>")


async def test_swap_replaces_the_seat_in_one_step_and_is_audited(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme], database: Database
) -> None:
    tickets, p = prog
    me = await register(client, tickets["delegate"])
    assert (await post(client, me, "/sessions", session_id=str(p.sessions["A"]))).status_code == 303

    page = (await agenda(client, me)).text
    b_row = block(page, f"workshop-{p.sessions['B']}", "</li>")
    assert "Swap" in b_row and f"/sessions/{p.sessions['B']}/swap" in b_row and "“Workshop A”" in b_row
    assert "Book" not in b_row
    d_row = block(page, f"workshop-{p.sessions['D']}", "</li>")  # another day: nothing to swap
    assert "Book" in d_row and "Swap" not in d_row

    swapped = await post(client, me, f"/sessions/{p.sessions['B']}/swap")
    assert swapped.status_code == 303 and swapped.headers["location"].endswith("done=swapped")
    assert await live_seats(database, me) == {p.sessions["B"]: "booked"}
    assert "Your seat is swapped" in (await client.get(swapped.headers["location"])).text
    async with database.read() as db:
        audit = [
            (e.action, e.data)
            for e in (await db.execute(sa.select(AuditEntry).order_by(AuditEntry.id))).scalars()
            if e.action.startswith("sessions.seat.")
        ]
    assert audit[-2:] == [
        ("sessions.seat.released", {"session": str(p.sessions["A"]), "swapped_to": str(p.sessions["B"])}),
        ("sessions.seat.booked", {"session": str(p.sessions["B"]), "swapped_from": str(p.sessions["A"])}),
    ]

    # A two-slot workshop replaces both seats it overlaps.
    assert (await post(client, me, "/sessions", session_id=str(p.sessions["C"]))).status_code == 303
    assert (await post(client, me, f"/sessions/{p.sessions['Long']}/swap")).status_code == 303
    assert await live_seats(database, me) == {p.sessions["Long"]: "booked"}


async def test_a_swap_into_a_full_workshop_keeps_the_old_seat_and_says_so(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme], database: Database
) -> None:
    tickets, p = prog
    me = await register(client, tickets["delegate"])
    assert (await post(client, me, "/sessions", session_id=str(p.sessions["B"]))).status_code == 303
    others = [await register(client, tickets["delegate"]) for _ in range(3)]
    for other in others:  # Workshop A's three seats
        assert (await post(client, other, "/sessions", session_id=str(p.sessions["A"]))).status_code == 303
    before = await count_rows(database, AuditEntry)

    response = await post(client, me, f"/sessions/{p.sessions['A']}/swap")

    assert response.status_code == 409
    row = block(response.text, f"workshop-{p.sessions['A']}", "</li>")
    assert "“Workshop A” is full, so you keep your seat in “Workshop B”" in row
    assert await live_seats(database, me) == {p.sessions["B"]: "booked"}
    assert await count_rows(database, AuditEntry) == before  # nothing happened, so nothing to audit


async def test_the_seat_given_up_by_a_swap_goes_to_the_first_waiting(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme], database: Database
) -> None:
    tickets, p = prog
    people = [await register(client, tickets["delegate"]) for _ in range(4)]
    for person in people:  # three seats in A, then one on its waiting list
        assert (await post(client, person, "/sessions", session_id=str(p.sessions["A"]))).status_code == 303
    assert await live_seats(database, people[3]) == {p.sessions["A"]: "waitlisted"}

    assert (await post(client, people[0], f"/sessions/{p.sessions['B']}/swap")).status_code == 303

    assert await live_seats(database, people[0]) == {p.sessions["B"]: "booked"}
    assert await live_seats(database, people[3]) == {p.sessions["A"]: "booked"}


async def test_swap_answers_a_bad_link_or_session_clearly(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme]
) -> None:
    tickets, p = prog
    me = await register(client, tickets["delegate"])
    assert (await post(client, me, "/sessions/not-a-uuid/swap")).status_code == 404
    unknown = await post(client, me, f"/sessions/{uuid.uuid4()}/swap")
    assert unknown.status_code == 422 and "No session has this id" in unknown.text
    plenary = await post(client, me, f"/sessions/{p.sessions['P']}/swap")
    assert plenary.status_code == 409 and "open to every delegate" in plenary.text
