"""Registrations added by hand in the console: complimentary places, invoices, don't-email, the waiting list when
the conference is full, the audited override, a type's own cap, every problem at once with nothing saved, and a
complimentary place on the waiting list confirmed (not charged) when it moves up."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import col

from conference import decisions, places
from conference.core.db import Database
from conference.core.models import (
    AuditEntry,
    Invoice,
    OutboxEmail,
    PaymentMethod,
    Registration,
    Status,
)
from conference.core.settings import Settings
from tests.factories import BILLING, ORGANISER, registration_body
from tests.support import HTML, MANAGE_LINK, body_of, csrf, emails, organiser_token


def booking_form(ticket: Any, **changes: str) -> dict[str, str]:
    form = {
        "ticket_type_id": str(ticket),
        "name": "Ada Byhand",
        "email": f"ada-{uuid.uuid4().hex[:6]}@leeds.gov.uk",
        "organisation": "Leeds City Council",
        "sector": "local_authority",
        "region": "",
        "job_title": "",
        "dietary": "",
        "access_needs": "",
    }
    return {**form, **changes}


async def book(client: httpx.AsyncClient, data: dict[str, str]) -> httpx.Response:
    token = csrf((await client.get("/login")).text)
    return await client.post("/console/bookings", data={"csrf_token": token, **data}, headers=HTML)


async def by_email(database: Database, email: str) -> Registration:
    async with database.read() as db:
        stmt = sa.select(Registration).where(col(Registration.email_key) == email.lower())
        return (await db.execute(stmt)).scalar_one()


async def audits(database: Database) -> list[AuditEntry]:
    async with database.read() as db:
        stmt = (
            sa.select(AuditEntry)
            .where(col(AuditEntry.action) == "conference.registration.added_by_hand")
            .order_by(col(AuditEntry.id))
        )
        return list((await db.execute(stmt)).scalars())


async def outbox_for(database: Database, registration_id: uuid.UUID) -> list[OutboxEmail]:
    async with database.read() as db:
        stmt = sa.select(OutboxEmail).where(col(OutboxEmail.registration_id) == registration_id)
        return list((await db.execute(stmt)).scalars())


async def fill(client: httpx.AsyncClient, ticket: Any, n: int) -> None:
    for _ in range(n):
        made = await client.post("/api/v1/registrations", json=registration_body(ticket))
        assert made.status_code == 201 and made.json()["status"] == "confirmed", made.text


async def test_complimentary_place_on_a_priced_ticket_confirmed_emailed_and_audited(
    organiser: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    client = organiser
    page = await client.get("/console/bookings/new", headers=HTML)
    assert page.status_code == 200 and "Add a registration by hand" in page.text
    form = booking_form(tickets["exhibitor"], complimentary="yes")
    answer = await book(client, form)
    assert answer.status_code == 303 and "done=confirmed" in answer.headers["location"]
    row = await by_email(database, form["email"])
    assert (row.status, row.payment_method, row.complimentary) == (Status.confirmed, PaymentMethod.none, True)
    assert row.ticket_type_id == tickets["exhibitor"] and row.hold_expires_at is None
    async with database.read() as db:
        invoices = (await db.execute(sa.select(Invoice).where(col(Invoice.registration_id) == row.id))).all()
    assert invoices == []
    (entry,) = await audits(database)
    assert entry.subject == row.reference and entry.actor == "organiser:Test organiser"
    assert entry.data == {
        "status": "confirmed",
        "ticket_type": str(tickets["exhibitor"]),
        "complimentary": True,
        "payment_method": "none",
        "emailed": True,
        "over_capacity": False,
    }
    # The delegate's email carries their manage link, and the link opens their booking.
    (message,) = [m for m in await emails(database, settings, "registration") if m["To"] == form["email"]]
    text = body_of(message)
    assert "An organiser has registered you" in text
    link = MANAGE_LINK.search(text)
    assert link is not None
    manage = await client.get(f"/manage/{link.group(1)}")
    assert manage.status_code == 200 and row.reference in manage.text
    # The form says what was done and links to the registration.
    shown = await client.get(answer.headers["location"], headers=HTML)
    assert "added and confirmed" in shown.text and f"/console/registrations/{row.id}" in shown.text


async def test_dont_email_sends_nothing_and_invoice_booking_is_invoiced(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser
    quiet = booking_form(tickets["delegate"], no_email="yes")
    assert (await book(client, quiet)).status_code == 303
    row = await by_email(database, quiet["email"])
    assert row.status == Status.confirmed and await outbox_for(database, row.id) == []
    assert (await audits(database))[0].data["emailed"] is False

    billing = {f"billing_{k}": v for k, v in BILLING.items()}
    paid = booking_form(tickets["exhibitor"], payment_method="invoice", **billing)
    assert (await book(client, paid)).status_code == 303
    row = await by_email(database, paid["email"])
    assert (row.status, row.payment_method, row.complimentary) == (
        Status.confirmed,
        PaymentMethod.invoice,
        False,
    )
    async with database.read() as db:
        (invoice,) = (
            await db.execute(sa.select(Invoice).where(col(Invoice.registration_id) == row.id))
        ).scalars()
    assert (invoice.net_pence, invoice.gross_pence, invoice.purchase_order) == (45000, 54000, "PO-12345")
    assert sorted(e.kind for e in await outbox_for(database, row.id)) == ["invoice", "registration"]


async def test_full_conference_waitlists_unless_overridden_and_the_override_is_audited(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser
    await fill(client, tickets["delegate"], 5)  # capacity 5
    waiting = booking_form(tickets["delegate"])
    answer = await book(client, waiting)
    assert "done=waitlisted" in answer.headers["location"]
    assert (await by_email(database, waiting["email"])).status == Status.waitlisted

    over = booking_form(tickets["speaker"], over_capacity="yes")
    answer = await book(client, over)
    assert "done=over_capacity" in answer.headers["location"]
    row = await by_email(database, over["email"])
    assert row.status == Status.confirmed
    entries = await audits(database)
    assert [e.data["over_capacity"] for e in entries] == [False, True]
    async with database.read() as db:
        seen = await places.availability(db, await places.get_conference(db))
    assert (seen.registered, seen.waitlisted) == (6, 1)
    shown = await client.get(answer.headers["location"], headers=HTML)
    assert "over capacity, as you chose" in shown.text


async def test_a_types_own_cap_refuses_without_the_override(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser
    for _ in range(2):  # Press: cap 2, approval by an organiser (not needed for a hand booking)
        answer = await book(client, booking_form(tickets["press"]))
        assert "done=confirmed" in answer.headers["location"]
    third = booking_form(tickets["press"])
    refused = await book(client, third)
    assert refused.status_code == 409
    assert 'href="#over_capacity"' in refused.text and "all 2 places of its own cap taken" in refused.text
    assert f'value="{third["email"]}"' in refused.text  # what was typed is kept
    overridden = await book(client, {**third, "over_capacity": "yes"})
    assert "done=over_capacity" in overridden.headers["location"]
    assert (await by_email(database, third["email"])).status == Status.confirmed


async def test_every_problem_at_once_and_nothing_saved(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser
    empty = await book(client, {"ticket_type_id": "", "name": "", "email": "not-an-email", "sector": ""})
    assert empty.status_code == 422
    for field in ("ticket_type_id", "name", "email", "organisation", "sector"):
        assert f'href="#{field}"' in empty.text, field
    assert 'value="not-an-email"' in empty.text

    no_method = await book(client, booking_form(tickets["exhibitor"]))
    assert no_method.status_code == 422 and "choose card or invoice, or tick complimentary" in no_method.text
    no_billing = await book(client, booking_form(tickets["exhibitor"], payment_method="invoice"))
    assert no_billing.status_code == 422
    for field in ("billing_organisation", "billing_contact_name", "billing_email", "billing_purchase_order"):
        assert f'href="#{field}"' in no_billing.text, field
    card = await book(client, booking_form(tickets["exhibitor"], payment_method="card"))
    assert card.status_code == 422 and "Card payment is not available" in card.text
    async with database.read() as db:
        assert (await db.execute(sa.select(sa.func.count()).select_from(Registration))).scalar_one() == 0
    assert await audits(database) == []

    taken = await client.post("/api/v1/registrations", json=registration_body(tickets["delegate"]))
    again = await book(client, booking_form(tickets["delegate"], email=registration_body("x")["email"]))
    assert again.status_code == 303
    duplicate = await book(
        client, booking_form(tickets["delegate"], email=(await by_email_of(database, taken.json()["id"])))
    )
    assert duplicate.status_code == 409
    assert f"Registration {taken.json()['reference']} already uses this email address" in duplicate.text


async def by_email_of(database: Database, registration_id: str) -> str:
    async with database.read() as db:
        row = await db.get(Registration, uuid.UUID(registration_id))
        assert row is not None
        return row.email.upper()  # the check ignores case


async def test_registration_closed_still_takes_hand_bookings(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser
    closed = await client.patch(
        "/api/v1/conference",
        json={"registration_open": False},
        headers={"authorization": "Bearer " + await organiser_token(database)},
    )
    assert closed.status_code == 200
    public = await client.post("/api/v1/registrations", json=registration_body(tickets["delegate"]))
    assert public.status_code == 409
    form = booking_form(tickets["delegate"])
    assert "done=confirmed" in (await book(client, form)).headers["location"]


async def test_waitlisted_complimentary_place_moves_up_confirmed_not_charged(
    organiser: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    client = organiser
    first = await client.post("/api/v1/registrations", json=registration_body(tickets["delegate"]))
    await fill(client, tickets["delegate"], 4)
    comp = booking_form(tickets["exhibitor"], complimentary="yes")
    assert "done=waitlisted" in (await book(client, comp)).headers["location"]
    async with database.transaction() as db:
        await decisions.cancel_registration(
            db, settings=settings, registration_id=uuid.UUID(first.json()["id"]), actor=ORGANISER
        )
    row = await by_email(database, comp["email"])
    assert (row.status, row.payment_method, row.hold_expires_at) == (
        Status.confirmed,
        PaymentMethod.none,
        None,
    )
