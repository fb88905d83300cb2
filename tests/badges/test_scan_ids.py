"""A scan id answers from its first record only for the same scan (issue 15, L3): the same code or reference, on
the same list and device. Any other use of a known id is 409 `scan_id_reused`, and it names nobody, records
nothing and admits nobody; an exact replay (a retry, or the offline copy of a scan) answers as before."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import Checkin
from conference.core.settings import Settings
from sessions.models import RoomCreate, SessionCreate, TimeSlotCreate
from sessions.workshops import programme
from tests.support import code_for

SCAN_ID = "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"


async def recorded(database: Database) -> list[Checkin]:
    async with database.read() as db:
        return list((await db.execute(sa.select(Checkin).order_by(Checkin.received_at))).scalars())


async def a_workshop(database: Database) -> str:
    actor = Actor("organiser", "test")
    async with database.transaction() as db:
        room = await programme.create_room(db, data=RoomCreate(name="Room 2", capacity=10), actor=actor)
        start = datetime(2026, 12, 8, 14, tzinfo=UTC)
        slot = await programme.create_slot(
            db, data=TimeSlotCreate(starts_at=start, ends_at=start + timedelta(hours=1)), actor=actor
        )
        session = await programme.create_session(
            db,
            data=SessionCreate(title="Safeguarding", kind="workshop", room_id=room.id, start_slot_id=slot.id),
            actor=actor,
        )
    return str(session.id)


def refused(response: httpx.Response, *names: str) -> None:
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "scan_id_reused"
    for name in names:  # the first delegate's name is not given away
        assert name not in response.text


async def test_a_reused_scan_id_with_another_code_list_or_device_is_a_conflict(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    people: dict[str, dict[str, Any]],
    staff: dict[str, str],
) -> None:
    ada = code_for(settings, people["ada"])
    first = {"code": ada, "list": "door", "device": "door-a", "scan_id": SCAN_ID}
    answer = await client.post("/api/v1/checkins", json=first, headers=staff)
    assert answer.status_code == 200 and answer.json()["result"] == "ok"
    admitted_at = answer.json()["checked_in_at"]

    _reference, version, signature = code_for(settings, people["grace"]).split(".")
    forged = f"{people['grace']['reference']}.{version}.{signature[:-4]}AAAA"
    session_id = await a_workshop(database)
    for reuse in (
        {**first, "code": code_for(settings, people["grace"])},  # another delegate's real badge
        {**first, "code": code_for(settings, people["cancelled"])},  # a cancelled badge
        {**first, "code": forged},  # a forged one
        {**first, "code": "not a badge at all"},
        {**first, "code": code_for(settings, people["ada"], version=2)},  # Ada's, but another version
        {"reference": people["grace"]["reference"], "list": "door", "device": "door-a", "scan_id": SCAN_ID},
        {**first, "device": "door-b"},  # Ada's badge, another device
        {**first, "list": session_id},  # Ada's badge, another list
    ):
        refused(await client.post("/api/v1/checkins", json=reuse, headers=staff), people["ada"]["name"])
    # None of them was recorded or let anybody in.
    rows = await recorded(database)
    assert len(rows) == 1 and rows[0].registration_id == uuid.UUID(people["ada"]["id"])

    # The same scan again (a retry whose answer was lost) is still answered from its record.
    replay = await client.post("/api/v1/checkins", json=first, headers=staff)
    assert replay.status_code == 200
    assert replay.json()["result"] == "ok" and replay.json()["checked_in_at"] == admitted_at
    assert replay.json()["attendee"]["name"] == people["ada"]["name"]
    # The reused id changed nothing for Grace: her own badge, with its own scan id, lets her in.
    grace = {**first, "code": code_for(settings, people["grace"]), "scan_id": "grace-1"}
    assert (await client.post("/api/v1/checkins", json=grace, headers=staff)).json()["result"] == "ok"


async def test_a_reference_scan_replays_only_for_the_same_reference(
    client: httpx.AsyncClient,
    database: Database,
    people: dict[str, dict[str, Any]],
    staff: dict[str, str],
) -> None:
    manual = {"reference": people["ada"]["reference"], "list": "door", "device": "desk", "scan_id": "desk-1"}
    assert (await client.post("/api/v1/checkins", json=manual, headers=staff)).json()["result"] == "ok"
    # The reference as a person types it (case, spaces) is the same scan.
    again = {**manual, "reference": f" {people['ada']['reference'].lower()} "}
    assert (await client.post("/api/v1/checkins", json=again, headers=staff)).json()["result"] == "ok"
    refused(
        await client.post(
            "/api/v1/checkins", json={**manual, "reference": people["grace"]["reference"]}, headers=staff
        ),
        people["ada"]["name"],
    )
    assert len(await recorded(database)) == 1


async def test_offline_sync_replays_exact_copies_and_refuses_a_reused_id(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    people: dict[str, dict[str, Any]],
    staff: dict[str, str],
) -> None:
    ada, grace = code_for(settings, people["ada"]), code_for(settings, people["grace"])
    live = {"code": ada, "list": "door", "device": "door-a", "scan_id": "live-1"}
    first = (await client.post("/api/v1/checkins", json=live, headers=staff)).json()
    when = datetime.now(UTC).isoformat()
    # The device queued its copy of the live scan (the answer was lost): answered from the record, no conflict.
    copy = {**live, "scanned_at": first["checked_in_at"], "shown": "ok"}
    synced = await client.post(
        "/api/v1/checkins/sync", json={"device": "door-a", "scans": [copy]}, headers=staff
    )
    assert synced.status_code == 200, synced.text
    assert synced.json()["results"][0]["result"] == "ok" and synced.json()["conflicts"] == 0
    # A queue that reuses the id for another badge is refused, naming the scan; Ada's name is not in it.
    queue = [
        {"code": grace, "list": "door", "scanned_at": when, "shown": "ok", "scan_id": "offline-1"},
        {"code": grace, "list": "door", "scanned_at": when, "shown": "ok", "scan_id": "live-1"},
    ]
    answer = await client.post(
        "/api/v1/checkins/sync", json={"device": "door-a", "scans": queue}, headers=staff
    )
    refused(answer, people["ada"]["name"])
    assert "scans.1.scan_id" in answer.json()["error"]["fields"]
    results = [(c.scan_id, c.result) for c in await recorded(database)]
    assert results == [("live-1", "ok"), ("offline-1", "ok")]  # the scan before it stays recorded


async def test_a_scan_recorded_before_digests_replays_for_the_same_delegate_only(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    people: dict[str, dict[str, Any]],
    staff: dict[str, str],
) -> None:
    """Rows written before migration 0012 have no digest: matched by list, device and the delegate scanned."""
    body = {"code": code_for(settings, people["ada"]), "list": "door", "device": "door-a", "scan_id": "old-1"}
    assert (await client.post("/api/v1/checkins", json=body, headers=staff)).json()["result"] == "ok"
    async with database.transaction() as db:
        await db.execute(sa.update(Checkin).values(scan_digest=None))
    replay = await client.post("/api/v1/checkins", json=body, headers=staff)
    assert replay.status_code == 200 and replay.json()["result"] == "ok"
    for reuse in (
        {**body, "code": code_for(settings, people["grace"])},
        {**body, "code": "forged"},
        {**body, "device": "door-b"},
    ):
        refused(await client.post("/api/v1/checkins", json=reuse, headers=staff), people["ada"]["name"])
    assert len(await recorded(database)) == 1
