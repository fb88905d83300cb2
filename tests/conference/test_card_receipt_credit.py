"""A card receipt is not credited on its own (POST /api/v1/invoices/{id}/credit answers 409 naming the way): its
credit note comes with the card refund, when the registration is cancelled. Crediting it alone would email the
delegate that money is going back to their card when none is."""

from __future__ import annotations

from typing import Any

import httpx
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import Invoice
from tests import support
from tests.factories import make_conference
from tests.stripe_fake import FakeStripe


async def test_a_card_receipt_is_credited_only_with_its_refund(
    paid: tuple[httpx.AsyncClient, Any], database: Database, fake: FakeStripe
) -> None:
    client, _app = paid
    tickets = await make_conference(database, capacity=5)
    card = await support.register_card(client, tickets["exhibitor"])
    event = fake.pay(support.checkout_session_id(card["checkout_url"]))
    assert (await support.deliver_stripe_event(client, fake, event)).json()["outcome"] == "confirmed"
    async with database.read() as db:
        (receipt,) = (await db.execute(sa.select(Invoice))).scalars()
    organiser = support.bearer(await support.organiser_token(database))

    for body in ({"cancel_registration": False}, {}):
        refused = await client.post(f"/api/v1/invoices/{receipt.id}/credit", json=body, headers=organiser)
        assert refused.status_code == 409, refused.text
        assert "paid by card: cancel the registration instead" in refused.json()["error"]["message"]
    async with database.read() as db:
        kinds = sorted((await db.execute(sa.select(Invoice.kind))).scalars())
    assert kinds == ["invoice"]  # no credit note, and the receipt still stands
