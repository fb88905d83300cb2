"""What door staff see beside a scan (issue 19): where a delegate found by search stands on the list, access
needs only while organisers show them, the door list's size for a full house, and the staff token cache."""

from __future__ import annotations

import asyncio
import gzip
import html
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import AuditEntry, Registration, Sector, Status, utcnow
from conference.core.settings import Settings
from conference.web import auth
from conference.web.auth import create_api_token
from tests.support import code_for, csrf, scan, sign_in


async def _search(client: httpx.AsyncClient, staff: dict[str, str], q: str, list_: str = "door") -> Any:
    answer = await client.get("/api/v1/checkins/search", params={"q": q, "list": list_}, headers=staff)
    assert answer.status_code == 200, answer.text
    return {p["name"]: p for p in answer.json()["data"]}


async def test_search_says_where_each_delegate_stands_and_what_can_succeed(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    people: dict[str, dict[str, Any]],
    staff: dict[str, str],
    workshop: str,
) -> None:
    assert (await scan(client, staff, code_for(settings, people["ada"]))).json()["result"] == "ok"
    found = await _search(client, staff, "delegate")
    assert found["Ada Delegate"]["checked_in_at"] is not None
    assert found["Ada Delegate"]["can_check_in"] is False  # in already: the page offers no "Check in"
    assert (found["Grace Delegate"]["checked_in_at"], found["Grace Delegate"]["can_check_in"]) == (None, True)
    assert (found["Cancelled Delegate"]["status"], found["Cancelled Delegate"]["can_check_in"]) == (
        "cancelled",
        False,
    )
    assert found["Unpaid Delegate"]["can_check_in"] is False
    assert found["Waiting Delegate"]["can_check_in"] is False
    assert all(p["booked"] is None for p in found.values())  # the door needs no seat

    # A workshop: only those with a seat (Ada) can be checked in there, whatever the door says.
    in_room = await _search(client, staff, "delegate", workshop)
    assert (in_room["Ada Delegate"]["booked"], in_room["Ada Delegate"]["can_check_in"]) == (True, True)
    assert (in_room["Grace Delegate"]["booked"], in_room["Grace Delegate"]["can_check_in"]) == (False, False)
    listing = (await client.get(f"/api/v1/checkins/door-list?list={workshop}", headers=staff)).json()
    assert listing["title"] == "Sharing data safely"
    bad = await client.get("/api/v1/checkins/search", params={"q": "ada", "list": "nowhere"}, headers=staff)
    assert bad.status_code == 422 and "list" in bad.json()["error"]["fields"]

    # The scanner and the log name the workshop; the log names the delegate.
    in_the_room = await scan(client, staff, code_for(settings, people["ada"]), list_=workshop)
    assert in_the_room.json()["result"] == "ok"
    async with database.transaction() as db:
        organiser = await create_api_token(db, role="organiser", name="Lead")
    await sign_in(client, organiser)
    log = html.unescape((await client.get("/console/checkins", headers={"accept": "text/html"})).text)
    assert "Workshop: Sharing data safely" in log and "Ada Delegate" in log


