"""The organisers' registrations console: the list with its filters and pages, one registration's money, and the
actions (mark paid, credit, approve/reject, cancel) with CSRF, roles and the services' refusals on the page."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa
from sqlmodel import col

from conference.core.db import Database
from conference.core.formats import conference_zone, money, when
from conference.core.models import (
    AuditEntry,
    Invoice,
    Payment,
    PaymentMethod,
    Refund,
    Registration,
    Status,
    TicketType,
)
from conference.places import get_conference
from tests.factories import invoice_body, registration_body
from tests.support import HTML, csrf, post_registration, sign_in, staff_token


async def invoiced(client: httpx.AsyncClient, tickets: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """An exhibitor (£450 + VAT) paid by invoice: confirmed at once, with INV-... issued."""
    return await post_registration(client, invoice_body(tickets["exhibitor"], **overrides))


async def one(database: Database, model: Any, *where: Any) -> Any:
    async with database.read() as db:
        return (await db.execute(sa.select(model).where(*where))).scalars().all()


async def detail(client: httpx.AsyncClient, registration_id: str) -> httpx.Response:
    page = await client.get(f"/console/registrations/{registration_id}", headers=HTML)
    assert page.status_code == 200, page.text
    return page


def table(html: str, table_id: str) -> str:
    match = re.search(rf'<table class="table[^"]*" id="{table_id}">(.*?)</table>', html, re.DOTALL)
    assert match, table_id
    return match.group(1)


# --- formatting -------------------------------------------------------------------------------------------


def test_money_and_uk_times() -> None:
    assert money(123450) == "£1,234.50"
    assert money(54000) == "£540.00"
    assert money(5) == "£0.05"
    assert money(0) == "£0.00"
    assert money(-1999) == "-£19.99"
    london = conference_zone(None)  # no conference: the default zone
    assert when(datetime(2026, 7, 1, 12, 0, tzinfo=UTC), london) == "Wed 1 Jul 2026, 13:00"
    assert when("2026-12-08T09:00:00+00:00", london) == "Tue 8 Dec 2026, 09:00"
    assert when("2026-12-08T09:00:00+00:00", ZoneInfo("Europe/Dublin")) == "Tue 8 Dec 2026, 09:00"
    assert when("2026-07-01T12:00:00+00:00", ZoneInfo("Europe/Berlin")) == "Wed 1 Jul 2026, 14:00"


# --- who may see it ----------------------------------------------------------------------------------------


async def test_anonymous_is_sent_to_sign_in(client: httpx.AsyncClient, tickets: dict[str, Any]) -> None:
    listing = await client.get("/console/registrations?status=confirmed", headers=HTML)
    assert listing.status_code == 303
    assert listing.headers["location"].endswith("/login?next=%2Fconsole%2Fregistrations%3Fstatus%3Dconfirmed")
    some = uuid.uuid4()
    page = await client.get(f"/console/registrations/{some}", headers=HTML)
    assert page.status_code == 303 and page.headers["location"].endswith(
        f"/login?next=%2Fconsole%2Fregistrations%2F{some}"
    )
    pdf = await client.get(f"/console/invoices/{some}.pdf", headers=HTML)
    assert pdf.status_code == 303 and "/login?next=%2Fconsole%2Finvoices%2F" in pdf.headers["location"]
    # A form posted after the session ended comes back to the registration's page, not the POST path.
    post = await client.post(f"/console/registrations/{some}/cancel", data={}, headers=HTML)
    assert post.status_code == 303
    assert post.headers["location"].endswith(f"/login?next=%2Fconsole%2Fregistrations%2F{some}")


async def test_staff_are_forbidden(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    r = await invoiced(client, tickets)
    await sign_in(client, await staff_token(database))
    (invoice,) = await one(database, Invoice, Invoice.registration_id == uuid.UUID(r["id"]))
    for path in (
        "/console/registrations",
        f"/console/registrations/{r['id']}",
        f"/console/invoices/{invoice.id}.pdf",
        f"/console/registrations/{r['id']}/cancel",
        f"/console/registrations/{r['id']}/invoices/{invoice.id}/credit",
    ):
        assert (await client.get(path, headers=HTML)).status_code == 403, path
    home = await client.get("/", headers=HTML)
    paid = await client.post(
        f"/console/registrations/{r['id']}/invoices/{invoice.id}/paid",
        data={"csrf_token": csrf(home.text)},
        headers=HTML,
    )
    assert paid.status_code == 403
    (invoice,) = await one(database, Invoice, Invoice.registration_id == uuid.UUID(r["id"]))
    assert invoice.status == "issued"


# --- the list ----------------------------------------------------------------------------------------------


async def test_list_filters_and_audit(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser
    async with database.transaction() as db:
        conference = await get_conference(db)
        assert conference.id is not None
        held = TicketType(
            conference_id=conference.id,
            name="Held for invoice",
            price_pence=100000,
            invoice_confirms=False,
            position=9,
        )
        db.add(held)
    inv = await invoiced(client, tickets, name="Ada Invoice", organisation="Bradford Council")
    free = await post_registration(
        client, registration_body(tickets["delegate"], name="Bo Free", organisation="Kent Police")
    )
    pending = await post_registration(
        client, invoice_body(held.id, name="Cy Pending", organisation="York 50%_Trust")
    )

    listing = await client.get("/console/registrations", headers=HTML)
    assert listing.status_code == 200
    rows = table(listing.text, "registrations")
    assert "<caption>Registrations 1 to 3 of 3, newest first</caption>" in rows
    assert rows.index(pending["reference"]) < rows.index(free["reference"]) < rows.index(inv["reference"])
    assert "£540.00" in rows and "£1,200.00" in rows and "Exhibitor" in rows and "Bradford Council" in rows
    assert 'scope="col"' in rows and 'scope="row"' in rows

    async def shown(query: str) -> set[str]:
        page = await client.get(f"/console/registrations?{query}", headers=HTML)
        assert page.status_code == 200
        body = table(page.text, "registrations")
        return {r["reference"] for r in (inv, free, pending) if r["reference"] in body}

    assert await shown("status=pending_payment") == {pending["reference"]}
    assert await shown("status=confirmed") == {inv["reference"], free["reference"]}
    assert await shown("payment=outstanding") == {inv["reference"], pending["reference"]}
    assert await shown("payment=free") == {free["reference"]}
    assert await shown("payment=paid") == set()
    assert await shown("status=confirmed&payment=outstanding") == {inv["reference"]}
    assert await shown("q=bradford") == {inv["reference"]}
    assert await shown(f"q={inv['reference'].lower()}") == {inv["reference"]}
    assert await shown("q=Bo%20Fr") == {free["reference"]}
    assert await shown("q=kent") == {free["reference"]}
    assert await shown("q=50%25_") == {pending["reference"]}  # LIKE wildcards are searched for literally
    assert await shown("q=%25") == {pending["reference"]}
    assert await shown("status=nonsense") == {inv["reference"], free["reference"], pending["reference"]}

    async with database.read() as db:
        entries = (
            (
                await db.execute(
                    sa.select(AuditEntry)
                    .where(col(AuditEntry.action) == "conference.registrations.viewed")
                    .order_by(col(AuditEntry.id))
                )
            )
            .scalars()
            .all()
        )
    assert len(entries) == 14
    searched = [e for e in entries if e.data.get("searched")]
    assert searched and all(
        "bradford" not in str(e.data).lower() and "kent" not in str(e.data).lower() for e in entries
    )
    assert entries[1].data["status"] == "pending_payment" and entries[1].actor == "organiser:Test organiser"


async def test_list_is_paginated_newest_first(organiser: httpx.AsyncClient, tickets: dict[str, Any]) -> None:
    client = organiser
    made = [await post_registration(client, registration_body(tickets["delegate"])) for _ in range(52)]
    first = await client.get("/console/registrations", headers=HTML)
    rows = table(first.text, "registrations")
    assert rows.count('<th scope="row">') == 50
    assert made[-1]["reference"] in rows and made[0]["reference"] not in rows
    assert "Page 1 of 2" in first.text and 'href="/console/registrations?page=2"' in first.text
    second = await client.get("/console/registrations?page=2", headers=HTML)
    rows = table(second.text, "registrations")
    assert (
        rows.count('<th scope="row">') == 2 and made[0]["reference"] in rows and made[1]["reference"] in rows
    )
    assert "Registrations 51 to 52 of 52" in rows and 'href="/console/registrations"' in second.text
    filtered = await client.get("/console/registrations?status=waitlisted", headers=HTML)
    assert "of 47, newest first" in filtered.text  # capacity 5: the rest wait
    assert 'href="/console/registrations?status=waitlisted&amp;page=2"' not in filtered.text
    beyond = await client.get("/console/registrations?page=99999999999999999999999", headers=HTML)
    assert beyond.status_code == 200 and "Page 2 of 2" in beyond.text
    assert (await client.get("/console/registrations?page=two", headers=HTML)).text.count(
        '<th scope="row">'
    ) == 50


# --- one registration and its invoice ----------------------------------------------------------------------


async def test_detail_shows_the_invoice_and_its_pdf(
    organiser: httpx.AsyncClient, tickets: dict[str, Any]
) -> None:
    client = organiser
    r = await invoiced(client, tickets)
    page = await detail(client, r["id"])
    invoices = table(page.text, "invoices")
    assert "<caption>" in invoices and "INV-000001" in invoices and "PO-12345" in invoices
    assert "£540.00" in invoices and "Mark invoice INV-000001 paid" in invoices
    assert r["reference"] in page.text and "Confirmed" in page.text and "£540.00" in page.text
    assert "No card payments." in table(page.text, "payments") and "No refunds." in table(
        page.text, "refunds"
    )
    link = re.search(r'href="(?:http://testserver)?(/console/invoices/[0-9a-f-]+\.pdf)"', invoices)
    assert link
    pdf = await client.get(link.group(1), headers=HTML)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and "INV-000001.pdf" in pdf.headers["content-disposition"]
    missing = await client.get(f"/console/registrations/{uuid.uuid4()}", headers=HTML)
    assert missing.status_code == 404


async def test_mark_paid_then_again_shows_409(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser
    r = await invoiced(client, tickets)
    (invoice,) = await one(database, Invoice, Invoice.registration_id == uuid.UUID(r["id"]))
    page = await detail(client, r["id"])
    path = f"/console/registrations/{r['id']}/invoices/{invoice.id}/paid"
    done = await client.post(path, data={"csrf_token": csrf(page.text)}, headers=HTML)
    assert done.status_code == 303 and done.headers["location"].endswith(
        f"/console/registrations/{r['id']}?done=paid"
    )
    (invoice,) = await one(database, Invoice, Invoice.registration_id == uuid.UUID(r["id"]))
    assert invoice.status == "paid" and invoice.paid_at is not None
    after = await client.get(done.headers["location"], headers=HTML)
    assert re.search(r'role="status"[^>]*><p>The invoice is marked paid\.</p>', after.text)
    assert "Mark invoice INV-000001 paid" not in after.text
    again = await client.post(path, data={"csrf_token": csrf(page.text)}, headers=HTML)
    assert again.status_code == 409
    assert 'role="alert"' in again.text and "This invoice is already marked paid." in again.text
    assert "INV-000001" in table(again.text, "invoices")  # the page itself, not a bare error


async def test_post_without_csrf_is_refused(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser
    r = await invoiced(client, tickets)
    (invoice,) = await one(database, Invoice, Invoice.registration_id == uuid.UUID(r["id"]))
    for path in (
        f"/console/registrations/{r['id']}/invoices/{invoice.id}/paid",
        f"/console/registrations/{r['id']}/invoices/{invoice.id}/credit",
        f"/console/registrations/{r['id']}/cancel",
    ):
        refused = await client.post(path, data={}, headers=HTML)
        assert refused.status_code == 403, path
        forged = await client.post(path, data={"csrf_token": "forged"}, headers=HTML)
        assert forged.status_code == 403, path
    (invoice,) = await one(database, Invoice, Invoice.registration_id == uuid.UUID(r["id"]))
    (registration,) = await one(database, Registration, Registration.id == uuid.UUID(r["id"]))
    assert invoice.status == "issued" and registration.status == Status.confirmed


async def test_credit_cancels_the_registration(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser
    r = await invoiced(client, tickets)
    (invoice,) = await one(database, Invoice, Invoice.registration_id == uuid.UUID(r["id"]))
    confirm = await client.get(f"/console/registrations/{r['id']}/invoices/{invoice.id}/credit", headers=HTML)
    assert (
        confirm.status_code == 200
        and "Credit invoice INV-000001" in confirm.text
        and "£540.00" in confirm.text
    )
    path = f"/console/registrations/{r['id']}/invoices/{invoice.id}/credit"
    too_long = await client.post(
        path,
        data={"csrf_token": csrf(confirm.text), "reason": "x" * 501, "cancel_registration": "yes"},
        headers=HTML,
    )
    assert too_long.status_code == 422 and "Use at most 500 characters." in too_long.text
    done = await client.post(
        path,
        data={"csrf_token": csrf(confirm.text), "reason": "PO withdrawn", "cancel_registration": "yes"},
        headers=HTML,
    )
    assert done.status_code == 303 and done.headers["location"].endswith("?done=credited_cancelled")
    rows = await one(database, Invoice, Invoice.registration_id == uuid.UUID(r["id"]))
    assert {(i.kind, i.number, i.status) for i in rows} == {
        ("invoice", "INV-000001", "credited"),
        ("credit_note", "CN-000001", "issued"),
    }
    (registration,) = await one(database, Registration, Registration.id == uuid.UUID(r["id"]))
    assert registration.status == Status.cancelled and registration.cancel_reason == "credited"
    page = await client.get(done.headers["location"], headers=HTML)
    invoices = table(page.text, "invoices")
    assert "CN-000001" in invoices and "Credit note for INV-000001" in invoices
    assert 'role="status"' in page.text and "Cancelled" in page.text
    again = await client.post(path, data={"csrf_token": csrf(confirm.text)}, headers=HTML)
    assert again.status_code == 409 and "already been credited" in again.text
    stale = await client.get(path, headers=HTML)
    assert stale.status_code == 409 and "already been credited" in stale.text and "<form" in stale.text
    note = next(i for i in rows if i.kind == "credit_note")
    of_note = await client.get(f"/console/registrations/{r['id']}/invoices/{note.id}/credit", headers=HTML)
    assert of_note.status_code == 409 and "This is a credit note" in of_note.text


async def test_credit_may_keep_the_registration(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser
    r = await invoiced(client, tickets)
    (invoice,) = await one(database, Invoice, Invoice.registration_id == uuid.UUID(r["id"]))
    page = await detail(client, r["id"])
    done = await client.post(
        f"/console/registrations/{r['id']}/invoices/{invoice.id}/credit",
        data={"csrf_token": csrf(page.text), "cancel_registration": "no"},
        headers=HTML,
    )
    assert done.status_code == 303 and done.headers["location"].endswith("?done=credited")
    (registration,) = await one(database, Registration, Registration.id == uuid.UUID(r["id"]))
    assert registration.status == Status.confirmed


async def test_invoice_of_another_registration_is_not_found(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser
    a, b = await invoiced(client, tickets), await invoiced(client, tickets)
    (invoice_b,) = await one(database, Invoice, Invoice.registration_id == uuid.UUID(b["id"]))
    page = await detail(client, a["id"])
    wrong = await client.post(
        f"/console/registrations/{a['id']}/invoices/{invoice_b.id}/paid",
        data={"csrf_token": csrf(page.text)},
        headers=HTML,
    )
    assert wrong.status_code == 404 and "no invoice with this id" in wrong.text
    (invoice_b,) = await one(database, Invoice, Invoice.id == invoice_b.id)
    assert invoice_b.status == "issued"


# --- approval and cancellation -----------------------------------------------------------------------------


async def test_approve_and_reject(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser
    a = await post_registration(client, registration_body(tickets["press"]))
    b = await post_registration(client, registration_body(tickets["press"]))
    assert a["status"] == b["status"] == "awaiting_approval"
    page = await detail(client, a["id"])
    assert (
        f"Approve registration {a['reference']}" in page.text
        and f"Reject registration {a['reference']}" in page.text
    )
    token = csrf(page.text)
    approved = await client.post(
        f"/console/registrations/{a['id']}/approve", data={"csrf_token": token}, headers=HTML
    )
    assert approved.status_code == 303 and approved.headers["location"].endswith("?done=approved")
    rejected = await client.post(
        f"/console/registrations/{b['id']}/reject", data={"csrf_token": token}, headers=HTML
    )
    assert rejected.status_code == 303 and rejected.headers["location"].endswith("?done=rejected")
    statuses = {r.id: r.status for r in await one(database, Registration)}
    assert (
        statuses[uuid.UUID(a["id"])] == Status.confirmed and statuses[uuid.UUID(b["id"])] == Status.cancelled
    )
    again = await client.post(
        f"/console/registrations/{a['id']}/approve", data={"csrf_token": token}, headers=HTML
    )
    assert again.status_code == 409 and "Only registrations awaiting approval can be decided" in again.text


async def test_cancel_applies_the_policy(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser
    r = await invoiced(client, tickets)
    confirm = await client.get(f"/console/registrations/{r['id']}/cancel", headers=HTML)
    assert (
        confirm.status_code == 200
        and "Invoice INV-000001 (£540.00, issued) will be credited." in confirm.text
    )
    done = await client.post(
        f"/console/registrations/{r['id']}/cancel", data={"csrf_token": csrf(confirm.text)}, headers=HTML
    )
    assert done.status_code == 303 and done.headers["location"].endswith("?done=cancelled")
    (registration,) = await one(database, Registration, Registration.id == uuid.UUID(r["id"]))
    assert registration.status == Status.cancelled and registration.cancel_reason == "organiser"
    kinds = {
        i.kind: i.status for i in await one(database, Invoice, Invoice.registration_id == registration.id)
    }
    assert kinds == {"invoice": "credited", "credit_note": "issued"}
    again = await client.post(
        f"/console/registrations/{r['id']}/cancel", data={"csrf_token": csrf(confirm.text)}, headers=HTML
    )
    assert again.status_code == 409 and "This registration is already cancelled." in again.text
    stale = await client.get(f"/console/registrations/{r['id']}/cancel", headers=HTML)
    assert stale.status_code == 409 and "This registration is already cancelled." in stale.text


async def test_card_payments_and_refunds(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    """Card money as the payment service records it (inserted here: Stripe is not part of these tests)."""
    client = organiser
    refunded = await post_registration(client, registration_body(tickets["delegate"], name="Di Refunded"))
    paid = await post_registration(client, registration_body(tickets["delegate"], name="Ed Paid"))
    paid_at = datetime(2026, 7, 1, 8, 30, tzinfo=UTC)
    async with database.transaction() as db:
        for created, refund in ((refunded, True), (paid, False)):
            r = await db.get(Registration, uuid.UUID(created["id"]))
            assert r is not None
            r.payment_method = PaymentMethod.card
            payment = Payment(
                registration_id=r.id,
                amount_pence=123450,
                status="paid",
                paid_at=paid_at,
                refunded_pence=123450 if refund else 0,
                expires_at=paid_at,
            )
            db.add(payment)
            await db.flush()
            if refund:
                db.add(
                    Refund(
                        payment_id=payment.id,
                        registration_id=r.id,
                        amount_pence=123450,
                        reason="cancelled",
                        status="succeeded",
                        created_at=paid_at,
                    )
                )
    page = await detail(client, refunded["id"])
    payments = table(page.text, "payments")
    assert "<caption>" in payments and "£1,234.50" in payments and "Wed 1 Jul 2026, 09:30" in payments
    refunds = table(page.text, "refunds")
    assert "£1,234.50" in refunds and "cancelled" in refunds and "succeeded" in refunds
    confirm = await client.get(f"/console/registrations/{paid['id']}/cancel", headers=HTML)
    assert "£1,234.50 paid by card will be refunded in full." in confirm.text
    listing = await client.get("/console/registrations?payment=paid", headers=HTML)
    assert paid["reference"] in listing.text and refunded["reference"] not in listing.text
    listing = await client.get("/console/registrations?payment=refunded", headers=HTML)
    assert refunded["reference"] in listing.text and paid["reference"] not in listing.text
