"""Security review, issue 15: what the previous holder of a transferred place can still reach (H1), what the new
holder's data download shows of them (L5), and how long Idempotency-Key records live (L7)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from starlette.config import Config

from conference import delegates
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import IdempotencyKey, Registration, utcnow
from conference.core.security import manage_token
from conference.core.settings import Settings, SettingsError, load_settings
from conference.invoices.invoicing import INVOICE_KINDS
from conference.personal_data import RetentionWorker, erase
from conference.server.app import create_app
from tests.factories import BILLING, make_conference, registration_body
from tests.stripe_fake import FakeStripe
from tests.support import SECRET_KEY, bearer, make_settings

ORGANISER = Actor("organiser", "tests")
COLLEAGUE = {
    "name": "Colleague Person",
    "email": "colleague.person@leeds.gov.uk",
    "organisation": "Leeds City Council",
    "job_title": "",
    "sector": "local_authority",
    "region": "",
    "dietary": "",
    "access_needs": "",
}


async def transfer(database: Database, settings: Settings, registration_id: str) -> None:
    async with database.transaction() as db:
        await delegates.substitute(
            db,
            settings=settings,
            registration_id=uuid.UUID(registration_id),
            details=delegates.parse_details(COLLEAGUE),
            actor=ORGANISER,
        )


async def keys_of(database: Database, registration_id: str) -> list[IdempotencyKey]:
    async with database.read() as db:
        stmt = sa.select(IdempotencyKey).where(IdempotencyKey.registration_id == uuid.UUID(registration_id))
        return list((await db.execute(stmt)).scalars())


def colleague_token(registration_id: str, version: int = 2) -> str:
    return manage_token(SECRET_KEY, uuid.UUID(registration_id), version)


# --- H1: replaying the first registration -------------------------------------------------------------------


async def test_replaying_the_registration_after_a_transfer_never_gives_the_colleagues_link(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    body = registration_body(tickets["delegate"])
    headers = {"Idempotency-Key": "first-holder-key"}
    first = await client.post("/api/v1/registrations", json=body, headers=headers)
    assert first.status_code == 201, first.text
    original = first.json()
    assert len(await keys_of(database, original["id"])) == 1

    await transfer(database, settings, original["id"])
    token = colleague_token(original["id"])
    assert (await client.get(f"/manage/{token}")).status_code == 200  # the colleague's link works

    replay = await client.post("/api/v1/registrations", json=body, headers=headers)
    assert token not in replay.text
    assert replay.headers.get("idempotent-replayed") is None
    # The transfer forgot the key (L7): the retry is a new request, so the first holder gets a booking of their own.
    assert replay.status_code == 201 and replay.json()["id"] != original["id"], replay.text
    assert await keys_of(database, original["id"]) == []


async def test_replaying_after_the_manage_link_was_reissued_is_refused(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    body = registration_body(tickets["delegate"])
    headers = {"Idempotency-Key": "reissued-key"}
    original = (await client.post("/api/v1/registrations", json=body, headers=headers)).json()
    # Any path that reissues the link (token_version moves on) while the key's record stays.
    async with database.transaction() as db:
        await db.execute(
            sa.update(Registration)
            .where(Registration.id == uuid.UUID(original["id"]))
            .values(token_version=2)
        )
    replay = await client.post("/api/v1/registrations", json=body, headers=headers)
    assert replay.status_code == 409, replay.text
    assert replay.json()["error"]["code"] == "idempotency_key_superseded"
    assert colleague_token(original["id"]) not in replay.text
    # Before any change the replay still answers as before, with the (unchanged) link.
    other = registration_body(tickets["delegate"])
    made = (await client.post("/api/v1/registrations", json=other, headers={"Idempotency-Key": "k2"})).json()
    again = await client.post("/api/v1/registrations", json=other, headers={"Idempotency-Key": "k2"})
    assert again.status_code == 201 and again.json()["manage_token"] == made["manage_token"]


# --- H1: the card payment's return page ---------------------------------------------------------------------


@pytest.fixture
def stripe_fake() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


@pytest.fixture
async def card_client(database_url: str, stripe_fake: FakeStripe) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        make_settings(
            database_url,
            STRIPE_SECRET_KEY=stripe_fake.api_key,
            STRIPE_WEBHOOK_SECRET=stripe_fake.webhook_secret,
            STRIPE_API_BASE=stripe_fake.url,
            CONFERENCE_PAYMENT_POLL_SECONDS="3600",
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def test_the_payment_return_page_of_a_transferred_place_has_no_manage_link(
    card_client: httpx.AsyncClient, database: Database, settings: Settings, stripe_fake: FakeStripe
) -> None:
    tickets = await make_conference(database, capacity=5)
    created = await card_client.post(
        "/api/v1/registrations", json=registration_body(tickets["exhibitor"], payment_method="card")
    )
    assert created.status_code == 201, created.text
    registration = created.json()
    session_id = registration["checkout_url"].rstrip("/").rsplit("/", 1)[-1]
    stripe_fake.pay(session_id)
    page = await card_client.get(f"/payment/return?session_id={session_id}")
    assert "Payment received" in page.text
    assert (
        f"/manage/{registration['manage_token']}" in page.text
    )  # the payer's own booking, before any transfer

    await transfer(database, settings, registration["id"])
    after = await card_client.get(f"/payment/return?session_id={session_id}")
    assert after.status_code == 200
    assert colleague_token(registration["id"]) not in after.text
    assert "/manage/" not in after.text


# --- L5: the new holder's data download ---------------------------------------------------------------------


async def test_after_a_transfer_the_download_lists_only_emails_to_the_current_holder(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    body = registration_body(
        tickets["exhibitor"],
        payment_method="invoice",
        billing=dict(BILLING),
        email="first.holder@leeds.gov.uk",
    )
    original = (await client.post("/api/v1/registrations", json=body)).json()
    await transfer(database, settings, original["id"])

    data = (await client.get(f"/manage/{colleague_token(original['id'])}/data.json")).json()
    emails = data["emails"]
    assert emails, data
    assert "first.holder@leeds.gov.uk" not in str(emails)
    assert all(
        e["to"] == COLLEAGUE["email"] or (e["kind"] in INVOICE_KINDS and e["to"] == BILLING["email"])
        for e in emails
    ), emails
    assert {e["kind"] for e in emails} >= {"registration", "invoice"}


# --- L7: Idempotency-Key records do not live for ever -------------------------------------------------------


async def test_erasure_deletes_the_registrations_idempotency_records(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    body = registration_body(tickets["delegate"])
    made = (
        await client.post("/api/v1/registrations", json=body, headers={"Idempotency-Key": "erase-me"})
    ).json()
    assert len(await keys_of(database, made["id"])) == 1
    async with database.transaction() as db:
        await erase(
            db, settings=settings, registration_id=uuid.UUID(made["id"]), actor=ORGANISER, reason="organiser"
        )
    assert await keys_of(database, made["id"]) == []
    replay = await client.post("/api/v1/registrations", json=body, headers={"Idempotency-Key": "erase-me"})
    assert made["manage_token"] not in replay.text


async def test_the_retention_worker_purges_idempotency_records_past_their_time(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    old = (
        await client.post(
            "/api/v1/registrations",
            json=registration_body(tickets["delegate"]),
            headers={"Idempotency-Key": "old"},
        )
    ).json()
    new = (
        await client.post(
            "/api/v1/registrations",
            json=registration_body(tickets["delegate"]),
            headers={"Idempotency-Key": "new"},
        )
    ).json()
    async with database.transaction() as db:
        await db.execute(
            sa.update(IdempotencyKey)
            .where(IdempotencyKey.registration_id == uuid.UUID(old["id"]))
            .values(created_at=utcnow() - timedelta(days=settings.idempotency_retention_days, minutes=1))
        )
    await RetentionWorker(database, settings).tick()
    assert await keys_of(database, old["id"]) == []
    assert len(await keys_of(database, new["id"])) == 1
    # The registrations themselves are untouched; their links still work.
    assert (
        await client.get(f"/api/v1/registrations/{old['id']}", headers=bearer(old["manage_token"]))
    ).status_code == 200


def test_the_idempotency_retention_setting_is_validated() -> None:
    assert load_settings(Config(environ={})).idempotency_retention_days == 7
    custom = load_settings(Config(environ={"CONFERENCE_IDEMPOTENCY_RETENTION_DAYS": "30"}))
    assert custom.idempotency_retention_days == 30
    for bad in ("0", "-1", "366", "a week"):
        with pytest.raises(SettingsError, match="CONFERENCE_IDEMPOTENCY_RETENTION_DAYS"):
            load_settings(Config(environ={"CONFERENCE_IDEMPOTENCY_RETENTION_DAYS": bad}))