async def test_access_needs_reach_the_door_only_while_organisers_show_them(
    client: httpx.AsyncClient,
    database: Database,
    people: dict[str, dict[str, Any]],
    staff: dict[str, str],
) -> None:
    async with database.transaction() as db:
        await db.execute(
            sa.update(Registration)
            .where(Registration.id == uuid.UUID(people["ada"]["id"]))
            .values(access_needs="Wheelchair user: step-free route")
        )

    def ada(entries: list[dict[str, Any]]) -> dict[str, Any]:
        return next(e for e in entries if e["reference"] == people["ada"]["reference"])

    listing = (await client.get("/api/v1/checkins/door-list", headers=staff)).json()
    assert listing["access_needs_shown"] is False and "access_needs" not in ada(listing["entries"])
    assert "access_needs" not in (await _search(client, staff, "ada"))["Ada Delegate"]

    async with database.transaction() as db:
        organiser = await create_api_token(db, role="organiser", name="Lead")
    await sign_in(client, organiser)
    page = await client.get("/console/checkins", headers={"accept": "text/html"})
    assert "Show access needs at the door" in page.text
    switched = await client.post(
        "/console/checkins/access-needs", data={"shown": "1", "csrf_token": csrf(page.text)}
    )
    assert switched.status_code == 303
    page = await client.get(switched.headers["location"], headers={"accept": "text/html"})
    assert "Door staff now see delegates' access needs." in html.unescape(page.text)
    assert "Stop showing access needs" in page.text

    listing = (await client.get("/api/v1/checkins/door-list", headers=staff)).json()
    assert listing["access_needs_shown"] is True
    assert ada(listing["entries"])["access_needs"] == "Wheelchair user: step-free route"
    grace = next(e for e in listing["entries"] if e["reference"] == people["grace"]["reference"])
    assert "access_needs" not in grace  # only for those who gave some
    found = await _search(client, staff, "ada")
    assert found["Ada Delegate"]["access_needs"] == "Wheelchair user: step-free route"

    refused = await client.post("/console/checkins/access-needs", data={"shown": "1"})  # no CSRF token
    assert refused.status_code in (400, 403)
    off = await client.post(
        "/console/checkins/access-needs", data={"shown": "0", "csrf_token": csrf(page.text)}
    )
    assert off.status_code == 303
    listing = (await client.get("/api/v1/checkins/door-list", headers=staff)).json()
    assert "access_needs" not in ada(listing["entries"])
    async with database.read() as db:
        choices = (
            await db.execute(
                sa.select(AuditEntry.actor, AuditEntry.data)
                .where(AuditEntry.action == "badges.door.access_needs")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [(a, d["shown"]) for a, d in choices] == [("organiser:Lead", True), ("organiser:Lead", False)]


async def test_the_door_list_for_a_full_house_stays_small(
    client: httpx.AsyncClient, database: Database, staff: dict[str, str], people: dict[str, dict[str, Any]]
) -> None:
    async with database.transaction() as db:
        first = (await db.execute(sa.select(Registration).limit(1))).scalar_one()
        await db.execute(
            sa.insert(Registration),
            [
                {
                    "id": uuid.uuid4(),
                    "conference_id": first.conference_id,
                    "ticket_type_id": first.ticket_type_id,
                    "number": 100 + n,
                    "reference": f"NC-F{n:05d}",
                    "status": Status.confirmed,
                    "name": f"Full House Delegate {n}",
                    "email": f"full{n}@leeds.gov.uk",
                    "email_key": f"full{n}@leeds.gov.uk",
                    "organisation": "Leeds City Council",
                    "sector": Sector.local_authority,
                    "manage_token_hash": uuid.uuid4().hex,
                    "consent_at": utcnow(),
                }
                for n in range(1000)
            ],
        )
    zipped = await client.get("/api/v1/checkins/door-list", headers={**staff, "accept-encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    body = zipped.json()  # httpx unzips it
    assert len(body["entries"]) >= 1000
    raw = len(json.dumps(body, separators=(",", ":")).encode())
    on_the_wire = len(gzip.compress(json.dumps(body, separators=(",", ":")).encode(), 6))
    assert raw / len(body["entries"]) < 200  # bytes a delegate: ~150 KB for a full house
    assert on_the_wire < 40_000  # ~25 KB gzipped
    plain = await client.get("/api/v1/checkins/door-list", headers={**staff, "accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.json()["version"] == body["version"]


@pytest.fixture
def short_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "ACTOR_CACHE_SECONDS", 0.5)


async def test_a_revoked_staff_token_stops_scanning_at_once_here_and_within_the_bound_elsewhere(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    people: dict[str, dict[str, Any]],
    short_cache: None,
) -> None:
    async with database.transaction() as db:
        raw = await create_api_token(db, role="staff", name="Door C")
        organiser = await create_api_token(db, role="organiser", name="Lead")
    door = {"authorization": f"Bearer {raw}"}
    code = code_for(settings, people["ada"])
    assert (await scan(client, door, code)).json()["result"] == "ok"  # cached from now on

    # Revoked by another worker (straight in the database, this process not told): it works until its cached
    # answer is ACTOR_CACHE_SECONDS old, then no more.
    async with database.transaction() as db:
        await db.execute(
            sa.text("UPDATE api_token SET revoked_at = :now WHERE name = 'Door C'"), {"now": utcnow()}
        )
    deadline = utcnow() + timedelta(seconds=30)
    while (answer := await scan(client, door, code)).status_code == 200:
        assert utcnow() < deadline, "a revoked token went on scanning"
        await asyncio.sleep(0.05)
    assert answer.status_code == 401

    # Revoked in the console of this process: refused on the very next scan.
    async with database.transaction() as db:
        raw = await create_api_token(db, role="staff", name="Door D")
    door = {"authorization": f"Bearer {raw}"}
    assert (await scan(client, door, code)).status_code == 200
    await sign_in(client, organiser)
    users = await client.get("/console/users", headers={"accept": "text/html"})
    async with database.read() as db:
        token_id = (await db.execute(sa.text("SELECT id FROM api_token WHERE name = 'Door D'"))).scalar_one()
    revoked = await client.post(
        f"/console/tokens/{uuid.UUID(str(token_id))}/revoke", data={"csrf_token": csrf(users.text)}
    )
    assert revoked.status_code == 303
    assert (await scan(client, door, code)).status_code == 401
