"""Ticket types in the console: create and edit (every field, audited), every problem at once with the values kept
and nothing saved, hide and show, reorder, delete only what nobody holds; an early-bird window opening and closing
by the clock on the public form and API; a hidden type only bookable by hand; and a price change that leaves the
payments taken and invoices issued as they were."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference.core import registration_window
from conference.core.db import Database
from conference.core.models import (
    AuditEntry,
    Invoice,
    Payment,
    Registration,
    Status,
    TicketType,
    utcnow,
)
from conference.core.settings import Settings
from conference.server.app import create_app
from tests.factories import invoice_body, make_conference, registration_body
from tests.stripe_fake import FakeStripe, event_body, sign
from tests.support import HTML, csrf, make_settings, organiser_token, sign_in

LONDON = ZoneInfo("Europe/London")


def type_form(**changes: str) -> dict[str, str]:
    form = {
        "name": "Early bird",
        "description": "Until the end of October",
        "price": "300",
        "vat_rate_percent": "20",
        "cap": "",
        "approval": "none",
        "approval_domains": "",
        "card_allowed": "yes",
        "invoice_allowed": "yes",
        "invoice_confirms": "yes",
        "available_from": "",
        "available_until": "",
        "public": "yes",
    }
    return {**form, **changes}


async def post(client: httpx.AsyncClient, path: str, data: dict[str, str]) -> httpx.Response:
    token = csrf((await client.get("/login")).text)
    return await client.post(path, data={"csrf_token": token, **data}, headers=HTML)


async def types_by_name(database: Database) -> dict[str, TicketType]:
    async with database.read() as db:
        return {t.name: t for t in (await db.execute(sa.select(TicketType))).scalars()}


async def audits(database: Database, action: str) -> list[AuditEntry]:
    async with database.read() as db:
        stmt = sa.select(AuditEntry).where(col(AuditEntry.action) == action).order_by(col(AuditEntry.id))
        return list((await db.execute(stmt)).scalars())


def local_input(moment: datetime) -> str:
    return moment.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")


# --- create, edit, audit ---------------------------------------------------------------------------------------


async def test_create_and_edit_a_ticket_type_with_every_field_audited(
    organiser: httpx.AsyncClient, database: Database
) -> None:
    client = organiser
    page = await client.get("/console/ticket-types/new", headers=HTML)
    assert page.status_code == 200 and "Add a ticket type" in page.text
    ends = (utcnow() + timedelta(days=30)).replace(second=0, microsecond=0)
    made = await post(client, "/console/ticket-types", type_form(available_until=local_input(ends)))
    assert made.status_code == 303 and made.headers["location"].endswith("?done=created")
    early = (await types_by_name(database))["Early bird"]
    assert (early.price_pence, early.vat_rate_percent, early.public) == (30000, 20, True)
    assert early.available_until == ends and early.available_from is None
    assert early.position == 6  # after the five the factory made
    (created,) = await audits(database, "conference.ticket_type.created")
    assert created.subject == str(early.id) and created.actor == "organiser:Test organiser"
    assert created.data["price_pence"] == 30000 and created.data["available_until"] == ends.isoformat()
    listing = await client.get("/console/ticket-types?done=created", headers=HTML)
    assert "The ticket type is added." in listing.text and "Early bird" in listing.text

    edit_path = f"/console/ticket-types/{early.id}"
    form = await client.get(edit_path, headers=HTML)
    assert 'value="300.00"' in form.text and 'value="Early bird"' in form.text
    saved = await post(
        client,
        edit_path,
        type_form(
            price="£1,249.5",
            vat_rate_percent="0",
            cap="4",
            approval="domain",
            approval_domains="@Gov.UK\nnhs.net, police.uk",
            card_allowed="",
            invoice_confirms="no",
            available_until=local_input(ends),
            public="no",
        ),
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("?done=saved")
    early = (await types_by_name(database))["Early bird"]
    assert (early.price_pence, early.vat_rate_percent, early.cap) == (124950, 0, 4)
    assert early.approval.value == "domain" and early.approval_domains == "gov.uk,nhs.net,police.uk"
    assert (early.card_allowed, early.invoice_allowed, early.invoice_confirms, early.public) == (
        False,
        True,
        False,
        False,
    )
    (updated,) = await audits(database, "conference.ticket_type.updated")
    assert updated.data["fields"] == sorted(
        [
            "approval",
            "approval_domains",
            "cap",
            "card_allowed",
            "invoice_confirms",
            "price_pence",
            "public",
            "vat_rate_percent",
        ]
    )
    assert updated.data["before"]["price_pence"] == 30000 and updated.data["after"]["price_pence"] == 124950
    # The same form again changes nothing and audits nothing.
    again = await post(client, edit_path, {**(await _current_form(client, edit_path))})
    assert again.headers["location"].endswith("?done=unchanged")
    assert len(await audits(database, "conference.ticket_type.updated")) == 1


async def _current_form(client: httpx.AsyncClient, path: str) -> dict[str, str]:
    """The edit form's values as the page shows them (what a browser would post back unchanged)."""
    html = (await client.get(path, headers=HTML)).text
    values: dict[str, str] = {}
    for name, value in re.findall(
        r'<input class="input" id="[^"]+" name="([^"]+)" type="[^"]+" value="([^"]*)"', html
    ):
        values[name] = value
    for name in ("description", "approval_domains"):
        match = re.search(rf'name="{name}"[^>]*>([^<]*)</textarea>', html)
        values[name] = match.group(1) if match else ""
    for name, value in re.findall(r'name="([a-z_]+)" value="([^"]+)" checked', html):
        values[name] = value
    return values


