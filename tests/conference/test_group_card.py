"""A group paid by card: one Checkout for the whole group, paid -> every member confirmed with one receipt (a line
each), a cancelled member -> a partial refund of their place and a credit note for their line; unpaid, the group's
holds end together."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import col

from conference.core.db import Database
from conference.core.models import Invoice, Payment, Registration, Status, utcnow
from conference.payments.worker import expire_holds
from tests import support
from tests.conference.group_support import book_card_group, group_body, statuses
from tests.factories import make_conference
from tests.stripe_fake import FakeStripe

LEAD = "Lead Booker"


async def test_one_checkout_pays_for_the_group_and_a_cancellation_refunds_one_share(
    paid: tuple[httpx.AsyncClient, Any], database: Database, fake: FakeStripe
) -> None:
    client, app = paid
    tickets = await make_conference(database, capacity=10)  # exhibitor: £450 + 20% VAT, cap 3
    response = await client.post("/api/v1/groups", json=group_body(tickets["exhibitor"], 3, lead_name=LEAD))
    assert response.status_code == 201, response.text
    booked = response.json()
    assert booked["status"] == "pending_payment" and booked["checkout_url"]
    session = fake.session(support.checkout_session_id(booked["checkout_url"]))
    assert session["amount_total"] == 3 * 54000
    async with database.read() as db:
        holds = set((await db.execute(sa.select(col(Registration.hold_expires_at)))).scalars())
    assert len(holds) == 1  # the group's holds end together

    event = fake.pay(support.checkout_session_id(booked["checkout_url"]))
    assert (await support.deliver_stripe_event(client, fake, event)).json()["outcome"] == "confirmed"
    assert await statuses(database, booked["id"]) == [Status.confirmed] * 3
    async with database.read() as db:
        (receipt,) = (await db.execute(sa.select(Invoice))).scalars()
    assert (receipt.paid_by, receipt.status, receipt.gross_pence, receipt.group_id) == (
        "card",
        "paid",
        162000,
        uuid.UUID(booked["id"]),
    )

    second = booked["members"][1]
    lead = f"/api/v1/groups/manage/{booked['manage_token']}"
    assert (await client.delete(f"{lead}/members/{second['id']}")).status_code == 200
    await app.state.payments.tick()
    (refund,) = fake.refunds()
    assert (refund["amount"], refund["status"]) == (54000, "succeeded")
    assert await statuses(database, booked["id"]) == [Status.confirmed, Status.cancelled, Status.confirmed]
    async with database.read() as db:
        rows = {i.number: i for i in (await db.execute(sa.select(Invoice))).scalars()}
        payment = (await db.execute(sa.select(Payment))).scalar_one()
    assert rows["CN-000001"].gross_pence == 54000 and rows["CN-000001"].paid_by == "card"
    assert rows["INV-000001"].status == "paid"  # two lines still charged
    assert payment.refunded_pence == 54000


async def test_an_unpaid_groups_holds_are_released_together(
    paid: tuple[httpx.AsyncClient, Any], database: Database, fake: FakeStripe, settings: Any
) -> None:
    client, app = paid
    booked = await book_card_group(client, database, 2, lead_name=LEAD)
    assert await statuses(database, booked["id"]) == [Status.pending_payment] * 2
    released = await expire_holds(
        app.state.database, app.state.settings, app.state.payments.gateway, now=utcnow() + timedelta(days=2)
    )
    assert released == 2
    assert await statuses(database, booked["id"]) == [Status.cancelled] * 2


async def test_cancelling_a_member_before_paying_opens_a_page_for_the_rest(
    paid: tuple[httpx.AsyncClient, Any], database: Database, fake: FakeStripe
) -> None:
    client, app = paid
    booked = await book_card_group(client, database, 3, lead_name=LEAD)
    lead = f"/api/v1/groups/manage/{booked['manage_token']}"
    first_page = support.checkout_session_id(booked["checkout_url"])
    assert (await client.delete(f"{lead}/members/{booked['members'][0]['id']}")).status_code == 200
    await app.state.payments.tick()  # the page for three is closed (and any payment on it refunded)
    assert fake.session(first_page)["status"] == "expired"
    again = await client.post(f"{lead}/checkout")
    assert again.status_code == 200, again.text
    session_id = support.checkout_session_id(again.json()["checkout_url"])
    assert session_id != first_page and fake.session(session_id)["amount_total"] == 2 * 54000
    event = fake.pay(session_id)
    assert (await support.deliver_stripe_event(client, fake, event)).json()["outcome"] == "confirmed"
    assert await statuses(database, booked["id"]) == [Status.cancelled, Status.confirmed, Status.confirmed]
    assert fake.refunds() == []
    async with database.read() as db:
        (receipt,) = (await db.execute(sa.select(Invoice))).scalars()
    assert receipt.gross_pence == 2 * 54000
