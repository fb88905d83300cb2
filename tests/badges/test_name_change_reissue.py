"""Issue 18: a name (or organisation) correction reissues the badge and the e-ticket: the old QR answers `invalid`
at the door and the new one admits; a change the badge doesn't show (dietary needs) leaves the code as it was."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from conference import delegates
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import Registration
from conference.core.settings import Settings
from tests.support import bearer, code_for, register, scan, staff_token


async def details_of(database: Database, registration_id: str, **changes: str) -> dict[str, Any]:
    async with database.read() as db:
        r = await db.get(Registration, uuid.UUID(registration_id))
        assert r is not None
    return {name: getattr(r, name) for name in delegates.FIELDS} | {"sector": r.sector.value} | changes


async def edit(database: Database, settings: Settings, registration_id: str, **changes: str) -> None:
    details = delegates.parse_details(await details_of(database, registration_id, **changes))
    async with database.transaction() as db:
        await delegates.edit_details(
            db,
            settings=settings,
            registration_id=uuid.UUID(registration_id),
            details=details,
            actor=Actor("cli"),
        )


async def test_a_corrected_name_reissues_the_badge_and_ticket(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database, settings: Settings
) -> None:
    ada = await register(client, tickets["delegate"], name="Ada Lovelce")
    first = code_for(settings, ada)

    await edit(database, settings, ada["id"], name="Ada Lovelace")
    staff = bearer(await staff_token(database))
    old = (await scan(client, staff, first)).json()
    assert old["result"] == "invalid"
    new = (await scan(client, staff, code_for(settings, ada, version=2))).json()
    assert new["result"] == "ok" and new["attendee"]["name"] == "Ada Lovelace"


async def test_a_change_the_badge_does_not_show_keeps_the_code(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database, settings: Settings
) -> None:
    grace = await register(client, tickets["delegate"], name="Grace Hopper")
    await edit(database, settings, grace["id"], dietary="Vegan", access_needs="Step-free route")
    staff = bearer(await staff_token(database))
    assert (await scan(client, staff, code_for(settings, grace))).json()["result"] == "ok"
