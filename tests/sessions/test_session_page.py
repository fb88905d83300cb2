"""A page per session (/programme/sessions/{id}, and a delegate's own at /manage/{token}/programme/sessions/{id})
with its calendar file, and the programme's list view by time then room (issue 18)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import icalendar
import pytest

from conference.core.db import Database
from sessions.workshops import programme
from tests.factories import Programme, make_conference, make_programme
from tests.support import bearer, register


@pytest.fixture
async def prog(database: Database) -> tuple[dict[str, Any], Programme]:
    tickets = await make_conference(database, capacity=50)
    p = await make_programme(database)
    async with database.transaction() as db:
        session = await db.get(programme.ProgrammeSession, p.sessions["A"])
        assert session is not None
        session.description = "Sharing what works: a hands-on session."
        session.speakers = "Grace Okafor (Leeds City Council); Sam Reid"
    return tickets, p


async def test_the_session_page_says_what_when_where_who_and_seats_left(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme]
) -> None:
    tickets, p = prog
    someone = await register(client, tickets["delegate"])
    booked = await client.post(
        f"/api/v1/registrations/{someone['id']}/sessions",
        json={"session_id": str(p.sessions["A"])},
        headers=bearer(someone["manage_token"]),
    )
    assert booked.status_code == 201

    response = await client.get(f"/programme/sessions/{p.sessions['A']}")

    assert response.status_code == 200
    html = response.text
    assert '<h1 id="session-title">Workshop A</h1>' in html
    assert "Tue 8 Dec 2026, 10:00–11:00" in html and "Small, Test Hall" in html
    assert "Grace Okafor (Leeds City Council); Sam Reid" in html
    assert "Sharing what works: a hands-on session." in html
    assert re.search(r'id="seats">\s*2 of 3 seats left', html)
    assert f'href="http://testserver/programme/sessions/{p.sessions["A"]}.ics"' in html
    assert "open your booking page from the link in your confirmation email" in html
    assert "/manage/" not in html  # no delegate's link on the public page

    plenary = (await client.get(f"/programme/sessions/{p.sessions['P']}")).text
    assert "Open to all delegates, no booking needed" in plenary


async def test_a_delegates_own_session_page_links_to_their_agenda_and_says_their_place(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme]
) -> None:
    tickets, p = prog
    me = await register(client, tickets["delegate"])
    token = me["manage_token"]
    html = (await client.get(f"/manage/{token}/programme/sessions/{p.sessions['B']}")).text
    assert f'href="http://testserver/manage/{token}/agenda#workshop-{p.sessions["B"]}"' in html
    assert "Book a seat on your agenda" in html
    await client.post(
        f"/api/v1/registrations/{me['id']}/sessions",
        json={"session_id": str(p.sessions["B"])},
        headers=bearer(token),
    )
    html = (await client.get(f"/manage/{token}/programme/sessions/{p.sessions['B']}")).text
    assert "You are booked for this session" in html
    # The agenda links each of its sessions to the delegate's own page for it.
    agenda = (await client.get(f"/manage/{token}/agenda")).text
    assert f"/manage/{token}/programme/sessions/{p.sessions['B']}" in agenda


@pytest.mark.parametrize("path", ["/programme/sessions/{}", "/programme/sessions/{}.ics"])
async def test_an_unknown_session_is_a_clear_404(client: httpx.AsyncClient, prog: Any, path: str) -> None:
    for bad in (str(uuid.uuid4()), "not-an-id"):
        response = await client.get(path.format(bad), headers={"accept": "text/html"})
        assert response.status_code == 404
        assert "No session has this id." in response.text and "Traceback" not in response.text


async def test_the_session_calendar_file_parses_and_holds_that_session_only(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme]
) -> None:
    _tickets, p = prog
    response = await client.get(f"/programme/sessions/{p.sessions['A']}.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    assert "attachment" in response.headers["content-disposition"]
    calendar = icalendar.Calendar.from_ical(response.content)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    event = events[0]
    assert str(event["summary"]) == "Workshop A"
    assert str(event["uid"]) == f"{p.sessions['A']}@testserver"  # the same UID as in the programme feed
    assert event.decoded("dtstart") == datetime(2026, 12, 8, 10, tzinfo=UTC)
    assert event.decoded("dtend") == datetime(2026, 12, 8, 11, tzinfo=UTC)
    assert str(event["location"]) == "Small, Test Hall"
    assert "Grace Okafor" in str(event["description"])
    again = await client.get(
        f"/programme/sessions/{p.sessions['A']}.ics", headers={"if-none-match": response.headers["etag"]}
    )
    assert again.status_code == 304


async def test_the_programme_has_a_list_view_by_time_then_room(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme]
) -> None:
    _tickets, p = prog
    html = (await client.get("/programme")).text
    listing = html[html.index('id="list-2026-12-08"') :]
    listing = listing[: listing.index("</section>")]
    times = re.findall(r'<h3 class="prog-list-time">([^<]+)<', listing)
    assert times == ["10:00", "11:30"]  # Workshop Long (10:00–12:30) is under 10:00 with A and B
    # At 10:00 the rooms in the organisers' order (all at position 0, so by name): Big, Medium, Small.
    order = [listing.index(f'id="item-{p.sessions[k]}"') for k in ("B", "Long", "A", "C")]
    assert order == sorted(order)
    assert f'href="/programme/sessions/{p.sessions["A"]}"' in listing
    assert "3 of 3 seats left" in listing
