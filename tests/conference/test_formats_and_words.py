"""Issue 23: one date format everywhere (conference/core/formats.py and its Jinja filters), messages written for
the people who read them (the shared validation-error translator, the door scanner's refusals), and the delegate
pages' loose ends (a cancelled booking's talks and calendar, the confirmation's job title and region, a favicon)."""

from __future__ import annotations

import enum
import re
import uuid
from datetime import UTC, date, datetime
from html import unescape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import BaseModel, Field, ValidationError

from badges.codes import FOR_STAFF, BadgeSigner, InvalidBadge, for_staff
from conference import decisions
from conference.core import audit, errors, formats
from conference.core.db import Database
from conference.core.settings import Settings
from conference.web.templating import templates
from tests.factories import set_call
from tests.support import bearer, csrf, organiser_token, register, scan

HTML = {"accept": "text/html"}
LONDON = ZoneInfo("Europe/London")
SCANNER_JS = Path(__file__).resolve().parents[2] / "badges" / "static" / "scanner.js"


# --- dates and times ---------------------------------------------------------------------------------------------


def test_a_moment_a_day_and_a_range_read_one_way_in_the_conferences_zone() -> None:
    winter = datetime(2026, 12, 8, 9, 30, tzinfo=UTC)
    summer = datetime(2026, 7, 1, 8, 30, tzinfo=UTC)  # 09:30 BST
    assert formats.when(winter, LONDON) == "Tue 8 Dec 2026, 09:30"
    assert formats.when(summer, LONDON) == "Wed 1 Jul 2026, 09:30"
    assert formats.when("2026-07-01T08:30:00+00:00", ZoneInfo("Europe/Berlin")) == "Wed 1 Jul 2026, 10:30"
    assert formats.when(None, LONDON) == formats.when("", LONDON) == ""
    assert formats.day(date(2026, 12, 9)) == formats.day("2026-12-09") == "Wed 9 Dec 2026"
    # A moment's day is the conference's: 23:30 UTC on 30 June is already 1 July in London.
    assert formats.day(datetime(2026, 6, 30, 23, 30, tzinfo=UTC), LONDON) == "Wed 1 Jul 2026"
    assert formats.day("not a day") == ""  # a page's query string, say: nothing, not an error
    end = datetime(2026, 12, 8, 10, 30, tzinfo=UTC)
    assert formats.span(winter, end, LONDON) == "Tue 8 Dec 2026, 09:30–10:30"
    assert formats.times(winter, end, LONDON) == "09:30–10:30"
    assert formats.clock(summer, LONDON) == "09:30"
    two_days = formats.span(winter, datetime(2026, 12, 9, 17, tzinfo=UTC), LONDON)
    assert two_days == "Tue 8 Dec 2026, 09:30 to Wed 9 Dec 2026, 17:00"


def test_the_template_filters_use_the_pages_conference_zone() -> None:
    class Conference:
        timezone = "America/New_York"

    page = templates.env.from_string(
        "{{ at|when }} | {{ at|day }} | {{ at|span(end) }} | {{ at|times(end) }} | {{ at|clock }}"
    )
    at, end = datetime(2026, 12, 8, 14, 0, tzinfo=UTC), datetime(2026, 12, 8, 15, 15, tzinfo=UTC)
    assert page.render(at=at, end=end, conference=Conference()) == (
        "Tue 8 Dec 2026, 09:00 | Tue 8 Dec 2026 | Tue 8 Dec 2026, 09:00–10:15 | 09:00–10:15 | 09:00"
    )
    # A page that passes its zone itself (the programme's `tz`, the console's `local`) is read in that zone.
    assert page.render(at=at, end=end, tz=LONDON).startswith("Tue 8 Dec 2026, 14:00 |")
    assert page.render(at=at, end=end, local=ZoneInfo("Asia/Tokyo")).startswith("Tue 8 Dec 2026, 23:00 |")


# --- words -------------------------------------------------------------------------------------------------------


class _Format(enum.StrEnum):
    talk = "talk"
    panel = "panel"


class _Form(BaseModel):
    name: str = Field(min_length=1)
    organisation: str = Field(min_length=1)
    format: _Format
    duration_minutes: int
    job_title: str = Field(min_length=1)


def _problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        _Form.model_validate(data)
    return errors.from_validation_error(caught.value).fields or {}


def test_a_missing_field_is_named_and_the_reason_given() -> None:
    empty = _problems({"name": "", "organisation": "", "format": "", "duration_minutes": None})
    assert empty == {
        "name": "Enter the name: it is shown on badges, in lists and in the programme.",
        "organisation": "Enter the organisation: it is shown with the name, on badges and in the programme.",
        "format": "Choose the format: each format has its own lengths and rooms.",
        "duration_minutes": "Choose the length: the programme needs to know how long a slot to give it.",
        "job_title": "Enter the job title: this form cannot be sent without it.",
    }
    assert not any("This field is required" in text for text in empty.values())
    # A value that is there but wrong still says what is allowed (for the API's callers).
    wrong = _problems({"name": "A", "organisation": "B", "format": "keynote", "duration_minutes": "ten"})
    assert wrong["format"] == "Choose one of: 'talk' or 'panel'."
    assert wrong["duration_minutes"] == "Give a whole number, for example 45."


