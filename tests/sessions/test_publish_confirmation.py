"""Publishing a draft that is no better than the published programme (issue 17): the console says so beside the
Publish button, names what moves (which workshops, from and to, how many booked delegates), and publishes only
with a confirmation of exactly that."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from conference.core.audit import Actor
from conference.core.db import Database
from sessions.models import RoomCreate, ScheduleState, ScheduleVersion, TimeSlotCreate
from sessions.workshops import programme
from tests.factories import make_conference, set_call
from tests.support import bearer, csrf, organiser_token, register, sign_in, submit

ORGANISER = Actor("organiser", "tests")
HTML = {"accept": "text/html"}


@dataclass
class World:
    organiser: dict[str, str]
    rooms: dict[str, uuid.UUID] = field(default_factory=dict)
    slots: list[uuid.UUID] = field(default_factory=list)
    talks: dict[str, str] = field(default_factory=dict)
    delegates: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
async def world(client: httpx.AsyncClient, database: Database) -> World:
    """Two rooms, three slots on day one, two confirmed panels, and three delegates who starred both."""
    tickets = await make_conference(database, capacity=50)
    token = await organiser_token(database)
    w = World(bearer(token))
    async with database.transaction() as db:
        for name in ("Room A", "Room B"):
            room = await programme.create_room(db, data=RoomCreate(name=name, capacity=30), actor=ORGANISER)
            w.rooms[name] = room.id
        for hour in (10, 12, 14):
            start = datetime(2026, 12, 8, hour, tzinfo=UTC)
            slot = await programme.create_slot(
                db, data=TimeSlotCreate(starts_at=start, ends_at=start + timedelta(hours=1)), actor=ORGANISER
            )
            w.slots.append(slot.id)
    await set_call(database, open_=True)
    for name, theme in (("one", "education"), ("two", "online safety")):
        made = await submit(
            client, title=f"Panel {name}", format="panel", duration_minutes=60, themes=[theme]
        )
        w.talks[name] = made["id"]
        decided = await client.post(
            "/api/v1/proposals/decisions",
            headers=w.organiser,
            json={"decision": "accept", "proposal_ids": [made["id"]]},
        )
        assert decided.status_code == 200, decided.text
        confirmed = await client.post(
            f"/api/v1/proposals/{made['id']}/confirm", headers=bearer(made["edit_token"])
        )
        assert confirmed.status_code == 200, confirmed.text
    for _ in range(3):
        person = await register(client, tickets["delegate"])
        starred = await client.put(
            f"/api/v1/registrations/{person['id']}/stars",
            headers=bearer(person["manage_token"]),
            json={"proposal_ids": list(w.talks.values())},
        )
        assert starred.status_code == 200, starred.text
        w.delegates.append(person)
    # Version 1: panel one at 10:00, panel two at 12:00, both in Room A (no clash for anyone).
    first = await build(client, w, pins={"one": (0, "Room A"), "two": (1, "Room A")})
    published = await client.post(
        "/api/v1/schedule/publish", headers=w.organiser, json={"draft_id": first["id"]}
    )
    assert published.status_code == 200, published.text
    await sign_in(client, token)
    return w


async def build(client: httpx.AsyncClient, w: World, *, pins: dict[str, tuple[int, str]]) -> dict[str, Any]:
    body = {
        "time_limit": 2,
        "pins": [
            {"talk_id": w.talks[t], "slot_id": str(w.slots[s]), "room_id": str(w.rooms[r])}
            for t, (s, r) in pins.items()
        ],
    }
    response = await client.post("/api/v1/schedule/build", headers=w.organiser, json=body)
    assert response.status_code == 201, response.text
    draft: dict[str, Any] = response.json()
    return draft


def key_of(draft: dict[str, Any], w: World, talk: str) -> str:
    key: str = next(ws["key"] for ws in draft["workshops"] if ws["talk_ids"] == [w.talks[talk]])
    return key


async def published_number(database: Database) -> int | None:
    async with database.read() as db:
        return (
            await db.execute(
                sa.select(ScheduleVersion.number).where(ScheduleVersion.state == ScheduleState.published)
            )
        ).scalar_one_or_none()


async def sessions_of(client: httpx.AsyncClient) -> dict[str, str]:
    """Session title → id, from the published programme."""
    programme_json = (await client.get("/api/v1/programme")).json()
    return {s["title"]: s["id"] for d in programme_json["days"] for t in d["slots"] for s in t["sessions"]}


async def test_a_draft_that_moves_booked_delegates_needs_a_confirmation_naming_the_move(
    client: httpx.AsyncClient, database: Database, world: World
) -> None:
    panel_one = (await sessions_of(client))["Panel one"]
    for person in world.delegates[:2]:
        booked = await client.post(
            f"/api/v1/registrations/{person['id']}/sessions",
            headers=bearer(person["manage_token"]),
            json={"session_id": panel_one},
        )
        assert booked.status_code == 201, booked.text

    # A draft that keeps everything where it is: nothing to confirm.
    same = await build(client, world, pins={"one": (0, "Room A"), "two": (1, "Room A")})
    page = await client.get(f"/console/programme/schedule?draft={same['id']}", headers=HTML)
    assert page.status_code == 200 and 'id="publish"' in page.text and 'id="not-better"' not in page.text

    # The organiser moves panel one (two booked delegates) to 14:00 by hand.
    moved = await client.post(
        f"/console/programme/schedule/{same['id']}/move",
        headers=HTML,
        data={
            "csrf_token": csrf(page.text),
            "key": key_of(same, world, "one"),
            "room_id": str(world.rooms["Room B"]),
            "slot_id": str(world.slots[2]),
        },
    )
    assert moved.status_code == 303, moved.text
    page = await client.get(moved.headers["location"], headers=HTML)
    text = page.text
    form = text[text.index('id="publish"') :]
    assert 'id="not-better"' in form
    warning = form[: form.index("</form>")]
    assert "This draft is not better than the published programme" in warning
    assert (
        "Moves “Panel one” from Tue 8 Dec 2026, 10:00 in Room A to Tue 8 Dec 2026, 14:00 in Room B" in warning
    )
    assert "2 booked delegates are emailed" in warning
    assert "Publish it anyway, moving 1 workshop with 2 booked delegates" in warning
    assert "clash pairs" not in warning  # no more clashes than now: only the move is named
    token = text.split('name="confirm" value="')[1].split('"')[0]
    assert len(token) == 16

    unconfirmed = await client.post(
        f"/console/programme/schedule/{same['id']}/publish", headers=HTML, data={"csrf_token": csrf(text)}
    )
    assert unconfirmed.status_code == 422 and "There is a problem" in unconfirmed.text
    assert 'href="#confirm"' in unconfirmed.text and "Tick the box to publish" in unconfirmed.text
    assert await published_number(database) == 1
    stale = await client.post(
        f"/console/programme/schedule/{same['id']}/publish",
        headers=HTML,
        data={"csrf_token": csrf(text), "confirm": "0123456789abcdef"},
    )
    assert stale.status_code == 422 and "has changed since" in stale.text
    assert await published_number(database) == 1

    confirmed = await client.post(
        f"/console/programme/schedule/{same['id']}/publish",
        headers=HTML,
        data={"csrf_token": csrf(text), "confirm": token},
    )
    assert confirmed.status_code == 303, confirmed.text
    assert await published_number(database) == 2
    after = (await client.get(f"/api/v1/sessions/{panel_one}")).json()
    assert after["starts_at"].startswith("2026-12-08T14:00") and after["booked"] == 2


async def test_a_draft_with_more_clash_pairs_says_so_and_a_better_one_publishes_without_asking(
    client: httpx.AsyncClient, database: Database, world: World
) -> None:
    # Panel two at the same time as panel one: every delegate who starred both now has a clash pair.
    worse = await build(client, world, pins={"one": (0, "Room A"), "two": (0, "Room B")})
    page = await client.get(f"/console/programme/schedule?draft={worse['id']}", headers=HTML)
    form = page.text[page.text.index('id="publish"') :]
    assert 'id="more-clashes"' in form
    assert "It has <strong>3</strong> clash pairs; the published programme has <strong>0</strong>" in form
    assert "with 3 more clash pairs" in form
    assert 'class="move"' not in form  # panel two moves, but nobody has booked it
    refused = await client.post(
        f"/console/programme/schedule/{worse['id']}/publish",
        headers=HTML,
        data={"csrf_token": csrf(page.text)},
    )
    assert refused.status_code == 422 and await published_number(database) == 1

    # The same programme as published (no more clashes, nothing moved): published without a question.
    better = await build(client, world, pins={"one": (0, "Room A"), "two": (1, "Room A")})
    page = await client.get(f"/console/programme/schedule?draft={better['id']}", headers=HTML)
    assert 'id="not-better"' not in page.text
    published = await client.post(
        f"/console/programme/schedule/{better['id']}/publish",
        headers=HTML,
        data={"csrf_token": csrf(page.text)},
    )
    assert published.status_code == 303 and await published_number(database) == 2
