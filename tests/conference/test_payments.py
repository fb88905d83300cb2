"""Card payments end to end: the real stripe SDK against a local fake of Stripe, webhooks signed as Stripe signs
them, holds that expire (also across a restart), late payments, refunds, and the expiry racing a webhook."""

from __future__ import annotations

import asyncio
import io
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from conference.core.db import Database
from conference.core.models import OutboxEmail, Payment, Refund, Registration, Status, TicketType, utcnow
from conference.core.settings import Settings
from conference.payments import checkout, fulfilment, records, worker
from conference.server.app import create_app
from conference.web.auth import create_api_token
from tests import support
from tests.factories import invoice_body, make_conference, registration_body
from tests.stripe_fake import FakeStripe, event_body, sign
from tests.support import make_settings

GROSS = 54000  # the exhibitor ticket: £450 net + 20% VAT


@pytest.fixture
def stripe_fake() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


def stripe_env(fake: FakeStripe) -> dict[str, str]:
    return {
        "STRIPE_SECRET_KEY": fake.api_key,
        "STRIPE_WEBHOOK_SECRET": fake.webhook_secret,
        "STRIPE_API_BASE": fake.url,
        "CONFERENCE_PAYMENT_POLL_SECONDS": "3600",
    }


@pytest.fixture
def paid_settings(database_url: str, stripe_fake: FakeStripe) -> Settings:
    return make_settings(database_url, **stripe_env(stripe_fake))


