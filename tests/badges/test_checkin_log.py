"""The organisers' check-in log (/console/checkins): every scan with who scanned it and its answer, filtered."""

from __future__ import annotations

import re
from typing import Any

import httpx
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import AuditEntry
from conference.core.settings import Settings
from conference.web.auth import create_api_token
from tests.support import code_for, scan, sign_in


def scan_rows(html: str) -> list[str]:
    body = html.split('<table class="table" id="checkins">', 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1], re.S)


async def test_organisers_see_every_scan_and_filter_them(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    people: dict[str, dict[str, Any]],
    staff: dict[str, str],
) -> None:
    async with database.transaction() as db:
        other = {"authorization": f"Bearer {await create_api_token(db, role='staff', name='Door B')}"}
    assert (await scan(client, staff, code_for(settings, people["ada"]))).json()["result"] == "ok"
    assert (await scan(client, other, code_for(settings, people["ada"]), device="door-b")).json()[
        "result"
    ] == "already_checked_in"
    assert (await scan(client, staff, code_for(settings, people["cancelled"]))).json()[
        "result"
    ] == "cancelled"

    async with database.transaction() as db:
        organiser = await create_api_token(db, role="organiser", name="Organiser")
    await sign_in(client, organiser)
    page = await client.get("/console/checkins", headers={"accept": "text/html"})
    assert page.status_code == 200
    rows = scan_rows(page.text)
    assert len(rows) == 3
    assert sum("Admitted" in r for r in rows) == 1 and sum("Already checked in" in r for r in rows) == 1
    # The delegate by name, with the reference (issue 19: a reference alone meant nothing at the door).
    assert people["ada"]["reference"] in page.text and people["ada"]["name"] in page.text

    by_b = scan_rows((await client.get("/console/checkins?actor=door+b")).text)
    assert len(by_b) == 1 and "door-b" in by_b[0]
    refused = scan_rows((await client.get("/console/checkins?result=cancelled")).text)
    assert len(refused) == 1 and people["cancelled"]["reference"] in refused[0]
    assert scan_rows((await client.get("/console/checkins?from=2001-01-01&to=2001-01-02")).text)[0].count(
        "No scans"
    )

    bad = await client.get("/console/checkins?result=nonsense&from=yesterday")
    assert bad.status_code == 422 and 'href="#result"' in bad.text and 'href="#from"' in bad.text
    async with database.read() as db:
        viewed = (
            (await db.execute(sa.select(AuditEntry).where(AuditEntry.action == "badges.checkins.viewed")))
            .scalars()
            .all()
        )
    assert len(viewed) >= 4 and viewed[0].data["shown"] == 3


async def test_staff_cannot_read_the_log(client: httpx.AsyncClient, database: Database) -> None:
    async with database.transaction() as db:
        token = await create_api_token(db, role="staff", name="Door")
    await sign_in(client, token)
    assert (await client.get("/console/checkins", headers={"accept": "text/html"})).status_code == 403
