"""Issue 18: a delegate corrects their own details and transfers their place from the manage link
(conference/self_service.py, conference/pages/self_service.py), until the organisers' deadline; after a transfer
the previous holder's link, badge, a replay of their first request and their payment-return page give nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference import self_service
from conference.console.event import local_input
from conference.core.db import Database
from conference.core.models import AuditEntry, Conference, OutboxEmail, Registration, utcnow
from conference.core.security import manage_token
from conference.core.settings import Settings
from tests.factories import make_conference, registration_body
from tests.stripe_fake import FakeStripe
from tests.support import (
    HTML,
    SECRET_KEY,
    bearer,
    body_of,
    checkout_session_id,
    code_for,
    csrf,
    emails,
    organiser_token,
    paid_app,
    scan,
    sign_in,
    staff_token,
)

DETAILS = {
    "name": "Ada Lovelace",
    "email": "ada.lovelace@leeds.gov.uk",
    "organisation": "Leeds City Council",
    "job_title": "Analyst",
    "sector": "local_authority",
    "region": "Yorkshire and the Humber",
    "dietary": "Vegetarian",
    "access_needs": "",
}
COLLEAGUE = {
    "name": "Grace Hopper",
    "email": "grace.hopper@leeds.gov.uk",
    "organisation": "Leeds City Council",
    "job_title": "Engineer",
    "sector": "local_authority",
    "region": "",
    "confirm": "yes",
}


async def set_conference(database: Database, **values: Any) -> None:
    async with database.transaction() as db:
        await db.execute(sa.update(Conference).values(**values))


@pytest.fixture
async def event(database: Database) -> dict[str, uuid.UUID]:
    """A conference a month ahead (so its default deadline for changes, its start, is still to come)."""
    tickets = await make_conference(database, capacity=5)
    now = utcnow().replace(second=0, microsecond=0)  # whole minutes, as the console's form gives times
    await set_conference(database, starts_at=now + timedelta(days=30), ends_at=now + timedelta(days=31))
    return tickets


async def book(client: httpx.AsyncClient, ticket: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    body = registration_body(ticket, **{"email": f"ada.{uuid.uuid4().hex[:8]}@leeds.gov.uk", **overrides})
    response = await client.post("/api/v1/registrations", json=body)
    assert response.status_code == 201, response.text
    return {**response.json(), "email": body["email"], "body": body}


async def row(database: Database, registration_id: str) -> Registration:
    async with database.read() as db:
        found = await db.get(Registration, uuid.UUID(registration_id))
    assert found is not None
    return found


async def post_form(
    client: httpx.AsyncClient, page: str, action: str, values: dict[str, str]
) -> httpx.Response:
    """Open `page` (for its CSRF token, as a browser would), then post `values` to `action`."""
    opened = await client.get(page, headers=HTML)
    assert opened.status_code == 200, opened.text
    return await client.post(action, data={**values, "csrf_token": csrf(opened.text)}, headers=HTML)


async def edit(client: httpx.AsyncClient, token: str, values: dict[str, str]) -> httpx.Response:
    return await post_form(client, f"/manage/{token}/details", f"/manage/{token}/details", values)


async def transfer(client: httpx.AsyncClient, token: str, values: dict[str, str]) -> httpx.Response:
    return await post_form(client, f"/manage/{token}/transfer", f"/manage/{token}/transfer", values)


async def audit_of(database: Database, action: str) -> list[AuditEntry]:
    async with database.read() as db:
        stmt = sa.select(AuditEntry).where(col(AuditEntry.action) == action)
        return list((await db.execute(stmt)).scalars())


def summary_links(page: str) -> list[str]:
    section = page.split('id="error-summary"', 1)[1].split("</div>", 1)[0]
    return [part.split('"', 1)[0] for part in section.split('href="#')[1:]]


# --- correcting one's details ---------------------------------------------------------------------------------


async def test_a_delegate_corrects_their_details_and_the_audit_names_them(
    client: httpx.AsyncClient, database: Database, event: dict[str, uuid.UUID]
) -> None:
    made = await book(client, event["delegate"])
    token = made["manage_token"]
    manage = (await client.get(f"/manage/{token}", headers=HTML)).text
    assert f'/manage/{token}/details"' in manage and f'/manage/{token}/transfer"' in manage

    form = await client.get(f"/manage/{token}/details", headers=HTML)
    assert form.status_code == 200 and made["email"] in form.text  # filled with what is held
    assert '<option value="local_authority" selected>' in form.text

    saved = await edit(client, token, {**DETAILS, "email": made["email"]})
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"].endswith(f"/manage/{token}?details=saved")
    r = await row(database, made["id"])
    assert (r.name, r.job_title, r.dietary, r.region) == (
        "Ada Lovelace",
        "Analyst",
        "Vegetarian",
        "Yorkshire and the Humber",
    )
    assert "Your details are saved." in (await client.get(saved.headers["location"], headers=HTML)).text
    [entry] = await audit_of(database, "conference.registration.edited")
    assert entry.actor == f"attendee:{made['reference']}"
    assert set(entry.data["fields"]) == {"name", "job_title", "region", "dietary"}
    assert "Ada" not in str(entry.data)  # field names, never their values


async def test_the_details_form_shows_every_problem_at_once_and_saves_nothing(
    client: httpx.AsyncClient, database: Database, event: dict[str, uuid.UUID]
) -> None:
    made = await book(client, event["delegate"])
    before = await row(database, made["id"])
    refused = await edit(
        client, made["manage_token"], {**DETAILS, "name": "", "email": "not-an-address", "sector": ""}
    )
    assert refused.status_code == 422
    assert summary_links(refused.text) == ["name", "email", "sector"]
    assert "Choose the sector you work in." in refused.text
    assert 'id="error-summary" autofocus' in refused.text
    assert 'value="not-an-address"' in refused.text and 'value="Leeds City Council"' in refused.text
    assert (await row(database, made["id"])).name == before.name
    assert await audit_of(database, "conference.registration.edited") == []


async def test_a_new_email_is_confirmed_again_and_stays_at_the_organisations_domain(
    client: httpx.AsyncClient, database: Database, event: dict[str, uuid.UUID]
) -> None:
    made = await book(client, event["delegate"])
    other = await book(client, event["delegate"])
    token = made["manage_token"]

    elsewhere = await edit(client, token, {**DETAILS, "email": "ada@gmail.com"})
    assert elsewhere.status_code == 422
    assert "@leeds.gov.uk" in elsewhere.text and summary_links(elsewhere.text) == ["email"]
    # With another problem: both at once.
    both = await edit(client, token, {**DETAILS, "name": "", "email": "ada@gmail.com"})
    assert both.status_code == 422 and summary_links(both.text) == ["name", "email"]

    # Another booking's address: refused on the field, without saying whose booking it is.
    taken = await edit(client, token, {**DETAILS, "email": other["email"].upper()})
    assert taken.status_code == 409
    assert summary_links(taken.text) == ["email"] and other["reference"] not in taken.text

    moved = await edit(client, token, {**DETAILS, "email": "a.lovelace@leeds.gov.uk"})
    assert moved.status_code == 303 and moved.headers["location"].endswith("?details=email")
    r = await row(database, made["id"])
    assert r.email == "a.lovelace@leeds.gov.uk" and r.email_verified_at is None
    assert (await client.get(f"/manage/{token}", headers=HTML)).status_code == 200  # the link is still theirs

    # The organisers may allow any domain (the console's event page sets it).
    await set_conference(database, transfer_any_domain=True)
    assert (await edit(client, token, {**DETAILS, "email": "ada@gmail.com"})).status_code == 303


async def test_after_the_deadline_or_a_cancellation_nothing_changes(
    client: httpx.AsyncClient, database: Database, event: dict[str, uuid.UUID]
) -> None:
    made = await book(client, event["delegate"])
    token = made["manage_token"]
    await set_conference(database, answers_editable_until=utcnow() - timedelta(minutes=1))

    manage = (await client.get(f"/manage/{token}", headers=HTML)).text
    assert f"/manage/{token}/transfer" not in manage and f"/manage/{token}/details" not in manage
    assert 'id="changes-closed"' in (await client.get(f"/manage/{token}/details", headers=HTML)).text
    edited = await client.post(
        f"/manage/{token}/details", data={**DETAILS, "csrf_token": csrf(manage)}, headers=HTML
    )
    assert edited.status_code == 409 and "deadline for changes has passed" in edited.text
    moved = await client.post(
        f"/manage/{token}/transfer", data={**COLLEAGUE, "csrf_token": csrf(manage)}, headers=HTML
    )
    assert moved.status_code == 409 and "deadline for changes has passed" in moved.text
    r = await row(database, made["id"])
    assert r.name == made["body"]["name"] and r.token_version == 1

    await set_conference(database, answers_editable_until=None)
    assert (
        await client.delete(f"/api/v1/registrations/{made['id']}", headers=bearer(token))
    ).status_code in (
        200,
        204,
    )
    cancelled = await client.post(
        f"/manage/{token}/transfer", data={**COLLEAGUE, "csrf_token": csrf(manage)}, headers=HTML
    )
    assert cancelled.status_code == 409 and "This booking is cancelled" in cancelled.text
    assert (await row(database, made["id"])).token_version == 1


# --- transferring the place: what is refused --------------------------------------------------------------------


async def test_a_transfer_refuses_the_holder_a_booked_address_and_a_missing_confirmation(
    client: httpx.AsyncClient, database: Database, event: dict[str, uuid.UUID]
) -> None:
    made = await book(client, event["delegate"])
    other = await book(client, event["delegate"])
    token = made["manage_token"]

    same = await transfer(client, token, {**COLLEAGUE, "email": made["email"].upper()})
    assert same.status_code == 422 and "This is your own address" in same.text
    booked = await transfer(client, token, {**COLLEAGUE, "email": other["email"]})
    assert booked.status_code == 409 and summary_links(booked.text) == ["email"]
    assert "already has its own booking" in booked.text and other["reference"] not in booked.text
    with_more = await transfer(
        client, token, {**COLLEAGUE, "email": other["email"], "name": "", "confirm": ""}
    )
    assert with_more.status_code == 422 and summary_links(with_more.text) == ["name", "email", "confirm"]
    empty = await transfer(client, token, {"confirm": ""})
    assert empty.status_code == 422
    assert summary_links(empty.text) == ["name", "email", "organisation", "sector", "confirm"]
    unconfirmed = await transfer(client, token, {**COLLEAGUE, "confirm": ""})
    assert unconfirmed.status_code == 422 and summary_links(unconfirmed.text) == ["confirm"]
    assert 'value="grace.hopper@leeds.gov.uk"' in unconfirmed.text  # what was typed is kept
    r = await row(database, made["id"])
    assert r.token_version == 1 and r.email == made["email"]
    assert await audit_of(database, "conference.registration.substituted") == []


async def test_a_transfer_stays_in_the_organisation_unless_the_organisers_allow_any_domain(
    client: httpx.AsyncClient, database: Database, event: dict[str, uuid.UUID]
) -> None:
    made = await book(client, event["delegate"])
    outside = await transfer(client, made["manage_token"], {**COLLEAGUE, "email": "grace@bristol.gov.uk"})
    assert outside.status_code == 422 and "@leeds.gov.uk" in outside.text
    assert (await row(database, made["id"])).token_version == 1

    # A ticket approved by email domain keeps to its domains even when any domain is allowed.
    public = await book(client, event["public"])
    await set_conference(database, transfer_any_domain=True)
    refused = await transfer(client, public["manage_token"], {**COLLEAGUE, "email": "grace@gmail.com"})
    assert refused.status_code == 422 and "gov.uk" in refused.text
    assert (
        await transfer(client, public["manage_token"], {**COLLEAGUE, "email": "g@bristol.gov.uk"})
    ).status_code == 200
    assert (
        await transfer(client, made["manage_token"], {**COLLEAGUE, "email": "grace@gmail.com"})
    ).status_code == 200


async def test_the_console_event_page_sets_transfers_to_any_domain(
    client: httpx.AsyncClient, database: Database, event: dict[str, uuid.UUID]
) -> None:
    await sign_in(client, await organiser_token(database))
    page = await client.get("/console/event", headers=HTML)
    assert 'id="transfer_any_domain"' in page.text and 'id="changes-until"' in page.text
    async with database.read() as db:
        conference = (await db.execute(sa.select(Conference))).scalar_one()
    zone = conference.timezone
    values = {
        "name": conference.name,
        "venue": conference.venue,
        "starts_at": local_input(conference.starts_at, zone),
        "ends_at": local_input(conference.ends_at, zone),
        "timezone": zone,
        "capacity": str(conference.capacity),
        "registration_open": "yes",
        "transfer_any_domain": "yes",
        "csrf_token": csrf(page.text),
    }
    saved = await client.post("/console/event", data=values, headers=HTML)
    assert saved.status_code == 303, saved.text
    async with database.read() as db:
        assert (await db.execute(sa.select(Conference.transfer_any_domain))).scalar_one() is True
    [entry] = await audit_of(database, "conference.conference.updated")
    assert entry.data["fields"] == ["transfer_any_domain"]


# --- transferring the place: what the previous holder loses -----------------------------------------------------


async def test_after_a_transfer_the_old_link_badge_and_replay_give_nothing_and_the_colleague_gets_it_all(
    client: httpx.AsyncClient, database: Database, settings: Settings, event: dict[str, uuid.UUID]
) -> None:
    body = registration_body(event["delegate"], email="first.holder@leeds.gov.uk")
    key = {"Idempotency-Key": "first-holder-request"}
    first = await client.post("/api/v1/registrations", json=body, headers=key)
    assert first.status_code == 201, first.text
    made = first.json()
    old = made["manage_token"]

    done = await transfer(client, old, COLLEAGUE)
    assert done.status_code == 200, done.text
    assert "Your place has been transferred" in done.text and "Grace Hopper" in done.text
    new = manage_token(SECRET_KEY, uuid.UUID(made["id"]), 2)
    assert new not in done.text  # the colleague's link goes to the colleague only

    # The old link: its pages, its API access, a second transfer from it.
    gone = await client.get(f"/manage/{old}", headers=HTML)
    assert gone.status_code == 404 and '/resend-link"' in gone.text  # "Lost your link?"
    assert 'id="lost-link-email"' in gone.text
    for path in ("/details", "/transfer", "/agenda", "/data.json"):
        assert (await client.get(f"/manage/{old}{path}", headers=HTML)).status_code == 404, path
    api = await client.get(f"/api/v1/registrations/{made['id']}", headers=bearer(old))
    assert api.status_code == 401 and "grace" not in api.text.lower()
    again = await client.post(
        f"/manage/{old}/transfer",
        data={**COLLEAGUE, "email": "x@leeds.gov.uk", "csrf_token": csrf(gone.text)},
    )
    assert again.status_code == 404

    # An idempotent replay of the first request: never the colleague's link or details.
    replay = await client.post("/api/v1/registrations", json=body, headers=key)
    assert new not in replay.text and "Grace" not in replay.text
    assert replay.headers.get("idempotent-replayed") is None

    # The colleague: their own link, the place as it was, the holder's personal extras cleared.
    theirs = await client.get(f"/manage/{new}", headers=HTML)
    assert theirs.status_code == 200 and "Grace Hopper" in theirs.text and made["reference"] in theirs.text
    r = await row(database, made["id"])
    assert (r.email, r.token_version, r.badge_version, r.status.value) == (
        "grace.hopper@leeds.gov.uk",
        2,
        2,
        made["status"],
    )
    assert r.dietary == "" and r.access_needs == ""

    # Mail: the colleague's confirmation (with their link, rendered when sent), the holder told it was them.
    async with database.read() as db:
        mails = list(
            (
                await db.execute(
                    sa.select(OutboxEmail).where(col(OutboxEmail.registration_id) == uuid.UUID(made["id"]))
                )
            ).scalars()
        )
    assert {(m.kind, m.to_address) for m in mails} >= {
        ("registration", "grace.hopper@leeds.gov.uk"),
        ("place_transferred", "first.holder@leeds.gov.uk"),
    }
    [told] = await emails(database, settings, "place_transferred")
    assert "You have transferred your place" in body_of(told) and "Grace" not in body_of(told)
    [entry] = await audit_of(database, "conference.registration.substituted")
    assert entry.actor == f"attendee:{made['reference']}" and entry.data["idempotency_keys_deleted"] == 1

    # The badge: the old one answers invalid, the colleague's admits once.
    staff = bearer(await staff_token(database))
    old_badge = await scan(client, staff, code_for(settings, made, 1))
    assert old_badge.json()["result"] == "invalid"
    assert (await scan(client, staff, code_for(settings, made, 2))).json()["result"] == "ok"
    assert (await scan(client, staff, code_for(settings, made, 2))).json()["result"] == "already_checked_in"


async def test_a_link_replaced_while_its_form_was_open_acts_for_nobody(
    client: httpx.AsyncClient, database: Database, settings: Settings, event: dict[str, uuid.UUID]
) -> None:
    made = await book(client, event["delegate"])
    old = made["manage_token"]
    async with database.transaction() as db:
        await self_service.transfer_place(db, settings=settings, token=old, values=COLLEAGUE)
    # The same old link again, as a second request that passed the page's check before the first committed.
    with pytest.raises(self_service.InvalidManageLink):
        async with database.transaction() as db:
            await self_service.transfer_place(
                db, settings=settings, token=old, values={**COLLEAGUE, "email": "third@leeds.gov.uk"}
            )
    with pytest.raises(self_service.InvalidManageLink):
        async with database.transaction() as db:
            await self_service.change_own_details(
                db, settings=settings, token=old, values={**DETAILS, "email": "first@leeds.gov.uk"}
            )
    assert (await row(database, made["id"])).email == "grace.hopper@leeds.gov.uk"


# --- the card payment's return page -------------------------------------------------------------------------------


@pytest.fixture
def stripe_fake() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


@pytest.fixture
async def card_client(
    database_url: str, stripe_fake: FakeStripe, event: dict[str, uuid.UUID]
) -> AsyncIterator[httpx.AsyncClient]:
    async with paid_app(database_url, stripe_fake) as (client, _app):
        yield client


async def test_the_old_payment_return_pages_stop_showing_the_booking_after_a_transfer(
    card_client: httpx.AsyncClient, stripe_fake: FakeStripe, event: dict[str, uuid.UUID]
) -> None:
    made = await book(card_client, event["exhibitor"], payment_method="card")
    session_id = checkout_session_id(made["checkout_url"])
    stripe_fake.pay(session_id)
    paid = await card_client.get(f"/payment/return?session_id={session_id}")
    assert "Payment received" in paid.text and f"/manage/{made['manage_token']}" in paid.text

    assert (await transfer(card_client, made["manage_token"], COLLEAGUE)).status_code == 200
    new = manage_token(SECRET_KEY, uuid.UUID(made["id"]), 2)
    after = await card_client.get(f"/payment/return?session_id={session_id}")
    assert after.status_code == 200 and "/manage/" not in after.text and new not in after.text
    assert "Grace" not in after.text