@pytest.fixture
async def app_client(paid_settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    app = create_app(paid_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client, app


async def deliver(
    client: httpx.AsyncClient,
    fake: FakeStripe,
    event: dict[str, Any],
    *,
    secret: str | None = None,
    timestamp: int | None = None,
    tamper: bool = False,
) -> httpx.Response:
    body = event_body(event)
    signature = sign(body, secret or fake.webhook_secret, timestamp)
    if tamper:
        body = body.replace(b'"livemode": false', b'"livemode": true ')
    return await client.post(
        "/stripe/webhook",
        content=body,
        headers={"stripe-signature": signature, "content-type": "application/json"},
    )


async def register_card(client: httpx.AsyncClient, ticket: uuid.UUID, **extra: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/registrations", json=registration_body(ticket, payment_method="card", **extra)
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def session_id(checkout_url: str) -> str:
    return checkout_url.rstrip("/").rsplit("/", 1)[-1]


async def registration_row(database: Database, registration_id: str) -> Registration:
    async with database.read() as db:
        row = await db.get(Registration, uuid.UUID(registration_id))
        assert row is not None
        return row


async def emails(database: Database, registration_id: str) -> list[str]:
    async with database.read() as db:
        rows = (
            await db.execute(
                sa.select(OutboxEmail.kind)
                .where(OutboxEmail.registration_id == uuid.UUID(registration_id))
                .order_by(OutboxEmail.created_at)
            )
        ).scalars()
        return list(rows)


async def age_hold(database: Database, registration_id: str) -> None:
    async with database.transaction() as db:
        await db.execute(
            sa.update(Registration)
            .where(Registration.id == uuid.UUID(registration_id))
            .values(hold_expires_at=utcnow() - timedelta(seconds=1))
        )


async def test_card_payment_end_to_end(
    app_client: tuple[httpx.AsyncClient, Any],
    database: Database,
    stripe_fake: FakeStripe,
    paid_settings: Settings,
) -> None:
    client, _ = app_client
    tickets = await make_conference(database, capacity=5)
    types = {t["name"]: t for t in (await client.get("/api/v1/ticket-types")).json()}
    assert types["Exhibitor"]["total_pence"] == GROSS
    assert types["Exhibitor"]["payment_methods"] == ["card", "invoice"]

    before = int(time.time())  # the session's expiry is measured from here, not from whenever the checks run
    created = await register_card(client, tickets["exhibitor"])
    assert created["status"] == "pending_payment"
    assert created["checkout_url"].startswith(stripe_fake.url)
    session = stripe_fake.session(session_id(created["checkout_url"]))
    assert session["amount_total"] == GROSS and session["currency"] == "gbp"
    assert session["client_reference_id"] == created["id"]
    assert session["metadata"]["registration_id"] == created["id"]
    held = await registration_row(database, created["id"])
    assert held.hold_expires_at is not None
    assert session["expires_at"] == int(held.hold_expires_at.timestamp())
    assert session["expires_at"] - before >= 30 * 60  # Stripe's minimum, kept
    # Every create call carried our own idempotency key.
    assert all(
        r.idempotency_key and r.idempotency_key.startswith("checkout-")
        for r in stripe_fake.requests
        if r.path == "/v1/checkout/sessions"
    )

    event = stripe_fake.pay(session["id"])
    answer = await deliver(client, stripe_fake, event)
    assert answer.status_code == 200 and answer.json()["outcome"] == "confirmed"
    confirmed = await registration_row(database, created["id"])
    assert confirmed.status == Status.confirmed and confirmed.hold_expires_at is None
    assert (await emails(database, created["id"])).count("payment_confirmed") == 1

    # Stripe delivers at least once: the same event again changes nothing and sends nothing.
    again = await deliver(client, stripe_fake, event)
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert (await emails(database, created["id"])).count("payment_confirmed") == 1

    view = (
        await client.get(
            f"/api/v1/registrations/{created['id']}/payments",
            headers={"authorization": f"Bearer {created['manage_token']}"},
        )
    ).json()
    assert [(p["status"], p["amount_pence"]) for p in view["payments"]] == [("paid", GROSS)]


async def test_forged_stale_and_wrong_secret_signatures_change_nothing(
    app_client: tuple[httpx.AsyncClient, Any], database: Database, stripe_fake: FakeStripe
) -> None:
    client, _ = app_client
    tickets = await make_conference(database, capacity=5)
    created = await register_card(client, tickets["exhibitor"])
    event = stripe_fake.pay(session_id(created["checkout_url"]))

    for kwargs in ({"tamper": True}, {"timestamp": int(time.time()) - 400}, {"secret": "whsec_not_ours"}):
        answer = await deliver(client, stripe_fake, event, **kwargs)
        assert answer.status_code == 400, kwargs
        assert answer.json()["error"]["code"] == "invalid_signature"
    missing = await client.post("/stripe/webhook", content=event_body(event))
    assert missing.status_code == 400
    assert (await registration_row(database, created["id"])).status == Status.pending_payment
    assert "payment_confirmed" not in await emails(database, created["id"])


async def test_return_page_before_the_webhook_and_stale_events_after(
    app_client: tuple[httpx.AsyncClient, Any], database: Database, stripe_fake: FakeStripe
) -> None:
    client, _ = app_client
    tickets = await make_conference(database, capacity=5)
    created = await register_card(client, tickets["exhibitor"])
    sid = session_id(created["checkout_url"])

    waiting = await client.get(f"/payment/return?session_id={sid}")
    assert waiting.status_code == 200 and "Confirming your payment" in waiting.text
    assert 'http-equiv="refresh"' in waiting.text

    event = stripe_fake.pay(sid)
    landed = await client.get(f"/payment/return?session_id={sid}")
    assert "Payment received" in landed.text
    assert (await registration_row(database, created["id"])).status == Status.confirmed
    # The webhook arrives afterwards, then an out-of-order "expired" snapshot of the same session: both are
    # checked against Stripe's current state and change nothing.
    assert (await deliver(client, stripe_fake, event)).json()["outcome"] == "confirmed"
    stale = json.loads(event_body(event))
    stale.update(id="evt_stale_expired", type="checkout.session.expired")
    stale["data"]["object"]["status"] = "expired"
    assert (await deliver(client, stripe_fake, stale)).status_code == 200
    assert (await registration_row(database, created["id"])).status == Status.confirmed
    assert (await emails(database, created["id"])).count("payment_confirmed") == 1


async def test_expired_hold_releases_the_place_to_the_waiting_list(
    app_client: tuple[httpx.AsyncClient, Any], database: Database, stripe_fake: FakeStripe
) -> None:
    client, app = app_client
    tickets = await make_conference(database, capacity=1)
    holder = await register_card(client, tickets["exhibitor"])
    waiting = (await client.post("/api/v1/registrations", json=registration_body(tickets["delegate"]))).json()
    assert waiting["status"] == "waitlisted"

    await age_hold(database, holder["id"])
    await app.state.payments.tick()

    released = await registration_row(database, holder["id"])
    assert (released.status, released.cancel_reason) == (Status.cancelled, "hold_expired")
    assert stripe_fake.session(session_id(holder["checkout_url"]))["status"] == "expired"
    assert (await registration_row(database, waiting["id"])).status == Status.confirmed
    assert "hold_expired" in await emails(database, holder["id"])
    assert "promoted" in await emails(database, waiting["id"])
    # The expiry event Stripe sends afterwards changes nothing more.
    expired = [e for e in stripe_fake.events if e["type"] == "checkout.session.expired"]
    assert (await deliver(client, stripe_fake, expired[-1])).status_code == 200
    assert (await registration_row(database, waiting["id"])).status == Status.confirmed


async def test_hold_expiry_finds_a_paid_session_and_confirms_instead(
    app_client: tuple[httpx.AsyncClient, Any], database: Database, stripe_fake: FakeStripe
) -> None:
    client, app = app_client
    tickets = await make_conference(database, capacity=1)
    holder = await register_card(client, tickets["exhibitor"])
    stripe_fake.pay(session_id(holder["checkout_url"]))  # paid, but the webhook has not arrived
    await age_hold(database, holder["id"])
    await app.state.payments.tick()
    assert (await registration_row(database, holder["id"])).status == Status.confirmed


async def _late_payment(
    client: httpx.AsyncClient, app: Any, database: Database, fake: FakeStripe, capacity: int
) -> tuple[dict[str, Any], httpx.Response]:
    tickets = await make_conference(database, capacity=capacity)
    holder = await register_card(client, tickets["exhibitor"])
    sid = session_id(holder["checkout_url"])
    event = fake.pay(sid)
    # The release got there first (say Stripe's clock said "expired" a moment before the card cleared).
    async with database.transaction() as db:
        conference = await records.lock_conference(db)
        registration = await db.get(Registration, uuid.UUID(holder["id"]))
        assert registration is not None
        await fulfilment.release_hold(db, app.state.settings, conference, registration, reason="hold_expired")
    await client.post(
        "/api/v1/registrations", json=registration_body(tickets["delegate"])
    )  # may take the place
    return holder, await deliver(client, fake, event)


async def test_late_payment_is_refunded_when_the_event_is_full(
    app_client: tuple[httpx.AsyncClient, Any], database: Database, stripe_fake: FakeStripe
) -> None:
    client, app = app_client
    holder, answer = await _late_payment(client, app, database, stripe_fake, capacity=1)
    assert answer.json()["outcome"] == "refunding"
    assert (await registration_row(database, holder["id"])).status == Status.cancelled
    await app.state.payments.tick()
    async with database.read() as db:
        refund = (await db.execute(sa.select(Refund))).scalar_one()
        payment = (await db.execute(sa.select(Payment))).scalar_one()
    assert (refund.status, refund.reason, refund.amount_pence) == ("succeeded", "late_payment", GROSS)
    intent = stripe_fake.payment_intent(payment.payment_intent_id or "")
    assert intent["amount"] == GROSS
    assert any(
        r.path == "/v1/refunds" and r.idempotency_key == f"refund-{refund.id}" for r in stripe_fake.requests
    )
    assert "late_payment_refunded" in await emails(database, holder["id"])


async def test_late_payment_is_honoured_when_a_place_is_free(
    app_client: tuple[httpx.AsyncClient, Any], database: Database, stripe_fake: FakeStripe
) -> None:
    client, app = app_client
    holder, answer = await _late_payment(client, app, database, stripe_fake, capacity=3)
    assert answer.json()["outcome"] == "confirmed"
    assert (await registration_row(database, holder["id"])).status == Status.confirmed
    async with database.read() as db:
        assert (await db.execute(sa.select(sa.func.count()).select_from(Refund))).scalar_one() == 0


async def test_cancellation_refunds_in_full_until_the_refund_date_and_not_after(
    app_client: tuple[httpx.AsyncClient, Any], database: Database, stripe_fake: FakeStripe
) -> None:
    client, app = app_client
    tickets = await make_conference(database, capacity=5)
    results = []
    for _ in range(2):
        created = await register_card(client, tickets["exhibitor"])
        await deliver(client, stripe_fake, stripe_fake.pay(session_id(created["checkout_url"])))
        results.append(created)
    early, late = results
    auth = {"authorization": f"Bearer {early['manage_token']}"}
    assert (await client.delete(f"/api/v1/registrations/{early['id']}", headers=auth)).status_code == 200
    await app.state.payments.tick()

    async with database.transaction() as db:
        await db.execute(
            sa.text("UPDATE conference SET refund_full_until = :t"), {"t": utcnow() - timedelta(days=1)}
        )
    auth = {"authorization": f"Bearer {late['manage_token']}"}
    assert (await client.delete(f"/api/v1/registrations/{late['id']}", headers=auth)).status_code == 200
    await app.state.payments.tick()

    async with database.read() as db:
        refunds = list((await db.execute(sa.select(Refund))).scalars())
    assert [(str(r.registration_id), r.reason, r.status, r.amount_pence) for r in refunds] == [
        (early["id"], "cancelled", "succeeded", GROSS)
    ]
    assert len([r for r in stripe_fake.requests if r.path == "/v1/refunds"]) == 1
    view = (
        await client.get(
            f"/api/v1/registrations/{early['id']}/payments",
            headers={"authorization": f"Bearer {early['manage_token']}"},
        )
    ).json()
    assert [r["status"] for r in view["refunds"]] == ["succeeded"]


async def test_refund_that_stripe_refuses_at_first_is_retried(
    app_client: tuple[httpx.AsyncClient, Any], database: Database, stripe_fake: FakeStripe
) -> None:
    client, app = app_client
    tickets = await make_conference(database, capacity=5)
    created = await register_card(client, tickets["exhibitor"])
    await deliver(client, stripe_fake, stripe_fake.pay(session_id(created["checkout_url"])))
    await client.delete(
        f"/api/v1/registrations/{created['id']}",
        headers={"authorization": f"Bearer {created['manage_token']}"},
    )
    # Stripe stores the 500 under the refund's key and replays it to the SDK's own retry.
    stripe_fake.fail_next(1, status=500)
    await app.state.payments.tick()
    async with database.transaction() as db:
        refund = (await db.execute(sa.select(Refund))).scalar_one()
        assert refund.status == "requested" and refund.attempts == 1 and refund.last_error
        refund.next_attempt_at = utcnow()
    await app.state.payments.tick()
    async with database.read() as db:
        assert (await db.execute(sa.select(Refund.status))).scalar_one() == "succeeded"


async def test_expiry_racing_webhooks_never_sells_a_place_twice(
    app_client: tuple[httpx.AsyncClient, Any], database: Database, stripe_fake: FakeStripe
) -> None:
    client, app = app_client
    capacity = 6
    tickets = await make_conference(database, capacity=capacity)
    async with database.transaction() as db:  # the exhibitor type's own cap (3) would stop us first
        await db.execute(sa.update(TicketType).where(TicketType.id == tickets["exhibitor"]).values(cap=None))
    holders = [await register_card(client, tickets["exhibitor"]) for _ in range(capacity)]
    waiting = [
        (await client.post("/api/v1/registrations", json=registration_body(tickets["delegate"]))).json()
        for _ in range(4)
    ]
    assert {w["status"] for w in waiting} == {"waitlisted"}
    events = []
    for i, holder in enumerate(holders):
        if i % 2 == 0:  # half of them paid just as their hold ran out
            events.append(stripe_fake.pay(session_id(holder["checkout_url"])))
        await age_hold(database, holder["id"])

    settings: Settings = app.state.settings
    gateway = app.state.payments.gateway
    other = Database.from_settings(settings)  # a second worker's engine
    try:
        await asyncio.gather(
            worker.expire_holds(database, settings, gateway),
            worker.expire_holds(other, settings, gateway),
            *(deliver(client, stripe_fake, e) for e in events),
        )
    finally:
        await other.dispose()
    await app.state.payments.tick()

    async with database.read() as db:
        rows = list((await db.execute(sa.select(Registration))).scalars())
        refunds = list((await db.execute(sa.select(Refund))).scalars())
    holding = [
        r for r in rows if r.status in (Status.confirmed, Status.pending_payment, Status.awaiting_approval)
    ]
    assert len(holding) <= capacity
    paid_ids = {holders[i]["id"] for i in range(0, capacity, 2)}
    confirmed = {str(r.id) for r in rows if r.status == Status.confirmed}
    refunded = {str(r.registration_id) for r in refunds}
    assert paid_ids <= confirmed | refunded and not (confirmed & refunded)
    unpaid = {h["id"] for h in holders} - paid_ids
    assert not unpaid & confirmed
    # The places the unpaid holds gave back went to the waiting list, in order.
    promoted = [w["id"] for w in waiting if w["id"] in confirmed]
    assert promoted == [w["id"] for w in waiting][: len(promoted)] and promoted


async def test_without_stripe_card_is_not_offered(client: httpx.AsyncClient, database: Database) -> None:
    tickets = await make_conference(database, capacity=5)
    types = {t["name"]: t for t in (await client.get("/api/v1/ticket-types")).json()}
    assert types["Exhibitor"]["payment_methods"] == ["invoice"]
    assert types["Delegate"]["payment_methods"] == []
    card = await client.post(
        "/api/v1/registrations", json=registration_body(tickets["exhibitor"], payment_method="card")
    )
    assert card.status_code == 422 and "payment_method" in card.json()["error"]["fields"]
    no_billing = await client.post("/api/v1/registrations", json=registration_body(tickets["exhibitor"]))
    assert no_billing.status_code == 422 and "billing" in no_billing.json()["error"]["fields"]
    async with database.read() as db:
        assert (await db.execute(sa.select(sa.func.count()).select_from(Registration))).scalar_one() == 0


@pytest.mark.race
def test_a_hold_still_expires_after_a_restart(
    database_url: str, stripe_fake: FakeStripe, tmp_path: Path
) -> None:
    asyncio.run(make_conference_sync(database_url))
    env = {**stripe_env(stripe_fake), "CONFERENCE_PAYMENT_POLL_SECONDS": "0.3"}
    ticket = asyncio.run(ticket_id(database_url, "Exhibitor"))
    with support.live_server(database_url, env=env, log_path=tmp_path / "first.log") as base:
        created = httpx.post(
            base + "/api/v1/registrations", json=registration_body(ticket, payment_method="card"), timeout=10
        ).json()
    assert created["status"] == "pending_payment"
    # The service is down when the hold runs out; nothing in memory survives, only the database.
    asyncio.run(age_hold_url(database_url, created["id"]))
    with support.live_server(database_url, env=env, log_path=tmp_path / "second.log"):
        support.wait_until(
            lambda: asyncio.run(status_of(database_url, created["id"])) == Status.cancelled,
            what="the expired hold to cancel the registration",
        )
    assert asyncio.run(status_of(database_url, created["id"])) == Status.cancelled
    assert stripe_fake.session(session_id(created["checkout_url"]))["status"] == "expired"


async def make_conference_sync(url: str) -> None:
    database = Database.from_settings(make_settings(url))
    try:
        await make_conference(database, capacity=5)
    finally:
        await database.dispose()


async def ticket_id(url: str, name: str) -> uuid.UUID:
    database = Database.from_settings(make_settings(url))
    try:
        async with database.read() as db:
            return (await db.execute(sa.select(TicketType.id).where(TicketType.name == name))).scalar_one()
    finally:
        await database.dispose()


async def age_hold_url(url: str, registration_id: str) -> None:
    database = Database.from_settings(make_settings(url))
    try:
        await age_hold(database, registration_id)
    finally:
        await database.dispose()


async def status_of(url: str, registration_id: str) -> Status:
    database = Database.from_settings(make_settings(url))
    try:
        return (await registration_row(database, registration_id)).status
    finally:
        await database.dispose()


async def test_cancelling_a_pending_card_booking_closes_its_checkout_page(
    app_client: tuple[httpx.AsyncClient, Any], database: Database, stripe_fake: FakeStripe
) -> None:
    client, _ = app_client
    tickets = await make_conference(database, capacity=5)
    created = await register_card(client, tickets["exhibitor"])
    answer = await client.delete(
        f"/api/v1/registrations/{created['id']}",
        headers={"authorization": f"Bearer {created['manage_token']}"},
    )
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
    # Closed after the answer (a slow Stripe must not hold up the request), at once.

    async def closed() -> bool:
        async with database.read() as db:
            return (await db.execute(sa.select(Payment.status))).scalar_one() == "expired"

    await support.eventually(closed, what="the checkout page to be closed")
    assert stripe_fake.session(session_id(created["checkout_url"]))["status"] == "expired"


async def test_invoice_flow_end_to_end_through_the_api(client: httpx.AsyncClient, database: Database) -> None:
    tickets = await make_conference(database, capacity=5)
    created = await client.post("/api/v1/registrations", json=invoice_body(tickets["exhibitor"]))
    assert created.status_code == 201 and created.json()["status"] == "confirmed"
    delegate = {"authorization": f"Bearer {created.json()['manage_token']}"}
    rid = created.json()["id"]
    listed = (await client.get(f"/api/v1/registrations/{rid}/invoices", headers=delegate)).json()["data"]
    assert [(i["number"], i["gross_pence"], i["purchase_order"]) for i in listed] == [
        ("INV-000001", GROSS, "PO-12345")
    ]
    pdf = await client.get(f"/api/v1/invoices/{listed[0]['id']}.pdf", headers=delegate)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "INV-000001" in text and "PO-12345" in text and "£540.00" in text

    async with database.transaction() as db:
        organiser = {
            "authorization": f"Bearer {await create_api_token(db, role='organiser', name='Finance')}"
        }
    credited = await client.post(f"/api/v1/invoices/{listed[0]['id']}/credit", headers=organiser, json={})
    assert credited.status_code == 201, credited.text
    view = (await client.get(f"/api/v1/registrations/{rid}/payments", headers=organiser)).json()
    assert view["status"] == "cancelled"
    assert sorted((i["number"], i["kind"], i["status"]) for i in view["invoices"]) == [
        ("CN-000001", "credit_note", "issued"),
        ("INV-000001", "invoice", "credited"),
    ]


async def test_delayed_payment_failure_releases_the_place_and_success_confirms(
    app_client: tuple[httpx.AsyncClient, Any],
    database: Database,
    stripe_fake: FakeStripe,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # We offer card only, which never settles later; a deployment that also took Bacs Direct Debit would see this.
    monkeypatch.setattr(checkout, "PAYMENT_METHODS", ("card", "bacs_debit"))
    client, _ = app_client
    tickets = await make_conference(database, capacity=2)
    failing = await register_card(client, tickets["exhibitor"])
    clearing = await register_card(client, tickets["exhibitor"])
    waiting = (await client.post("/api/v1/registrations", json=registration_body(tickets["delegate"]))).json()

    stripe_fake.pay(session_id(failing["checkout_url"]), outcome="async_fail")
    stripe_fake.pay(session_id(clearing["checkout_url"]), outcome="async_ok")
    # Deliver everything in the order Stripe emitted it: completed (still unpaid), then the bank's answer.
    outcomes = [
        (e["type"], (await deliver(client, stripe_fake, e)).json()["outcome"]) for e in stripe_fake.events
    ]
    assert ("checkout.session.completed", "confirming") in outcomes
    assert ("checkout.session.async_payment_failed", "released") in outcomes
    assert ("checkout.session.async_payment_succeeded", "confirmed") in outcomes

    failed = await registration_row(database, failing["id"])
    assert (failed.status, failed.cancel_reason) == (Status.cancelled, "payment_failed")
    assert (await registration_row(database, clearing["id"])).status == Status.confirmed
    assert (await registration_row(database, waiting["id"])).status == Status.confirmed
    assert "payment_failed" in await emails(database, failing["id"])
