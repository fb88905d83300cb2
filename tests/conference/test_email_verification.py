"""Security review, issue 15 (M2): a place approved by the email's domain is confirmed only once the delegate follows
the link sent to that address; meanwhile it is held (awaiting_verification) for CONFERENCE_EMAIL_VERIFY_HOURS and
then released like an expired card hold. Data matched by email (talk proposals) is in the download only after the
address is confirmed."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from starlette.config import Config

from conference import delegates, verification
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import HOLDING, Invoice, OutboxEmail, Registration, Status, TicketType, utcnow
from conference.core.settings import Settings, SettingsError, load_settings
from conference.mail import mailtext
from conference.server import demo
from tests.factories import BILLING, make_conference, set_call
from tests.support import (
    BASE_URL,
    body_of,
    csrf,
    emails,
    eventually,
    organiser_token,
    outbox_rows,
    register,
    running_app,
    sign_in,
    submit,
)

VERIFY_LINK = re.compile(re.escape(BASE_URL) + r"/verify-email/(v_[A-Za-z0-9_-]+)")
ORGANISER = Actor("organiser", "tests")


async def row(database: Database, registration_id: str | uuid.UUID) -> Registration:
    async with database.read() as db:
        found = await db.get(Registration, uuid.UUID(str(registration_id)))
        assert found is not None
        return found


async def verify_links(database: Database, settings: Settings, to: str) -> list[str]:
    """The confirmation links in the verify_email messages queued for `to`, as the mail worker would send them."""
    async with database.read() as db:
        rows = (
            await db.execute(
                sa.select(OutboxEmail)
                .where(OutboxEmail.kind == "verify_email", OutboxEmail.to_address == to)
                .order_by(OutboxEmail.created_at)
            )
        ).scalars()
        messages = [await mailtext.render(db, settings, r) for r in rows]
    return [link for m in messages for link in VERIFY_LINK.findall(body_of(m))]


async def follow(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """Open the emailed link and press its button."""
    page = await client.get(f"/verify-email/{token}")
    assert page.status_code == 200, page.text
    return await client.post(f"/verify-email/{token}", data={"csrf_token": csrf(page.text)})


async def press_again(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """Post the link's form (a second tab, a replayed request) when the page no longer shows the button."""
    home = await client.get("/")
    return await client.post(f"/verify-email/{token}", data={"csrf_token": csrf(home.text)})


async def age(database: Database, registration_id: str) -> None:
    async with database.transaction() as db:
        await db.execute(
            sa.update(Registration)
            .where(Registration.id == uuid.UUID(registration_id))
            .values(verify_expires_at=utcnow() - timedelta(seconds=1))
        )


