"""A group lead's personal data (conference/personal_data.py, pages/group_personal_data.py): their download and
their erasure from the group link (CSRF, refused while places are unsettled), the retention rule for leads once
every member is erased; and the price, code and group a delegate's download and the registration API show."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference import groups
from conference.core import audit
from conference.core.code_models import Code, Discount
from conference.core.db import Database
from conference.core.group_models import GroupBooking
from conference.core.models import (
    AuditEntry,
    Conference,
    IdempotencyKey,
    Invoice,
    OutboxEmail,
    Registration,
    Status,
)
from conference.core.settings import Settings
from conference.personal_data import (
    ERASED_LEAD_NAME,
    GroupUnsettled,
    erase_expired,
    erase_group,
    erased_group_email,
)
from tests import support
from tests.conference.group_support import BILLING, uncapped_exhibitors
from tests.factories import make_conference
from tests.support import HTML, bearer, csrf, make_settings, organiser_token, register, staff_token

LEAD = {"name": "Lena Lead", "email": "Lena.Lead@leeds.gov.uk"}


@pytest.fixture
async def tickets(database: Database) -> dict[str, Any]:
    return await uncapped_exhibitors(database, capacity=8)


def _members(*names: str) -> list[dict[str, str]]:
    return [{"name": n, "email": f"{n.lower().replace(' ', '.')}@leeds.gov.uk"} for n in names]


async def book(client: httpx.AsyncClient, ticket: Any, *names: str, **extra: Any) -> dict[str, Any]:
    body = {
        "ticket_type_id": str(ticket),
        "lead": LEAD,
        "organisation": "Leeds City Council",
        "sector": "local_authority",
        "members": _members(*names),
        **extra,
    }
    response = await client.post("/api/v1/groups", json=body, headers={"idempotency-key": uuid.uuid4().hex})
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def group_row(database: Database, group_id: str) -> GroupBooking:
    async with database.read() as db:
        group = await db.get(GroupBooking, uuid.UUID(group_id))
        assert group is not None
        return group


async def rows(database: Database, model: Any, *where: Any) -> list[Any]:
    async with database.read() as db:
        return list((await db.execute(sa.select(model).where(*where))).scalars())


async def test_the_lead_downloads_their_data_and_erases_it_with_csrf_keeping_the_accounts(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    g = await book(
        client, tickets["exhibitor"], "Ann One", "Bob Two", payment_method="invoice", billing=BILLING
    )
    token, gid = g["manage_token"], g["id"]
    assert g["status"] == "confirmed" and g["invoice_number"]
    page = await client.get(f"/group/manage/{token}", headers=HTML)
    assert f"/group/manage/{token}/data.json" in page.text and f"/group/manage/{token}/erase" in page.text

    download = await client.get(f"/group/manage/{token}/data.json")
    assert download.status_code == 200 and download.headers["cache-control"] == "no-store"
    assert download.headers["content-disposition"] == (
        f'attachment; filename="personal-data-{g["reference"]}.json"'
    )
    data = download.json()
    assert (data["group"]["lead_name"], data["group"]["lead_email"]) == (LEAD["name"], LEAD["email"])
    assert data["billing"]["contact"] == "Accounts Payable"
    assert [m["reference"] for m in data["members"]] == [m["reference"] for m in g["members"]]
    assert all(set(m) == {"reference", "status", "price_pence"} for m in data["members"])  # not their details
    assert [i["number"] for i in data["invoices"]] == [g["invoice_number"]]
    assert "group_booked" in {e["kind"] for e in data["emails"]}
    assert token not in download.text and "ann.one@" not in download.text
    (entry,) = await rows(database, AuditEntry, AuditEntry.action == "conference.personal_data.downloaded")
    assert (entry.subject, entry.data["via"], entry.actor) == (
        g["reference"],
        "group_manage",
        f"group_lead:{g['reference']}",
    )

    confirm = await client.get(f"/group/manage/{token}/erase", headers=HTML)
    assert (
        confirm.status_code == 200 and "What we keep" in confirm.text and 'id="unsettled"' not in confirm.text
    )
    for form in ({}, {"csrf_token": "forged"}):
        refused = await client.post(f"/group/manage/{token}/erase", data=form, headers=HTML)
        assert refused.status_code == 403
    assert (await group_row(database, gid)).lead_name == LEAD["name"]

    done = await client.post(
        f"/group/manage/{token}/erase", data={"csrf_token": csrf(confirm.text)}, headers=HTML
    )
    assert done.status_code == 200 and "Your details are erased" in done.text

    group = await group_row(database, gid)
    assert group.lead_name == ERASED_LEAD_NAME
    assert group.lead_email == group.lead_email_key == erased_group_email(group.id)
    assert group.billing == {
        "organisation": "Leeds City Council",
        "purchase_order": "PO-777",
        "buyer_reference": "BR-12",
    }
    assert group.token_version == 2 and group.organisation == "Leeds City Council"
    # The link is dead everywhere; the members keep their places, details and own links.
    for path in ("", "/data.json", "/erase"):
        assert (await client.get(f"/group/manage/{token}{path}", headers=HTML)).status_code == 404
    assert (await client.get(f"/api/v1/groups/manage/{token}")).status_code == 404
    members = await rows(database, Registration, col(Registration.group_id) == group.id)
    assert {(m.name, m.status, m.erased_at) for m in members} == {
        ("Ann One", Status.confirmed, None),
        ("Bob Two", Status.confirmed, None),
    }
    assert (await client.get(f"/manage/{g['members'][0]['manage_token']}", headers=HTML)).status_code == 200
    # Invoices keep the billing details they were issued with; the invoice email to finance stays.
    (invoice,) = await rows(database, Invoice, col(Invoice.group_id) == group.id)
    assert (invoice.billing_contact, invoice.billing_email, invoice.billing_address) == (
        "Accounts Payable",
        "ap@leeds.gov.uk",
        BILLING["address"],
    )
    emails = await rows(database, OutboxEmail)
    assert not [e for e in emails if e.to_address.lower() == LEAD["email"].lower()]
    assert [e for e in emails if e.kind == "invoice" and e.to_address == "ap@leeds.gov.uk"]
    assert await rows(database, IdempotencyKey, col(IdempotencyKey.registration_id) == group.id) == []
    (erased,) = await rows(database, AuditEntry, AuditEntry.action == "conference.group.erased")
    assert erased.subject == g["reference"] and erased.data["reason"] == "lead_request"
    assert erased.data["idempotency_keys_deleted"] == 1
    assert LEAD["email"].lower() not in str(erased.data).lower()

    # The organisers' view of the group shows the placeholder.
    organiser = bearer(await organiser_token(database))
    seen = (await client.get(f"/api/v1/groups/{gid}", headers=organiser)).json()
    assert seen["lead"]["name"] == ERASED_LEAD_NAME and seen["lead"]["email"] == erased_group_email(group.id)


async def test_erasure_is_refused_while_places_are_unsettled_and_allowed_once_they_are(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    g = await book(client, tickets["press"], "Cat Three", "Dan Four")  # manual approval: both wait for it
    token = g["manage_token"]
    assert g["status"] == "awaiting_approval"
    confirm = await client.get(f"/group/manage/{token}/erase", headers=HTML)
    assert confirm.status_code == 200 and 'id="unsettled"' in confirm.text
    assert all(m["reference"] in confirm.text for m in g["members"])
    assert 'action="/group/manage/' not in confirm.text  # no erase button while unsettled
    form_token = csrf((await client.get(f"/group/manage/{token}", headers=HTML)).text)  # (a posted form)
    refused = await client.post(f"/group/manage/{token}/erase", data={"csrf_token": form_token}, headers=HTML)
    assert refused.status_code == 409 and "have not been erased" in refused.text
    assert (await group_row(database, g["id"])).lead_name == LEAD["name"]
    async with database.transaction() as db:
        with pytest.raises(GroupUnsettled):
            await erase_group(db, group_id=uuid.UUID(g["id"]), actor=audit.SYSTEM, reason="organiser")

    # One member cancelled, the other approved by the organisers: nothing left to settle.
    cancelled = await client.delete(f"/api/v1/groups/manage/{token}/members/{g['members'][0]['id']}")
    assert cancelled.status_code == 200, cancelled.text
    organiser = bearer(await organiser_token(database))
    approved = await client.post(f"/api/v1/registrations/{g['members'][1]['id']}/approve", headers=organiser)
    assert approved.status_code == 200, approved.text
    confirm = await client.get(f"/group/manage/{token}/erase", headers=HTML)
    assert 'id="unsettled"' not in confirm.text
    done = await client.post(
        f"/group/manage/{token}/erase", data={"csrf_token": csrf(confirm.text)}, headers=HTML
    )
    assert done.status_code == 200 and (await group_row(database, g["id"])).lead_name == ERASED_LEAD_NAME
    # Erasing again (the service) changes nothing and audits nothing more.
    async with database.transaction() as db:
        again = await erase_group(db, group_id=uuid.UUID(g["id"]), actor=audit.SYSTEM, reason="organiser")
    assert again.already
    assert len(await rows(database, AuditEntry, AuditEntry.action == "conference.group.erased")) == 1


async def test_retention_erases_the_lead_once_every_member_is_erased(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    g = await book(client, tickets["delegate"], "Eve Five", "Fay Six", lead={**LEAD, "attends": True})
    other = await book(
        client, tickets["delegate"], "Gus Seven", lead={"name": "Other Lead", "email": "o.lead@leeds.gov.uk"}
    )
    async with database.transaction() as db:
        conference = (await db.execute(sa.select(Conference))).scalar_one()
        conference.retention_days = 30
        due = conference.ends_at + timedelta(days=30)
    # The retention reason never erases a lead while a member's record is still held.
    async with database.transaction() as db:
        early = await erase_group(db, group_id=uuid.UUID(g["id"]), actor=audit.SYSTEM, reason="retention")
    assert early.skipped and (await group_row(database, g["id"])).lead_name == LEAD["name"]
    assert await erase_expired(database, settings, now=due) == 0
    assert (await group_row(database, g["id"])).lead_name == LEAD["name"]

    assert (
        await erase_expired(database, settings, now=due + timedelta(minutes=1)) == 4
    )  # the attending lead, two members; one
    for group_id in (g["id"], other["id"]):
        group = await group_row(database, group_id)
        assert group.lead_name == ERASED_LEAD_NAME and group.lead_email == erased_group_email(group.id)
    entries = await rows(database, AuditEntry, AuditEntry.action == "conference.group.erased")
    assert sorted(e.subject for e in entries) == sorted([g["reference"], other["reference"]])
    assert {(e.actor, e.data["reason"]) for e in entries} == {("system", "retention")}
    assert await erase_expired(database, settings, now=due + timedelta(days=1)) == 0
    assert len(await rows(database, AuditEntry, AuditEntry.action == "conference.group.erased")) == 2


async def code(database: Database, ticket: Any, text: str) -> Code:
    async with database.transaction() as db:
        conference = (await db.execute(sa.select(Conference))).scalar_one()
        assert conference.id is not None
        row = Code(
            conference_id=conference.id,
            text=text,
            label="Metropolitan Police",
            discount=Discount.percent,
            value=50,
            max_uses=10,
            ticket_type_ids=[str(ticket)],
        )
        db.add(row)
        return row


async def test_a_delegates_download_and_the_api_show_price_code_and_group(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    half = await code(database, tickets["exhibitor"], "POLICE-7K2Q")
    g = await book(
        client,
        tickets["exhibitor"],
        "Hal Eight",
        payment_method="invoice",
        billing=BILLING,
        code="police-7k2q",
    )
    member = g["members"][0]
    alone = await register(client, tickets["delegate"])
    organiser = bearer(await organiser_token(database))

    data = (await client.get(f"/manage/{member['manage_token']}/data.json")).json()["registration"]
    expected = {
        "price_pence": 22500,
        "currency": "GBP",
        "code": {"id": str(half.id), "text": "POLICE-7K2Q", "label": "Metropolitan Police"},
        "group": {"id": g["id"], "reference": g["reference"]},
    }
    assert {k: data[k] for k in expected} == expected
    api = (await client.get(f"/api/v1/registrations/{member['id']}", headers=organiser)).json()
    assert {k: api[k] for k in expected} == expected
    own = await client.get(f"/api/v1/registrations/{member['id']}", headers=bearer(member["manage_token"]))
    assert {k: own.json()[k] for k in expected} == expected
    assert api["name"] == "Hal Eight" and api["ticket_type"]["name"] == "Exhibitor"  # existing fields stay

    plain = (await client.get(f"/api/v1/registrations/{alone['id']}", headers=organiser)).json()
    assert (plain["price_pence"], plain["code"], plain["group"]) == (0, None, None)
    mine = (await client.get(f"/manage/{alone['manage_token']}/data.json")).json()["registration"]
    assert (mine["price_pence"], mine["code"], mine["group"]) == (0, None, None)
    staff = await client.get(
        f"/api/v1/registrations/{member['id']}", headers=bearer(await staff_token(database))
    )
    assert staff.status_code == 200 and "price_pence" not in staff.json() and "code" not in staff.json()


async def test_two_retention_runs_at_once_erase_each_lead_once(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    booked = [
        await book(
            client,
            tickets["delegate"],
            f"Member {n}",
            lead={"name": f"Lead {n}", "email": f"lead{n}@x.gov.uk"},
        )
        for n in range(3)
    ]
    async with database.transaction() as db:
        conference = (await db.execute(sa.select(Conference))).scalar_one()
        conference.retention_days = 0
        after = conference.ends_at + timedelta(seconds=1)
    other = Database.from_settings(settings)  # a second server's engine and connections
    try:
        counts = await asyncio.gather(
            erase_expired(database, settings, now=after), erase_expired(other, settings, now=after)
        )
    finally:
        await other.dispose()
    assert sum(counts) == 3
    entries = await rows(database, AuditEntry, AuditEntry.action == "conference.group.erased")
    assert sorted(e.subject for e in entries) == sorted(g["reference"] for g in booked)
    assert {(await group_row(database, g["id"])).lead_name for g in booked} == {ERASED_LEAD_NAME}


# --- in a real browser: axe-core and a 390-pixel phone ---------------------------------------------------------


async def _seed_groups(url: str) -> tuple[str, str]:
    """A settled group (free places, confirmed) and one waiting for approval; their lead links."""
    settings = make_settings(url)
    database = Database.from_settings(settings)
    try:
        tickets = await make_conference(database, capacity=10)
        links = []
        for ticket, name in ((tickets["delegate"], "Settled"), (tickets["press"], "Waiting")):
            async with database.transaction() as db:
                booked = await groups.book_group(
                    db,
                    settings,
                    body=groups.GroupCreate.model_validate(
                        {
                            "ticket_type_id": str(ticket),
                            "lead": {"name": f"{name} Lead", "email": f"{name.lower()}.lead@leeds.gov.uk"},
                            "organisation": "Leeds City Council",
                            "sector": "local_authority",
                            "members": _members(f"{name} Member"),
                        }
                    ),
                    actor=audit.SYSTEM,
                )
            links.append(booked.manage_token)
        return links[0], links[1]
    finally:
        await database.dispose()


@pytest.mark.browser
def test_the_lead_pages_pass_axe_and_fit_a_phone(database_url: str, tmp_path: Path) -> None:
    support.require_chromium()
    from playwright.sync_api import expect, sync_playwright

    settled, waiting = asyncio.run(_seed_groups(database_url))
    with (
        support.live_server(database_url, log_path=tmp_path / "server.log") as base,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=support.CHROMIUM, args=support.LAUNCH_ARGS)
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")  # a phone
            context.set_default_timeout(support.BROWSER_PATIENCE_MS)
            page = context.new_page()

            def check(where: str) -> None:
                support.assert_axe_clean(page, where)
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 390, f"{where}: sideways scroll at 390 px"

            page.goto(f"{base}/group/manage/{waiting}/erase")
            expect(page.locator("#unsettled")).to_contain_text("wait")
            check("the lead's erase page, unsettled")

            page.goto(f"{base}/group/manage/{settled}")
            page.get_by_role("link", name="Erase my details").click()
            expect(page.get_by_role("heading", level=1)).to_contain_text("Erase your details")
            check("the lead's erase page")
            page.get_by_role("button", name="Yes, erase my details").click()
            expect(page.locator("#erased")).to_contain_text("We have erased your details")
            check("the lead's erased page")
            context.close()
        finally:
            browser.close()
