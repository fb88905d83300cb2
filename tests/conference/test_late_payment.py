"""Issue 16, defect 3: a card payment that lands after its hold was released is honoured only when the conference
and the ticket type both have room and no live registration holds the delegate's email address; otherwise it is
refunded in full and the delegate is told why. The webhook never answers 500 (Stripe would retry it for days).

The release is made to win the race directly (`release_hold`), as if Stripe's clock said "expired" a moment
before the card cleared; then the paid session's `checkout.session.completed` arrives.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import HOLDING, Invoice, Refund, Registration, Status, TicketType
from conference.core.settings import Settings
from conference.payments import fulfilment, records
from tests import support
from tests.factories import make_conference, registration_body
from tests.stripe_fake import FakeStripe

GROSS = 54000


async def paid_after_release(
    client: httpx.AsyncClient, app: Any, database: Database, fake: FakeStripe, tickets: dict[str, uuid.UUID]
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """A card registration paid at Stripe whose hold we released first: (registration, its email, the event)."""
    email = f"late-{uuid.uuid4().hex[:6]}@leeds.gov.uk"
    holder = await support.register_card(client, tickets["exhibitor"], email=email)
    event = fake.pay(support.checkout_session_id(holder["checkout_url"]))
    async with database.transaction() as db:
        conference = await records.lock_conference(db)
        registration = await db.get(Registration, uuid.UUID(holder["id"]))
        assert registration is not None
        await fulfilment.release_hold(db, app.state.settings, conference, registration, reason="hold_expired")
    return holder, email, event


async def refunds(database: Database) -> list[tuple[str, int]]:
    async with database.read() as db:
        return [(r.reason, r.amount_pence) for r in (await db.execute(sa.select(Refund))).scalars()]


async def test_a_late_payment_after_registering_again_with_the_same_email_is_refunded_not_a_500(
    paid: tuple[httpx.AsyncClient, Any], database: Database, settings: Settings, fake: FakeStripe
) -> None:
    client, app = paid
    tickets = await make_conference(database, capacity=5)
    holder, email, event = await paid_after_release(client, app, database, fake, tickets)
    # The delegate, told the place was released, registered again with the same address (a free ticket).
    again = await client.post(
        "/api/v1/registrations", json=registration_body(tickets["delegate"], email=email)
    )
    assert again.status_code == 201 and again.json()["status"] == "confirmed"

    answer = await support.deliver_stripe_event(client, fake, event)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "refunding"
    assert await support.registration_status(database, holder["id"]) == Status.cancelled
    assert await support.registration_status(database, again.json()["id"]) == Status.confirmed
    assert await refunds(database) == [("late_payment", GROSS)]
    assert "late_payment_declined" in await support.outbox_kinds(database, registration_id=holder["id"])
    (told,) = await support.emails(database, settings, kind="late_payment_declined")
    assert "registered again with the same email address" in support.body_of(told)
    assert "£540.00" in support.body_of(told)

    # Stripe delivers it again: still 200, nothing more happens; and the refund goes out in full.
    assert (await support.deliver_stripe_event(client, fake, event)).status_code == 200
    await app.state.payments.tick()
    (made,) = fake.refunds()
    assert (made["amount"], made["status"], made["metadata"]["reason"]) == (
        GROSS,
        "succeeded",
        "late_payment",
    )


async def test_a_late_payment_is_refunded_when_its_ticket_type_is_full_though_the_conference_is_not(
    paid: tuple[httpx.AsyncClient, Any], database: Database, settings: Settings, fake: FakeStripe
) -> None:
    client, app = paid
    tickets = await make_conference(database, capacity=50)
    holder, _, event = await paid_after_release(client, app, database, fake, tickets)
    async with database.read() as db:
        cap = (await db.get(TicketType, tickets["exhibitor"])).cap  # type: ignore[union-attr]
    assert cap is not None
    for _ in range(cap):  # the exhibitor places go meanwhile (held while they pay)
        await support.register_card(client, tickets["exhibitor"])

    answer = await support.deliver_stripe_event(client, fake, event)
    assert answer.status_code == 200 and answer.json()["outcome"] == "refunding"
    assert await support.registration_status(database, holder["id"]) == Status.cancelled
    async with database.read() as db:
        held = (
            await db.execute(
                sa.select(sa.func.count()).where(
                    Registration.ticket_type_id == tickets["exhibitor"], Registration.status.in_(HOLDING)
                )
            )
        ).scalar_one()
    assert held == cap
    assert await refunds(database) == [("late_payment", GROSS)]
    (told,) = await support.emails(database, settings, kind="late_payment_declined")
    assert "tickets of the type you chose have all gone" in support.body_of(told)


async def test_a_late_payment_with_room_everywhere_is_honoured_with_a_receipt(
    paid: tuple[httpx.AsyncClient, Any], database: Database, fake: FakeStripe
) -> None:
    client, app = paid
    tickets = await make_conference(database, capacity=5)
    holder, _, event = await paid_after_release(client, app, database, fake, tickets)
    answer = await support.deliver_stripe_event(client, fake, event)
    assert answer.status_code == 200 and answer.json()["outcome"] == "confirmed"
    assert await support.registration_status(database, holder["id"]) == Status.confirmed
    assert await refunds(database) == []
    async with database.read() as db:
        invoice = (await db.execute(sa.select(Invoice))).scalar_one()
    assert (invoice.status, invoice.paid_by, invoice.gross_pence) == ("paid", "card", GROSS)
