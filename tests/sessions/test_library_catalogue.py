"""The published library (sessions/library/catalogue.py and its pages): every accepted or confirmed talk with its
abstract, speakers, organisations, sector, themes and scheduled session, the approved resources the viewer may
see and a count of the rest; search and filters as GET parameters; a clear empty state; rate-limited."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from conference.core.db import Database
from conference.places import get_conference
from sessions.library import catalogue
from sessions.library.visibility import ANONYMOUS, Viewer
from sessions.models import Visibility
from tests.factories import make_conference
from tests.sessions.library_world import Library
from tests.support import make_settings, running_app

HTML = {"accept": "text/html"}
POLICE = Viewer(holds_place=True, public_sector=True)
FAITH = Viewer(holds_place=True, public_sector=False)


async def _entries(database: Database, viewer: Viewer = ANONYMOUS, **query: str) -> list[catalogue.Entry]:
    async with database.read() as db:
        conference = await get_conference(db)
        return await catalogue.library_entries(db, conference, viewer=viewer, **query)


async def test_every_accepted_or_confirmed_talk_with_what_the_viewer_may_see(
    database: Database, library: Library
) -> None:
    entries = {e.title: e for e in await _entries(database)}
    assert sorted(entries) == [
        "Knife crime in the classroom",
        "Mentoring after exclusion",
        "Street pastors at closing time",
    ]
    slides = entries["Knife crime in the classroom"]
    assert slides.abstract == "A police-led programme of lessons that cut school exclusions."
    assert [(s.name, s.organisation) for s in slides.speakers] == [("Priya Shah", "West Midlands Police")]
    assert slides.organisations == ["West Midlands Police"]
    assert slides.sector_label == "Police" and slides.themes == ["information sharing"]
    assert slides.slot is not None and slides.slot.room == "Room A"
    assert slides.slot.title == "Safer schools workshop"
    # Approved only: the pending and rejected handouts are nowhere; anonymous sees the public file and link.
    assert [r.title for r in slides.resources] == ["Slides for public", "Toolkit website"]
    assert slides.hidden == {Visibility.delegates: 1, Visibility.public_sector: 1}
    # Speakers who have not confirmed are not named yet (as on the published programme).
    accepted = entries["Mentoring after exclusion"]
    assert accepted.speakers == [] and not accepted.confirmed and accepted.slot is None
    assert accepted.sector_label == "School" and accepted.resources == []

    faith = {e.title: e for e in await _entries(database, FAITH)}["Knife crime in the classroom"]
    assert [r.title for r in faith.resources] == [
        "Slides for public",
        "Slides for delegates",
        "Toolkit website",
    ]
    assert faith.hidden == {Visibility.public_sector: 1}
    police = {e.title: e for e in await _entries(database, POLICE)}["Knife crime in the classroom"]
    assert len(police.resources) == 4 and police.hidden == {}


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        ({"q": "knife"}, ["Knife crime in the classroom"]),
        ({"q": "EXCLUSIONS lessons"}, ["Knife crime in the classroom"]),  # every word, any case, the abstract
        ({"q": "priya"}, ["Knife crime in the classroom"]),  # a speaker
        ({"q": "street pastors leeds"}, ["Street pastors at closing time"]),  # title and organisation
        ({"q": "West Midlands"}, ["Knife crime in the classroom"]),  # an organisation
        ({"q": "Hidden Speakerson"}, []),  # a name not shown is not searchable either
        ({"q": "Unconfirmed Academy"}, []),
        ({"q": "declined"}, []),  # not in the library at all
        ({"theme": "Partnership Working"}, ["Mentoring after exclusion", "Street pastors at closing time"]),
        ({"sector": "community_faith"}, ["Street pastors at closing time"]),
        ({"sector": "police", "theme": "partnership working"}, []),
        ({"sector": "health"}, []),  # only the talks not in the library are from health
        ({"sector": "nonsense"}, []),
        ({"q": "school", "sector": "school"}, ["Mentoring after exclusion"]),
    ],
)
async def test_search_and_filters(
    database: Database, library: Library, query: dict[str, str], titles: list[str]
) -> None:
    assert [e.title for e in await _entries(database, ANONYMOUS, **query)] == titles


async def test_only_talks_with_items_the_viewer_can_open(
    client: httpx.AsyncClient, database: Database, library: Library
) -> None:
    async with database.read() as db:
        conference = await get_conference(db)
        shared = await catalogue.library_entries(db, conference, viewer=ANONYMOUS, shared_only=True)
    # "Mentoring after exclusion" has nothing shared; the other two have public items.
    assert [e.title for e in shared] == ["Knife crime in the classroom", "Street pastors at closing time"]
    page = await client.get("/library", params={"shared": "yes"}, headers=HTML)
    assert page.status_code == 200
    assert _titles(page.text) == ["Knife crime in the classroom", "Street pastors at closing time"]
    assert "2 of 3 talks match with items you can open" in page.text
    assert 'id="shared" name="shared" value="yes" checked' in page.text
    unchecked = await client.get("/library", headers=HTML)
    assert len(_titles(unchecked.text)) == 3 and 'value="yes" checked' not in unchecked.text


async def test_the_filters_offer_the_themes_and_the_sectors_in_use(
    database: Database, library: Library
) -> None:
    async with database.read() as db:
        options = await catalogue.filter_options(db, await get_conference(db))
    assert "information sharing" in options.themes and "partnership working" in options.themes
    # In the registration form's order; health is only on talks not in the library.
    assert [v for v, _label in options.sectors] == ["police", "school", "community_faith"]
    assert options.sectors[0] == ("police", "Police")


def _titles(page: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r'<h2 class="prog-title">([^<]+)</h2>', page)]


async def test_the_public_page_searches_with_get_parameters_and_links_safely(
    client: httpx.AsyncClient, library: Library
) -> None:
    page = await client.get("/library", headers=HTML)
    assert page.status_code == 200 and "<script" not in page.text
    assert _titles(page.text) == [
        "Knife crime in the classroom",
        "Mentoring after exclusion",
        "Street pastors at closing time",
    ]
    text = page.text
    assert '<form method="get" action="/library"' in text and 'id="library-count"' in text
    assert "3 talks, 3 items you can open." in text
    assert f'href="/library/files/{library.resources["public"]}"' in text
    assert (
        str(library.resources["delegates"]) not in text
        and str(library.resources["public_sector"]) not in text
    )
    assert "Pending handout" not in text and "Rejected handout" not in text
    assert "1 more item for delegates; 1 more item for public-sector delegates." in text
    assert 'href="https://example.org/toolkit" rel="noopener noreferrer"' in text
    assert "Speakers to be confirmed" in text and "Hidden Speakerson" not in text
    assert "Tue 8 Dec 2026, 10:00–11:00, Room A" in text
    assert "Delegates see more" in text
    for link in re.findall(r"<a [^>]*href=\"(?:/library/files|https://)[^>]*>", text):
        assert 'rel="noopener noreferrer"' in link, link

    found = await client.get("/library", params={"q": "pastors", "sector": "community_faith"}, headers=HTML)
    assert _titles(found.text) == ["Street pastors at closing time"]
    assert 'value="pastors"' in found.text  # the search box keeps the words: the address is shareable
    assert '<option value="community_faith" selected>' in found.text
    assert "1 of 3 talks match “pastors” from community or faith organisation." in html.unescape(found.text)
    assert 'id="clear-search"' in found.text

    nothing = await client.get("/library?q=zebra+crossing", headers=HTML)
    assert nothing.status_code == 200 and 'id="library-empty"' in nothing.text
    assert "No talks match" in nothing.text and _titles(nothing.text) == []
    long = await client.get("/library", params={"q": "x" * 5000, "theme": "y" * 5000}, headers=HTML)
    assert long.status_code == 200 and "No talks match" in long.text


async def test_a_delegate_sees_more_from_their_manage_link(
    client: httpx.AsyncClient, library: Library
) -> None:
    faith = await client.get(f"/manage/{library.people['faith']['manage_token']}/library", headers=HTML)
    assert faith.status_code == 200
    assert str(library.resources["delegates"]) in faith.text
    assert str(library.resources["public_sector"]) not in faith.text
    assert "As a delegate you see the public items and those for delegates" in faith.text
    assert "1 more item for public-sector delegates." in faith.text
    token = library.people["police"]["manage_token"]
    police = await client.get(f"/manage/{token}/library?q=knife", headers=HTML)
    assert f'action="/manage/{token}/library"' in police.text
    for item in ("public", "delegates", "public_sector"):
        assert f'href="/manage/{token}/library/files/{library.resources[item]}"' in police.text
    assert "As a public-sector delegate you see every item" in police.text
    cancelled = await client.get(
        f"/manage/{library.people['cancelled']['manage_token']}/library", headers=HTML
    )
    assert cancelled.status_code == 200
    assert "This booking is cancelled, so you see the public items only." in cancelled.text
    assert str(library.resources["delegates"]) not in cancelled.text
    manage = await client.get(f"/manage/{token}", headers=HTML)
    assert f'href="/manage/{token}/library"' in manage.text


async def test_an_empty_library_says_so_and_the_site_links_to_it(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    page = await client.get("/library", headers=HTML)
    assert page.status_code == 200
    assert "The library is empty for now" in page.text and "0 talks." in page.text
    assert '<a href="/library">Library</a>' in (await client.get("/programme", headers=HTML)).text


async def test_the_library_is_rate_limited_per_client(database_url: str, tmp_path: Path) -> None:
    env = {"CONFERENCE_RATE_LIMIT": "2/minute", "CONFERENCE_LIBRARY_DIR": str(tmp_path / "library")}
    async with running_app(database_url, **env) as client:
        db = Database.from_settings(make_settings(database_url, **env))
        try:
            await make_conference(db)
        finally:
            await db.dispose()
        answers = [(await client.get("/library", headers=HTML)).status_code for _ in range(13)]
        assert answers[:12] == [200] * 12 and answers[12] == 429
        assert (await client.get("/library/files/x")).status_code == 429
        assert (
            await client.get("/manage/m_guess/library")
        ).status_code == 429  # before the link is looked up


async def test_the_library_stays_online_after_the_event(
    client: httpx.AsyncClient, database: Database, library: Library
) -> None:
    async with database.transaction() as db:
        conference = await get_conference(db, for_update=True)
        conference.starts_at = datetime(2025, 3, 4, 9, tzinfo=UTC)
        conference.ends_at = datetime(2025, 3, 5, 17, tzinfo=UTC)
        conference.registration_open = False
    page = await client.get("/library", headers=HTML)
    assert page.status_code == 200 and "3 talks, 3 items you can open." in page.text
    token = library.people["police"]["manage_token"]
    files = await client.get(f"/manage/{token}/library/files/{library.resources['public_sector']}")
    assert files.status_code == 200 and files.content.startswith(b"%PDF")
