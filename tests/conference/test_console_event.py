"""The console's event settings (/console/event, /console/event/notices): every field saved and audited, the bad
input refused all at once (linked to its fields, what was typed kept, nothing saved), a capacity below the places
held refused with the figure, and the same rules through PATCH /api/v1/conference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import AuditEntry, Conference, utcnow
from tests.support import HTML, bearer, csrf, organiser_token, register, sign_in, staff_token

PATH = "/console/event"
LONDON = ZoneInfo("Europe/London")


def local(moment: datetime, zone: ZoneInfo = LONDON) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def day(days: int, hour: int) -> datetime:
    """A whole hour `days` from today, London time (always in the future for days >= 1)."""
    today = utcnow().astimezone(LONDON).date()
    return datetime(today.year, today.month, today.day, hour, tzinfo=LONDON) + timedelta(days=days)


def good_form(**overrides: str) -> dict[str, str]:
    """Every field of the details form, each valid, for an event 90 days away."""
    form = {
        "name": "Safer Streets 2027",
        "starts_at": local(day(90, 9)),
        "ends_at": local(day(91, 17)),
        "timezone": "Europe/London",
        "contact_email": "events@leeds.gov.uk",
        "venue": "Leeds Conference Centre",
        "venue_address": "1 Civic Way\nLeeds LS1 1AA",
        "travel_notes": "Ten minutes' walk from Leeds station.",
        "accessibility_notes": "Step-free throughout; hearing loop in every room.",
        "capacity": "800",
        "registration_open": "yes",
        "registration_opens_at": local(day(1, 9)),
        "registration_closes_at": local(day(80, 17)),
        "refund_full_until": local(day(60, 17)),
    }
    form.update(overrides)
    return form


async def conference_row(database: Database) -> Conference:
    async with database.read() as db:
        return (await db.execute(sa.select(Conference))).scalar_one()


async def audit_entries(database: Database) -> list[AuditEntry]:
    async with database.read() as db:
        return list(
            (
                await db.execute(
                    sa.select(AuditEntry)
                    .where(AuditEntry.action == "conference.conference.updated")
                    .order_by(AuditEntry.id)
                )
            ).scalars()
        )


async def post(client: httpx.AsyncClient, form: dict[str, str], path: str = PATH) -> httpx.Response:
    page = await client.get(path, headers=HTML)
    assert page.status_code == 200, page.text
    return await client.post(path, data={**form, "csrf_token": csrf(page.text)}, headers=HTML)


async def test_the_form_saves_and_audits_every_field(
    organiser: httpx.AsyncClient, database: Database
) -> None:
    page = await organiser.get(PATH, headers=HTML)
    assert page.status_code == 200 and 'value="Test Conference"' in page.text
    assert 'href="/console/event"' in page.text  # the console menu links here
    saved = await post(organiser, good_form())
    assert saved.status_code == 303 and saved.headers["location"].endswith("/console/event?done=saved")
    assert "The event&#39;s settings are saved." in (await organiser.get(saved.headers["location"])).text
    c = await conference_row(database)
    assert (c.name, c.capacity, c.venue, c.contact_email) == (
        "Safer Streets 2027",
        800,
        "Leeds Conference Centre",
        "events@leeds.gov.uk",
    )
    assert c.venue_address == "1 Civic Way\nLeeds LS1 1AA"
    assert c.starts_at == day(90, 9) and c.ends_at == day(91, 17)
    assert c.registration_opens_at == day(1, 9) and c.registration_closes_at == day(80, 17)
    assert c.refund_full_until == day(60, 17)
    first = await audit_entries(database)
    assert len(first) == 1 and first[0].actor.startswith("organiser")
    assert "capacity" in first[0].data["fields"] and first[0].data["changes"]["capacity"] == {
        "from": 5,
        "to": 800,
    }

    # Each field on its own: saved, and audited by name (the texts by name only, no values).
    changes = {
        "name": "Safer Streets 2027: Leeds",
        "starts_at": local(day(90, 10)),
        "ends_at": local(day(92, 16)),
        "timezone": "Europe/Dublin",
        "contact_email": "hello@leeds.gov.uk",
        "venue": "Civic Hall",
        "venue_address": "Portland Crescent\nLeeds",
        "travel_notes": "Bus 1 from the station.",
        "accessibility_notes": "Lift to every floor.",
        "capacity": "900",
        "registration_open": "",
        "registration_opens_at": local(day(2, 9)),
        "registration_closes_at": local(day(81, 12)),
        "refund_full_until": local(day(61, 12)),
    }
    form = good_form()
    for name, value in changes.items():
        # (The times are read in the zone the form names; Dublin's clocks are London's, so only the zone changes.)
        form[name] = value
        response = await post(organiser, form)
        assert response.status_code == 303, (name, response.text)
        entry = (await audit_entries(database))[-1]
        assert entry.data["fields"] == [name], (name, entry.data)
    c = await conference_row(database)
    assert c.timezone == "Europe/Dublin" and c.name == "Safer Streets 2027: Leeds"
    assert c.registration_open is False and c.capacity == 900
    assert c.travel_notes == "Bus 1 from the station." and c.accessibility_notes == "Lift to every floor."
    dublin = ZoneInfo("Europe/Dublin")
    assert local(c.refund_full_until or utcnow(), dublin) == changes["refund_full_until"]
    assert "Portland Crescent" not in str(entry.data)  # texts are named, not copied into the audit log

    # The page shows the stored values again, in the event's zone.
    shown = await organiser.get(PATH, headers=HTML)
    assert f'value="{changes["starts_at"]}"' in shown.text and 'value="Europe/Dublin"' in shown.text

    # Posting the same values again changes nothing and writes no audit entry.
    count = len(await audit_entries(database))
    again = await post(organiser, form)
    assert again.headers["location"].endswith("?done=unchanged")
    assert len(await audit_entries(database)) == count


async def test_empty_optional_fields_clear_them(organiser: httpx.AsyncClient, database: Database) -> None:
    await post(organiser, good_form())
    cleared = await post(
        organiser,
        good_form(
            registration_opens_at="", registration_closes_at="", refund_full_until="", contact_email=""
        ),
    )
    assert cleared.status_code == 303
    c = await conference_row(database)
    assert (c.registration_opens_at, c.registration_closes_at, c.refund_full_until, c.contact_email) == (
        None,
        None,
        None,
        None,
    )


async def test_unreadable_fields_are_all_refused_at_once_linked_and_kept(
    organiser: httpx.AsyncClient, database: Database
) -> None:
    before = await conference_row(database)
    bad = good_form(
        name="",
        starts_at="next Tuesday",
        timezone="Mars/Olympus_Mons",
        capacity="lots",
        contact_email="not-an-address",
        venue="A new venue that must not be saved",
        refund_full_until=local(utcnow() - timedelta(days=2)),  # a rule with the clock, beside the others
    )
    refused = await post(organiser, bad)
    assert refused.status_code == 422
    html = refused.text
    assert "There is a problem" in html
    for name in ("name", "starts_at", "timezone", "capacity", "contact_email", "refund_full_until"):
        assert f'href="#{name}"' in html, name
        assert f'id="{name}-error"' in html, name
    assert "IANA name" in html and "whole number" in html and "Enter an email address" in html
    # What was typed is kept.
    assert 'value="Mars/Olympus_Mons"' in html and 'value="lots"' in html and 'value="not-an-address"' in html
    assert 'value="A new venue that must not be saved"' in html
    # The summary follows the form's order.
    assert html.index('href="#name"') < html.index('href="#starts_at"') < html.index('href="#capacity"')
    # Nothing half-saved: the valid venue was not written either.
    after = await conference_row(database)
    assert (after.venue, after.name, after.capacity) == (before.venue, before.name, before.capacity)
    assert await audit_entries(database) == []


async def test_dates_and_numbers_that_make_no_sense_are_refused_with_clear_messages(
    organiser: httpx.AsyncClient, database: Database
) -> None:
    cases: list[tuple[dict[str, str], str, str]] = [
        ({"starts_at": local(day(-3, 9))}, "starts_at", "in the past"),
        ({"ends_at": local(day(89, 9))}, "ends_at", "must end after it starts"),
        (
            {"registration_opens_at": local(day(30, 9)), "registration_closes_at": local(day(20, 9))},
            "registration_closes_at",
            "must close after it opens",
        ),
        ({"registration_closes_at": local(utcnow() - timedelta(hours=1))}, "registration_closes_at", "past"),
        (
            {"registration_closes_at": local(day(95, 9))},
            "registration_closes_at",
            "by the end of the conference",
        ),
        ({"registration_opens_at": local(day(93, 9))}, "registration_opens_at", "before the conference ends"),
        ({"refund_full_until": local(day(-1, 9))}, "refund_full_until", "in the past"),
        ({"refund_full_until": local(day(100, 9))}, "refund_full_until", "by the end of the conference"),
        # The hour the clocks skip in spring does not exist in London.
        ({"starts_at": "2027-03-28T01:30"}, "starts_at", "does not exist"),
        ({"ends_at": ""}, "ends_at", "Give the date and time the conference ends"),
        ({"starts_at": "0001-01-01T00:00"}, "starts_at", "between the years 2000 and 2100"),
        ({"capacity": "²"}, "capacity", "whole number"),
        ({"capacity": "-3"}, "capacity", "whole number"),
        ({"capacity": "100001"}, "capacity", "less than or equal to 100000"),
    ]
    await post(organiser, good_form())
    saved = await conference_row(database)
    count = len(await audit_entries(database))
    for overrides, field, words in cases:
        refused = await post(organiser, good_form(**overrides, venue="Changed too"))
        assert refused.status_code == 422, (overrides, refused.text)
        assert f'href="#{field}"' in refused.text and words in refused.text, (overrides, field)
    after = await conference_row(database)
    assert after.venue == saved.venue and after.starts_at == saved.starts_at
    assert len(await audit_entries(database)) == count


async def test_a_past_date_already_stored_never_blocks_another_change(
    organiser: httpx.AsyncClient, database: Database
) -> None:
    """The event may be running (or over): its past start is unchanged, so only the new value is checked."""
    minute = utcnow().replace(second=0, microsecond=0)  # as precise as the form's fields
    async with database.transaction() as db:
        await db.execute(
            sa.update(Conference).values(
                starts_at=minute - timedelta(days=1), ends_at=minute + timedelta(hours=5)
            )
        )
    page = await organiser.get(PATH, headers=HTML)
    c = await conference_row(database)
    form = good_form(starts_at=local(c.starts_at), ends_at=local(c.ends_at), venue="Hall B")
    form.update(registration_opens_at="", registration_closes_at="", refund_full_until="")
    saved = await organiser.post(PATH, data={**form, "csrf_token": csrf(page.text)}, headers=HTML)
    assert saved.status_code == 303, saved.text
    assert (await conference_row(database)).venue == "Hall B"


async def test_a_capacity_below_the_places_held_is_refused_with_the_figure(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    for _ in range(3):
        await register(organiser, tickets["delegate"])
    refused = await post(organiser, good_form(capacity="2"))
    assert refused.status_code == 422 and 'href="#capacity"' in refused.text
    assert "3 places are held" in refused.text and "cannot be less than 3" in refused.text
    assert (await conference_row(database)).capacity == 5
    assert (await post(organiser, good_form(capacity="3"))).status_code == 303
    assert (await conference_row(database)).capacity == 3
    # The API says the same.
    token = await organiser_token(database)
    api = await organiser.patch("/api/v1/conference", json={"capacity": 1}, headers=bearer(token))
    assert api.status_code == 422 and "3 places are held" in api.json()["error"]["fields"]["capacity"]


async def test_the_form_needs_csrf_and_an_organiser(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    for path in (PATH, "/console/event/notices"):
        assert "/login?next=" in (await client.get(path, headers=HTML)).headers["location"]
    await sign_in(client, await staff_token(database))
    assert (await client.get(PATH, headers=HTML)).status_code == 403
    assert (await client.get("/console/event/notices", headers=HTML)).status_code == 403
    client.cookies.clear()
    await sign_in(client, await organiser_token(database))
    no_token = await client.post(PATH, data=good_form(), headers=HTML)
    assert no_token.status_code == 403
    assert (await conference_row(database)).name == "Test Conference"


async def test_the_notices_are_saved_one_form_at_a_time(
    organiser: httpx.AsyncClient, database: Database
) -> None:
    path = "/console/event/notices"
    text = "Leeds City Council runs this event.\n\nWe keep your details for 90 days."
    saved = await post(organiser, {"privacy_notice": text}, path)
    assert saved.status_code == 303 and saved.headers["location"].endswith("?done=privacy_saved")
    statement = "These pages meet WCAG 2.1 AA.\nReport a problem to access@leeds.gov.uk."
    assert (await post(organiser, {"accessibility_statement": statement}, path)).status_code == 303
    c = await conference_row(database)
    assert (c.privacy_notice, c.accessibility_statement) == (text, statement)
    assert [e.data["fields"] for e in await audit_entries(database)] == [
        ["privacy_notice"],
        ["accessibility_statement"],
    ]
    too_long = "x" * 20_001
    refused = await post(organiser, {"privacy_notice": too_long}, path)
    assert refused.status_code == 422 and 'href="#privacy_notice"' in refused.text
    assert "Use at most 20000 characters" in refused.text and too_long in refused.text  # kept
    assert statement in refused.text  # the other form shows what is stored
    assert (await conference_row(database)).privacy_notice == text


async def test_patch_and_get_conference_carry_the_new_fields(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    org = bearer(await organiser_token(database))
    now = datetime.now(UTC).replace(microsecond=0)
    starts, opens = now + timedelta(days=30), now + timedelta(days=1)
    body = {
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(days=1)).isoformat(),
        "timezone": "America/New_York",
        "registration_opens_at": opens.isoformat(),
        "registration_closes_at": (now + timedelta(days=20)).isoformat(),
        "venue_address": "1 Main St\nNew York",
        "travel_notes": "Subway",
        "accessibility_notes": "Ramps",
        "privacy_notice": "Privacy.",
        "accessibility_statement": "Accessible.",
        "contact_email": "desk@example.org",
    }
    patched = await client.patch("/api/v1/conference", json=body, headers=org)
    assert patched.status_code == 200, patched.text
    got = (await client.get("/api/v1/conference")).json()
    assert got == patched.json()
    for name in ("venue_address", "travel_notes", "accessibility_notes", "privacy_notice", "contact_email"):
        assert got[name] == body[name]
    new_york = ZoneInfo("America/New_York")
    assert got["timezone"] == "America/New_York"
    assert datetime.fromisoformat(got["starts_at"]).utcoffset() == starts.astimezone(new_york).utcoffset()
    assert datetime.fromisoformat(got["registration_opens_at"]) == opens
    assert got["registration_state"] == "not_yet_open" and got["registration_open"] is True
    # Null clears the window and the address; elsewhere it is refused, every such field named at once.
    cleared = await client.patch(
        "/api/v1/conference",
        json={"registration_opens_at": None, "registration_closes_at": None, "contact_email": None},
        headers=org,
    )
    assert cleared.status_code == 200 and cleared.json()["registration_state"] == "open"
    assert cleared.json()["contact_email"] is None
    refused = await client.patch(
        "/api/v1/conference", json={"privacy_notice": None, "timezone": None}, headers=org
    )
    assert refused.status_code == 422
    assert set(refused.json()["error"]["fields"]) == {"privacy_notice", "timezone"}
    for bad in ({"timezone": "Europe/Leeds"}, {"timezone": "localtime"}, {"contact_email": "x"}):
        response = await client.patch("/api/v1/conference", json=bad, headers=org)
        assert response.status_code == 422 and set(response.json()["error"]["fields"]) == set(bad), bad
    staff = await client.patch(
        "/api/v1/conference", json={"contact_email": "a@b.org"}, headers=bearer(await staff_token(database))
    )
    assert staff.status_code == 403
