"""Group bookings, the gaps closed after the first build: the lead's page has a "Pay by card" button (CSRF
protected) for places still held for a card group's payment; a colleague added to a paid card group is paid for
through the lead's checkout; a code that makes the places free needs no payment and no billing; and a member of a
group is never asked to pay - their page and emails name the group's organiser, and whether the place is paid."""

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
from conference.core.models import Invoice, OutboxEmail, Status, TicketType
from conference.mail import mailtext
from conference.places import get_conference
from tests import support
from tests.conference.group_support import amount_due, book_card_group, group_body, statuses
from tests.factories import make_conference
from tests.stripe_fake import FakeStripe
from tests.support import bearer, body_of, csrf, flat, organiser_token

BILLING = {
    "organisation": "Leeds City Council",
    "contact": "Accounts Payable",
    "email": "ap@leeds.gov.uk",
    "address": "Civic Hall, Calverley Street, Leeds LS1 1UR",
    "purchase_order": "PO-4500123987",
}


def sessions_created(fake: FakeStripe) -> int:
    return sum(1 for r in fake.requests if r.method == "POST" and r.path == "/v1/checkout/sessions")


async def pay(client: httpx.AsyncClient, fake: FakeStripe, checkout_url: str) -> None:
    event = fake.pay(support.checkout_session_id(checkout_url))
    delivered = await support.deliver_stripe_event(client, fake, event)
    assert delivered.json()["outcome"] == "confirmed", delivered.text


async def rendered(database: Database, settings: Any, registration_id: Any, kind: str) -> list[str]:
    """The plain text of the emails of this kind about one registration, as the mail worker would send them."""
    async with database.read() as db:
        rows = (
            await db.execute(
                sa.select(OutboxEmail)
                .where(
                    col(OutboxEmail.registration_id) == uuid.UUID(str(registration_id)),
                    col(OutboxEmail.kind) == kind,
                )
                .order_by(col(OutboxEmail.created_at))
            )
        ).scalars()
        return [flat(body_of(await mailtext.render(db, settings, row))) for row in rows]


async def one_place_due(
    client: httpx.AsyncClient, database: Database, booked: dict[str, Any], lead: str
) -> httpx.Response:
    """Two places paid and a third, added after, due: the lead's page asks for that one place."""
    assert await statuses(database, booked["id"]) == [
        Status.confirmed,
        Status.confirmed,
        Status.pending_payment,
    ]
    due, page = await amount_due(client, lead)
    assert "£540.00" in due and "1 place " in due
    return page


# --- 1 and 2: the lead's "Pay by card", and a colleague added to a paid card group ------------------------------


async def test_a_colleague_added_to_a_paid_card_group_is_paid_for_from_the_leads_page(
    paid: tuple[httpx.AsyncClient, Any], database: Database, fake: FakeStripe
) -> None:
    client, _app = paid
    booked = await book_card_group(client, database, 2)  # exhibitor: £450 + 20% VAT, cap 3
    await pay(client, fake, booked["checkout_url"])
    lead = f"/group/manage/{booked['manage_token']}"
    page = await client.get(lead)
    assert page.status_code == 200 and 'id="pay-form"' not in page.text  # nothing is owed

    added = await client.post(
        f"{lead}/members",
        data={"csrf_token": csrf(page.text), "name": "Nia New", "email": "nia.new@leeds.gov.uk"},
    )
    assert added.status_code == 303, added.text
    page = await one_place_due(client, database, booked, lead)
    assert 'id="pay-form"' in page.text and "Pay by card" in page.text

    before = sessions_created(fake)
    forged = await client.post(f"{lead}/checkout", data={"csrf_token": "forged"})
    assert forged.status_code == 403 and sessions_created(fake) == before  # nothing was opened
    opened = await client.post(f"{lead}/checkout", data={"csrf_token": csrf(page.text)})
    assert opened.status_code == 303, opened.text
    session = fake.session(support.checkout_session_id(opened.headers["location"]))
    assert session["amount_total"] == 54000  # the new colleague's place only: the others are paid
    # Pressed again (a second tab), the same page opens: one payment for the place.
    again = await client.post(f"{lead}/checkout", data={"csrf_token": csrf(page.text)})
    assert again.headers["location"] == opened.headers["location"]

    await pay(client, fake, opened.headers["location"])
    assert await statuses(database, booked["id"]) == [Status.confirmed] * 3
    async with database.read() as db:
        receipts = list((await db.execute(sa.select(Invoice).order_by(col(Invoice.number)))).scalars())
    assert [(r.gross_pence, r.status, r.paid_by) for r in receipts] == [
        (108000, "paid", "card"),
        (54000, "paid", "card"),
    ]
    assert fake.refunds() == []
    page = await client.get(lead)
    assert 'id="pay-form"' not in page.text and "Payment due" not in page.text