async def test_every_problem_at_once_values_kept_nothing_saved(
    organiser: httpx.AsyncClient, database: Database
) -> None:
    client = organiser
    before = await types_by_name(database)
    answer = await post(
        client,
        "/console/ticket-types",
        type_form(
            name="",
            price="-5",
            vat_rate_percent="120",
            cap="999",
            approval="domain",
            approval_domains="gov.uk\nnot a domain\nexample@",
            available_from="2030-10-01T09:00",
            available_until="2030-09-01T09:00",
        ),
    )
    assert answer.status_code == 422
    html = answer.text
    assert "Error: Add a ticket type" in html and "There is a problem" in html
    for field, message in (
        ("name", "Give the ticket type a name"),
        ("price", "The price cannot be negative"),
        ("vat_rate_percent", "whole percentage from 0 to 100"),
        ("cap", "cannot be above the conference&#39;s capacity of 5 places"),
        ("approval_domains", "These are not email domains: not, a, domain, example@"),
        ("available_until", "The sale must end after it starts"),
    ):
        assert f'href="#{field}"' in html, field
        assert message in html, message
    # What was typed is still there.
    assert 'value="-5"' in html and 'value="120"' in html and 'value="999"' in html
    assert 'value="2030-10-01T09:00"' in html
    assert await types_by_name(database) == before
    assert await audits(database, "conference.ticket_type.created") == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("price", "12.345", "to the penny at most"),
        ("price", "twelve", "Give the price in pounds"),
        ("cap", "0", "1 or more"),
        ("approval_domains", "", "List at least one email domain"),
        ("name", "Delegate", "Another ticket type is already called Delegate"),
        ("available_until", "2001-01-01T00:00", "This time has passed"),
        ("available_from", "tomorrow", "Give a date and time"),
    ],
)
async def test_one_field_refused_with_its_message(
    organiser: httpx.AsyncClient, database: Database, field: str, value: str, message: str
) -> None:
    extra = {"approval": "domain"} if field == "approval_domains" else {}
    answer = await post(organiser, "/console/ticket-types", type_form(**{field: value, **extra}))
    assert answer.status_code == 422
    assert f'href="#{field}"' in answer.text and message in answer.text
    assert "Early bird" not in await types_by_name(database)


