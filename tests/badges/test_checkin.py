"""Check-in through the API: every result API.md names, bad input, roles, racing scanners, offline sync."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from badges.codes import BadgeSigner
from conference.core.models import Checkin
from conference.core.settings import Settings
from tests.support import code_for, make_settings, scan


async def test_every_result_at_the_door(
    client: httpx.AsyncClient,
    scans_recorded: Callable[[], Awaitable[list[Checkin]]],
    settings: Settings,
    people: dict[str, dict[str, Any]],
    staff: dict[str, str],
) -> None:
    ada = code_for(settings, people["ada"])
    first = await scan(client, staff, ada)
    assert first.status_code == 200
    body = first.json()
    assert body["result"] == "ok" and body["attendee"]["reference"] == people["ada"]["reference"]
    assert body["attendee"] == {
        "name": "Ada Delegate",
        "organisation": "Leeds City Council",
        "reference": people["ada"]["reference"],
    }

    again = (await scan(client, staff, ada, device="door-b")).json()
    assert again["result"] == "already_checked_in"
    assert again["first_checkin"]["device"] == "door-a" and again["checked_in_at"] == body["checked_in_at"]

    changed = ada[:-1] + ("A" if ada[-1] != "A" else "B")
    forged = (await scan(client, staff, changed)).json()
    assert (forged["result"], forged["attendee"]) == ("invalid", None) and forged["message"]

    assert (await scan(client, staff, code_for(settings, people["cancelled"]))).json()[
        "result"
    ] == "cancelled"
    unpaid = (await scan(client, staff, code_for(settings, people["unpaid"]))).json()
    assert unpaid["result"] == "unpaid" and unpaid["attendee"]["reference"] == people["unpaid"]["reference"]
    assert (await scan(client, staff, code_for(settings, people["waiting"]))).json()["result"] == "no_place"

    recorded = await scans_recorded()
    assert [c.result for c in recorded] == [
        "ok",
        "already_checked_in",
        "invalid",
        "cancelled",
        "unpaid",
        "no_place",
    ]
    assert all(c.staff == "staff:Door A" for c in recorded)
    assert [c.device for c in recorded][:2] == ["door-a", "door-b"]


async def test_bad_codes_are_invalid_and_recorded_or_refused(
    client: httpx.AsyncClient,
    scans_recorded: Callable[[], Awaitable[list[Checkin]]],
    settings: Settings,
    people: dict[str, dict[str, Any]],
    staff: dict[str, str],
    database_url: str,
) -> None:
    good = code_for(settings, people["grace"])
    other_key = make_settings(database_url, CONFERENCE_BADGE_SIGNING_KEY="A" * 43)
    for bad in (
        "hello",
        good[: len(good) // 2],
        good + "X" * 300,
        good.lower(),
        BadgeSigner.from_settings(other_key).code_for(people["grace"]["reference"], 1),
        "\u0000" * 10,
    ):
        answer = await scan(client, staff, bad)
        assert answer.status_code == 200 and answer.json()["result"] == "invalid", bad
    huge = await scan(client, staff, "X" * 2001)
    assert huge.status_code == 422 and "code" in huge.json()["error"]["fields"]
    nothing = await client.post("/api/v1/checkins", json={"list": "door"}, headers=staff)
    assert nothing.status_code == 422
    unknown_session = await scan(client, staff, good, list_=str(uuid.uuid4()))
    assert unknown_session.status_code == 422 and "list" in unknown_session.json()["error"]["fields"]
    assert (await scan(client, staff, good, list_="kitchen")).status_code == 422
    assert [c.result for c in await scans_recorded()] == ["invalid"] * 6
    # Nothing that was refused admitted anybody: the real badge still works.
    assert (await scan(client, staff, good)).json()["result"] == "ok"


async def test_reissued_badge_revokes_the_old_code(
    client: httpx.AsyncClient,
    token: Callable[[str, str], Awaitable[dict[str, str]]],
    settings: Settings,
    people: dict[str, dict[str, Any]],
    staff: dict[str, str],
) -> None:
    organiser = await token("organiser", "Org")
    rid = people["grace"]["id"]
    assert (await client.post(f"/api/v1/registrations/{rid}/badge/reissue", headers=staff)).status_code == 403
    reissued = await client.post(f"/api/v1/registrations/{rid}/badge/reissue", headers=organiser)
    assert reissued.json() == {"badge_version": 2}
    old = (await scan(client, staff, code_for(settings, people["grace"], 1))).json()
    assert old["result"] == "invalid" and "replaced" in old["message"]
    assert (await scan(client, staff, code_for(settings, people["grace"], 2))).json()["result"] == "ok"


async def test_roles(
    client: httpx.AsyncClient, settings: Settings, people: dict[str, dict[str, Any]]
) -> None:
    code = code_for(settings, people["ada"])
    attendee = {"authorization": f"Bearer {people['ada']['manage_token']}"}
    assert (await scan(client, attendee, code)).status_code == 403
    assert (await scan(client, {}, code)).status_code == 401
    assert (await client.get("/api/v1/checkins/door-list", headers=attendee)).status_code == 403
    assert (await client.get("/api/v1/checkins/search?q=Dele", headers=attendee)).status_code == 403


async def test_workshop_room_lists(
    client: httpx.AsyncClient,
    settings: Settings,
    people: dict[str, dict[str, Any]],
    staff: dict[str, str],
    workshop: str,
) -> None:
    booked = (await scan(client, staff, code_for(settings, people["ada"]), list_=workshop)).json()
    assert booked["result"] == "ok"
    assert (await scan(client, staff, code_for(settings, people["grace"]), list_=workshop)).json()[
        "result"
    ] == "not_booked"
    # The room's admission is separate from the door's.
    assert (await scan(client, staff, code_for(settings, people["ada"]))).json()["result"] == "ok"
    listing = (await client.get(f"/api/v1/checkins/door-list?list={workshop}", headers=staff)).json()
    assert [(e["reference"], bool(e["checked_in_at"])) for e in listing["entries"]] == [
        (people["ada"]["reference"], True)
    ]


async def test_racing_scanners_admit_once(
    client: httpx.AsyncClient,
    scans_recorded: Callable[[], Awaitable[list[Checkin]]],
    settings: Settings,
    people: dict[str, dict[str, Any]],
    staff: dict[str, str],
) -> None:
    code = code_for(settings, people["ada"])
    answers = await asyncio.gather(*(scan(client, staff, code, device=f"door-{i}") for i in range(20)))
    results = sorted(a.json()["result"] for a in answers)
    assert results == ["already_checked_in"] * 19 + ["ok"]
    firsts = {a.json()["checked_in_at"] for a in answers}
    assert len(firsts) == 1  # everybody is told the same admission
    recorded = await scans_recorded()
    assert len(recorded) == 20 and sum(c.result == "ok" for c in recorded) == 1


async def test_offline_sync_merges_in_scan_order_and_flags_double_admissions(
    client: httpx.AsyncClient,
    scans_recorded: Callable[[], Awaitable[list[Checkin]]],
    settings: Settings,
    people: dict[str, dict[str, Any]],
    staff: dict[str, str],
) -> None:
    ada, grace = code_for(settings, people["ada"]), code_for(settings, people["grace"])
    # Door B was online and let Ada in; door A was offline and let her in too, and Grace twice.
    assert (await scan(client, staff, ada, device="door-b")).json()["result"] == "ok"
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    queue = [
        {
            "code": grace,
            "list": "door",
            "scanned_at": (t0 + timedelta(seconds=30)).isoformat(),
            "shown": "already_checked_in",
        },
        {"code": ada, "list": "door", "scanned_at": t0.isoformat(), "shown": "ok"},
        {
            "code": grace,
            "list": "door",
            "scanned_at": (t0 + timedelta(seconds=10)).isoformat(),
            "shown": "ok",
        },
    ]
    answer = await client.post(
        "/api/v1/checkins/sync", json={"device": "door-a", "scans": queue}, headers=staff
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # Answers come back in the order sent; Grace's earlier scan (10 s) is the admission, the 30 s one a repeat.
    assert [r["result"] for r in body["results"]] == ["already_checked_in", "already_checked_in", "ok"]
    assert body["results"][1].get("conflict") is True and body["conflicts"] == 1
    assert "conflict" not in body["results"][0]  # door A knew it had let Grace in at 10 s
    recorded = await scans_recorded()
    grace_ok = [
        c for c in recorded if c.result == "ok" and c.registration_id == uuid.UUID(people["grace"]["id"])
    ]
    assert [c.scanned_at for c in grace_ok] == [t0 + timedelta(seconds=10)]
    assert all(c.offline for c in recorded[1:])

    listing = (await client.get("/api/v1/checkins/door-list", headers=staff)).json()
    assert listing["algorithm"] == "Ed25519" and listing["public_key"]
    by_ref = {e["reference"]: e for e in listing["entries"]}
    assert by_ref[people["cancelled"]["reference"]]["status"] == "cancelled"
    assert by_ref[people["ada"]["reference"]]["checked_in_at"] is not None
    assert by_ref[people["unpaid"]["reference"]]["checked_in_at"] is None
    bad = await client.post(
        "/api/v1/checkins/sync",
        json={"scans": [{"code": ada, "list": "door", "scanned_at": "2026-12-08T09:00:00"}]},
        headers=staff,
    )
    assert bad.status_code == 422


async def test_search_and_manual_check_in(
    client: httpx.AsyncClient, people: dict[str, dict[str, Any]], staff: dict[str, str]
) -> None:
    found = (
        await client.get(f"/api/v1/checkins/search?q={people['ada']['reference'][3:]}", headers=staff)
    ).json()
    assert [f["reference"] for f in found["data"]] == [people["ada"]["reference"]]
    assert (await client.get("/api/v1/checkins/search?q=a", headers=staff)).status_code == 422
    manual = await client.post(
        "/api/v1/checkins", json={"reference": people["ada"]["reference"], "list": "door"}, headers=staff
    )
    assert manual.json()["result"] == "ok"


async def test_a_repeated_scan_id_is_answered_from_the_first_record(
    client: httpx.AsyncClient,
    scans_recorded: Callable[[], Awaitable[list[Checkin]]],
    settings: Settings,
    people: dict[str, dict[str, Any]],
    staff: dict[str, str],
) -> None:
    ada = code_for(settings, people["ada"])
    body = {
        "code": ada,
        "list": "door",
        "device": "door-a",
        "scan_id": "3f2a9c1e-5b7d-4c8e-9a0b-1c2d3e4f5a6b",
    }
    first = (await client.post("/api/v1/checkins", json=body, headers=staff)).json()
    retried = (await client.post("/api/v1/checkins", json=body, headers=staff)).json()
    assert first["result"] == retried["result"] == "ok" and first["checked_in_at"] == retried["checked_in_at"]
    # The live answer was lost on the way back, so the device also queued the scan offline: no false conflict.
    synced = await client.post(
        "/api/v1/checkins/sync",
        headers=staff,
        json={"device": "door-a", "scans": [{**body, "scanned_at": first["checked_in_at"], "shown": "ok"}]},
    )
    assert synced.json()["results"][0]["result"] == "ok" and synced.json()["conflicts"] == 0
    assert len(await scans_recorded()) == 1
    # A different scan of the same badge is a new scan.
    other = (
        await client.post("/api/v1/checkins", json={**body, "scan_id": "another-scan"}, headers=staff)
    ).json()
    assert other["result"] == "already_checked_in" and len(await scans_recorded()) == 2
    bad = await client.post("/api/v1/checkins", json={**body, "scan_id": "no spaces; please"}, headers=staff)
    assert bad.status_code == 422 and "scan_id" in bad.json()["error"]["fields"]
