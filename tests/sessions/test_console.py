"""The organisers' programme pages: sign-in, roles, forms with CSRF, errors shown on the page."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conference.core.db import Database
from sessions.models import ProgrammeSession, Room
from tests.factories import Programme, make_conference, make_programme
from tests.support import count_rows, csrf, organiser_token, sign_in, staff_token, try_sign_in


@pytest.fixture
async def prog(database: Database) -> tuple[dict[str, Any], Programme]:
    tickets = await make_conference(database, capacity=50)
    return tickets, await make_programme(database)


async def test_anonymous_is_sent_to_sign_in(client: httpx.AsyncClient, prog: Any) -> None:
    response = await client.get("/console/programme", headers={"accept": "text/html"})
    assert response.status_code == 303 and response.headers["location"].endswith(
        "/login?next=%2Fconsole%2Fprogramme"
    )


async def test_bad_token_is_refused_and_audited(
    client: httpx.AsyncClient, prog: Any, database: Database
) -> None:
    response = await try_sign_in(client, "ct_wrong")
    assert response.status_code == 401 and "This token is not valid" in response.text
    assert (await client.get("/console/programme", headers={"accept": "text/html"})).status_code == 303


async def test_staff_cannot_manage_the_programme(
    client: httpx.AsyncClient, prog: Any, database: Database
) -> None:
    await sign_in(client, await staff_token(database))
    assert (await client.get("/console/programme", headers={"accept": "text/html"})).status_code == 403


async def test_organiser_manages_rooms_slots_and_sessions(
    client: httpx.AsyncClient, prog: Any, database: Database
) -> None:
    _tickets, p = prog
    signed = await sign_in(client, await organiser_token(database))
    assert signed.status_code == 303
    page = await client.get("/console/programme", headers={"accept": "text/html"})
    assert page.status_code == 200 and "Workshop Long" in page.text
    token = csrf(page.text)
    added = await client.post(
        "/console/programme/rooms",
        data={"csrf_token": token, "room_name": "Garden Room", "room_capacity": "25"},
    )
    assert added.status_code == 303
    assert await count_rows(database, Room) == 5
    bad = await client.post(
        "/console/programme/rooms", data={"csrf_token": token, "room_name": "Cupboard", "room_capacity": "-3"}
    )
    assert bad.status_code == 422 and "There is a problem" in bad.text and 'value="Cupboard"' in bad.text
    slot = await client.post(
        "/console/programme/slots",
        data={"csrf_token": token, "slot_start": "2026-12-09T15:00", "slot_end": "2026-12-09T14:00"},
    )
    assert slot.status_code == 422 and "must end after it starts" in slot.text
    clash = await client.post(
        "/console/programme/sessions",
        data={
            "csrf_token": token,
            "title": "Clash",
            "kind": "workshop",
            "room_id": str(p.rooms["Small"]),
            "start_slot_id": str(p.slots[0]),
        },
    )
    assert clash.status_code == 409 and "already taken" in clash.text
    before = await count_rows(database, ProgrammeSession)
    new = await client.post(
        "/console/programme/sessions",
        data={
            "csrf_token": token,
            "title": "Garden chat",
            "kind": "workshop",
            "room_id": str(p.rooms["Small"]),
            "start_slot_id": str(p.slots[2]),
            "slot_count": "1",
        },
    )
    assert new.status_code == 303
    assert await count_rows(database, ProgrammeSession) == before + 1
    cancelled = await client.post(
        f"/console/programme/sessions/{p.sessions['A']}/cancel", data={"csrf_token": token}
    )
    assert cancelled.status_code == 303
    sheet = await client.get(f"/api/v1/sessions/{p.sessions['B']}/delegates.csv")
    assert sheet.status_code == 200  # the signed-in browser may read the room sheet
    # ...but never write through the API with the cookie alone.
    write = await client.post("/api/v1/rooms", json={"name": "Sneaky", "capacity": 3})
    assert write.status_code == 401


async def test_console_forms_need_the_csrf_token(
    client: httpx.AsyncClient, prog: Any, database: Database
) -> None:
    await sign_in(client, await organiser_token(database))
    response = await client.post("/console/programme/rooms", data={"room_name": "X", "room_capacity": "3"})
    assert response.status_code == 403
    assert await count_rows(database, Room) == 4


async def test_sign_out_ends_the_session(client: httpx.AsyncClient, prog: Any, database: Database) -> None:
    await sign_in(client, await organiser_token(database))
    page = await client.get("/console/programme", headers={"accept": "text/html"})
    await client.post("/logout", data={"csrf_token": csrf(page.text)})
    assert (await client.get("/console/programme", headers={"accept": "text/html"})).status_code == 303
