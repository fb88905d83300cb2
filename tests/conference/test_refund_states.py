"""Issue 16, defect 2: every refund state Stripe has is reflected, whatever order the news arrives in.

A refund that succeeded and later failed (a bank returned it) ends `failed`; a refund event that arrives before
the refund's Stripe id is stored is matched by the metadata we sent; a refund still pending whose events were
lost is re-read from Stripe; a refund Stripe refuses for good (`charge_already_refunded`, after finance refunded
the payment in Stripe's Dashboard) ends `failed` with that reason and is not tried again. Organisers are emailed
and see failed refunds on the dashboard and on the registration's console page.

Against the real stripe SDK and the Stripe fake (tests/stripe_fake.py), webhooks signed as Stripe signs them.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import stripe

from conference.core.db import Database
from conference.core.models import Payment, Refund, Registration, Status, UserAccount, utcnow
from conference.core.settings import Settings
from conference.payments.refunds import send_due_refunds
from tests import support
from tests.factories import make_conference
from tests.stripe_fake import FakeStripe

GROSS = 54000  # the exhibitor ticket: £450 net + 20% VAT
FINANCE = "finance@conference.example"


@pytest.fixture
async def accounts(database: Database) -> None:
    """An organiser (who is told about failed refunds) and a member of staff (who is not)."""
    async with database.transaction() as db:
        db.add(UserAccount(email=FINANCE, email_key=FINANCE, role="organiser", name="Finance"))
        db.add(
            UserAccount(email="door@conference.example", email_key="door@conference.example", role="staff")
        )


async def paid_then_cancelled(
    client: httpx.AsyncClient, database: Database, fake: FakeStripe, *, before_cancel: Any = None
) -> dict[str, Any]:
    """A card registration, paid and confirmed, then cancelled by the delegate (a full refund is requested)."""
    tickets = await make_conference(database, capacity=5)
    created = await support.register_card(client, tickets["exhibitor"])
    event = fake.pay(support.checkout_session_id(created["checkout_url"]))
    assert (await support.deliver_stripe_event(client, fake, event)).json()["outcome"] == "confirmed"
    if before_cancel is not None:
        before_cancel(created)
    answer = await client.delete(
        f"/api/v1/registrations/{created['id']}", headers=support.bearer(created["manage_token"])
    )
    assert answer.status_code == 200, answer.text
    return created


async def the_refund(database: Database) -> Refund:
    async with database.read() as db:
        return (await db.execute(sa.select(Refund))).scalar_one()


async def intent_of(database: Database, registration_id: str) -> str:
    async with database.read() as db:
        payment = (
            await db.execute(sa.select(Payment).where(Payment.registration_id == uuid.UUID(registration_id)))
        ).scalar_one()
        assert payment.payment_intent_id is not None
        return payment.payment_intent_id


async def deliver_all(client: httpx.AsyncClient, fake: FakeStripe, events: list[dict[str, Any]]) -> list[str]:
    outcomes = []
    for event in events:
        answer = await support.deliver_stripe_event(client, fake, event)
        assert answer.status_code == 200, answer.text
        outcomes.append(answer.json()["outcome"])
    return outcomes


async def test_a_refund_that_succeeded_and_later_failed_ends_failed_and_organisers_are_told(
    paid: tuple[httpx.AsyncClient, Any],
    database: Database,
    settings: Settings,
    fake: FakeStripe,
    accounts: None,
) -> None:
    client, app = paid
    created = await paid_then_cancelled(client, database, fake)
    await app.state.payments.tick()
    refund = await the_refund(database)
    assert refund.status == "succeeded" and refund.stripe_refund_id

    # The bank returns it days later: Stripe sends refund.updated, charge.refund.updated and refund.failed.
    events = fake.settle_refund(refund.stripe_refund_id, "failed", failure_reason="expired_or_canceled_card")
    await deliver_all(client, fake, events)
    await deliver_all(client, fake, events)  # and again: at least once
    failed = await the_refund(database)
    assert (failed.status, failed.failure_reason) == ("failed", "expired_or_canceled_card")
    async with database.read() as db:
        payment = (await db.execute(sa.select(Payment))).scalar_one()
    assert payment.refunded_pence == 0  # the money came back to us: nothing is refunded now

    # One email per organiser, once, however many events said so; staff are not told.
    assert await support.outbox_kinds(database, to=FINANCE) == ["refund_failed"]
    assert await support.outbox_kinds(database, to="door@conference.example") == []
    (alert,) = await support.emails(database, settings, kind="refund_failed")
    text = support.body_of(alert)
    assert created["reference"] in alert["Subject"] and "£540.00" in alert["Subject"]
    assert f"/console/registrations/{created['id']}" in text and "expired or been cancelled" in text
    async with database.read() as db:
        person = await db.get(Registration, uuid.UUID(created["id"]))
        assert person is not None
    assert person.email not in text and person.name not in text  # the reference only, no personal data

    # Organisers see it: on the dashboard, and on the registration's page.
    await support.sign_in(client, await support.organiser_token(database))
    figures = (await client.get("/api/v1/dashboard")).json()["refunds"]
    assert (figures["failed"], figures["failed_pence"]) == (1, GROSS)
    assert [f["reference"] for f in figures["failed_list"]] == [created["reference"]]
    board = await client.get("/console/dashboard")
    assert 'id="failed-refunds"' in board.text and created["reference"] in board.text
    page = await client.get(f"/console/registrations/{created['id']}")
    assert page.status_code == 200 and 'id="refund-failed"' in page.text
    assert "failed: expired or canceled card" in page.text


async def test_a_refund_event_before_the_refund_id_is_stored_is_matched_by_its_metadata(
    paid: tuple[httpx.AsyncClient, Any], database: Database, fake: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, app = paid
    await paid_then_cancelled(client, database, fake)
    fake.refund_outcome("pending")
    gateway = app.state.payments.gateway
    real_refund = gateway.refund

    async def answer_lost(*args: Any, **kwargs: Any) -> Any:
        await real_refund(*args, **kwargs)  # Stripe makes the refund, but its answer never reaches us
        raise stripe.APIConnectionError("connection reset")

    monkeypatch.setattr(gateway, "refund", answer_lost)
    await app.state.payments.tick()
    monkeypatch.undo()
    lost = await the_refund(database)
    assert (lost.status, lost.stripe_refund_id) == ("requested", None)

    # Stripe's events arrive before we ever learn the refund's id.
    (made,) = fake.refunds()
    created_event = next(e for e in fake.events if e["type"] == "refund.created")
    assert await deliver_all(client, fake, [created_event]) == ["refund_updated"]
    matched = await the_refund(database)
    assert (matched.status, matched.stripe_refund_id) == ("pending", made["id"])
    assert await deliver_all(client, fake, fake.settle_refund(made["id"], "succeeded")) == [
        "refund_updated",
        "ignored",  # charge.refund.updated: the same news again
    ]
    assert (await the_refund(database)).status == "succeeded"

    # The worker has nothing left to send, and Stripe made one refund only.
    async with database.transaction() as db:
        await db.execute(sa.update(Refund).values(next_attempt_at=utcnow()))
    await app.state.payments.tick()
    assert len(fake.refunds()) == 1 and (await the_refund(database)).status == "succeeded"


async def test_a_pending_refund_whose_events_were_lost_is_read_again_from_stripe(
    paid: tuple[httpx.AsyncClient, Any], database: Database, fake: FakeStripe
) -> None:
    client, app = paid
    await paid_then_cancelled(client, database, fake)
    fake.refund_outcome("pending")
    await app.state.payments.tick()
    refund = await the_refund(database)
    assert refund.status == "pending" and refund.stripe_refund_id
    fake.settle_refund(refund.stripe_refund_id, "succeeded")  # and none of its events reach us
    settings = app.state.settings
    gateway = app.state.payments.gateway
    await send_due_refunds(database, settings, gateway)
    assert (await the_refund(database)).status == "pending"  # not yet due for a look
    await send_due_refunds(database, settings, gateway, now=utcnow() + timedelta(hours=2))
    assert (await the_refund(database)).status == "succeeded"


async def test_a_refund_stripe_refuses_for_good_fails_with_the_reason_and_is_not_retried(
    paid: tuple[httpx.AsyncClient, Any], database: Database, fake: FakeStripe, accounts: None
) -> None:
    client, app = paid
    # Finance refunded the payment in Stripe's Dashboard before the delegate cancelled.
    intents: list[str] = []

    def refund_in_the_dashboard(created: dict[str, Any]) -> None:
        session = fake.session(support.checkout_session_id(created["checkout_url"]))
        intents.append(session["payment_intent"])
        fake.refund_in_dashboard(session["payment_intent"])

    created = await paid_then_cancelled(client, database, fake, before_cancel=refund_in_the_dashboard)
    await app.state.payments.tick()
    refund = await the_refund(database)
    assert (refund.status, refund.failure_reason) == ("failed", "charge_already_refunded")
    assert refund.attempts == 1 and "already been refunded" in refund.last_error
    assert await support.outbox_kinds(database, to=FINANCE) == ["refund_failed"]

    async with database.transaction() as db:
        await db.execute(sa.update(Refund).values(next_attempt_at=utcnow() - timedelta(days=1)))
    for _ in range(3):
        await app.state.payments.tick()
    creates = [r for r in fake.requests if r.method == "POST" and r.path == "/v1/refunds"]
    assert len(creates) == 1
    assert (await the_refund(database)).status == "failed"
    assert await support.outbox_kinds(database, to=FINANCE) == ["refund_failed"]
    async with database.read() as db:
        registration = await db.get(Registration, uuid.UUID(created["id"]))
        assert registration is not None and registration.status == Status.cancelled
    assert intents == [await intent_of(database, created["id"])]
