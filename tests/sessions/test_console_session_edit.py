"""Editing a session in the console (issue 17): every field, the API's rules and emails (programme.update_session),
every problem at once with what was typed kept, and nothing saved when anything is refused."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import AuditEntry, OutboxEmail
from sessions.models import ProgrammeSession
from tests.factories import Programme, make_conference, make_programme
from tests.support import book_seat, csrf, organiser_token, outbox_rows, register, sign_in

HTML = {"accept": "text/html"}


@pytest.fixture
async def prog(database: Database) -> tuple[dict[str, Any], Programme]:
    tickets = await make_conference(database, capacity=50)
    return tickets, await make_programme(database)


async def load(database: Database, session_id: uuid.UUID) -> ProgrammeSession:
    async with database.read() as db:
        session = await db.get(ProgrammeSession, session_id)
    assert session is not None
    return session


def form_of(session: ProgrammeSession) -> dict[str, str]:
    """The edit form as the page fills it for this session."""
    return {
        "title": session.title,
        "description": session.description,
        "speakers": session.speakers,
        "theme": session.theme,
        "room_id": str(session.room_id) if session.room_id else "",
        "start_slot_id": str(session.start_slot_id),
        "slot_count": str(session.slot_count),
        "capacity": "" if session.capacity_limit is None else str(session.capacity_limit),
    }


async def programme_changed(database: Database) -> list[OutboxEmail]:
    return [m for m in await outbox_rows(database) if m.kind == "programme_changed"]


async def test_the_edit_page_shows_the_session_in_its_form(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme], database: Database
) -> None:
    _tickets, p = prog
    await sign_in(client, await organiser_token(database))
    listing = await client.get("/console/programme", headers=HTML)
    assert f'href="http://testserver/console/programme/sessions/{p.sessions["C"]}"' in listing.text
    page = await client.get(f"/console/programme/sessions/{p.sessions['C']}", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert 'id="title"' in text and 'value="Workshop C"' in text and 'value="partnership working"' in text
    assert f'<option value="{p.rooms["Small"]}" selected>' in text
    assert f'<option value="{p.slots[1]}" selected>' in text
    assert 'aria-label="Console"' in text  # the console menu
    missing = await client.get(f"/console/programme/sessions/{uuid.uuid4()}", headers=HTML)
    assert missing.status_code == 404
    assert (await client.get("/console/programme/sessions/not-an-id", headers=HTML)).status_code == 404


# (form field, typed value, the session's attribute and the value it must then have, whether it moves)
EDITS = [
    ("title", "Joint visits that work", "title", "Joint visits that work", False),
    ("description", "Line one.\nLine two.", "description", "Line one.\nLine two.", False),
    ("speakers", "Ada Lovelace (Leeds City Council)", "speakers", "Ada Lovelace (Leeds City Council)", False),
    ("theme", "online safety", "theme", "online safety", False),
    ("capacity", "2", "capacity_limit", 2, False),
    ("room_id", "Big", "room_id", "Big", True),
    ("start_slot_id", 2, "start_slot_id", 2, True),
    ("slot_count", "2", "slot_count", 2, True),
]


@pytest.mark.parametrize(("field", "typed", "attribute", "expected", "moves"), EDITS)
async def test_each_field_is_saved_and_a_move_emails_the_booked_delegates(
    client: httpx.AsyncClient,
    prog: tuple[dict[str, Any], Programme],
    database: Database,
    field: str,
    typed: Any,
    attribute: str,
    expected: Any,
    moves: bool,
) -> None:
    tickets, p = prog
    seated = [await register(client, tickets["delegate"]) for _ in range(2)]
    for person in seated:
        assert await book_seat(client, person, p.sessions["C"]) == "booked"
    await sign_in(client, await organiser_token(database))
    page = await client.get(f"/console/programme/sessions/{p.sessions['C']}", headers=HTML)
    before = await load(database, p.sessions["C"])
    form = form_of(before)
    # Rooms by name and slots by index in the table above: here they become ids.
    value = (
        str(p.rooms[typed])
        if field == "room_id"
        else str(p.slots[typed])
        if field == "start_slot_id"
        else typed
    )
    form[field] = value
    saved = await client.post(
        f"/console/programme/sessions/{p.sessions['C']}", data={"csrf_token": csrf(page.text), **form}
    )
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"].endswith("/console/programme?done=session_saved")
    after = await load(database, p.sessions["C"])
    want = (
        p.rooms[expected]
        if field == "room_id"
        else p.slots[expected]
        if field == "start_slot_id"
        else expected
    )
    assert getattr(after, attribute) == want
    mails = await programme_changed(database)
    if moves:
        assert sorted(str(m.registration_id) for m in mails) == sorted(r["id"] for r in seated)
        line = mails[0].context["changes"][0]
        assert line.startswith("'Workshop C' has moved from Tue 8 Dec 2026, 11:30–12:30 in Small to ")
        assert all(m.context["changes"] == [line] for m in mails)
    else:
        assert mails == []
    async with database.read() as db:
        entry = (
            await db.execute(
                sa.select(AuditEntry).where(
                    AuditEntry.action == "sessions.session.updated",
                    AuditEntry.subject == str(p.sessions["C"]),
                )
            )
        ).scalar_one()
    assert field in entry.data["fields"] and entry.actor.startswith("organiser")


async def test_every_problem_is_shown_at_once_with_what_was_typed_and_nothing_is_saved(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme], database: Database
) -> None:
    tickets, p = prog
    person = await register(client, tickets["delegate"])
    await book_seat(client, person, p.sessions["C"])
    await sign_in(client, await organiser_token(database))
    page = await client.get(f"/console/programme/sessions/{p.sessions['C']}", headers=HTML)
    before = await load(database, p.sessions["C"])
    form = {
        **form_of(before),
        "title": "",  # too short: the form's own check
        "description": "Kept as typed",
        "slot_count": "0",  # below 1: the form's own check
        "capacity": "-4",  # below 0: the form's own check
        "room_id": str(p.rooms["Big"]),  # Workshop B has Big at 10:00: the service's check, at the same time
        "start_slot_id": str(p.slots[0]),
    }
    refused = await client.post(
        f"/console/programme/sessions/{p.sessions['C']}", data={"csrf_token": csrf(page.text), **form}
    )
    assert refused.status_code == 422
    text = refused.text
    assert "There is a problem" in text
    summary = text[text.index("error-summary") : text.index("</ul>", text.index("error-summary"))]
    for field in ("title", "slot_count", "capacity", "room_id"):
        assert f'href="#{field}"' in summary, field
    assert "already taken at that time by &#39;Workshop B&#39;" in summary
    assert ">Kept as typed</textarea>" in text and 'value="-4"' in text and 'value="0"' in text
    assert f'<option value="{p.rooms["Big"]}" selected>' in text
    assert (await load(database, p.sessions["C"])).model_dump() == before.model_dump()
    assert await programme_changed(database) == []

    # The service's own refusals alone: more seats than the room has, and fewer than are booked.
    too_many = await client.post(
        f"/console/programme/sessions/{p.sessions['C']}",
        data={"csrf_token": csrf(page.text), **form_of(before), "capacity": "4"},
    )
    assert too_many.status_code == 422 and "The room has only 3 seats" in too_many.text
    await book_seat(client, await register(client, tickets["delegate"]), p.sessions["C"])
    too_few = await client.post(
        f"/console/programme/sessions/{p.sessions['C']}",
        data={"csrf_token": csrf(page.text), **form_of(before), "capacity": "1"},
    )
    assert too_few.status_code == 409 and "2 seats are already booked" in too_few.text
    assert (await load(database, p.sessions["C"])).capacity_limit is None


async def test_the_edit_form_needs_the_csrf_token_and_an_organiser(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme], database: Database
) -> None:
    _tickets, p = prog
    before = await load(database, p.sessions["C"])
    form = {**form_of(before), "title": "Sneaky"}
    anonymous = await client.post(f"/console/programme/sessions/{p.sessions['C']}", data=form, headers=HTML)
    assert anonymous.status_code in (303, 401, 403)
    await sign_in(client, await organiser_token(database))
    forged = await client.post(f"/console/programme/sessions/{p.sessions['C']}", data=form, headers=HTML)
    assert forged.status_code == 403
    assert (await load(database, p.sessions["C"])).title == "Workshop C"
