"""Marking an invoice paid records the day the money arrived, the amount and the bank's reference (issue 23): in
the API (an optional body; no body keeps the old defaults), on the console's form (the day and total filled in)
and on the registration's invoice record."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import col

from conference.core.db import Database
from conference.core.formats import conference_zone, day
from conference.core.models import AuditEntry, Invoice, utcnow
from conference.places import get_conference
from tests.factories import invoice_body
from tests.support import HTML, csrf, organiser_token, post_registration


async def _invoice(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> tuple[str, Invoice]:
    r = await post_registration(client, invoice_body(tickets["exhibitor"]))  # £450 + VAT: £540.00
    async with database.read() as db:
        invoice = (
            await db.execute(sa.select(Invoice).where(col(Invoice.registration_id) == uuid.UUID(r["id"])))
        ).scalar_one()
    return r["id"], invoice


async def _stored(database: Database, invoice_id: uuid.UUID) -> Invoice:
    async with database.read() as db:
        invoice = await db.get(Invoice, invoice_id)
    assert invoice is not None
    return invoice


async def _today(database: Database) -> date:
    async with database.read() as db:
        return utcnow().astimezone(conference_zone(await get_conference(db))).date()


async def test_the_api_records_the_day_amount_and_reference(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    bearer = {"authorization": f"Bearer {await organiser_token(database)}"}
    _, invoice = await _invoice(client, database, tickets)
    arrived = await _today(database) - timedelta(days=2)
    answer = await client.post(
        f"/api/v1/invoices/{invoice.id}/paid",
        headers=bearer,
        json={"paid_on": arrived.isoformat(), "amount_pence": 54000, "reference": " BACS 778812 "},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "paid" and body["registration"]["status"] == "confirmed"
    assert (body["paid_on"], body["paid_amount_pence"], body["payment_reference"]) == (
        arrived.isoformat(),
        54000,
        "BACS 778812",
    )
    stored = await _stored(database, invoice.id)
    assert (stored.paid_on, stored.paid_amount_pence, stored.payment_reference) == (
        arrived,
        54000,
        "BACS 778812",
    )
    assert stored.paid_at is not None  # when it was recorded, as before
    async with database.read() as db:
        entry = (
            await db.execute(sa.select(AuditEntry).where(col(AuditEntry.action) == "conference.invoice.paid"))
        ).scalar_one()
    assert entry.data["paid_on"] == arrived.isoformat() and entry.data["amount_pence"] == 54000
    assert entry.data["reference"] == "BACS 778812"
    listed = await client.get(f"/api/v1/registrations/{stored.registration_id}/invoices", headers=bearer)
    assert listed.json()["data"][0]["payment_reference"] == "BACS 778812"


async def test_no_body_records_today_and_the_invoice_total(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    bearer = {"authorization": f"Bearer {await organiser_token(database)}"}
    _, invoice = await _invoice(client, database, tickets)
    answer = await client.post(f"/api/v1/invoices/{invoice.id}/paid", headers=bearer)
    assert answer.status_code == 200, answer.text
    today = await _today(database)
    assert (
        answer.json()["paid_on"],
        answer.json()["paid_amount_pence"],
        answer.json()["payment_reference"],
    ) == (
        today.isoformat(),
        invoice.gross_pence,
        None,
    )


async def test_the_api_refuses_a_future_day_a_bad_amount_and_unknown_fields(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    bearer = {"authorization": f"Bearer {await organiser_token(database)}"}
    _, invoice = await _invoice(client, database, tickets)
    url = f"/api/v1/invoices/{invoice.id}/paid"
    tomorrow = (await _today(database) + timedelta(days=1)).isoformat()
    future = await client.post(url, headers=bearer, json={"paid_on": tomorrow})
    assert future.status_code == 422, future.text
    assert "paid_on" in future.text
    for body in ({"amount_pence": 0}, {"amount_pence": -5}, {"reference": "x" * 101}, {"paid": True}):
        refused = await client.post(url, headers=bearer, json=body)
        assert refused.status_code == 422, (body, refused.text)
    assert (await _stored(database, invoice.id)).status == "issued"  # nothing was recorded


async def test_the_console_asks_for_the_record_and_shows_it(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser
    registration_id, invoice = await _invoice(client, database, tickets)
    detail = await client.get(f"/console/registrations/{registration_id}", headers=HTML)
    form_url = f"/console/registrations/{registration_id}/invoices/{invoice.id}/paid"
    assert f'{form_url}">Mark invoice {invoice.number} paid…</a>' in detail.text  # a link to the form

    form = await client.get(form_url, headers=HTML)
    assert form.status_code == 200, form.text
    today = await _today(database)
    assert re.search(rf'id="paid_on" name="paid_on" type="date" value="{today.isoformat()}"', form.text)
    assert re.search(r'id="amount" name="amount" type="text" value="540.00"', form.text)

    # A typing slip: the form again, what was typed kept, the problem said.
    slip = await client.post(
        form_url,
        data={
            "csrf_token": csrf(form.text),
            "paid_on": today.isoformat(),
            "amount": "five hundred",
            "reference": "R1",
        },
        headers=HTML,
    )
    assert slip.status_code == 422, slip.text
    assert "Enter the amount received in pounds, like 540.00." in slip.text
    assert 'value="five hundred"' in slip.text and 'value="R1"' in slip.text
    assert (await _stored(database, invoice.id)).status == "issued"
    later = (today + timedelta(days=3)).isoformat()
    future = await client.post(
        form_url, data={"csrf_token": csrf(form.text), "paid_on": later, "amount": "540"}, headers=HTML
    )
    assert future.status_code == 422 and "Enter the day the money arrived: today" in future.text

    arrived = today - timedelta(days=1)
    done = await client.post(
        form_url,
        data={
            "csrf_token": csrf(form.text),
            "paid_on": arrived.isoformat(),
            "amount": "£1,000.5",
            "reference": "FASTER PAY 4411",
        },
        headers=HTML,
    )
    assert done.status_code == 303, done.text
    stored = await _stored(database, invoice.id)
    assert (stored.status, stored.paid_on, stored.paid_amount_pence, stored.payment_reference) == (
        "paid",
        arrived,
        100050,
        "FASTER PAY 4411",
    )
    page = await client.get(done.headers["location"], headers=HTML)
    record = page.text[page.text.index('id="invoices"') :]
    record = record[: record.index("</table>")]
    assert f"paid on {day(arrived)}: £1,000.50 (of £540.00), reference FASTER PAY 4411" in record
    # Paid already: the form is not offered again.
    again = await client.get(form_url, headers=HTML)
    assert again.status_code == 409 and "already marked paid" in again.text