async def add_on_page(client: httpx.AsyncClient, lead: str, name: str, email: str) -> None:
    page = await client.get(lead)
    added = await client.post(
        f"{lead}/members", data={"csrf_token": csrf(page.text), "name": name, "email": email}
    )
    assert added.status_code == 303, added.text


async def test_a_colleague_added_while_the_groups_page_is_open_is_charged_on_a_new_page(
    paid: tuple[httpx.AsyncClient, Any], database: Database, fake: FakeStripe
) -> None:
    client, app = paid
    booked = await book_card_group(client, database, 2)
    stale = booked["checkout_url"]  # opened for two places
    lead = f"/group/manage/{booked['manage_token']}"
    await add_on_page(client, lead, "Nia New", "nia.new@leeds.gov.uk")
    due, page = await amount_due(client, lead)
    assert "£1,620.00" in due and "3 places" in due
    opened = await client.post(f"{lead}/checkout", data={"csrf_token": csrf(page.text)})
    assert opened.status_code == 303, opened.text
    assert opened.headers["location"] != stale  # the page for two would leave the new colleague unpaid
    assert fake.session(support.checkout_session_id(opened.headers["location"]))["amount_total"] == 3 * 54000

    await pay(client, fake, opened.headers["location"])
    assert await statuses(database, booked["id"]) == [Status.confirmed] * 3
    await app.state.payments.tick()  # the page for two is closed: nobody can pay for the places twice
    assert fake.session(support.checkout_session_id(stale))["status"] == "expired"
    assert fake.refunds() == []


async def test_paying_the_page_opened_before_a_colleague_was_added_confirms_only_the_places_it_paid(
    paid: tuple[httpx.AsyncClient, Any], database: Database, fake: FakeStripe
) -> None:
    client, _app = paid
    booked = await book_card_group(client, database, 2)
    lead = f"/group/manage/{booked['manage_token']}"
    await add_on_page(client, lead, "Nia New", "nia.new@leeds.gov.uk")
    await pay(client, fake, booked["checkout_url"])  # the page for two, still open in the lead's other tab
    page = await one_place_due(client, database, booked, lead)
    opened = await client.post(f"{lead}/checkout", data={"csrf_token": csrf(page.text)})
    assert fake.session(support.checkout_session_id(opened.headers["location"]))["amount_total"] == 54000
    await pay(client, fake, opened.headers["location"])
    assert await statuses(database, booked["id"]) == [Status.confirmed] * 3
    assert fake.refunds() == []


async def test_pay_by_card_on_a_group_that_pays_by_invoice_says_so(
    client: httpx.AsyncClient, database: Database
) -> None:
    tickets = await make_conference(database, capacity=10)
    booked = await client.post(
        "/api/v1/groups",
        json=group_body(tickets["exhibitor"], 2, payment_method="invoice", billing=BILLING),
    )
    assert booked.status_code == 201, booked.text
    lead = f"/group/manage/{booked.json()['manage_token']}"
    page = await client.get(lead)
    assert 'id="pay-form"' not in page.text  # an invoiced group's lead is not offered the card
    refused = await client.post(f"{lead}/checkout", data={"csrf_token": csrf(page.text)})
    assert refused.status_code == 409 and "does not pay by card" in refused.text


# --- 3: a complimentary code needs no payment and no billing ------------------------------------------------------


@pytest.fixture
async def priced(database: Database) -> uuid.UUID:
    """A £295 ticket open to invoices (a purchase order needed) in a conference of 10 places."""
    await make_conference(database, capacity=10)
    async with database.transaction() as db:
        conference = await get_conference(db)
        assert conference.id is not None
        ticket = TicketType(
            conference_id=conference.id, name="Delegate (paid)", price_pence=29500, position=9
        )
        db.add(ticket)
    return ticket.id


async def make_code(client: httpx.AsyncClient, database: Database, text: str, **settings: Any) -> None:
    made = await client.post(
        "/api/v1/codes",
        json={"text": text, "label": "Speakers", "max_uses": 5, **settings},
        headers=bearer(await organiser_token(database)),
    )
    assert made.status_code == 201, made.text


async def test_a_complimentary_code_needs_no_billing_even_when_invoice_was_chosen(
    client: httpx.AsyncClient, database: Database, priced: uuid.UUID
) -> None:
    await make_code(client, database, "SPEAKERS-FREE", discount="complimentary")
    # Without a code, an invoice still needs its billing details.
    refused = await client.post("/api/v1/groups", json=group_body(priced, 2, payment_method="invoice"))
    assert refused.status_code == 422 and "billing" in refused.json()["error"]["fields"]

    body = group_body(priced, 2, payment_method="invoice", code="speakers-free")
    booked = await client.post("/api/v1/groups", json=body)
    assert booked.status_code == 201, booked.text
    assert booked.json()["status"] == "confirmed" and booked.json()["invoice_number"] is None
    async with database.read() as db:
        group = (await db.execute(sa.select(GroupBooking))).scalar_one()
        invoices = (await db.execute(sa.select(sa.func.count()).select_from(Invoice))).scalar_one()
    assert (group.payment_method, group.billing, invoices) == ("none", None, 0)
    assert await statuses(database, group.id) == [Status.confirmed] * 2