async def test_the_call_form_names_what_is_missing_in_words(
    client: httpx.AsyncClient, database: Database, tickets: Any
) -> None:
    await set_call(database, open_=True)
    page = await client.get("/call", headers=HTML)
    refused = await client.post(
        "/call",
        headers=HTML,
        data={"csrf_token": csrf(page.text), "title": "", "format": "", "duration_minutes": ""},
    )
    assert refused.status_code == 422
    text = unescape(refused.text)
    assert "Format: Choose the format: each format has its own lengths and rooms." in text
    assert "Length: Choose the length:" in text
    for developer_words in ("Choose one of: 'talk'", "Give a whole number", "This field is required"):
        assert developer_words not in text


def _reasons(signer: BadgeSigner, good: str) -> set[str]:
    """The reason of every kind of bad code badges/codes.py tells apart."""
    reference, version, signature = good.split(".")
    bad = [
        "",
        "x" * 200,
        good.lower(),
        "NOT A BADGE",
        f"{reference}.{version}",
        f"{reference}.{version}.{signature[:50]}",
        f"{'A' * 20}.{version}.{signature}",
        f"{reference}.0.{signature}",
        f"{reference}.{version}.{signature[:-1]}1",
        f"{reference}.{version}.{signature[:-4]}AAAA",
    ]
    found = set()
    for code in bad:
        with pytest.raises(InvalidBadge) as caught:
            signer.verify(code)
        found.add(caught.value.reason)
    return found


async def test_the_door_is_told_why_a_code_is_refused_and_what_to_do(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: Any
) -> None:
    person = await register(client, tickets["delegate"])
    signer = BadgeSigner.from_settings(settings)
    good = signer.code_for(person["reference"], 1)
    reasons = _reasons(signer, good)
    assert {"truncated", "lowercase", "unreadable", "bad signature"} <= reasons
    assert reasons <= set(FOR_STAFF)  # every reason has words for the staff
    assert "Only part of the code was read" in for_staff("truncated")
    assert "small" in for_staff("lowercase") and "camera" in for_staff("lowercase")
    # The scanner page says the same offline: each reason and its words are in scanner.js too.
    script = SCANNER_JS.read_text(encoding="utf-8")
    for reason in FOR_STAFF:
        assert f'"{reason}":' in script, reason
    assert "(lowercase)" not in script and "Not a valid badge (" not in script

    staff = bearer(await organiser_token(database))
    answer = (await scan(client, staff, good[:-10])).json()
    assert answer["result"] == "invalid"
    assert answer["message"] == f"Not a valid badge: {for_staff('truncated')}"


# --- the delegate's pages ----------------------------------------------------------------------------------------


async def test_a_cancelled_booking_is_offered_no_talks_form_and_no_calendar(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: Any
) -> None:
    person = await register(
        client, tickets["delegate"], job_title="Community Safety Lead", region="North West"
    )
    token = person["manage_token"]
    booking = await client.get(f"/manage/{token}?new=1", headers=HTML)
    assert "<dt>Job title</dt><dd>Community Safety Lead</dd>" in booking.text
    assert "<dt>Region</dt><dd>North West</dd>" in booking.text
    talks = await client.get(f"/manage/{token}/talks", headers=HTML)
    agenda = await client.get(f"/manage/{token}/agenda", headers=HTML)
    assert 'id="talks-closed"' not in talks.text
    assert "agenda.ics" in agenda.text and 'id="no-calendar"' not in agenda.text

    async with database.transaction() as db:
        await decisions.cancel_registration(
            db,
            settings=settings,
            registration_id=uuid.UUID(person["id"]),
            actor=audit.Actor("organiser", "t"),
        )
    talks = await client.get(f"/manage/{token}/talks", headers=HTML)
    assert talks.status_code == 200 and 'id="stars"' not in talks.text
    assert "This booking is cancelled, so you can no longer choose talks" in talks.text
    agenda = await client.get(f"/manage/{token}/agenda", headers=HTML)
    assert agenda.status_code == 200 and "agenda.ics" not in agenda.text
    assert "This booking is cancelled, so there is no agenda to add to your calendar." in agenda.text
    booking = await client.get(f"/manage/{token}", headers=HTML)
    assert 'id="cancelled-note"' in booking.text and "/talks" not in booking.text


async def test_every_page_has_an_icon_and_favicon_ico_is_served(
    client: httpx.AsyncClient, tickets: Any
) -> None:
    icon = await client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
    page = await client.get("/", headers=HTML)
    assert re.search(r'<link rel="icon" href="[^"]*/static/favicon.svg" type="image/svg\+xml">', page.text)
    svg = await client.get("/static/favicon.svg")
    assert svg.status_code == 200 and svg.text.startswith("<svg")
