"""The published programme: JSON with filters and cache validators, the iCalendar feed read back by `icalendar`,
the schedule XML validated by libxml2 (lxml) against c3voc's schema, and the public page without JavaScript."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest
from lxml import etree

from conference.core.db import Database
from conference.core.settings import Settings
from conference.places import get_conference
from conference.server.demo import load_demo
from sessions.demo import load_demo_programme
from sessions.models import (
    AudienceLevel,
    Kind,
    Proposal,
    ProposalFormat,
    ProposalSpeaker,
    ProposalStatus,
    ScheduleState,
    ScheduleVersion,
    SessionCreate,
    SessionTalk,
    SessionUpdate,
)
from sessions.workshops import programme
from tests.factories import ORGANISER, Programme, make_conference, make_programme
from tests.support import bearer, register

HTML = {"accept": "text/html"}
# The schema stays in ../shared (c3voc's file is EUPL-1.2; we read it rather than copy it into this repository).
SCHEMA = Path(__file__).resolve().parents[3] / "shared" / "schemas" / "schedule.xml.xsd"
TRICKY = "Plans, budgets; and <notes> & more — Zoë's team\nSecond line " + "long " * 30 + "end."


@dataclass
class Published:
    tickets: dict[str, Any]
    p: Programme
    cancelled: uuid.UUID
    online: uuid.UUID


def _proposal(
    conference_id: int, title: str, status: ProposalStatus, themes: list[str], speaker: str, org: str
) -> tuple[Proposal, ProposalSpeaker]:
    proposal = Proposal(
        conference_id=conference_id,
        title=title,
        abstract=f"What {title.lower()} taught us.",
        format=ProposalFormat.talk,
        duration_minutes=20,
        themes=themes,
        audience_level=AudienceLevel.intermediate,
        status=status,
        edit_token_hash=uuid.uuid4().hex,
    )
    email = f"{speaker.split()[0].lower()}@example.gov.uk"
    return proposal, ProposalSpeaker(
        proposal_id=proposal.id, position=0, name=speaker, email=email, email_key=email, organisation=org
    )


@pytest.fixture
async def published(database: Database, settings: Settings) -> Published:
    tickets = await make_conference(database, capacity=50)
    p = await make_programme(database)
    async with database.transaction() as db:
        conference_id = (await get_conference(db)).id
        assert conference_id is not None
        online = await programme.create_session(
            db,
            data=SessionCreate(
                title="Online safety clinic",
                kind=Kind.workshop,
                room_id=p.rooms["Big"],
                start_slot_id=p.slots[1],
                theme="online safety",
                speakers="Priya Shah (Kent Police); Tom Reed",
                description=TRICKY,
            ),
            actor=ORGANISER,
        )
        dropped = await programme.create_session(
            db,
            data=SessionCreate(
                title="Cancelled workshop",
                kind=Kind.workshop,
                room_id=p.rooms["Small"],
                start_slot_id=p.slots[2],
            ),
            actor=ORGANISER,
        )
        await programme.update_session(
            db, settings=settings, session_id=dropped.id, actor=ORGANISER, data=SessionUpdate(cancelled=True)
        )
        talks = [
            _proposal(
                conference_id,
                "Shared triage desks",
                ProposalStatus.confirmed,
                ["information sharing"],
                "Grace Okafor",
                "Leeds City Council",
            ),
            _proposal(
                conference_id,
                "Joint visits",
                ProposalStatus.accepted,
                ["partnership working"],
                "Sam Hill",
                "Kent Fire",
            ),
            _proposal(
                conference_id,
                "A withdrawn talk",
                ProposalStatus.withdrawn,
                ["evaluation"],
                "Ann Lee",
                "Hull Council",
            ),
        ]
        for position, (proposal, speaker) in enumerate(talks):
            db.add(proposal)
            await db.flush()
            db.add(speaker)
            db.add(
                SessionTalk(programme_session_id=p.sessions["B"], proposal_id=proposal.id, position=position)
            )
        for number, state in (
            (2, ScheduleState.superseded),
            (3, ScheduleState.published),
            (None, ScheduleState.draft),
        ):
            db.add(ScheduleVersion(conference_id=conference_id, number=number, state=state))
    return Published(tickets, p, dropped.id, online.id)


def _sessions(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["title"]: s for day in body["days"] for slot in day["slots"] for s in slot["sessions"]}


# --- JSON --------------------------------------------------------------------------------------------------------


async def test_programme_json_shape(client: httpx.AsyncClient, published: Published) -> None:
    response = await client.get("/api/v1/programme")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["version"] == "3"  # the latest published schedule version
    assert body["conference"] == {
        "name": "Test Conference",
        "venue": "Test Hall",
        "timezone": "Europe/London",
        "starts_at": "2026-12-08T09:00:00+00:00",
        "ends_at": "2026-12-09T17:00:00+00:00",
        "days": ["2026-12-08", "2026-12-09"],
    }
    assert [r["name"] for r in body["rooms"]] == ["Big", "Hall", "Medium", "Small"]  # position, then name
    assert [d["date"] for d in body["days"]] == ["2026-12-08", "2026-12-09"]
    assert [len(d["slots"]) for d in body["days"]] == [3, 2]
    sessions = _sessions(body)
    assert set(sessions) == {
        "Workshop A",
        "Workshop B",
        "Workshop C",
        "Workshop Long",
        "Opening plenary",
        "Workshop D",
        "Online safety clinic",
    }
    assert body["count"] == 7
    first_slot = body["days"][0]["slots"][0]
    assert first_slot["starts_at"] == "2026-12-08T10:00:00+00:00"
    assert [s["title"] for s in first_slot["sessions"]] == [
        "Workshop B",
        "Workshop Long",
        "Workshop A",
    ]  # room order
    long = sessions["Workshop Long"]
    assert (long["starts_at"], long["ends_at"], long["slot_count"]) == (
        "2026-12-08T10:00:00+00:00",
        "2026-12-08T12:30:00+00:00",
        2,
    )
    a = sessions["Workshop A"]
    assert (a["kind"], a["room"], a["capacity"], a["bookable"], a["remaining"], a["talks"]) == (
        "workshop",
        "Small",
        3,
        True,
        3,
        [],
    )
    plenary = sessions["Opening plenary"]
    assert (plenary["bookable"], plenary["remaining"], plenary["capacity"]) == (False, None, 400)
    online = sessions["Online safety clinic"]
    assert online["speakers"] == [
        {"name": "Priya Shah", "organisation": "Kent Police"},
        {"name": "Tom Reed", "organisation": ""},
    ]
    assert (
        online["description"] == TRICKY
        and online["theme"] == "online safety"
        and online["themes"] == ["online safety"]
    )
    b = sessions["Workshop B"]
    # The withdrawn talk drops out; the accepted talk's speaker is not named until they confirm.
    assert [(t["title"], t["speakers"]) for t in b["talks"]] == [
        ("Shared triage desks", [{"name": "Grace Okafor", "organisation": "Leeds City Council"}]),
        ("Joint visits", []),
    ]
    assert b["speakers"] == [{"name": "Grace Okafor", "organisation": "Leeds City Council"}]
    assert b["themes"] == ["partnership working", "information sharing"]
    assert (
        b["talks"][0]["abstract"] == "What shared triage desks taught us."
        and b["talks"][0]["duration_minutes"] == 20
    )


async def test_programme_filters(client: httpx.AsyncClient, published: Published) -> None:
    online = await client.get("/api/v1/programme", params={"theme": "Online Safety"})
    assert online.status_code == 200 and list(_sessions(online.json())) == ["Online safety clinic"]
    # A talk's theme finds the workshop it is in.
    sharing = await client.get("/api/v1/programme", params={"theme": "information sharing"})
    assert list(_sessions(sharing.json())) == ["Workshop B"]
    # A theme of the call that no session has yet is known, and matches nothing.
    assert (await client.get("/api/v1/programme", params={"theme": "evaluation"})).json()["count"] == 0
    day_two = (await client.get("/api/v1/programme", params={"day": "2026-12-09"})).json()
    assert [d["date"] for d in day_two["days"]] == ["2026-12-09"] and set(_sessions(day_two)) == {
        "Opening plenary",
        "Workshop D",
    }
    both = (
        await client.get("/api/v1/programme", params={"day": "2026-12-08", "theme": "online safety"})
    ).json()
    assert list(_sessions(both)) == ["Online safety clinic"]

    for params, field in (
        ({"theme": "knitting"}, "theme"),
        ({"day": "2026-12-10"}, "day"),
        ({"day": "tomorrow"}, "day"),
        ({"day": "2026-12-8"}, "day"),
    ):
        response = await client.get("/api/v1/programme", params=params)
        assert response.status_code == 400, params
        error = response.json()["error"]
        assert error["code"] == "malformed_request" and list(error["fields"]) == [field]
    response = await client.get("/api/v1/programme", params={"theme": "knitting", "day": "2026-13-01"})
    assert response.status_code == 400 and set(response.json()["error"]["fields"]) == {"theme", "day"}
    assert "partnership working" in response.json()["error"]["fields"]["theme"]
    assert (await client.get("/api/v1/programme.ics", params={"theme": "knitting"})).status_code == 400


@pytest.mark.parametrize("path", ["/api/v1/programme", "/api/v1/programme.ics", "/api/v1/programme.xml"])
async def test_exports_carry_cache_validators(
    client: httpx.AsyncClient, published: Published, path: str
) -> None:
    first = await client.get(path)
    second = await client.get(path)
    assert first.status_code == 200 and first.headers["cache-control"] == "public, max-age=60"
    etag = first.headers["etag"]
    assert (
        re.fullmatch(r'"[0-9a-f]{32}"', etag)
        and second.headers["etag"] == etag
        and first.content == second.content
    )
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = await client.get(path, headers={"if-none-match": header})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert (await client.get(path, headers={"if-none-match": '"stale"'})).status_code == 200


async def test_a_booking_changes_the_json_etag_but_not_the_feeds(
    client: httpx.AsyncClient, published: Published
) -> None:
    before = {
        path: (await client.get(path)).headers["etag"]
        for path in ("/api/v1/programme", "/api/v1/programme.ics", "/api/v1/programme.xml")
    }
    r = await register(client, published.tickets["delegate"])
    booked = await client.post(
        f"/api/v1/registrations/{r['id']}/sessions",
        json={"session_id": str(published.p.sessions["A"])},
        headers=bearer(r["manage_token"]),
    )
    assert booked.status_code == 201
    response = await client.get("/api/v1/programme", headers={"if-none-match": before["/api/v1/programme"]})
    assert response.status_code == 200 and _sessions(response.json())["Workshop A"]["remaining"] == 2
    for path in ("/api/v1/programme.ics", "/api/v1/programme.xml"):
        assert (await client.get(path, headers={"if-none-match": before[path]})).status_code == 304


# --- iCalendar ---------------------------------------------------------------------------------------------------


async def test_programme_ics_reads_back(client: httpx.AsyncClient, published: Published) -> None:
    response = await client.get("/api/v1/programme.ics")
    assert response.status_code == 200 and response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert all(len(line) <= 75 for line in response.content.split(b"\r\n"))  # folded (RFC 5545 3.1)
    cal = icalendar.Calendar.from_ical(response.content)
    assert [str(tz["tzid"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/London"]
    events = {str(e["summary"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {
        "Workshop A",
        "Workshop B",
        "Workshop C",
        "Workshop Long",
        "Opening plenary",
        "Workshop D",
        "Online safety clinic",
    }
    assert "Cancelled workshop" not in events and str(published.cancelled) not in response.text
    long = events["Workshop Long"]
    assert long["dtstart"].params["TZID"] == "Europe/London"
    assert long.decoded("dtstart") == datetime(2026, 12, 8, 10, tzinfo=UTC)
    assert long.decoded("dtend") == datetime(2026, 12, 8, 12, 30, tzinfo=UTC)
    assert str(long["location"]) == "Medium, Test Hall" and "dtstamp" in long
    assert str(events["Workshop A"]["uid"]) == f"{published.p.sessions['A']}@testserver"
    online = events["Online safety clinic"]
    assert (
        str(online["description"]) == f"Speakers: Priya Shah (Kent Police); Tom Reed\n\n{TRICKY}"
    )  # escaping round-trips
    assert [str(c) for c in online["categories"].cats] == ["Workshop", "online safety"]
    b = str(events["Workshop B"]["description"])
    assert "1. Shared triage desks (Grace Okafor (Leeds City Council))" in b and "2. Joint visits" in b
    assert "withdrawn" not in b

    again = icalendar.Calendar.from_ical((await client.get("/api/v1/programme.ics")).content)
    assert sorted(str(e["uid"]) for e in again.walk("VEVENT")) == sorted(
        str(e["uid"]) for e in events.values()
    )
    themed = icalendar.Calendar.from_ical(
        (await client.get("/api/v1/programme.ics", params={"theme": "online safety"})).content
    )
    assert [str(e["summary"]) for e in themed.walk("VEVENT")] == ["Online safety clinic"]


# --- schedule XML ------------------------------------------------------------------------------------------------


def schedule_schema() -> etree.XMLSchema:
    if not SCHEMA.parent.parent.is_dir():
        pytest.skip(
            f"../shared is not beside this repository ({SCHEMA.parent.parent}); the schema lives there"
        )
    try:
        return etree.XMLSchema(etree.parse(str(SCHEMA)))
    except (OSError, etree.XMLSchemaParseError, etree.XMLSyntaxError) as exc:
        pytest.fail(f"the schedule schema {SCHEMA} could not be loaded: {exc}")


def valid_schedule(content: bytes) -> Any:
    schema = schedule_schema()
    doc = etree.fromstring(content)
    assert schema.validate(doc), "\n".join(str(e) for e in schema.error_log)
    return doc


async def test_programme_xml_is_valid_and_complete(client: httpx.AsyncClient, published: Published) -> None:
    response = await client.get("/api/v1/programme.xml")
    assert (
        response.status_code == 200 and response.headers["content-type"] == "application/xml; charset=utf-8"
    )
    assert response.content.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    doc = valid_schedule(response.content)
    assert doc.findtext("version") == "3"
    conf = doc.find("conference")
    assert [conf.findtext(k) for k in ("title", "acronym", "start", "end", "days", "timeslot_duration")] == [
        "Test Conference",
        "tc",
        "2026-12-08",
        "2026-12-09",
        "2",
        "00:30",
    ]
    days = doc.findall("day")
    assert [(d.get("index"), d.get("date"), d.get("start"), d.get("end")) for d in days] == [
        ("1", "2026-12-08", "2026-12-08T10:00:00+00:00", "2026-12-08T15:00:00+00:00"),
        ("2", "2026-12-09", "2026-12-09T10:00:00+00:00", "2026-12-09T12:30:00+00:00"),
    ]
    assert [r.get("name") for r in days[0].findall("room")] == ["Big", "Hall", "Medium", "Small"]
    events = {e.findtext("title"): e for e in doc.iter("event")}
    assert len(events) == 7 and "Cancelled workshop" not in events
    long = events["Workshop Long"]
    assert [long.findtext(k) for k in ("room", "type", "date", "start", "duration", "track", "language")] == [
        "Medium",
        "workshop",
        "2026-12-08T10:00:00+00:00",
        "10:00",
        "02:30",
        "partnership working",
        "en",
    ]
    assert long.get("guid") == str(published.p.sessions["Long"]) and int(long.get("id")) > 0
    assert [events[t].findtext("duration") for t in ("Workshop A", "Opening plenary")] == ["01:00", "01:00"]
    plenary = events["Opening plenary"]
    assert (
        plenary.findtext("type"),
        plenary.findtext("track"),
        plenary.getparent().getparent().get("index"),
    ) == ("plenary", "partnership working", "2")
    online = events["Online safety clinic"]
    assert online.findtext("abstract") == TRICKY  # escaped and read back intact
    assert [p.text for p in online.find("persons")] == ["Priya Shah", "Tom Reed"]
    b = events["Workshop B"]
    assert [p.text for p in b.find("persons")] == ["Grace Okafor"] and b.findtext(
        "subtitle"
    ) == "Shared triage desks, Joint visits"
    assert "Shared triage desks" in b.findtext("description")
    assert (
        b.find("links/link").get("href") == f"http://testserver/programme#session-{published.p.sessions['B']}"
    )
    # Stable across calls: the same bytes, so the same ids and guids.
    assert (await client.get("/api/v1/programme.xml")).content == response.content


async def test_the_demo_programme_exports_a_valid_schedule(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    await load_demo(settings)
    count = await load_demo_programme(database)
    response = await client.get("/api/v1/programme.xml")
    doc = valid_schedule(response.content)
    events = list(doc.iter("event"))
    assert len(events) == count >= 30
    assert [d.get("date") for d in doc.findall("day")] == ["2026-12-08", "2026-12-09"]
    assert (
        doc.findtext("conference/acronym") == "scnc2026"
        and doc.findtext("conference/timeslot_duration") == "00:15"
    )
    ics = icalendar.Calendar.from_ical((await client.get("/api/v1/programme.ics")).content)
    assert len(ics.walk("VEVENT")) == count
    page = await client.get("/programme", headers=HTML)
    assert page.status_code == 200 and "Opening plenary: safer communities, together" in page.text


# --- the page ----------------------------------------------------------------------------------------------------


async def test_programme_page_without_javascript(client: httpx.AsyncClient, published: Published) -> None:
    response = await client.get("/programme", headers=HTML)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "<script" not in html and "style=" not in html
    assert '<h2 id="day-2026-12-08">Tue 8 Dec 2026</h2>' in html and "Wed 9 Dec 2026" in html
    assert '<th scope="col">Big</th>' in html and '<th scope="row" class="prog-time">10:00–11:00</th>' in html
    assert 'rowspan="2"' in html  # Workshop Long covers two slots
    for title in (
        "Workshop A",
        "Workshop Long",
        "Opening plenary",
        "Online safety clinic",
        "Shared triage desks",
        "Joint visits",
    ):
        assert title in html
    assert "A withdrawn talk" not in html
    # A cancelled session stays on the page, marked (issue 17), though the JSON and the feeds leave it out.
    cancelled = html[html.index("Cancelled workshop") - 300 :]
    assert "prog-session--cancelled" in cancelled[:300] and "<strong>Cancelled.</strong>" in cancelled[:1000]
    assert "3 of 3 seats left." in html and "Open to all delegates, no booking needed." in html
    assert "Grace Okafor (Leeds City Council)" in html and "Zoë&#39;s team" in html
    assert (
        'href="http://testserver/api/v1/programme.ics' in html
        and 'href="webcal://testserver/api/v1/programme.ics"' in html
    )
    assert 'href="http://testserver/api/v1/programme.xml"' in html
    assert '<label class="label" for="theme">Theme</label>' in html and '<form method="get"' in html

    filtered = await client.get("/programme", params={"theme": "online safety"}, headers=HTML)
    assert filtered.status_code == 200
    assert "Online safety clinic" in filtered.text and "Workshop A" not in filtered.text
    assert '<option value="online safety" selected>' in filtered.text
    assert "webcal://testserver/api/v1/programme.ics?theme=online+safety" in filtered.text
    day_two = await client.get("/programme", params={"day": "2026-12-09"}, headers=HTML)
    assert (
        "Workshop D" in day_two.text
        and "Workshop A" not in day_two.text
        and "Tue 8 Dec 2026</h2>" not in day_two.text
    )

    bad = await client.get("/programme", params={"theme": "knitting"}, headers=HTML)
    assert bad.status_code == 400 and "There is a problem" in bad.text and 'href="#theme"' in bad.text
    assert "Workshop A" in bad.text  # the whole programme, with the error

    home = await client.get("/", headers=HTML)
    assert 'href="/programme"' in home.text


async def test_a_session_without_a_room_is_still_placed(
    client: httpx.AsyncClient, database: Database, published: Published
) -> None:
    async with database.transaction() as db:
        await programme.create_session(
            db,
            data=SessionCreate(title="Networking lunch", kind=Kind.talk, start_slot_id=published.p.slots[2]),
            actor=ORGANISER,
        )
    doc = valid_schedule((await client.get("/api/v1/programme.xml")).content)
    lunch = next(e for e in doc.iter("event") if e.findtext("title") == "Networking lunch")
    assert lunch.findtext("room") == "To be confirmed" == lunch.getparent().get("name")
    assert (lunch.findtext("type"), lunch.findtext("track")) == ("talk", "Talk")
    page = await client.get("/programme", headers=HTML)
    assert '<th scope="col">To be confirmed</th>' in page.text and "Networking lunch" in page.text
    body = (await client.get("/api/v1/programme")).json()
    assert _sessions(body)["Networking lunch"]["room"] is None
