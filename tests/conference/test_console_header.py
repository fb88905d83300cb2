"""Every console page names the event (its Conference row's name) in the header, the sessions' and badges' pages
included, whether or not the page itself loads the conference (conference/console/login.py, base.html)."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import sqlalchemy as sa
from starlette.applications import Starlette

from conference.core.db import Database
from conference.core.models import Conference
from conference.server.app import create_app
from tests.support import HTML, app_routes, make_settings, sign_in, staff_token

EVENT = "Safer Communities & Youth Justice Summit 2026"
BRAND = re.compile(r'<a class="brand" href="[^"]*">([^<]*)</a>')


async def _rename(database: Database, name: str) -> None:
    async with database.transaction() as db:
        await db.execute(sa.update(Conference).values(name=name))


def _brand(page: str) -> str:
    match = BRAND.search(page)
    assert match, "the page has no header"
    return html.unescape(match.group(1))


def _console_pages(app: Starlette) -> list[str]:
    """Every console page a GET with no ids reaches (the sessions' pages are mounted in the same app)."""
    return sorted(
        {
            path
            for method, path in app_routes(app.routes)
            if method == "GET" and path.startswith("/console") and "{" not in path
        }
    )


async def test_every_console_page_names_the_event_in_its_header(
    organiser: httpx.AsyncClient, database: Database, database_url: str, tickets: dict[str, Any]
) -> None:
    await _rename(database, EVENT)
    paths = _console_pages(create_app(make_settings(database_url)))
    checked = []
    for path in paths:
        answer = await organiser.get(path, headers=HTML, follow_redirects=True)
        if not answer.headers.get("content-type", "").startswith("text/html"):
            continue  # the exports: files, not pages
        assert answer.status_code == 200, path
        assert _brand(answer.text) == EVENT, path
        checked.append(path)
    # The pages that load no conference of their own are the ones this is about.
    for path in (
        "/console/users",
        "/console/account",
        "/console/outbox",
        "/console/programme",
        "/console/proposals",
    ):
        assert path in checked
    assert len(checked) >= 15, checked

    # Renamed, the next page says so.
    await _rename(database, "Renamed Event")
    assert _brand((await organiser.get("/console/users")).text) == "Renamed Event"


async def test_a_staff_members_pages_name_the_event_too(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    await _rename(database, EVENT)
    await sign_in(client, await staff_token(database))
    for path in ("/console/account", "/scan"):
        answer = await client.get(path)
        assert answer.status_code == 200, path
        assert _brand(answer.text) == EVENT, path