async def test_a_part_discount_still_asks_for_billing_and_uses_nothing(
    client: httpx.AsyncClient, database: Database, priced: uuid.UUID
) -> None:
    await make_code(client, database, "LEEDS-HALF", discount="percent", value=50, max_uses=2)
    refused = await client.post(
        "/api/v1/groups", json=group_body(priced, 2, payment_method="invoice", code="LEEDS-HALF")
    )
    assert refused.status_code == 422, refused.text
    assert "billing" in refused.json()["error"]["fields"]
    # Nothing was booked, and the code's two uses are still there for the corrected booking.
    body = group_body(priced, 2, payment_method="invoice", code="LEEDS-HALF", billing=BILLING)
    booked = await client.post("/api/v1/groups", json=body)
    assert booked.status_code == 201, booked.text
    assert booked.json()["invoice_number"]


async def test_the_group_form_books_free_places_with_a_code_and_no_billing(
    client: httpx.AsyncClient, database: Database, priced: uuid.UUID
) -> None:
    await make_code(client, database, "SPEAKERS-FREE", discount="complimentary")
    form = await client.get("/group")
    fields = {
        "csrf_token": csrf(form.text),
        "lead_name": "Lena Lead",
        "lead_email": "lena.lead@leeds.gov.uk",
        "organisation": "Leeds City Council",
        "sector": "local_authority",
        "ticket_type_id": str(priced),
        "payment_method": "invoice",  # the form's default, with the billing fields left empty
        "consent": "yes",
        "members": "2",
        "m1_name": "Ann Able",
        "m1_email": "ann.able@leeds.gov.uk",
        "m2_name": "Ben Bold",
        "m2_email": "ben.bold@leeds.gov.uk",
        "action": "book",
    }
    empty = {"upload": ("", b"", "application/octet-stream")}
    without = await client.post("/group", data=fields, files=empty)
    assert without.status_code == 422 and "Organisation to invoice" in without.text  # billing asked for
    booked = await client.post("/group", data={**fields, "code": "SPEAKERS-FREE"}, files=empty)
    assert booked.status_code == 303, booked.text
    async with database.read() as db:
        group = (await db.execute(sa.select(GroupBooking))).scalar_one()
    assert (group.payment_method, group.billing) == ("none", None)
    assert await statuses(database, group.id) == [Status.confirmed] * 2


# --- 4: a member is never asked to pay: the group's organiser does ------------------------------------------------


async def test_a_card_group_members_page_and_emails_name_the_organiser_who_pays(
    paid: tuple[httpx.AsyncClient, Any], database: Database, fake: FakeStripe
) -> None:
    client, app = paid
    booked = await book_card_group(client, database, 2)
    member = booked["members"][1]
    mine = f"/manage/{member['manage_token']}"
    page = await client.get(mine)
    assert page.status_code == 200
    wording = re.search(r'<p id="group-payment">(.*?)</p>', page.text, re.S)
    assert wording is not None
    said = flat(wording.group(1))
    assert "your group's organiser, Lena Lead (Leeds City Council)" in said
    assert "It is not paid yet" in said and "nothing for you to pay" in said
    assert 'id="pay"' not in page.text and "Pay now" not in page.text
    # Posting to the member's own payment action does not open a page for the whole group.
    before = sessions_created(fake)
    refused = await client.post(f"{mine}/pay", data={"csrf_token": csrf(page.text)})
    assert refused.status_code == 409 and "nothing for you to pay" in refused.text
    assert sessions_created(fake) == before

    settings = app.state.settings
    (registration_email,) = await rendered(database, settings, member["id"], "registration")
    assert "paid for by your group's organiser, Lena Lead (Leeds City Council)" in registration_email
    assert "nothing for you to pay" in registration_email and "Pay now" not in registration_email

    await pay(client, fake, booked["checkout_url"])
    page = await client.get(mine)
    wording = re.search(r'<p id="group-payment">(.*?)</p>', page.text, re.S)
    assert wording is not None and "It is paid." in wording.group(1) and "not paid" not in wording.group(1)
    (confirmed_email,) = await rendered(database, settings, member["id"], "payment_confirmed")
    assert (
        "Your group's organiser, Lena Lead (Leeds City Council), has paid for your place" in confirmed_email
    )


async def test_a_delegate_on_their_own_is_still_asked_to_pay(
    paid: tuple[httpx.AsyncClient, Any], database: Database, fake: FakeStripe
) -> None:
    client, _app = paid
    tickets = await make_conference(database, capacity=10)
    person = await support.register_card(client, tickets["exhibitor"])
    page = await client.get(f"/manage/{person['manage_token']}")
    assert 'id="pay"' in page.text and 'id="group-payment"' not in page.text
