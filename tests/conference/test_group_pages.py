"""The group booking pages (conference/pages/groups.py) over HTTP, without a browser: the form adds a person
without JavaScript, an upload is previewed with each row's problems and books nothing, a good one books every
person on one invoice, a group that does not fit is refused whole with the waiting list or K places offered, and
the lead's page adds, substitutes and cancels members (a credit note) and downloads the invoice and a CSV."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference.core.db import Database
from conference.core.group_models import GroupBooking
from conference.core.models import Invoice, Registration, Status
from tests.conference.group_support import BILLING, uncapped_exhibitors
from tests.support import HTML, count_rows, csrf, organiser_token, pdf_text, sign_in

HEADER = "Name,Email,Job title\n"
LEAD = {
    "lead_name": "Lena Lead",
    "lead_email": "lena.lead@leeds.gov.uk",
    "organisation": "Leeds City Council",
    "sector": "local_authority",
    "payment_method": "invoice",
    **{f"billing_{name}": value for name, value in BILLING.items()},
    "consent": "yes",
}


@pytest.fixture
async def priced(database: Database) -> dict[str, Any]:
    """A conference of 6 places with a priced ticket type open to invoices and without a cap of its own."""
    return await uncapped_exhibitors(database, capacity=6)


def _people(count: int, start: int = 1) -> str:
    return "".join(f"Person {n},person{n}@leeds.gov.uk,Officer\n" for n in range(start, start + count))


def _fields(html: str) -> dict[str, str]:
    """The member fields the page carries (m1_name ...), as typed or filled from the file."""
    found = dict(re.findall(r'name="(m\d+_\w+)" type="(?:text|email)" value="([^"]*)"', html))
    found["members"] = re.search(r'name="members" value="(\d+)"', html).group(1)  # type: ignore[union-attr]
    return found


async def _form(client: httpx.AsyncClient) -> str:
    page = await client.get("/group")
    assert page.status_code == 200, page.text
    return csrf(page.text)


async def _upload(
    client: httpx.AsyncClient, token: str, ticket: Any, data: bytes, name: str = "group.csv"
) -> httpx.Response:
    return await client.post(
        "/group",
        data={**LEAD, "csrf_token": token, "ticket_type_id": str(ticket), "members": "2", "action": "upload"},
        files={"upload": (name, data, "text/csv")},
    )


async def _book(
    client: httpx.AsyncClient, token: str, ticket: Any, fields: dict[str, str], action: str = "book"
) -> httpx.Response:
    return await client.post(
        "/group",
        data={**LEAD, **fields, "csrf_token": token, "ticket_type_id": str(ticket), "action": action},
        files={"upload": ("", b"", "application/octet-stream")},
    )


async def test_add_a_person_works_without_javascript_and_the_form_is_csrf_protected(
    client: httpx.AsyncClient, priced: dict[str, Any]
) -> None:
    token = await _form(client)
    page = await client.get("/group")
    assert page.text.count('name="m1_name"') == 1 and 'name="m3_name"' not in page.text
    more = await client.post(
        "/group",
        data={
            "csrf_token": token,
            "members": "2",
            "m1_name": "Ann",
            "m1_email": "ann@leeds.gov.uk",
            "action": "add",
        },
    )
    assert more.status_code == 200
    assert 'name="m3_name"' in more.text and 'value="Ann"' in more.text  # what was typed is kept
    fewer = await client.post(
        "/group", data={"csrf_token": token, **_fields(more.text), "action": "remove-1"}
    )
    assert (
        'name="m2_name"' in fewer.text
        and 'name="m3_name"' not in fewer.text
        and 'value="Ann"' not in fewer.text
    )
    forged = await client.post("/group", data={"csrf_token": "nope", "members": "2", "action": "add"})
    assert forged.status_code == 403


async def test_an_upload_is_previewed_with_each_rows_problems_and_books_nothing(
    client: httpx.AsyncClient, database: Database, priced: dict[str, Any]
) -> None:
    token = await _form(client)
    bad = (
        HEADER
        + "Ann,ann@leeds.gov.uk,\nAnn Two,ANN@leeds.gov.uk,\n,nobody@leeds.gov.uk,\nEve,=cmd|' /C calc'!A0,\n"
    ).encode()
    preview = await _upload(client, token, priced["exhibitor"], bad)
    assert preview.status_code == 200, preview.text
    assert "Preview of group.csv" in preview.text and "4 people read from the file" in preview.text
    assert "is also in row 2" in preview.text and "The name is missing." in preview.text
    assert "runs as a formula" in preview.text
    assert await count_rows(database, Registration) == 0
    # Booking what the preview shows is refused the same way, naming the people to correct.
    refused = await _book(client, token, priced["exhibitor"], _fields(preview.text))
    assert refused.status_code == 422
    assert "people need correcting" in refused.text and "Person 2:" in refused.text
    assert await count_rows(database, Registration) == 0

    latin = (HEADER + "Zoë,zoe@leeds.gov.uk,\n").encode("cp1252")
    wrong = await _upload(client, token, priced["exhibitor"], latin)
    assert wrong.status_code == 422 and "CSV UTF-8" in wrong.text
    huge = (HEADER + _people(10_000)).encode()
    too_many = await _upload(client, token, priced["exhibitor"], huge)
    assert too_many.status_code == 422 and "10,000 rows" in too_many.text and "at most 30" in too_many.text


async def test_a_good_upload_books_everyone_on_one_invoice_and_the_lead_manages_the_group(
    client: httpx.AsyncClient, database: Database, priced: dict[str, Any]
) -> None:
    token = await _form(client)
    preview = await _upload(client, token, priced["exhibitor"], (HEADER + _people(4)).encode())
    assert "No problems found" in preview.text
    booked = await _book(client, token, priced["exhibitor"], _fields(preview.text))
    assert booked.status_code == 303, booked.text
    manage = booked.headers["location"]
    assert re.search(r"/group/manage/g_[\w-]+\?new=1$", manage)
    async with database.read() as db:
        group = (await db.execute(sa.select(GroupBooking))).scalar_one()
        members = (
            (await db.execute(sa.select(Registration).where(col(Registration.group_id) == group.id)))
            .scalars()
            .all()
        )
        invoices = (
            (await db.execute(sa.select(Invoice).where(col(Invoice.group_id) == group.id))).scalars().all()
        )
    assert sorted(m.email for m in members) == [f"person{n}@leeds.gov.uk" for n in range(1, 5)]
    assert [i.purchase_order for i in invoices] == ["PO-777"] and invoices[0].buyer_reference == "BR-12"

    page = await client.get(manage)
    assert page.status_code == 200 and "Group booking received" in page.text
    for n in range(1, 5):
        assert f"person{n}@leeds.gov.uk" in page.text
    path = manage.split("?")[0]
    pdf = await client.get(f"{path}/invoices/{invoices[0].id}.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text, _ = pdf_text(pdf.content)
    assert "PO-777" in text and "Person 1" in text and "Person 4" in text
    sheet = await client.get(f"{path}/members.csv")
    assert sheet.status_code == 200 and "person3@leeds.gov.uk" in sheet.text

    # Add a colleague (places remain), substitute one, cancel another (a credit note for that line).
    page_token = csrf(page.text)
    added = await client.post(
        f"{path}/members", data={"csrf_token": page_token, "name": "Fay New", "email": "fay@leeds.gov.uk"}
    )
    assert added.status_code == 303 and added.headers["location"].endswith("done=added")
    taken = await client.post(
        f"{path}/members", data={"csrf_token": page_token, "name": "Fay Again", "email": "FAY@leeds.gov.uk"}
    )
    assert taken.status_code == 409 and "already registered" in taken.text
    first, second = sorted(members, key=lambda m: m.number)[:2]
    swap = await client.get(f"{path}/members/{first.id}/substitute")
    assert swap.status_code == 200
    swapped = await client.post(
        f"{path}/members/{first.id}/substitute",
        data={"csrf_token": csrf(swap.text), "name": "Sam Stand-in", "email": "sam@leeds.gov.uk"},
    )
    assert swapped.status_code == 303, swapped.text
    confirm = await client.get(f"{path}/members/{second.id}/cancel")
    assert "credit note" in confirm.text
    cancelled = await client.post(
        f"{path}/members/{second.id}/cancel", data={"csrf_token": csrf(confirm.text)}
    )
    assert cancelled.status_code == 303
    after = await client.get(path)
    assert "Sam Stand-in" in after.text and "Credit note" in after.text and "Fay New" in after.text
    async with database.read() as db:
        gone = await db.get(Registration, second.id)
        credits = (
            (
                await db.execute(
                    sa.select(Invoice).where(
                        col(Invoice.group_id) == group.id, col(Invoice.kind) == "credit_note"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert gone is not None and gone.status == Status.cancelled
    assert len(credits) == 1
    # Another group's member, or a made-up link, is no business of this link.
    assert (await client.get(f"{path}/members/{uuid.uuid4()}/cancel")).status_code == 404
    assert (await client.get("/group/manage/g_nothing")).status_code == 404


async def test_a_group_that_does_not_fit_is_refused_whole_with_the_waiting_list_or_k_places_offered(
    client: httpx.AsyncClient, database: Database, priced: dict[str, Any]
) -> None:
    token = await _form(client)
    preview = await _upload(client, token, priced["exhibitor"], (HEADER + _people(8)).encode())
    fields = _fields(preview.text)
    full = await _book(client, token, priced["exhibitor"], fields)
    assert full.status_code == 409, full.text
    assert "Only 6 places left" in full.text and "nobody has been booked" in full.text
    assert 'value="waitlist"' in full.text and 'value="book-first-6"' in full.text
    assert await count_rows(database, Registration) == 0
    some = await _book(client, token, priced["exhibitor"], fields, action="book-first-6")
    assert some.status_code == 303, some.text
    async with database.read() as db:
        booked = (
            (await db.execute(sa.select(Registration).order_by(col(Registration.number)))).scalars().all()
        )
    assert [r.email for r in booked] == [f"person{n}@leeds.gov.uk" for n in range(1, 7)]
    # The rest, as a group of their own, can only wait: all of them.
    rest = await _upload(client, token, priced["exhibitor"], (HEADER + _people(2, start=7)).encode())
    waiting = await _book(client, token, priced["exhibitor"], _fields(rest.text), action="waitlist")
    assert waiting.status_code == 303, waiting.text
    async with database.read() as db:
        statuses = (
            (
                await db.execute(
                    sa.select(col(Registration.status)).where(
                        col(Registration.email).like("person7%") | col(Registration.email).like("person8%")
                    )
                )
            )
            .scalars()
            .all()
        )
    assert statuses == [Status.waitlisted, Status.waitlisted]


async def test_the_console_lists_groups_with_filters_exports_them_and_shows_one(
    client: httpx.AsyncClient, database: Database, priced: dict[str, Any]
) -> None:
    token = await _form(client)
    preview = await _upload(client, token, priced["exhibitor"], (HEADER + _people(3)).encode())
    assert (await _book(client, token, priced["exhibitor"], _fields(preview.text))).status_code == 303
    free = await client.post(
        "/group",
        data={
            **{k: v for k, v in LEAD.items() if not k.startswith("billing") and k != "payment_method"},
            "organisation": "Kent Police",
            "csrf_token": token,
            "ticket_type_id": str(priced["delegate"]),
            "members": "1",
            "m1_name": "Kim Constable",
            "m1_email": "kim@kent.police.uk",
            "action": "book",
        },
    )
    assert free.status_code == 303, free.text
    assert (await client.get("/console/groups", headers=HTML)).status_code in (302, 303)  # sign in first
    await sign_in(client, await organiser_token(database))
    page = await client.get("/console/groups")
    assert page.status_code == 200 and "Leeds City Council" in page.text and "Kent Police" in page.text
    leeds = await client.get("/console/groups", params={"organisation": "leeds", "payment": "invoice"})
    assert "Leeds City Council" in leeds.text and "Kent Police" not in leeds.text
    assert "3 of 3" in leeds.text
    none = await client.get("/console/groups", params={"status": "cancelled"})
    assert "No group bookings match" in none.text
    sheet = await client.get("/console/groups.csv", params={"payment": "invoice"})
    assert sheet.status_code == 200 and "attachment" in sheet.headers["content-disposition"]
    lines = sheet.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 2 and "PO-777" in lines[1] and "Kent Police" not in sheet.text
    async with database.read() as db:
        group = (
            await db.execute(
                sa.select(GroupBooking).where(col(GroupBooking.organisation) == "Leeds City Council")
            )
        ).scalar_one()
    detail = await client.get(f"/console/groups/{group.id}")
    assert detail.status_code == 200 and "person2@leeds.gov.uk" in detail.text and "PO-777" in detail.text
    assert (await client.get(f"/console/groups/{uuid.uuid4()}")).status_code == 404