async def test_a_priced_type_needs_a_way_to_pay(organiser: httpx.AsyncClient, database: Database) -> None:
    neither = await post(organiser, "/console/ticket-types", type_form(card_allowed="", invoice_allowed=""))
    assert neither.status_code == 422 and "tick card, invoice or both" in neither.text
    # No Stripe key in these tests: a card-only ticket could never be paid.
    card_only = await post(organiser, "/console/ticket-types", type_form(invoice_allowed=""))
    assert card_only.status_code == 422 and "Card payments are not set up" in card_only.text
    free = await post(
        organiser, "/console/ticket-types", type_form(price="0", card_allowed="", invoice_allowed="")
    )
    assert free.status_code == 303


# --- hide, show, reorder, delete -----------------------------------------------------------------------------


async def test_hide_show_and_reorder_change_the_public_list(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser

    async def public_names() -> list[str]:
        return [t["name"] for t in (await client.get("/api/v1/ticket-types")).json()]

    assert await public_names() == ["Delegate", "Public sector", "Press", "Exhibitor"]
    hidden = await post(client, f"/console/ticket-types/{tickets['press']}/visibility", {"public": "no"})
    assert hidden.headers["location"].endswith("?done=hidden")
    assert await public_names() == ["Delegate", "Public sector", "Exhibitor"]
    assert "Press" not in (await client.get("/")).text
    shown = await post(client, f"/console/ticket-types/{tickets['press']}/visibility", {"public": "yes"})
    assert shown.headers["location"].endswith("?done=shown")

    moved = await post(client, f"/console/ticket-types/{tickets['exhibitor']}/move", {"direction": "up"})
    assert moved.status_code == 303
    await post(client, f"/console/ticket-types/{tickets['exhibitor']}/move", {"direction": "up"})
    assert await public_names() == ["Delegate", "Exhibitor", "Public sector", "Press"]
    await post(client, f"/console/ticket-types/{tickets['delegate']}/move", {"direction": "down"})
    assert await public_names() == ["Exhibitor", "Delegate", "Public sector", "Press"]
    bad = await post(client, f"/console/ticket-types/{tickets['delegate']}/move", {"direction": "sideways"})
    assert bad.status_code == 422 and "up or down" in bad.text

    assert [a.data["name"] for a in await audits(database, "conference.ticket_type.hidden")] == ["Press"]
    assert len(await audits(database, "conference.ticket_type.shown")) == 1
    assert [a.data["direction"] for a in await audits(database, "conference.ticket_type.moved")] == [
        "up",
        "up",
        "down",
    ]


async def test_a_type_with_registrations_cannot_be_deleted_but_one_without_can(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser
    made = await client.post("/api/v1/registrations", json=registration_body(tickets["delegate"]))
    assert made.status_code == 201
    cancelled = await client.delete(
        f"/api/v1/registrations/{made.json()['id']}",
        headers={"authorization": f"Bearer {made.json()['manage_token']}"},
    )
    assert cancelled.status_code == 200  # even a cancelled registration keeps its ticket type
    listing = (await client.get("/console/ticket-types", headers=HTML)).text
    assert f"/console/ticket-types/{tickets['delegate']}/delete" not in listing
    assert f"/console/ticket-types/{tickets['speaker']}/delete" in listing

    confirm = await client.get(f"/console/ticket-types/{tickets['delegate']}/delete", headers=HTML)
    assert confirm.status_code == 409 and "hide it" in confirm.text
    refused = await post(client, f"/console/ticket-types/{tickets['delegate']}/delete", {})
    assert refused.status_code == 409 and "cannot be deleted" in refused.text
    assert "Delegate" in await types_by_name(database)

    page = await client.get(f"/console/ticket-types/{tickets['speaker']}/delete", headers=HTML)
    assert page.status_code == 200 and "Delete Speaker" in page.text
    gone = await post(client, f"/console/ticket-types/{tickets['speaker']}/delete", {})
    assert gone.headers["location"].endswith("?done=deleted")
    assert "Speaker" not in await types_by_name(database)
    (entry,) = await audits(database, "conference.ticket_type.deleted")
    assert entry.subject == str(tickets["speaker"]) and entry.data == {"name": "Speaker"}
    assert (await client.get(f"/console/ticket-types/{tickets['speaker']}", headers=HTML)).status_code == 404


# --- the sale window, by the clock ---------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[datetime]]:
    """The registration window's clock, moved by the test: set `clock[0]`."""
    now = [utcnow()]
    monkeypatch.setattr(registration_window, "clock", lambda: now[0])
    yield now


async def test_early_bird_on_sale_until_its_end_then_gone_from_form_and_api(
    organiser: httpx.AsyncClient, database: Database, clock: list[datetime]
) -> None:
    client = organiser
    starts = (utcnow() + timedelta(days=2)).replace(second=0, microsecond=0)
    ends = starts + timedelta(days=28)
    made = await post(
        client,
        "/console/ticket-types",
        type_form(price="0", available_from=local_input(starts), available_until=local_input(ends)),
    )
    assert made.status_code == 303
    early = (await types_by_name(database))["Early bird"]

    async def offered() -> tuple[bool, bool]:
        on_api = "Early bird" in [t["name"] for t in (await client.get("/api/v1/ticket-types")).json()]
        on_form = str(early.id) in (await client.get("/")).text
        return on_api, on_form

    # Not on sale yet: neither listed nor accepted.
    assert await offered() == (False, False)
    early_too = await client.post("/api/v1/registrations", json=registration_body(early.id))
    assert (
        early_too.status_code == 422
        and "not on sale now" in early_too.json()["error"]["fields"]["ticket_type_id"]
    )

    clock[0] = starts  # the window opens (from is inclusive)
    assert await offered() == (True, True)
    listed = {t["name"]: t for t in (await client.get("/api/v1/ticket-types")).json()}["Early bird"]
    assert listed["available_until"] == ends.isoformat() and listed["available_from"] == starts.isoformat()
    ok = await client.post("/api/v1/registrations", json=registration_body(early.id))
    assert ok.status_code == 201 and ok.json()["status"] == "confirmed"

    clock[0] = ends - timedelta(seconds=1)
    assert await offered() == (True, True)
    clock[0] = ends  # until is exclusive: the early bird has ended
    assert await offered() == (False, False)
    late = await client.post("/api/v1/registrations", json=registration_body(early.id))
    assert late.status_code == 422
    # The form posted with the type chosen while it was on sale: refused by the field, nothing written.
    token = csrf((await client.get("/")).text)
    body = {
        **registration_body(early.id, email="late@leeds.gov.uk"),
        "consent": "yes",
        "csrf_token": token,
    }
    form = await client.post("/register", data=body)
    assert form.status_code == 422 and "not on sale now" in form.text
    async with database.read() as db:
        held = (
            await db.execute(sa.select(sa.func.count()).where(col(Registration.ticket_type_id) == early.id))
        ).scalar_one()
    assert held == 1


async def test_hidden_type_is_not_offered_publicly_but_is_bookable_by_hand(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser
    speaker = str(tickets["speaker"])
    assert "Speaker" not in [t["name"] for t in (await client.get("/api/v1/ticket-types")).json()]
    assert speaker not in (await client.get("/")).text
    refused = await client.post("/api/v1/registrations", json=registration_body(speaker))
    assert refused.status_code == 422 and "ticket_type_id" in refused.json()["error"]["fields"]

    booking_page = (await client.get("/console/bookings/new", headers=HTML)).text
    assert f'value="{speaker}"' in booking_page and "Speaker – free (hidden)" in " ".join(
        booking_page.split()
    )
    booked = await post(
        client,
        "/console/bookings",
        {
            "ticket_type_id": speaker,
            "name": "Dr Keynote",
            "email": "keynote@university.ac.uk",
            "organisation": "University of Leeds",
            "sector": "further_higher_education",
        },
    )
    assert booked.status_code == 303 and "done=confirmed" in booked.headers["location"]
    async with database.read() as db:
        row = (
            await db.execute(
                sa.select(Registration).where(col(Registration.email_key) == "keynote@university.ac.uk")
            )
        ).scalar_one()
    assert row.ticket_type_id == tickets["speaker"] and row.status == Status.confirmed


# --- a price change ---------------------------------------------------------------------------------------------


@pytest.fixture
def stripe_fake() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


@pytest.fixture
async def paid_client(database_url: str, stripe_fake: FakeStripe) -> AsyncIterator[httpx.AsyncClient]:
    settings: Settings = make_settings(
        database_url,
        STRIPE_SECRET_KEY=stripe_fake.api_key,
        STRIPE_WEBHOOK_SECRET=stripe_fake.webhook_secret,
        STRIPE_API_BASE=stripe_fake.url,
        CONFERENCE_PAYMENT_POLL_SECONDS="3600",
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c,
    ):
        yield c


async def test_price_change_leaves_payments_and_invoices_untouched(
    paid_client: httpx.AsyncClient, database: Database, stripe_fake: FakeStripe
) -> None:
    client = paid_client
    tickets = await make_conference(database, capacity=10)
    await sign_in(client, await organiser_token(database))
    exhibitor = tickets["exhibitor"]  # £450 + 20% VAT
    card = await client.post(
        "/api/v1/registrations", json=registration_body(exhibitor, payment_method="card")
    )
    assert card.status_code == 201, card.text
    session_id = card.json()["checkout_url"].rstrip("/").rsplit("/", 1)[-1]
    event = stripe_fake.pay(session_id)
    body = event_body(event)
    delivered = await client.post(
        "/stripe/webhook",
        content=body,
        headers={
            "stripe-signature": sign(body, stripe_fake.webhook_secret),
            "content-type": "application/json",
        },
    )
    assert delivered.json()["outcome"] == "confirmed"
    invoiced = await client.post("/api/v1/registrations", json=invoice_body(exhibitor))
    assert invoiced.status_code == 201

    async def money_rows() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        async with database.read() as db:
            payments = [
                (p.registration_id, p.amount_pence, p.status)
                for p in (await db.execute(sa.select(Payment).order_by(col(Payment.created_at)))).scalars()
            ]
            invoices = [
                (i.number, i.net_pence, i.vat_rate_percent, i.vat_pence, i.gross_pence, i.status)
                for i in (await db.execute(sa.select(Invoice).order_by(col(Invoice.number)))).scalars()
            ]
        return payments, invoices

    payments, invoices = await money_rows()
    assert [p[1:] for p in payments] == [(54000, "paid")]
    # The invoice payer's invoice (and the card payer's receipt, issued already paid): £450 + £90 VAT.
    assert {i[1:] for i in invoices} <= {(45000, 20, 9000, 54000, s) for s in ("issued", "paid")}
    assert [i[-1] for i in invoices].count("issued") == 1

    edit = f"/console/ticket-types/{exhibitor}"
    changed = await post(
        client, edit, type_form(name="Exhibitor", description="", price="600", vat_rate_percent="5", cap="3")
    )
    assert changed.status_code == 303 and changed.headers["location"].endswith("?done=saved"), changed.text
    assert await money_rows() == (payments, invoices)
    # The change itself took effect: new bookings pay the new price.
    listed = {t["name"]: t for t in (await client.get("/api/v1/ticket-types")).json()}["Exhibitor"]
    assert (listed["price_pence"], listed["total_pence"]) == (60000, 63000)
    newer = await client.post("/api/v1/registrations", json=invoice_body(exhibitor))
    assert newer.status_code == 201
    async with database.read() as db:
        latest = (
            await db.execute(
                sa.select(Invoice).where(col(Invoice.registration_id) == uuid.UUID(newer.json()["id"]))
            )
        ).scalar_one()
    assert (latest.net_pence, latest.gross_pence) == (60000, 63000)
    # The console's registration page still shows what was paid.
    page = await client.get(f"/console/registrations/{card.json()['id']}", headers=HTML)
    assert "£540.00" in page.text
