"""A proposal's optional sector (the speakers' organisation's): given through the API or the call form and its
edit form, shown back, cleared with null, refused when it is not one of the sectors (the library filters by it)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import Sector
from sessions.models import Proposal
from tests.factories import proposal_body, set_call
from tests.support import bearer, count_rows, csrf, submit

HTML = {"accept": "text/html"}


@pytest.fixture
async def open_call(database: Database, tickets: dict[str, Any]) -> None:
    await set_call(database, open_=True)


async def _sector(database: Database, proposal_id: str) -> Sector | None:
    async with database.read() as db:
        p = await db.get(Proposal, uuid.UUID(proposal_id))
    assert p is not None
    return p.sector


async def test_the_api_takes_shows_changes_and_clears_the_sector(
    client: httpx.AsyncClient, database: Database, open_call: None
) -> None:
    given = await submit(client, sector="youth_offending_team")
    without = await submit(client)
    assert await _sector(database, given["id"]) == Sector.youth_offending_team
    assert await _sector(database, without["id"]) is None

    url = f"/api/v1/proposals/{given['id']}"
    shown = await client.get(url, headers=bearer(given["edit_token"]))
    assert shown.status_code == 200 and shown.json()["sector"] == "youth_offending_team"
    untouched = await client.patch(url, json={"title": "A new title"}, headers=bearer(given["edit_token"]))
    assert untouched.status_code == 200 and untouched.json()["sector"] == "youth_offending_team"
    changed = await client.patch(url, json={"sector": "probation"}, headers=bearer(given["edit_token"]))
    assert changed.status_code == 200 and changed.json()["sector"] == "probation"
    cleared = await client.patch(url, json={"sector": None}, headers=bearer(given["edit_token"]))
    assert cleared.status_code == 200 and cleared.json()["sector"] is None
    assert await _sector(database, given["id"]) is None
    # Other fields still refuse null.
    null_title = await client.patch(url, json={"title": None}, headers=bearer(given["edit_token"]))
    assert null_title.status_code == 422 and "title" in null_title.json()["error"]["fields"]


async def test_a_sector_that_is_not_one_is_refused_naming_the_field(
    client: httpx.AsyncClient, database: Database, open_call: None
) -> None:
    for bad in ("charity", "", 3):
        response = await client.post("/api/v1/proposals", json=proposal_body(sector=bad))
        assert response.status_code == 422, bad
        assert "sector" in response.json()["error"]["fields"], response.text
    assert await count_rows(database, Proposal) == 0
    mine = await submit(client)
    patched = await client.patch(
        f"/api/v1/proposals/{mine['id']}", json={"sector": "charity"}, headers=bearer(mine["edit_token"])
    )
    assert patched.status_code == 422 and "sector" in patched.json()["error"]["fields"]


def _form(token: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "csrf_token": token,
        "title": "Street triage in the patrol car",
        "abstract": "Nurses and officers together.",
        "format": "talk",
        "duration_minutes": "30",
        "themes": ["partnership working"],
        "audience_level": "introductory",
        "speaker_0_name": "Priya Shah",
        "speaker_0_email": "priya.shah@nhs.net",
        "speaker_0_organisation": "Leeds NHS Trust",
        "access_needs": "",
        "sector": "health",
    }
    values.update(overrides)
    return values


async def test_the_call_form_and_the_edit_form_offer_the_sector(
    client: httpx.AsyncClient, database: Database, open_call: None
) -> None:
    page = await client.get("/call", headers=HTML)
    assert page.status_code == 200
    assert 'for="sector">Your organisation\'s sector (optional)' in page.text
    assert '<option value="">Not given</option>' in page.text
    assert '<option value="community_faith">' in page.text
    token = csrf(page.text)

    refused = await client.post("/call", headers=HTML, data=_form(token, sector="charity", title=""))
    assert refused.status_code == 422
    assert 'href="#sector"' in refused.text and 'href="#title"' in refused.text
    assert "Your organisation&#39;s sector" in refused.text or "Your organisation's sector" in refused.text

    kept = await client.post("/call", headers=HTML, data=_form(token, title=""))
    assert kept.status_code == 422
    assert '<option value="health" selected>' in kept.text  # a refused form keeps the choice

    done = await client.post("/call", headers=HTML, data=_form(token))
    assert done.status_code == 303
    private = done.headers["location"].split("?")[0].removeprefix("http://testserver")
    async with database.read() as db:
        p = (await db.execute(sa.select(Proposal))).scalar_one()
    assert p.sector == Sector.health

    edit = await client.get(private + "/edit", headers=HTML)
    assert '<option value="health" selected>' in edit.text
    cleared = await client.post(private + "/edit", headers=HTML, data=_form(csrf(edit.text), sector=""))
    assert cleared.status_code == 303
    assert await _sector(database, str(p.id)) is None
    again = await client.get(private + "/edit", headers=HTML)
    assert not re.search(r'<option value="[a-z_]+" selected>[^<]*</option>', _sector_select(again.text))


def _sector_select(page: str) -> str:
    start = page.index('<select class="select" id="sector"')
    return page[start : page.index("</select>", start)]
