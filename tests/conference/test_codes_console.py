"""Codes in the console (conference/console/codes.py): make one, make a bulk and download its CSV, list and filter
them, see who used one, revoke it; the form shows every problem by its field, as typed."""

from __future__ import annotations

import csv
import html
import io
import re
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import col

from conference.core.code_models import Code
from conference.core.db import Database
from conference.core.models import AuditEntry
from tests.factories import registration_body
from tests.support import csrf


async def _post(client: httpx.AsyncClient, path: str, form_path: str, **fields: Any) -> httpx.Response:
    page = await client.get(form_path)
    assert page.status_code == 200, page.text
    return await client.post(path, data={"csrf_token": csrf(page.text), **fields})


async def _make_code(client: httpx.AsyncClient, **fields: Any) -> httpx.Response:
    return await _post(client, "/console/codes", "/console/codes/new", **fields)


async def _codes(database: Database) -> list[Code]:
    async with database.read() as db:
        return list((await db.execute(sa.select(Code).order_by(col(Code.text)))).scalars())


async def test_an_organiser_makes_a_code_sees_who_used_it_and_revokes_it(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    made = await _make_code(
        organiser,
        text="speakers-2026",
        label="Speakers",
        discount="complimentary",
        max_uses="2",
        ticket_type_ids=str(tickets["exhibitor"]),
    )
    assert made.status_code == 303, made.text
    (code,) = await _codes(database)
    assert code.text == "SPEAKERS-2026" and code.ticket_type_ids == [str(tickets["exhibitor"])]
    assert made.headers["location"] == f"/console/codes/{code.id}?done=created"
    booked = await organiser.post(
        "/api/v1/registrations",
        json=registration_body(tickets["exhibitor"], code="Speakers-2026", name="Ada Lovelace"),
    )
    assert booked.status_code == 201, booked.text
    page = await organiser.get(f"/console/codes/{code.id}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Ada Lovelace" in text and booked.json()["reference"] in text and "Leeds City Council" in text
    assert "1 of 2" in text
    # The registration's own page names the code it was booked with, and the price it set.
    registration_page = html.unescape(
        (await organiser.get(f"/console/registrations/{booked.json()['id']}")).text
    )
    assert "SPEAKERS-2026" in registration_page and "£0.00 before VAT" in registration_page
    revoked = await _post(organiser, f"/console/codes/{code.id}/revoke", f"/console/codes/{code.id}")
    assert revoked.status_code == 303
    page = await organiser.get(revoked.headers["location"])
    assert "The code is revoked" in page.text and "Revoked" in page.text
    again = await _post(organiser, f"/console/codes/{code.id}/revoke", f"/console/codes/{code.id}")
    assert again.status_code == 409 and "already revoked" in again.text


async def test_the_form_shows_every_problem_by_its_field_as_typed(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    refused = await _make_code(
        organiser,
        text="no",
        label="Sponsors",
        discount="percent",
        value="150",
        max_uses="0",
        valid_until="tomorrow",
    )
    assert refused.status_code == 422
    text = html.unescape(refused.text)
    assert "from 1 to 100" in text and "1 or more" in text and "Give a date and time" in text
    assert 'value="Sponsors"' in text
    assert await _codes(database) == []
    # The code's own text is checked once the rest is right.
    refused = await _make_code(organiser, text="no", max_uses="1")
    assert refused.status_code == 422 and "4 to 40 letters" in refused.text


async def test_codes_made_in_bulk_download_as_csv_and_the_list_filters_them(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    made = await _post(
        organiser,
        "/console/codes/bulk",
        "/console/codes/bulk",
        count="12",
        prefix="police",
        label="Police forces",
        discount="fixed",
        value="50",
        max_uses="1",
    )
    assert made.status_code == 303, made.text
    batch = await organiser.get(made.headers["location"])
    assert batch.status_code == 200 and "12 codes made in bulk" in batch.text
    link = re.search(r'href="([^"]+\?format=csv)"', batch.text)
    assert link is not None
    download = await organiser.get(html.unescape(link.group(1)))
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Code", "For", "Discount"] and len(rows) == 13
    stored = await _codes(database)
    assert sorted(r[0] for r in rows[1:]) == [c.text for c in stored]
    assert {r[2] for r in rows[1:]} == {"£50.00 off"}
    # One more code, by hand: the filters tell them apart.
    await _make_code(organiser, label="Speakers", discount="complimentary", max_uses="3")
    page = await organiser.get("/console/codes", params={"discount": "complimentary"})
    assert page.status_code == 200 and "1 code, newest first" in page.text and "Speakers" in page.text
    page = await organiser.get("/console/codes", params={"q": "police"})
    assert "12 codes, newest first" in page.text
    export = await organiser.get("/console/codes", params={"q": "police", "format": "csv"})
    assert len(list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))) == 13
    async with database.read() as db:
        actions = list((await db.execute(sa.select(col(AuditEntry.action)))).scalars())
    assert actions.count("conference.code.exported") == 2
    assert actions.count("conference.code.bulk_created") == 1


async def test_codes_pages_are_for_organisers(client: httpx.AsyncClient, tickets: dict[str, Any]) -> None:
    response = await client.get("/console/codes", headers={"accept": "text/html"})
    assert response.status_code in (401, 303), response.status_code
    assert "Speakers" not in response.text
