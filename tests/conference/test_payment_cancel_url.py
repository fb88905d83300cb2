"""Issue 16, defect 4: Stripe fills in {CHECKOUT_SESSION_ID} in the success URL only, so the cancel URL names our
own payment, and leaving the payment page leads back to a page that says what to do."""

from __future__ import annotations

import uuid

import httpx
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import Payment
from tests.factories import make_conference
from tests.stripe_fake import FakeStripe
from tests.support import checkout_session_id, paid_app, register_card


async def test_leaving_the_payment_page_returns_by_our_payment_id(
    database_url: str, database: Database, fake: FakeStripe
) -> None:
    tickets = await make_conference(database, capacity=5)
    async with paid_app(database_url, fake) as (client, _):
        created = await register_card(client, tickets["exhibitor"])
        session = fake.session(checkout_session_id(created["checkout_url"]))
        async with database.read() as db:
            payment = (
                await db.execute(
                    sa.select(Payment).where(Payment.registration_id == uuid.UUID(created["id"]))
                )
            ).scalar_one()
        assert "{CHECKOUT_SESSION_ID}" not in session["cancel_url"]
        assert f"payment={payment.id}" in session["cancel_url"]

        # The delegate presses Cancel on Stripe's page and is sent to the cancel URL exactly as given.
        left = httpx.post(created["checkout_url"], data={"outcome": "cancel"})
        assert left.status_code == 303
        back = left.headers["location"].removeprefix("http://testserver")
        page = await client.get(back)
        assert page.status_code == 200, page.text
        assert "Payment not made" in page.text and "You left the payment page" in page.text
        assert "View your booking" in page.text
        assert 'http-equiv="refresh"' not in page.text
        assert session["id"] not in page.text

        unknown = await client.get(f"/payment/return?payment={uuid.uuid4()}&cancelled=1")
        assert unknown.status_code == 404
