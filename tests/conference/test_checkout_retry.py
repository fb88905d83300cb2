"""Issue 16, defect 1: one failed Checkout create must not lock the booking out of paying for the rest of its hold.

Stripe stores the first answer under an Idempotency-Key, errors included, and refuses a session that expires in
under 30 minutes; the fake does both (tests/stripe_fake.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import Payment, Registration, utcnow
from tests.factories import make_conference
from tests.stripe_fake import FakeStripe
from tests.support import checkout_session_id, register_card


async def payments(database: Database, registration_id: str) -> list[Payment]:
    async with database.read() as db:
        stmt = sa.select(Payment).where(Payment.registration_id == uuid.UUID(registration_id))
        return list((await db.execute(stmt.order_by(Payment.attempt))).scalars())


async def retry(client: httpx.AsyncClient, created: dict[str, Any]) -> httpx.Response:
    return await client.post(
        f"/api/v1/registrations/{created['id']}/checkout",
        headers={"authorization": f"Bearer {created['manage_token']}"},
    )


def creates(fake: FakeStripe) -> list[str | None]:
    return [
        r.idempotency_key for r in fake.requests if (r.method, r.path) == ("POST", "/v1/checkout/sessions")
    ]


async def test_a_stripe_error_stored_under_the_key_does_not_lock_the_booking_out(
    paid: tuple[httpx.AsyncClient, Any], database: Database, fake: FakeStripe
) -> None:
    client, _ = paid
    tickets = await make_conference(database, capacity=5)
    fake.fail_next(1, status=500)  # Stripe keeps this 500 under the key and replays it to every retry
    created = await register_card(client, tickets["exhibitor"])
    assert created["status"] == "pending_payment" and created.get("checkout_url") is None
    # The message says what to do, and until when.
    assert "try again" in created["payment_error"] and "held until" in created["payment_error"]

    again = await retry(client, created)
    assert again.status_code == 200, again.text
    session = fake.session(checkout_session_id(again.json()["checkout_url"]))
    assert session["status"] == "open"
    rows = await payments(database, created["id"])
    assert [(p.attempt, p.status) for p in rows] == [(1, "failed"), (2, "open")]
    keys = creates(fake)
    assert keys[0] != keys[-1] and keys[-1] == f"checkout-{rows[1].id}"  # a new attempt under a new key


async def test_an_expiry_stripe_would_refuse_starts_a_new_attempt_and_moves_the_hold(
    paid: tuple[httpx.AsyncClient, Any], database: Database, fake: FakeStripe
) -> None:
    client, _ = paid
    tickets = await make_conference(database, capacity=5)
    fake.disconnect_next(2)  # no answer at all, the SDK's own retry included: the attempt stays "creating"
    created = await register_card(client, tickets["exhibitor"])
    assert created.get("checkout_url") is None and "try again" in created["payment_error"]
    [first] = await payments(database, created["id"])
    assert first.status == "creating"

    # Six minutes later the attempt's expires_at (and the hold) is under Stripe's 30-minute minimum away.
    soon = utcnow() + timedelta(minutes=29)
    async with database.transaction() as db:
        await db.execute(sa.update(Payment).where(Payment.id == first.id).values(expires_at=soon))
        await db.execute(
            sa.update(Registration)
            .where(Registration.id == uuid.UUID(created["id"]))
            .values(hold_expires_at=soon)
        )

    before = utcnow()
    again = await retry(client, created)
    assert again.status_code == 200, again.text
    session = fake.session(checkout_session_id(again.json()["checkout_url"]))
    assert session["expires_at"] >= int((before + timedelta(minutes=30)).timestamp())
    rows = await payments(database, created["id"])
    assert [(p.attempt, p.status) for p in rows] == [(1, "failed"), (2, "open")]
    async with database.read() as db:
        registration = await db.get(Registration, uuid.UUID(created["id"]))
        assert registration is not None and registration.hold_expires_at is not None
        # The hold moved with the new session, so both end together.
        assert int(registration.hold_expires_at.timestamp()) == session["expires_at"]


async def test_a_lost_answer_is_asked_for_again_under_the_same_key(
    paid: tuple[httpx.AsyncClient, Any], database: Database, fake: FakeStripe
) -> None:
    client, _ = paid
    tickets = await make_conference(database, capacity=5)
    fake.disconnect_next(2, after=True)  # Stripe made the session; both answers were lost on the way
    created = await register_card(client, tickets["exhibitor"])
    assert created.get("checkout_url") is None

    again = await retry(client, created)
    assert again.status_code == 200, again.text
    rows = await payments(database, created["id"])
    assert [(p.attempt, p.status) for p in rows] == [(1, "open")]  # the same attempt, not a second session
    assert set(creates(fake)) == {f"checkout-{rows[0].id}"}
    assert rows[0].checkout_session_id == checkout_session_id(again.json()["checkout_url"])
