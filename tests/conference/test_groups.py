"""Group bookings through the JSON API: all or nothing under the capacity lock, per-member errors, the group's
invoice (a line and its VAT per member, gapless numbers, a credit note per cancelled line, the PDF naming every
member), the lead's link (add, cancel, substitute, CSV) and the organisers' view."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference.core.db import Database
from conference.core.group_models import GroupBooking, InvoiceLine
from conference.core.models import Conference, Invoice, Registration, Status, TicketType
from conference.places import get_conference
from tests.factories import make_conference, make_question
from tests.support import HTML, bearer, body_of, csrf, emails, flat, organiser_token, pdf_text

BILLING = {
    "organisation": "Leeds City Council",
    "contact": "Accounts Payable",
    "email": "ap@leeds.gov.uk",
    "address": "Civic Hall\nCalverley Street\nLeeds LS1 1UR",
    "purchase_order": "PO-4500123987",
    "buyer_reference": "YOT-TRAINING-26",
}


def member(n: int, **extra: Any) -> dict[str, Any]:
    return {"name": f"Colleague {n}", "email": f"colleague{n}-{uuid.uuid4().hex[:6]}@leeds.gov.uk", **extra}


def group_body(ticket_type_id: Any, count: int = 3, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ticket_type_id": str(ticket_type_id),
        "lead": {
            "name": "Lead Booker",
            "email": f"lead-{uuid.uuid4().hex[:6]}@leeds.gov.uk",
            "attends": False,
        },
        "organisation": "Leeds City Council",
        "sector": "local_authority",
        "members": [member(i) for i in range(1, count + 1)],
        "payment_method": "invoice",
        "billing": dict(BILLING),
    }
    body.update(overrides)
    return body


@pytest.fixture
async def priced(database: Database) -> uuid.UUID:
    """A £295.01 + 20% VAT ticket (VAT per line rounds: 59.002 -> 59.00, so a sum of lines differs from VAT on the
    total) in a conference of 5 places, invoice confirms the place."""
    await make_conference(database, capacity=5)
    async with database.transaction() as db:
        conference = await get_conference(db)
        assert conference.id is not None
        ticket = TicketType(
            conference_id=conference.id, name="Delegate (paid)", price_pence=29501, position=9
        )
        db.add(ticket)
    return ticket.id


async def members_of(database: Database, group_id: str) -> list[Registration]:
    async with database.read() as db:
        stmt = sa.select(Registration).where(col(Registration.group_id) == uuid.UUID(group_id))
        return list((await db.execute(stmt.order_by(col(Registration.number)))).scalars())


async def test_invoice_group_books_every_member_with_one_invoice(
    client: httpx.AsyncClient, database: Database, priced: uuid.UUID
) -> None:
    body = group_body(priced, 3)
    response = await client.post("/api/v1/groups", json=body)
    assert response.status_code == 201, response.text
    booked = response.json()
    assert booked["reference"].startswith("G-") and booked["manage_token"].startswith("g_")
    assert booked["status"] == "confirmed"
    assert [m["email"] for m in booked["members"]] == [m["email"] for m in body["members"]]
    assert all(m["manage_token"].startswith("m_") for m in booked["members"])
    assert booked["invoice_number"] == "INV-000001"
    # Each member is an ordinary registration: their own manage link works on their own record.
    first = booked["members"][0]
    own = await client.get(f"/api/v1/registrations/{first['id']}", headers=bearer(first["manage_token"]))
    assert own.status_code == 200 and own.json()["email"] == body["members"][0]["email"]

    async with database.read() as db:
        invoice = (await db.execute(sa.select(Invoice))).scalar_one()
        lines = list((await db.execute(sa.select(InvoiceLine).order_by(col(InvoiceLine.position)))).scalars())
    assert invoice.purchase_order == BILLING["purchase_order"]
    assert invoice.buyer_reference == BILLING["buyer_reference"]
    assert invoice.billing_address == BILLING["address"]
    assert [line.delegate_name for line in lines] == ["Colleague 1", "Colleague 2", "Colleague 3"]
    # VAT per line: 20% of £295.01 is £59.002, so £59.00 a line; on the total it would be £177.01.
    assert all(line.vat_pence == 5900 and line.gross_pence == 35401 for line in lines)
    assert (invoice.net_pence, invoice.vat_pence, invoice.gross_pence) == (88503, 17700, 106203)

    pdf = await client.get(f"/api/v1/groups/manage/{booked['manage_token']}/invoices/{invoice.id}.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text, _ = pdf_text(pdf.content)
    for name in ("Colleague 1", "Colleague 2", "Colleague 3"):
        assert name in text
    assert "PO-4500123987" in text and "YOT-TRAINING-26" in text and booked["reference"] in text
    assert "£1,062.03" in text and "£177.00" in text


async def test_a_group_that_does_not_fit_books_nobody(
    client: httpx.AsyncClient, database: Database, priced: uuid.UUID
) -> None:
    assert (await client.post("/api/v1/groups", json=group_body(priced, 3))).status_code == 201
    refused = await client.post("/api/v1/groups", json=group_body(priced, 3))
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "not_enough_places" and error["remaining"] == 2
    assert "only 2 places left" in error["message"] and "book 2" in error["message"]
    async with database.read() as db:
        count = (await db.execute(sa.select(sa.func.count()).select_from(Registration))).scalar_one()
        groups = (await db.execute(sa.select(sa.func.count()).select_from(GroupBooking))).scalar_one()
        conference = await get_conference(db)
    assert (count, groups) == (3, 1)
    assert conference.invoice_seq == 1  # no invoice number taken by the refusal

    waitlisted = await client.post("/api/v1/groups", json=group_body(priced, 3, if_full="waitlist"))
    assert waitlisted.status_code == 201, waitlisted.text
    answer = waitlisted.json()
    assert answer["status"] == "waitlisted" and answer["invoice_number"] is None
    assert {m["status"] for m in answer["members"]} == {"waitlisted"}


async def test_every_member_problem_is_named_and_nothing_is_booked(
    client: httpx.AsyncClient, database: Database, priced: uuid.UUID
) -> None:
    taken = member(9)
    assert (
        await client.post(
            "/api/v1/registrations",
            json={
                **taken,
                "organisation": "Leeds City Council",
                "sector": "local_authority",
                "ticket_type_id": str(priced),
                "consent": True,
                "payment_method": "invoice",
                "billing": {
                    "organisation": "Leeds City Council",
                    "contact_name": "AP",
                    "email": "ap@leeds.gov.uk",
                    "address": "Civic Hall, Leeds",
                    "purchase_order": "PO-1",
                },
            },
        )
    ).status_code == 201
    body = group_body(priced, 3)
    body["members"][2]["email"] = body["members"][0]["email"].upper()
    duplicate = await client.post("/api/v1/groups", json=body)
    assert duplicate.status_code == 422
    assert "members[2].email" in duplicate.json()["error"]["fields"]

    body = group_body(priced, 2)
    body["members"][1] = taken
    registered = await client.post("/api/v1/groups", json=body)
    assert registered.status_code == 409
    assert registered.json()["error"]["fields"] == {
        "members[1].email": "This email address is already registered."
    }

    body = group_body(priced, 2)
    body["members"][1]["email"] = "not-an-email"
    bad = await client.post("/api/v1/groups", json=body)
    assert bad.status_code == 422 and "members[1].email" in bad.json()["error"]["fields"]

    body = group_body(priced, 2)
    body["billing"]["purchase_order"] = ""
    no_po = await client.post("/api/v1/groups", json=body)
    assert no_po.status_code == 422 and "billing.purchase_order" in no_po.json()["error"]["fields"]
    async with database.read() as db:
        assert (await db.execute(sa.select(sa.func.count()).select_from(Registration))).scalar_one() == 1


async def test_po_may_be_empty_when_the_ticket_type_allows(
    client: httpx.AsyncClient, database: Database, priced: uuid.UUID
) -> None:
    async with database.transaction() as db:
        ticket = await db.get(TicketType, priced)
        assert ticket is not None
        ticket.po_optional = True
    body = group_body(priced, 2)
    body["billing"]["purchase_order"] = ""
    response = await client.post("/api/v1/groups", json=body)
    assert response.status_code == 201, response.text


async def test_max_members_setting(client: httpx.AsyncClient, priced: uuid.UUID, settings: Any) -> None:
    body = group_body(priced, settings.group_max_members + 1)
    response = await client.post("/api/v1/groups", json=body)
    assert response.status_code == 422
    assert "at most 30" in response.json()["error"]["fields"]["members"]


async def test_cancelling_a_member_credits_their_line_only(
    client: httpx.AsyncClient, database: Database, priced: uuid.UUID
) -> None:
    booked = (await client.post("/api/v1/groups", json=group_body(priced, 3))).json()
    lead = f"/api/v1/groups/manage/{booked['manage_token']}"
    second = booked["members"][1]
    cancelled = await client.delete(f"{lead}/members/{second['id']}")
    assert cancelled.status_code == 200, cancelled.text
    view = cancelled.json()
    assert [m["status"] for m in view["members"]] == ["confirmed", "cancelled", "confirmed"]
    invoice, note = view["invoices"]
    assert (invoice["number"], invoice["status"]) == ("INV-000001", "issued")
    assert (note["number"], note["kind"], note["credits_invoice"]) == (
        "CN-000001",
        "credit_note",
        "INV-000001",
    )
    assert (note["net_pence"], note["vat_pence"], note["gross_pence"]) == (29501, 5900, 35401)
    pdf = await client.get(f"{lead}/invoices/{note['id']}.pdf")
    text, _ = pdf_text(pdf.content)
    assert "Colleague 2" in text and "Colleague 1" not in text and "INV-000001" in text

    # A second cancellation credits the next line with the next gapless number; the place went back.
    third = booked["members"][2]
    assert (await client.delete(f"{lead}/members/{third['id']}")).status_code == 200
    async with database.read() as db:
        numbers = sorted((await db.execute(sa.select(col(Invoice.number)))).scalars())
        conference = (await db.execute(sa.select(Conference))).scalar_one()
    assert numbers == ["CN-000001", "CN-000002", "INV-000001"]
    assert conference.credit_note_seq == 2
    again = await client.delete(f"{lead}/members/{third['id']}")
    assert again.status_code == 409


async def test_lead_adds_and_substitutes_members_and_downloads_csv(
    client: httpx.AsyncClient, database: Database, priced: uuid.UUID
) -> None:
    booked = (await client.post("/api/v1/groups", json=group_body(priced, 2))).json()
    lead = f"/api/v1/groups/manage/{booked['manage_token']}"
    added = await client.post(f"{lead}/members", json=member(7))
    assert added.status_code == 201, added.text
    assert added.json()["added"]["status"] == "confirmed"
    assert len(added.json()["invoices"]) == 2  # the new member's line on an invoice of its own

    old = booked["members"][0]
    elsewhere = await client.post(
        f"{lead}/members/{old['id']}/substitute", json={"name": "Someone", "email": "someone@example.org"}
    )
    assert elsewhere.status_code == 422 and "@leeds.gov.uk" in elsewhere.json()["error"]["fields"]["email"]
    swap = member(8)
    substituted = await client.post(f"{lead}/members/{old['id']}/substitute", json=swap)
    assert substituted.status_code == 200, substituted.text
    new_token = substituted.json()["substituted"]["manage_token"]
    assert (
        await client.get(f"/api/v1/registrations/{old['id']}", headers=bearer(old["manage_token"]))
    ).status_code == 401
    mine = await client.get(f"/api/v1/registrations/{old['id']}", headers=bearer(new_token))
    assert mine.status_code == 200 and mine.json()["email"] == swap["email"]

    csv = await client.get(f"{lead}/members.csv")
    assert csv.status_code == 200 and swap["email"] in csv.text and "Colleague 7" in csv.text
    assert (await client.get("/api/v1/groups/manage/g_nothing")).status_code == 404


async def test_organisers_list_and_read_groups(
    client: httpx.AsyncClient, database: Database, priced: uuid.UUID
) -> None:
    booked = (await client.post("/api/v1/groups", json=group_body(priced, 2))).json()
    headers = bearer(await organiser_token(database))
    listed = await client.get("/api/v1/groups", params={"q": booked["reference"]}, headers=headers)
    assert listed.status_code == 200 and listed.json()["count"] == 1
    one = await client.get(f"/api/v1/groups/{booked['id']}", headers=headers)
    assert one.status_code == 200 and one.json()["places_held"] == 2
    assert (await client.get("/api/v1/groups")).status_code == 401


async def test_idempotent_retry_replays_the_group(
    client: httpx.AsyncClient, database: Database, priced: uuid.UUID
) -> None:
    body = group_body(priced, 2)
    first = await client.post("/api/v1/groups", json=body, headers={"Idempotency-Key": "g-1"})
    again = await client.post("/api/v1/groups", json=body, headers={"Idempotency-Key": "g-1"})
    assert first.status_code == again.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["manage_token"] == first.json()["manage_token"]
    async with database.read() as db:
        assert (await db.execute(sa.select(sa.func.count()).select_from(GroupBooking))).scalar_one() == 1


async def test_attending_lead_is_a_member(client: httpx.AsyncClient, priced: uuid.UUID) -> None:
    body = group_body(priced, 1)
    body["lead"]["attends"] = True
    booked = await client.post("/api/v1/groups", json=body)
    assert booked.status_code == 201, booked.text
    assert [m["email"] for m in booked.json()["members"]] == [
        body["lead"]["email"],
        body["members"][0]["email"],
    ]
    status = {m["status"] for m in booked.json()["members"]}
    assert status == {Status.confirmed.value}


async def test_the_invoice_and_credit_note_emails_name_the_group(
    client: httpx.AsyncClient, database: Database, settings: Any, priced: uuid.UUID
) -> None:
    booked = (await client.post("/api/v1/groups", json=group_body(priced, 2))).json()
    second = booked["members"][1]
    lead = f"/api/v1/groups/manage/{booked['manage_token']}"
    assert (await client.delete(f"{lead}/members/{second['id']}")).status_code == 200
    (invoice,) = await emails(database, settings, kind="invoice")
    assert invoice["To"] == BILLING["email"] and booked["reference"] in invoice["Subject"]
    text = flat(body_of(invoice))
    assert "Colleague 1" in text and "Colleague 2" in text and "2 places" in text
    (attached,) = list(invoice.iter_attachments())
    pdf = attached.get_content()
    assert "Colleague 2" in pdf_text(pdf)[0]
    (to_lead,) = await emails(database, settings, kind="group_booked")
    text = flat(body_of(to_lead))
    assert booked["reference"] in to_lead["Subject"] and f"/group/manage/{booked['manage_token']}" in text
    assert "Colleague 1" in text and "Cancelled" in text
    (note,) = await emails(database, settings, kind="credit_note")
    text = flat(body_of(note))
    assert "CN-000001" in note["Subject"] and "Colleague 2's place only" in text


async def test_a_waitlisted_member_promoted_later_is_invoiced_to_the_group(
    client: httpx.AsyncClient, database: Database, priced: uuid.UUID
) -> None:
    first = (await client.post("/api/v1/groups", json=group_body(priced, 5))).json()
    waiting = (await client.post("/api/v1/groups", json=group_body(priced, 2, if_full="waitlist"))).json()
    assert waiting["status"] == "waitlisted"
    lead = f"/api/v1/groups/manage/{first['manage_token']}"
    assert (await client.delete(f"{lead}/members/{first['members'][0]['id']}")).status_code == 200
    view = (await client.get(f"/api/v1/groups/manage/{waiting['manage_token']}")).json()
    # One place is not enough: a waitlisted group comes off the list whole (tests/conference/test_group_waitlist.py).
    assert [m["status"] for m in view["members"]] == ["waitlisted", "waitlisted"]
    assert (await client.delete(f"{lead}/members/{first['members'][1]['id']}")).status_code == 200
    view = (await client.get(f"/api/v1/groups/manage/{waiting['manage_token']}")).json()
    assert [m["status"] for m in view["members"]] == ["confirmed", "confirmed"]
    (invoice,) = view["invoices"]
    assert (invoice["number"], invoice["purchase_order"], invoice["gross_pence"]) == (
        "INV-000002",
        "PO-4500123987",
        2 * 35401,
    )


async def test_marking_a_group_invoice_paid_confirms_every_member(
    client: httpx.AsyncClient, database: Database, priced: uuid.UUID
) -> None:
    async with database.transaction() as db:
        ticket = await db.get(TicketType, priced)
        assert ticket is not None
        ticket.invoice_confirms = False
    booked = (await client.post("/api/v1/groups", json=group_body(priced, 3))).json()
    assert booked["status"] == "pending_payment"
    async with database.read() as db:
        invoice = (await db.execute(sa.select(Invoice))).scalar_one()
    paid = await client.post(
        f"/api/v1/invoices/{invoice.id}/paid", headers=bearer(await organiser_token(database))
    )
    assert paid.status_code == 200, paid.text
    assert {r.status for r in await members_of(database, booked["id"])} == {Status.confirmed}
    # The first member's own link does not fetch the group's invoice (it names their colleagues).
    first = booked["members"][0]
    mine = await client.get(f"/api/v1/invoices/{invoice.id}.pdf", headers=bearer(first["manage_token"]))
    assert mine.status_code == 403


async def test_a_code_is_redeemed_once_for_every_member(
    client: httpx.AsyncClient, database: Database, priced: uuid.UUID
) -> None:
    headers = bearer(await organiser_token(database))
    made = await client.post(
        "/api/v1/codes",
        json={"text": "LEEDS-HALF", "label": "Leeds", "discount": "percent", "value": 50, "max_uses": 2},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    too_many = await client.post("/api/v1/groups", json=group_body(priced, 3, code="leeds-half"))
    assert too_many.status_code == 422 and "2 uses left" in too_many.json()["error"]["fields"]["code"]
    booked = await client.post("/api/v1/groups", json=group_body(priced, 2, code="leeds-half"))
    assert booked.status_code == 201, booked.text
    async with database.read() as db:
        lines = list((await db.execute(sa.select(InvoiceLine))).scalars())
    assert [line.net_pence for line in lines] == [14750, 14750]  # £295.01 half off, rounded half-up
    assert (
        await client.post("/api/v1/groups", json=group_body(priced, 1, code="LEEDS-HALF"))
    ).status_code == 422


async def test_a_missing_required_answer_names_the_member_and_books_nobody(
    client: httpx.AsyncClient, database: Database, priced: uuid.UUID
) -> None:
    question = await make_question(database, "Which local authority area?", required=True)
    body = group_body(priced, 3)
    for i in (0, 2):
        body["members"][i]["answers"] = {str(question): "Leeds"}
    refused = await client.post("/api/v1/groups", json=body)
    assert refused.status_code == 422, refused.text
    fields = refused.json()["error"]["fields"]
    assert fields == {f"members[1].answers.{question}": "Answer this question."}
    async with database.read() as db:
        assert (await db.execute(sa.select(sa.func.count()).select_from(Registration))).scalar_one() == 0
    body["members"][1]["answers"] = {str(question): "Bradford"}
    booked = await client.post("/api/v1/groups", json=body)
    assert booked.status_code == 201, booked.text
    members = await members_of(database, booked.json()["id"])
    assert [m.answers[str(question)]["value"] for m in members if m.answers] == ["Leeds", "Bradford", "Leeds"]


async def test_the_console_sets_whether_the_purchase_order_may_be_empty(
    organiser: httpx.AsyncClient, database: Database
) -> None:
    page = await organiser.get("/console/ticket-types/new", headers=HTML)
    assert 'name="po_optional"' in page.text
    form = {
        "csrf_token": csrf(page.text),
        "name": "Charities",
        "price": "100",
        "vat_rate_percent": "20",
        "approval": "none",
        "invoice_allowed": "yes",
        "invoice_confirms": "yes",
        "po_optional": "yes",
        "public": "yes",
    }
    made = await organiser.post("/console/ticket-types", data=form, headers=HTML)
    assert made.status_code == 303, made.text
    async with database.read() as db:
        ticket = (
            await db.execute(sa.select(TicketType).where(col(TicketType.name) == "Charities"))
        ).scalar_one()
    assert ticket.po_optional is True
    edit = f"/console/ticket-types/{ticket.id}"
    assert (
        'id="po_optional" name="po_optional" value="yes" checked'
        in (await organiser.get(edit, headers=HTML)).text
    )
