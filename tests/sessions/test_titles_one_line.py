"""A talk's or a session's title is one line (issue 15, L4): a CR/LF in one stopped every email whose subject
carries it (`seat_promoted`), so titles refuse line breaks, in the API and the console's forms, and an email's
subject is made one line whatever is stored (a title from before the rule)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference.core.db import Database
from conference.core.models import OutboxEmail
from conference.mail import mailtext
from sessions.models import ProgrammeSession
from tests.factories import Programme, make_conference, make_programme, proposal_body, set_call
from tests.support import HTML, bearer, csrf, organiser_token, register, sign_in

BREAKS = ["Workshop\r\nA", "Workshop\nA", "Workshop\rA", "Workshop\u2028A"]


@pytest.fixture
async def prog(database: Database) -> tuple[dict[str, Any], Programme]:
    tickets = await make_conference(database, capacity=50)
    return tickets, await make_programme(database, small_capacity=1)


def refused(response: httpx.Response, field: str) -> str:
    assert response.status_code == 422, response.text
    fields: dict[str, str] = response.json()["error"]["fields"]
    assert field in fields, fields
    return fields[field]


async def test_session_titles_refuse_line_breaks_in_the_api(
    client: httpx.AsyncClient, database: Database, prog: tuple[dict[str, Any], Programme]
) -> None:
    _tickets, p = prog
    org = bearer(await organiser_token(database))
    for title in BREAKS:
        body = {
            "title": title,
            "kind": "workshop",
            "room_id": str(p.rooms["Big"]),
            "start_slot_id": str(p.slots[2]),
        }
        assert "one line" in refused(await client.post("/api/v1/sessions", json=body, headers=org), "title")
        patch = await client.patch(f"/api/v1/sessions/{p.sessions['A']}", json={"title": title}, headers=org)
        refused(patch, "title")
    # A description is long text: its line breaks stay.
    ok = await client.patch(
        f"/api/v1/sessions/{p.sessions['A']}", json={"description": "Part one.\r\nPart two."}, headers=org
    )
    assert ok.status_code == 200, ok.text


async def test_session_titles_and_slot_labels_refuse_line_breaks_in_the_console(
    client: httpx.AsyncClient, database: Database, prog: tuple[dict[str, Any], Programme]
) -> None:
    _tickets, p = prog
    await sign_in(client, await organiser_token(database))
    page = await client.get("/console/programme")
    token = csrf(page.text)
    form = {
        "csrf_token": token,
        "title": "Workshop\r\nE",
        "kind": "workshop",
        "start_slot_id": str(p.slots[2]),
    }
    response = await client.post("/console/programme/sessions", data=form, headers=HTML)
    assert response.status_code == 422 and "one line" in response.text, response.text[:500]
    # A slot's label went through the model without a catch: a line break there was a 500.
    slot = {
        "csrf_token": token,
        "slot_start": "2026-12-09 14:00",
        "slot_end": "2026-12-09 15:00",
        "slot_label": "After\nlunch",
    }
    response = await client.post("/console/programme/slots", data=slot, headers=HTML)
    assert response.status_code == 422 and "one line" in response.text, response.text[:500]
    # A control character anywhere in a console form: the page again, the field named (form_values).
    response = await client.post(
        "/console/programme/sessions", data={**form, "title": "Workshop\x00E"}, headers=HTML
    )
    assert response.status_code == 422 and "control character (U+0000)" in response.text
    async with database.read() as db:
        titles = (await db.execute(sa.select(col(ProgrammeSession.title)))).scalars().all()
    assert not [t for t in titles if t.startswith("Workshop") and t.endswith("E")]


async def test_talk_titles_refuse_line_breaks_abstracts_keep_them(
    client: httpx.AsyncClient, database: Database, prog: tuple[dict[str, Any], Programme]
) -> None:
    await set_call(database)
    for title in BREAKS:
        refused(await client.post("/api/v1/proposals", json=proposal_body(title=title)), "title")
    made = await client.post("/api/v1/proposals", json=proposal_body(abstract="The problem.\n\nWhat we did."))
    assert made.status_code == 201, made.text
    token = made.json()["edit_token"]
    edit = await client.patch(
        f"/api/v1/proposals/{made.json()['id']}", json={"title": "New\r\ntitle"}, headers=bearer(token)
    )
    refused(edit, "title")


async def test_a_seat_promoted_email_is_sent_whatever_line_breaks_a_stored_title_has(
    client: httpx.AsyncClient, database: Database, settings: Any, prog: tuple[dict[str, Any], Programme]
) -> None:
    tickets, p = prog
    # Stored before titles were one line (the API refuses it now).
    async with database.transaction() as db:
        await db.execute(
            sa.update(ProgrammeSession)
            .where(col(ProgrammeSession.id) == p.sessions["A"])
            .values(title="Workshop A\r\nBcc: everyone@example.org")
        )
    first, second = [await register(client, tickets["delegate"]) for _ in range(2)]
    for person in (first, second):
        booked = await client.post(
            f"/api/v1/registrations/{person['id']}/sessions",
            json={"session_id": str(p.sessions["A"])},
            headers=bearer(person["manage_token"]),
        )
        assert booked.status_code in (200, 201), booked.text
    released = await client.delete(
        f"/api/v1/registrations/{first['id']}/sessions/{p.sessions['A']}",
        headers=bearer(first["manage_token"]),
    )
    assert released.status_code == 200, released.text
    async with database.read() as db:
        row = (
            await db.execute(sa.select(OutboxEmail).where(col(OutboxEmail.kind) == "seat_promoted"))
        ).scalar_one()
        message = await mailtext.render(db, settings, row)
    assert message["Subject"] == "Test Conference: you have a seat in Workshop A Bcc: everyone@example.org"
    assert message["Bcc"] is None and message.as_bytes()
