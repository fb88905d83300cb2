"""Build → review → publish of the workshop programme: figures, hard rules (checked here, independently of the
service's checker), infeasibility explained, hand moves and their warnings, numbered versions, stability after a
late change with the right delegates emailed, out-of-date drafts, roles, and the console page."""

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
from conference.core.models import OutboxEmail, utcnow
from conference.places import get_conference
from sessions.models import (
    Kind,
    ProgrammeSession,
    ProposalSpeaker,
    RoomCreate,
    ScheduleState,
    ScheduleVersion,
    SeatBooking,
    SeatStatus,
    SessionCreate,
    SessionTalk,
    TimeSlotCreate,
)
from sessions.workshops import programme
from tests.factories import make_conference, set_call
from tests.support import bearer, csrf, organiser_token, register, sign_in, staff_token, submit

ORGANISER = Actor("organiser", "tests")
HTML = {"accept": "text/html"}
LIMIT = 2  # seconds per build: the instances are small


@dataclass
class World:
    tickets: dict[str, Any]
    organiser: dict[str, str]
    rooms: dict[str, uuid.UUID] = field(default_factory=dict)
    capacity: dict[str, int] = field(default_factory=dict)
    slots: list[uuid.UUID] = field(default_factory=list)  # time order
    day: list[int] = field(default_factory=list)
    joinable: list[bool] = field(default_factory=list)  # a 2-slot workshop may run on into the next slot
    plenary: set[int] = field(default_factory=set)
    talks: dict[str, str] = field(default_factory=dict)  # name → proposal id
    delegates: list[dict[str, Any]] = field(default_factory=list)


async def make_world(
    client: httpx.AsyncClient, database: Database, *, solo_only_first_slot: bool = False
) -> World:
    """Rooms Hall 60, Room A 20, Room B 12; slots day 1 10:00, 11:30, 14:00 and day 2 10:00 (plenary), 11:30.
    Talks: three 20-minute education talks (one session), a 60-minute panel, a 120-minute workshop (two slots),
    and two 30-minute talks by one speaker ("solo", who cannot share a session with themselves)."""
    tickets = await make_conference(database, capacity=50)
    w = World(tickets, bearer(await organiser_token(database)))
    async with database.transaction() as db:
        for name, seats in (("Hall", 60), ("Room A", 20), ("Room B", 12)):
            room = await programme.create_room(
                db, data=RoomCreate(name=name, capacity=seats), actor=ORGANISER
            )
            w.rooms[name], w.capacity[name] = room.id, seats
        times = [(8, 10, 0), (8, 11, 30), (8, 14, 0), (9, 10, 0), (9, 11, 30)]
        for day, hour, minute in times:
            start = datetime(2026, 12, day, hour, minute, tzinfo=UTC)
            slot = await programme.create_slot(
                db, data=TimeSlotCreate(starts_at=start, ends_at=start + timedelta(hours=1)), actor=ORGANISER
            )
            w.slots.append(slot.id)
            w.day.append(day)
        w.joinable = [True, False, False, True, False]  # 12:30 → 14:00 is lunch
        await programme.create_session(
            db,
            data=SessionCreate(
                title="Day two plenary", kind=Kind.plenary, room_id=w.rooms["Hall"], start_slot_id=w.slots[3]
            ),
            actor=ORGANISER,
        )
        w.plenary = {3}
    await set_call(database, open_=True)
    solo = f"solo.{uuid.uuid4().hex[:6]}@kent.police.uk"
    solo_busy = [str(s) for s in w.slots[1:]] if solo_only_first_slot else []
    specs = {
        "edu1": {"duration_minutes": 20, "themes": ["education"]},
        "edu2": {"duration_minutes": 20, "themes": ["education"]},
        "edu3": {"duration_minutes": 20, "themes": ["education"]},
        "panel": {"format": "panel", "duration_minutes": 60, "themes": ["online safety"]},
        "hands-on": {"format": "workshop", "duration_minutes": 120, "themes": ["evaluation"]},
        "solo1": {
            "duration_minutes": 30,
            "themes": ["partnership working"],
            "speakers": [
                {"name": "Sam Solo", "email": solo, "organisation": "Kent Police", "unavailable": solo_busy}
            ],
        },
        "solo2": {
            "duration_minutes": 30,
            "themes": ["partnership working"],
            "speakers": [{"name": "Sam Solo", "email": solo, "organisation": "Kent Police"}],
        },
    }
    made = {name: await submit(client, title=f"Talk {name}", **spec) for name, spec in specs.items()}
    w.talks = {name: m["id"] for name, m in made.items()}
    decided = await client.post(
        "/api/v1/proposals/decisions",
        headers=w.organiser,
        json={"decision": "accept", "proposal_ids": list(w.talks.values())},
    )
    assert decided.status_code == 200, decided.text
    for name in ("edu1", "panel", "hands-on"):
        confirmed = await client.post(
            f"/api/v1/proposals/{w.talks[name]}/confirm", headers=bearer(made[name]["edit_token"])
        )
        assert confirmed.status_code == 200, confirmed.text
    stars = [
        ["edu1", "panel"],
        ["edu2", "panel", "solo1"],
        ["hands-on", "solo2"],
        ["panel", "hands-on"],
        ["edu3", "solo1", "solo2"],
        [],
    ]
    for picks in stars:
        person = await register(client, tickets["delegate"])
        w.delegates.append(person)
        if picks:
            response = await client.put(
                f"/api/v1/registrations/{person['id']}/stars",
                headers=bearer(person["manage_token"]),
                json={"proposal_ids": [w.talks[p] for p in picks]},
            )
            assert response.status_code == 200, response.text
    return w


