"""Setting the event up from an empty database, in the console: the organiser is sent to /console/event, whose
form creates the conference (audited, every problem at once, nothing made when one is refused), and a second
set-up is refused."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa

from conference import event
from conference.core import errors
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import AuditEntry, Conference, utcnow
from tests.support import HTML, csrf, organiser_token, sign_in

LONDON = ZoneInfo("Europe/London")


def local(days: int, hour: int) -> str:
    today = utcnow().astimezone(LONDON).date()
    moment = datetime(today.year, today.month, today.day, hour, tzinfo=LONDON) + timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M")


def form(**overrides: str) -> dict[str, str]:
    values = {
        "name": "Safer Communities 2027",
        "starts_at": local(120, 9),
        "ends_at": local(121, 17),
        "timezone": "Europe/London",
        "capacity": "600",
        "venue": "Leeds Conference Centre",
    }
    values.update(overrides)
    return values


async def conferences(database: Database) -> list[Conference]:
    async with database.read() as db:
        return list((await db.execute(sa.select(Conference))).scalars())


async def test_an_empty_database_is_set_up_from_the_console(
    client: httpx.AsyncClient, database: Database
) -> None:
    await sign_in(client, await organiser_token(database))
    landing = await client.get("/console/dashboard", headers=HTML)
    assert landing.status_code == 303 and landing.headers["location"].endswith("/console/event")
    page = await client.get("/console/event", headers=HTML)
    assert page.status_code == 200 and "Set up your event" in page.text

    # Every problem at once; nothing is made.
    refused = await client.post(
        "/console/event",
        data={
            **form(name="", starts_at="", ends_at=local(-3, 9), capacity="lots"),
            "csrf_token": csrf(page.text),
        },
        headers=HTML,
    )
    assert refused.status_code == 422
    for field in ("name", "starts_at", "ends_at", "capacity"):
        assert f'href="#{field}"' in refused.text, field
    assert await conferences(database) == []

    made = await client.post("/console/event", data={**form(), "csrf_token": csrf(page.text)}, headers=HTML)
    assert made.status_code == 303 and made.headers["location"].endswith("?done=created")
    (conference,) = await conferences(database)
    assert (conference.name, conference.capacity, conference.venue) == (
        "Safer Communities 2027",
        600,
        "Leeds Conference Centre",
    )
    assert conference.registration_open is False  # turned on once ticket types exist
    async with database.read() as db:
        actions = list((await db.execute(sa.select(AuditEntry.action))).scalars())
    assert "conference.conference.created" in actions

    # Now the page edits that conference, and the dashboard opens.
    again = await client.get("/console/event", headers=HTML)
    assert "Set up your event" not in again.text and 'value="Safer Communities 2027"' in again.text
    assert (await client.get("/console/dashboard", headers=HTML)).status_code == 200


async def test_a_second_conference_is_refused(database: Database, tickets: dict[str, object]) -> None:
    async with database.transaction() as db:
        try:
            await event.create_conference(db, changes={"name": "Another"}, actor=Actor("cli"))
        except errors.DomainError as exc:
            assert "already set up" in exc.message
        else:
            raise AssertionError("a second conference was made")
    assert len(await conferences(database)) == 1