async def test_a_domain_approved_place_is_held_until_the_emailed_link_is_followed(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    made = await register(client, tickets["public"], email="a.b@met.police.uk")
    assert made["status"] == "awaiting_verification"
    held = await row(database, made["id"])
    assert held.email_verified_at is None and held.verify_expires_at is not None
    assert abs((held.verify_expires_at - utcnow()) - timedelta(hours=48)) < timedelta(minutes=5)
    assert Status.awaiting_verification in HOLDING
    assert (await client.get("/api/v1/conference")).json()["registered"] == 1  # the place is held meanwhile

    (link,) = await verify_links(database, settings, "a.b@met.police.uk")
    assert [r.kind for r in await outbox_rows(database)] == ["verify_email"]
    manage = await client.get(f"/manage/{made['manage_token']}")
    assert "We are holding your place until you confirm your email address" in manage.text

    # Opening the link changes nothing (mail scanners open links); the button without its CSRF token neither.
    page = await client.get(f"/verify-email/{link}")
    assert page.status_code == 200 and "Confirm my email address" in page.text
    assert (await row(database, made["id"])).status == Status.awaiting_verification
    refused = await client.post(f"/verify-email/{link}", data={})
    assert refused.status_code == 403
    assert (await row(database, made["id"])).email_verified_at is None

    done = await client.post(f"/verify-email/{link}", data={"csrf_token": csrf(page.text)})
    assert done.status_code == 200 and "Your place is confirmed" in done.text
    confirmed = await row(database, made["id"])
    assert confirmed.status == Status.confirmed and confirmed.email_verified_at is not None
    assert confirmed.verify_expires_at is None
    assert [m["To"] for m in await emails(database, settings, "email_verified")] == ["a.b@met.police.uk"]

    # Single use: following it again changes nothing; a made-up link is not found.
    assert "already confirmed" in (await client.get(f"/verify-email/{link}")).text
    again = await press_again(client, link)
    assert again.status_code == 200 and "already confirmed" in again.text
    assert len(await emails(database, settings, "email_verified")) == 1
    assert (await client.get(f"/verify-email/v_{uuid.uuid4().hex}AAAA")).status_code == 404
    assert (await client.get(f"/verify-email/{link[:-2]}xx")).status_code == 404


async def test_an_unconfirmed_place_is_released_after_its_time_and_the_waiting_list_moves_up(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    tickets = await make_conference(database, capacity=1)
    held = await register(client, tickets["public"], email="someone@nhs.net")
    waiting = await register(client, tickets["delegate"])
    assert (held["status"], waiting["status"]) == ("awaiting_verification", "waitlisted")
    (link,) = await verify_links(database, settings, "someone@nhs.net")

    assert await verification.expire_unverified(database, settings) == 0  # not yet due
    await age(database, held["id"])
    assert await verification.expire_unverified(database, settings) == 1
    assert await verification.expire_unverified(database, settings) == 0  # once only

    released = await row(database, held["id"])
    assert released.status == Status.cancelled and released.cancel_reason == "verification_expired"
    assert (await row(database, waiting["id"])).status == Status.confirmed
    (told,) = await emails(database, settings, "verification_expired")
    assert told["To"] == "someone@nhs.net" and "not confirmed in time" in body_of(told)
    # The link now says the place has gone, and confirms nothing.
    page = await client.get(f"/verify-email/{link}")
    assert "not confirmed in time" in page.text and "Confirm my email address" not in page.text
    late = await press_again(client, link)
    assert late.status_code == 200 and "Nothing to confirm" in late.text
    after = await row(database, held["id"])
    assert after.status == Status.cancelled and after.email_verified_at is None


async def test_the_app_runs_the_worker_that_releases_unconfirmed_places(
    database_url: str, database: Database
) -> None:
    tickets = await make_conference(database, capacity=3)
    async with running_app(database_url) as client:
        held = await register(client, tickets["public"], email="late@leeds.gov.uk")
    await age(database, held["id"])
    async with running_app(database_url):  # its worker's first tick comes at start-up

        async def released() -> bool:
            return (await row(database, held["id"])).cancel_reason == "verification_expired"

        await eventually(released, what="the unconfirmed place released by the app's worker")


def test_the_hold_time_is_a_validated_setting() -> None:
    assert load_settings(Config(environ={})).email_verify_hours == 48
    assert load_settings(Config(environ={"CONFERENCE_EMAIL_VERIFY_HOURS": "6"})).email_verify_hours == 6
    for bad in ("0", "-3", "721", "two days"):
        with pytest.raises(SettingsError, match="CONFERENCE_EMAIL_VERIFY_HOURS"):
            load_settings(Config(environ={"CONFERENCE_EMAIL_VERIFY_HOURS": bad}))


async def test_talk_proposals_are_in_the_download_only_once_the_address_is_confirmed(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    await set_call(database, open_=True)
    victim = "grace.speaker@example.org"
    await submit(
        client,
        title="Someone else's proposal",
        speakers=[{"name": "Grace Speaker", "email": victim, "organisation": "Example"}],
    )
    # Anybody can register with the speaker's address; the download must not hand them her proposal.
    made = await register(client, tickets["delegate"], email=victim, name="Not Grace")
    assert made["status"] == "confirmed"
    data = (await client.get(f"/manage/{made['manage_token']}/data.json")).json()
    assert data["talk_proposals"] == [] and data["registration"]["email_verified_at"] is None
    assert "Someone else's proposal" not in str(data)

    # The booking page offers the link; it goes to the address, and following it confirms the address.
    manage = await client.get(f"/manage/{made['manage_token']}")
    asked = await client.post(
        f"/manage/{made['manage_token']}/verify-email", data={"csrf_token": csrf(manage.text)}
    )
    assert asked.status_code == 303 and "verify=sent" in asked.headers["location"]
    (link,) = await verify_links(database, settings, victim)
    assert (await row(database, made["id"])).email_verified_at is None
    await follow(client, link)
    assert (await row(database, made["id"])).status == Status.confirmed  # the place was never at stake
    data = (await client.get(f"/manage/{made['manage_token']}/data.json")).json()
    assert [p["title"] for p in data["talk_proposals"]] == ["Someone else's proposal"]
    assert data["registration"]["email_verified_at"] is not None


async def test_a_promoted_delegate_with_a_listed_domain_must_confirm_too(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    tickets = await make_conference(database, capacity=1)
    first = await register(client, tickets["delegate"])
    waiting = await register(client, tickets["public"], email="next.in.line@leeds.gov.uk")
    assert waiting["status"] == "waitlisted"
    await client.delete(
        f"/api/v1/registrations/{first['id']}", headers={"authorization": f"Bearer {first['manage_token']}"}
    )
    promoted = await row(database, waiting["id"])
    assert promoted.status == Status.awaiting_verification and promoted.verify_expires_at is not None
    (message,) = [m for m in await emails(database, settings, "verify_email")]
    assert "a place at" in body_of(message) and "has come up" in body_of(message)
    (link,) = await verify_links(database, settings, "next.in.line@leeds.gov.uk")
    await follow(client, link)
    assert (await row(database, waiting["id"])).status == Status.confirmed


async def test_an_invoice_is_issued_only_once_the_address_is_confirmed(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    async with database.transaction() as db:
        await db.execute(
            sa.update(TicketType).where(TicketType.id == tickets["public"]).values(price_pence=10000)
        )
    made = await register(
        client, tickets["public"], email="buyer@leeds.gov.uk", payment_method="invoice", billing=dict(BILLING)
    )
    assert made["status"] == "awaiting_verification"

    async def invoices() -> int:
        async with database.read() as db:
            stmt = (
                sa.select(sa.func.count())
                .select_from(Invoice)
                .where(Invoice.registration_id == uuid.UUID(made["id"]))
            )
            return int((await db.execute(stmt)).scalar_one())

    assert await invoices() == 0
    (link,) = await verify_links(database, settings, "buyer@leeds.gov.uk")
    await follow(client, link)
    assert (await row(database, made["id"])).status == Status.confirmed
    assert await invoices() == 1


async def test_a_changed_address_needs_its_own_confirmation(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    made = await register(client, tickets["public"], email="first@leeds.gov.uk")
    (old_link,) = await verify_links(database, settings, "first@leeds.gov.uk")
    details = {
        "name": "Colleague Person",
        "email": "colleague@leeds.gov.uk",
        "organisation": "Leeds City Council",
        "job_title": "",
        "sector": "local_authority",
        "region": "",
        "dietary": "",
        "access_needs": "",
    }
    async with database.transaction() as db:
        await delegates.substitute(
            db,
            settings=settings,
            registration_id=uuid.UUID(made["id"]),
            details=delegates.parse_details(details),
            actor=ORGANISER,
        )
    # The old address's link no longer confirms anything; the colleague's does.
    assert (await client.get(f"/verify-email/{old_link}")).status_code == 404
    moved = await row(database, made["id"])
    assert moved.status == Status.awaiting_verification and moved.email_verified_at is None
    (new_link,) = await verify_links(database, settings, "colleague@leeds.gov.uk")
    await follow(client, new_link)
    assert (await row(database, made["id"])).status == Status.confirmed

    # An organiser correcting a confirmed address: the new one is not confirmed until its owner says so.
    async with database.transaction() as db:
        await delegates.edit_details(
            db,
            settings=settings,
            registration_id=uuid.UUID(made["id"]),
            details=delegates.parse_details({**details, "email": "corrected@leeds.gov.uk"}),
            actor=ORGANISER,
        )
    corrected = await row(database, made["id"])
    assert corrected.status == Status.confirmed and corrected.email_verified_at is None


async def test_the_console_shows_whether_the_address_is_confirmed(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    made = await register(client, tickets["public"], email="shown@leeds.gov.uk")
    await sign_in(client, await organiser_token(database))
    page = await client.get(f"/console/registrations/{made['id']}")
    assert page.status_code == 200
    assert "Awaiting email confirmation" in page.text
    shown = re.search(r'<dd id="email-verified">(.*?)</dd>', page.text, re.S)
    assert shown and "Not yet" in shown.group(1), page.text
    listing = await client.get("/console/registrations?status=awaiting_verification")
    assert listing.status_code == 200 and made["reference"] in listing.text


async def test_demo_delegates_with_listed_domains_are_created_confirmed(
    database: Database, settings: Settings
) -> None:
    await demo.load_demo(settings, attendees=30)
    async with database.read() as db:
        statuses = set((await db.execute(sa.select(Registration.status))).scalars())
        links = (
            await db.execute(
                sa.select(sa.func.count()).select_from(OutboxEmail).where(OutboxEmail.kind == "verify_email")
            )
        ).scalar_one()
    assert Status.awaiting_verification not in statuses and Status.confirmed in statuses
    assert links == 0