async def build(client: httpx.AsyncClient, w: World, **body: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/schedule/build", headers=w.organiser, json={"time_limit": LIMIT, **body}
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def hard_rule_breaks(database: Database, w: World, draft: dict[str, Any]) -> list[str]:
    """The test's own reading of the hard rules, from the API's answer and the database (not the service's checker)."""
    async with database.read() as db:
        speakers = (await db.execute(sa.select(ProposalSpeaker))).scalars().all()
    busy: dict[str, set[int]] = {}
    for s in speakers:
        busy.setdefault(s.email.lower(), set()).update(
            w.slots.index(uuid.UUID(x)) for x in s.unavailable_slots
        )
    index = {str(s): i for i, s in enumerate(w.slots)}
    capacity = {str(v): w.capacity[k] for k, v in w.rooms.items()}
    breaks: list[str] = []
    held: dict[tuple[str, int], str] = {}
    speaking: dict[tuple[str, int], str] = {}
    for ws in draft["workshops"]:
        start, n = index[ws["slot_id"]], ws["slot_count"]
        span = list(range(start, start + n))
        if span[-1] >= len(w.slots) or any(not w.joinable[t] for t in span[:-1]):
            breaks.append(f"{ws['title']}: slots not consecutive on one day")
        if set(span) & w.plenary:
            breaks.append(f"{ws['title']}: against the plenary")
        if ws["audience"] > capacity[ws["room_id"]]:
            breaks.append(f"{ws['title']}: room too small")
        for t in span:
            if (ws["room_id"], t) in held:
                breaks.append(f"{ws['title']}: room shared with {held[ws['room_id'], t]}")
            held[ws["room_id"], t] = ws["title"]
            for sp in ws["speakers"]:
                if t in busy.get(sp, set()):
                    breaks.append(f"{ws['title']}: {sp} unavailable")
                if (sp, t) in speaking:
                    breaks.append(f"{ws['title']}: {sp} also in {speaking[sp, t]}")
                speaking[sp, t] = ws["title"]
    return breaks


@pytest.fixture
async def world(client: httpx.AsyncClient, database: Database) -> World:
    return await make_world(client, database)


async def test_a_build_groups_the_talks_places_them_within_every_rule_and_reports_its_figures(
    client: httpx.AsyncClient, database: Database, world: World
) -> None:
    draft = await build(client, world)
    assert draft["state"] == "draft" and draft["number"] is None and draft["warnings"] == []
    figures = draft["figures"]
    assert figures["status"] in {"optimal", "feasible"} and figures["explanation"] == []
    for name in (
        "clash_pairs",
        "lower_bound",
        "gap",
        "clash_pairs_per_delegate_mean",
        "clash_pairs_per_delegate_max",
        "rooms_over_capacity",
        "moved",
        "seconds",
    ):
        assert name in figures, name
    assert 0 <= figures["lower_bound"] <= figures["clash_pairs"] and figures["rooms_over_capacity"] == 0
    titles = sorted(tuple(sorted(ws["talk_titles"])) for ws in draft["workshops"])
    assert titles == [
        ("Talk edu1", "Talk edu2", "Talk edu3"),
        ("Talk hands-on",),
        ("Talk panel",),
        ("Talk solo1",),
        ("Talk solo2",),
    ]
    by_title = {ws["talk_titles"][0]: ws for ws in draft["workshops"]}
    assert by_title["Talk hands-on"]["slot_count"] == 2 and by_title["Talk panel"]["slot_count"] == 1
    assert await hard_rule_breaks(database, world, draft) == []
    assert [c["kind"] for c in draft["pending_changes"]] == ["added"] * 5
    again = await client.get(f"/api/v1/schedule/drafts/{draft['id']}", headers=world.organiser)
    assert again.status_code == 200 and again.json()["figures"]["clash_pairs"] == figures["clash_pairs"]


async def test_an_impossible_programme_is_explained_and_cannot_be_published(
    client: httpx.AsyncClient, database: Database
) -> None:
    w = await make_world(client, database, solo_only_first_slot=True)
    draft = await build(client, w)
    assert (
        draft["figures"]["status"] == "infeasible"
        and draft["workshops"]
        and not any(ws["slot_id"] for ws in draft["workshops"])
    )
    explained = " ".join(draft["figures"]["explanation"])
    assert "solo." in explained and "'Talk solo1'" in explained and "'Talk solo2'" in explained
    assert "Slots are numbered from 0" in explained
    refused = await client.post(
        "/api/v1/schedule/publish", headers=w.organiser, json={"draft_id": draft["id"]}
    )
    assert refused.status_code == 409 and "no schedule" in refused.json()["error"]["message"]


async def test_hand_moves_are_stored_and_warn_about_every_broken_rule(
    client: httpx.AsyncClient, database: Database, world: World
) -> None:
    draft = await build(client, world)
    by_title = {ws["talk_titles"][0] if len(ws["talk_ids"]) == 1 else "edu": ws for ws in draft["workshops"]}
    url = f"/api/v1/schedule/drafts/{draft['id']}/workshops/"
    room, slot = world.rooms, world.slots

    async def move(name: str, room_name: str, t: int) -> set[str]:
        response = await client.patch(
            url + by_title[name]["key"],
            headers=world.organiser,
            json={"room_id": str(room[room_name]), "slot_id": str(slot[t])},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["workshop"]["room_id"] == str(room[room_name]) and body["workshop"]["slot_id"] == str(
            slot[t]
        )
        return {x["code"] for x in body["warnings"] if x["workshop"] == by_title[name]["key"]}

    assert "crosses_day" in await move("Talk hands-on", "Room A", 2)  # 14:00 on day 1 runs into day 2
    assert "not_consecutive" in await move("Talk hands-on", "Room A", 1)  # across lunch
    assert "not_consecutive" in await move("Talk hands-on", "Room A", 4)  # past the last slot
    assert "plenary_slot" in await move("Talk panel", "Room A", 3)
    await move("Talk solo1", "Room A", 0)
    assert {"speaker_double_booked", "room_double_booked"} <= await move("Talk solo2", "Room A", 0)
    # Solo becomes unavailable at 11:30 on day 1; their talk there is flagged.
    async with database.transaction() as db:
        speaker = (
            await db.execute(
                sa.select(ProposalSpeaker).where(
                    ProposalSpeaker.proposal_id == uuid.UUID(world.talks["solo1"])
                )
            )
        ).scalar_one()
        speaker.unavailable_slots = [str(slot[1])]
    assert "speaker_unavailable" in await move("Talk solo2", "Room B", 1)
    # The panel's audience (3 of 5 starring delegates, scaled to 6 registered: 4) fits Room B, so shrink it.
    async with database.transaction() as db:
        from sessions.models import Room

        (await db.get(Room, room["Room B"])).capacity = 2  # type: ignore[union-attr]
    assert "room_too_small" in await move("Talk panel", "Room B", 0)
    stored = (await client.get(f"/api/v1/schedule/drafts/{draft['id']}", headers=world.organiser)).json()
    assert stored["figures"]["hand_moves"] == 8 and stored["figures"]["status"] == "edited by hand"
    assert {ws["key"]: ws["slot_id"] for ws in stored["workshops"]}[by_title["Talk panel"]["key"]] == str(
        slot[0]
    )
    refused = await client.post(
        "/api/v1/schedule/publish", headers=world.organiser, json={"draft_id": draft["id"]}
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "draft_has_warnings"
    bad = await client.patch(
        url + by_title["Talk panel"]["key"],
        headers=world.organiser,
        json={"room_id": str(uuid.uuid4()), "slot_id": "nope"},
    )
    assert bad.status_code == 422 and set(bad.json()["error"]["fields"]) == {"slot_id"}
    unknown_room = await client.patch(
        url + by_title["Talk panel"]["key"],
        headers=world.organiser,
        json={"room_id": str(uuid.uuid4()), "slot_id": str(slot[0])},
    )
    assert unknown_room.status_code == 422 and "room_id" in unknown_room.json()["error"]["fields"]
    missing = await client.patch(
        url + "wnope", headers=world.organiser, json={"room_id": str(room["Hall"]), "slot_id": str(slot[0])}
    )
    assert missing.status_code == 404


async def _published_sessions(database: Database) -> dict[frozenset[str], ProgrammeSession]:
    async with database.read() as db:
        links = (await db.execute(sa.select(SessionTalk))).scalars().all()
        talks: dict[uuid.UUID, set[str]] = {}
        for link in links:
            talks.setdefault(link.programme_session_id, set()).add(str(link.proposal_id))
        sessions = {
            s.id: s
            for s in (
                await db.execute(sa.select(ProgrammeSession).where(ProgrammeSession.kind == Kind.workshop))
            ).scalars()
        }
    return {frozenset(ids): sessions[sid] for sid, ids in talks.items()}


async def test_publish_then_a_late_change_moves_few_sessions_and_emails_exactly_their_delegates(
    client: httpx.AsyncClient, database: Database, world: World
) -> None:
    first = await build(client, world)
    published = await client.post(
        "/api/v1/schedule/publish", headers=world.organiser, json={"draft_id": first["id"]}
    )
    assert published.status_code == 200, published.text
    v1 = published.json()
    assert (v1["number"], v1["state"]) == (1, "published") and [c["kind"] for c in v1["changes"]] == [
        "added"
    ] * 5
    sessions = await _published_sessions(database)
    assert len(sessions) == 5 and all(not s.cancelled for s in sessions.values())
    edu = sessions[frozenset(world.talks[n] for n in ("edu1", "edu2", "edu3"))]
    assert (
        edu.title.startswith("Education: ")
        and "3 short talks" in edu.description
        and "Talk edu1" in edu.description
    )

    # Every delegate books a seat in one workshop: three in the education session, three in the panel.
    panel = sessions[frozenset({world.talks["panel"]})]
    booked: dict[uuid.UUID, set[str]] = {}
    for n, person in enumerate(world.delegates):
        target = edu if n < 3 else panel
        response = await client.post(
            f"/api/v1/registrations/{person['id']}/sessions",
            headers=bearer(person["manage_token"]),
            json={"session_id": str(target.id)},
        )
        assert response.status_code == 201, response.text
        booked.setdefault(target.id, set()).add(person["id"])

    # A late change: an education speaker can no longer do the session's slot.
    async with database.transaction() as db:
        speaker = (
            await db.execute(
                sa.select(ProposalSpeaker).where(
                    ProposalSpeaker.proposal_id == uuid.UUID(world.talks["edu2"])
                )
            )
        ).scalar_one()
        speaker.unavailable_slots = [str(edu.start_slot_id)]
    stale = await build(client, world)  # built on version 1; published next, then left out of date
    second = await build(client, world)
    assert 1 <= second["figures"]["moved"] <= 2 and second["warnings"] == []
    assert await hard_rule_breaks(database, world, second) == []
    preview = {c["key"]: c["kind"] for c in second["pending_changes"]}
    assert set(preview.values()) == {"moved"} and len(preview) == second["figures"]["moved"]
    published = await client.post(
        "/api/v1/schedule/publish", headers=world.organiser, json={"draft_id": second["id"]}
    )
    assert published.status_code == 200, published.text
    v2 = published.json()
    assert v2["number"] == 2 and {c["kind"] for c in v2["changes"]} == {"moved"}
    moved_ids = {uuid.UUID(c["session_id"]) for c in v2["changes"]}
    assert edu.id in moved_ids

    async with database.read() as db:
        mails = (
            (await db.execute(sa.select(OutboxEmail).where(OutboxEmail.kind == "programme_changed")))
            .scalars()
            .all()
        )
        seats = (await db.execute(sa.select(SeatBooking))).scalars().all()
        states = {
            v.number: v.state
            for v in (
                await db.execute(sa.select(ScheduleVersion).where(ScheduleVersion.number.is_not(None)))
            ).scalars()
        }  # type: ignore[union-attr]
    expected = set().union(*(booked.get(sid, set()) for sid in moved_ids))
    assert sorted(str(m.registration_id) for m in mails) == sorted(expected)
    assert all("has moved from" in m.context["changes"][0] for m in mails)
    assert {(str(s.registration_id), s.session_id, s.status) for s in seats} == {
        (rid, sid, SeatStatus.booked) for sid, people in booked.items() for rid in people
    }  # seats survive the move
    assert states == {1: ScheduleState.superseded, 2: ScheduleState.published}
    after = await _published_sessions(database)
    assert {s.id for s in after.values()} == {
        s.id for s in sessions.values()
    }  # same sessions, updated in place

    out_of_date = await client.post(
        "/api/v1/schedule/publish", headers=world.organiser, json={"draft_id": stale["id"]}
    )
    assert out_of_date.status_code == 409 and out_of_date.json()["error"]["code"] == "draft_out_of_date"
    assert "newer programme has been published" in out_of_date.json()["error"]["message"]
    again = await client.post(
        "/api/v1/schedule/publish", headers=world.organiser, json={"draft_id": second["id"]}
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_a_draft"
    listed = (await client.get("/api/v1/schedule/versions", headers=world.organiser)).json()
    assert [(v["number"], v["state"]) for v in listed["data"] if v["number"]] == [
        (2, "published"),
        (1, "superseded"),
    ]
    assert listed["data"][0]["changes"] == v2["changes"]


async def test_a_talk_that_drops_out_cancels_its_session_and_releases_seats(
    client: httpx.AsyncClient, database: Database, world: World
) -> None:
    first = await build(client, world)
    assert (
        await client.post("/api/v1/schedule/publish", headers=world.organiser, json={"draft_id": first["id"]})
    ).status_code == 200
    solo = (await _published_sessions(database))[frozenset({world.talks["solo1"]})]
    person = world.delegates[0]
    await client.post(
        f"/api/v1/registrations/{person['id']}/sessions",
        headers=bearer(person["manage_token"]),
        json={"session_id": str(solo.id)},
    )
    assert (
        await client.post(f"/api/v1/proposals/{world.talks['solo1']}/reject", headers=world.organiser)
    ).status_code in (200, 409)
    async with database.transaction() as db:
        from sessions.models import Proposal, ProposalStatus

        (await db.get(Proposal, uuid.UUID(world.talks["solo1"]))).status = ProposalStatus.withdrawn  # type: ignore[union-attr]
    second = await build(client, world)
    assert [c["kind"] for c in second["pending_changes"]] == ["cancelled"]
    v2 = (
        await client.post(
            "/api/v1/schedule/publish", headers=world.organiser, json={"draft_id": second["id"]}
        )
    ).json()
    assert v2["changes"][0]["kind"] == "cancelled" and v2["figures"]["emailed_delegates"] == 1
    async with database.read() as db:
        cancelled = await db.get(ProgrammeSession, solo.id)
        seat = (
            await db.execute(sa.select(SeatBooking).where(SeatBooking.session_id == solo.id))
        ).scalar_one()
        mail = (
            await db.execute(sa.select(OutboxEmail).where(OutboxEmail.kind == "programme_changed"))
        ).scalar_one()
    assert cancelled is not None and cancelled.cancelled and seat.status == SeatStatus.cancelled
    assert str(mail.registration_id) == person["id"] and "is cancelled" in mail.context["changes"][0]


async def test_input_is_validated_and_one_build_runs_at_a_time(
    client: httpx.AsyncClient, database: Database, world: World
) -> None:
    cases = [
        ({"time_limit": 500}, "time_limit"),
        ({"time_limit": 0}, "time_limit"),
        ({"time_limit": "soon"}, "time_limit"),
        ({"colour": "red"}, "colour"),
        ({"pins": [{"talk_id": str(uuid.uuid4()), "slot_id": str(world.slots[0])}]}, "pins.0.talk_id"),
        ({"pins": [{"talk_id": world.talks["panel"], "slot_id": str(uuid.uuid4())}]}, "pins.0.slot_id"),
    ]
    for body, name in cases:
        response = await client.post("/api/v1/schedule/build", headers=world.organiser, json=body)
        assert response.status_code == 422, (body, response.text)
        assert name in response.json()["error"]["fields"], (body, response.json())
    assert (
        await client.post(
            "/api/v1/schedule/build",
            headers=world.organiser,
            content=b"nope",
        )
    ).status_code == 400
    assert (
        await client.post("/api/v1/schedule/publish", headers=world.organiser, json={"draft_id": 0})
    ).status_code == 422
    assert (
        await client.post("/api/v1/schedule/publish", headers=world.organiser, json={"draft_id": 999})
    ).status_code == 404
    assert (await client.get("/api/v1/schedule/drafts/abc", headers=world.organiser)).status_code == 404

    pinned = await build(
        client,
        world,
        pins=[
            {
                "talk_id": world.talks["panel"],
                "slot_id": str(world.slots[4]),
                "room_id": str(world.rooms["Room B"]),
            }
        ],
    )
    panel = next(ws for ws in pinned["workshops"] if ws["talk_ids"] == [world.talks["panel"]])
    assert (panel["slot_id"], panel["room_id"]) == (str(world.slots[4]), str(world.rooms["Room B"]))

    async with database.transaction() as db:
        conference = await get_conference(db)
        db.add(
            ScheduleVersion(
                conference_id=conference.id,
                state=ScheduleState.building,
                time_limit=30,  # type: ignore[arg-type]
                created_at=utcnow(),
            )
        )
    busy = await client.post("/api/v1/schedule/build", headers=world.organiser, json={"time_limit": 1})
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "build_running"


async def test_every_schedule_route_is_for_organisers_only(
    client: httpx.AsyncClient, database: Database, world: World
) -> None:
    draft = await build(client, world)
    key = draft["workshops"][0]["key"]
    attendee = bearer(world.delegates[0]["manage_token"])
    staff = bearer(await staff_token(database))
    routes = [
        ("POST", "/api/v1/schedule/build", {"time_limit": 1}),
        ("POST", "/api/v1/schedule/publish", {"draft_id": draft["id"]}),
        ("GET", f"/api/v1/schedule/drafts/{draft['id']}", None),
        ("GET", "/api/v1/schedule/versions", None),
        (
            "PATCH",
            f"/api/v1/schedule/drafts/{draft['id']}/workshops/{key}",
            {"room_id": str(world.rooms["Hall"]), "slot_id": str(world.slots[0])},
        ),
    ]
    for method, url, body in routes:
        for who, headers, status in (
            ("anonymous", {}, 401),
            ("attendee", attendee, 403),
            ("staff", staff, 403),
        ):
            response = await client.request(method, url, headers=headers, json=body)
            assert response.status_code == status, (who, method, url, response.text)
    assert (await client.get("/api/v1/schedule/versions", headers=world.organiser)).status_code == 200
    for path in ("/console/programme/schedule",):
        assert (await client.get(path, headers=HTML)).status_code == 303  # anonymous: sign in first


async def test_the_console_page_builds_shows_the_grid_and_publishes_with_csrf(
    client: httpx.AsyncClient, database: Database, world: World
) -> None:
    await sign_in(client, await staff_token(database))
    assert (await client.get("/console/programme/schedule", headers=HTML)).status_code == 403
    await sign_in(client, await organiser_token(database))
    programme_page = await client.get("/console/programme", headers=HTML)
    assert 'href="http://testserver/console/programme/schedule"' in programme_page.text
    page = await client.get("/console/programme/schedule", headers=HTML)
    assert page.status_code == 200 and "No drafts yet" in page.text
    token = csrf(page.text)
    bad = await client.post(
        "/console/programme/schedule/build", headers=HTML, data={"csrf_token": token, "time_limit": "900"}
    )
    assert bad.status_code == 422 and "There is a problem" in bad.text and 'value="900"' in bad.text
    forged = await client.post("/console/programme/schedule/build", headers=HTML, data={"time_limit": "1"})
    assert forged.status_code == 403
    built = await client.post(
        "/console/programme/schedule/build",
        headers=HTML,
        data={"csrf_token": token, "time_limit": str(LIMIT), "stability": "yes"},
    )
    assert built.status_code == 303
    page = await client.get(built.headers["location"], headers=HTML)
    text = page.text
    assert (
        'id="grid-2026-12-08"' in text and 'id="figures"' in text and "Lower bound" in text and "Gap" in text
    )
    assert "Talk hands-on" in text and "expected" in text and "Plenary" in text
    assert (
        'id="publish"' in text
        and 'id="move"' in text
        and "What publishing changes" in text
        and "Added:" in text
    )
    publish_form = text[text.index('id="publish"') :]
    assert 'name="csrf_token"' in publish_form[:400]
    async with database.read() as db:
        draft = (
            await db.execute(sa.select(ScheduleVersion).where(ScheduleVersion.state == ScheduleState.draft))
        ).scalar_one()
        key = draft.workshops[0]["key"]
    moved = await client.post(
        f"/console/programme/schedule/{draft.id}/move",
        headers=HTML,
        data={
            "csrf_token": csrf(text),
            "key": key,
            "room_id": str(world.rooms["Hall"]),
            "slot_id": str(world.slots[3]),
        },
    )
    assert moved.status_code == 303
    warned = await client.get(moved.headers["location"], headers=HTML)
    assert (
        "Warning:" in warned.text
        and "when the plenary runs" in warned.text
        and 'id="warnings"' in warned.text
    )
    refused = await client.post(
        f"/console/programme/schedule/{draft.id}/publish", headers=HTML, data={"csrf_token": csrf(text)}
    )
    assert refused.status_code == 409 and "breaks rules" in refused.text
    fixed = await client.post(
        f"/console/programme/schedule/{draft.id}/move",
        headers=HTML,
        data={
            "csrf_token": csrf(text),
            "key": key,
            "room_id": draft.placement[key]["room_id"],
            "slot_id": draft.placement[key]["slot_id"],
        },
    )
    assert fixed.status_code == 303
    published = await client.post(
        f"/console/programme/schedule/{draft.id}/publish", headers=HTML, data={"csrf_token": csrf(text)}
    )
    assert published.status_code == 303 and "done=published" in published.headers["location"]
    final = await client.get(published.headers["location"], headers=HTML)
    assert "Version 1 (published)" in final.text
