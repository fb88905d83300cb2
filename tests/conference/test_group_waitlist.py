"""A waitlisted group comes off the waiting list all together or not at all (issue 20: "never a partial group by
accident"): places.promote_waitlist treats a group's waitlisted members as one entry at its earliest member's
position; people behind a group that does not fit yet may go first, and the group goes as soon as it fits, before
anyone after it. The lead is told by a `group_promoted` email."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference import personal_data, places
from conference.core import audit
from conference.core.db import Database
from conference.core.group_models import InvoiceLine
from conference.core.models import HOLDING, AuditEntry, Invoice, OutboxEmail, Registration, Status, TicketType
from conference.core.settings import Settings
from tests.factories import invoice_body, make_conference
from tests.support import bearer, body_of, emails, flat, organiser_token

BILLING = {
    "organisation": "Leeds City Council",
    "contact": "Accounts Payable",
    "email": "ap@leeds.gov.uk",
    "address": "Civic Hall\nCalverley Street\nLeeds LS1 1UR",
    "purchase_order": "PO-4500123987",
}


def group_body(ticket_type_id: uuid.UUID, count: int) -> dict[str, Any]:
    return {
        "ticket_type_id": str(ticket_type_id),
        "lead": {"name": "Lena Lead", "email": f"lead-{uuid.uuid4().hex[:6]}@leeds.gov.uk", "attends": False},
        "organisation": "Leeds City Council",
        "sector": "local_authority",
        "members": [
            {"name": f"Colleague {i}", "email": f"colleague{i}-{uuid.uuid4().hex[:6]}@leeds.gov.uk"}
            for i in range(1, count + 1)
        ],
        "payment_method": "invoice",
        "billing": dict(BILLING),
        "if_full": "waitlist",
    }


async def priced(database: Database, capacity: int) -> uuid.UUID:
    """A £100 + 20% VAT ticket, invoice confirms the place, in a conference of `capacity` places."""
    await make_conference(database, capacity=capacity)
    async with database.transaction() as db:
        conference = await places.get_conference(db)
        assert conference.id is not None
        ticket = TicketType(
            conference_id=conference.id, name="Delegate (paid)", price_pence=10000, position=9
        )
        db.add(ticket)
    return ticket.id


async def single(client: httpx.AsyncClient, ticket: uuid.UUID) -> dict[str, Any]:
    response = await client.post("/api/v1/registrations", json=invoice_body(ticket))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def book_group(client: httpx.AsyncClient, ticket: uuid.UUID, count: int) -> dict[str, Any]:
    body = group_body(ticket, count)
    response = await client.post("/api/v1/groups", json=body)
    assert response.status_code == 201, response.text
    return {**response.json(), "lead_email": body["lead"]["email"]}


async def cancel(client: httpx.AsyncClient, who: dict[str, Any]) -> None:
    response = await client.delete(f"/api/v1/registrations/{who['id']}", headers=bearer(who["manage_token"]))
    assert response.status_code == 200, response.text


async def statuses(database: Database, ids: list[str]) -> list[Status]:
    async with database.read() as db:
        found = {
            str(r.id): r.status
            for r in (
                await db.execute(
                    sa.select(Registration).where(col(Registration.id).in_([uuid.UUID(i) for i in ids]))
                )
            ).scalars()
        }
    return [found[i] for i in ids]


def ids(group: dict[str, Any]) -> list[str]:
    return [m["id"] for m in group["members"]]


async def test_a_group_waits_while_a_later_single_that_fits_goes_then_all_five_go_together(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    ticket = await priced(database, 5)
    holders = [await single(client, ticket) for _ in range(5)]
    group = await book_group(client, ticket, 5)
    assert group["status"] == "waitlisted"
    later = await single(client, ticket)
    assert later["status"] == "waitlisted"

    # Two places free: the group of five does not fit, so none of it moves; the single behind it takes one.
    await cancel(client, holders[0])
    await cancel(client, holders[1])
    assert await statuses(database, ids(group)) == [Status.waitlisted] * 5
    assert await statuses(database, [later["id"]]) == [Status.confirmed]
    assert await emails(database, settings, kind="group_promoted") == []

    # Places free one by one: still nobody of the group until all five fit.
    for holder in holders[2:]:
        await cancel(client, holder)
        assert await statuses(database, ids(group)) == [Status.waitlisted] * 5
    await cancel(client, later)  # the fifth free place
    assert await statuses(database, ids(group)) == [Status.confirmed] * 5

    async with database.read() as db:
        invoices = list(
            (
                await db.execute(sa.select(Invoice).where(col(Invoice.group_id) == uuid.UUID(group["id"])))
            ).scalars()
        )
        (invoice,) = invoices  # one invoice to the organisation, a line per member
        lines = (
            await db.execute(sa.select(InvoiceLine).where(col(InvoiceLine.invoice_id) == invoice.id))
        ).scalars()
        assert sorted(str(line.registration_id) for line in lines) == sorted(ids(group))
        entries = list(
            (
                await db.execute(
                    sa.select(AuditEntry).where(col(AuditEntry.action) == "conference.group.promoted")
                )
            ).scalars()
        )
    assert [e.subject for e in entries] == [group["reference"]]

    (to_lead,) = await emails(database, settings, kind="group_promoted")
    assert to_lead["To"] == group["lead_email"]
    text = flat(body_of(to_lead))
    assert group["reference"] in to_lead["Subject"]
    assert f"/group/manage/{group['manage_token']}" in text
    assert all(f"Colleague {i}" in text for i in range(1, 6)) and "Confirmed" in text
    # Each member is told too, as any promoted delegate.
    promoted = {m["To"] for m in await emails(database, settings, kind="promoted")}
    assert {m["email"] for m in group["members"]} <= promoted


async def test_once_it_fits_the_group_goes_before_anyone_after_it(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    ticket = await priced(database, 4)
    holders = [await single(client, ticket) for _ in range(4)]
    group = await book_group(client, ticket, 2)
    later = await single(client, ticket)
    # Two places free at one moment (as a capacity change or a lapsed block frees them): the group's, not the later
    # single's.
    async with database.transaction() as db:
        conference = await places.get_conference(db, for_update=True)
        for holder in holders[:2]:
            registration = await db.get(Registration, uuid.UUID(holder["id"]))
            assert registration is not None
            registration.status = Status.cancelled
        await db.flush()
        promoted = await places.promote_waitlist(db, settings=settings, conference=conference)
    assert sorted(str(r.id) for r in promoted) == sorted(ids(group))
    assert await statuses(database, [*ids(group), later["id"]]) == [Status.confirmed] * 2 + [
        Status.waitlisted
    ]


async def test_a_capped_type_keeps_the_group_waiting_though_the_conference_has_room(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    ticket = await priced(database, 10)
    async with database.transaction() as db:
        capped = await db.get(TicketType, ticket)
        assert capped is not None
        capped.cap = 3
    holders = [await single(client, ticket) for _ in range(3)]
    group = await book_group(client, ticket, 2)
    assert group["status"] == "waitlisted"
    await cancel(client, holders[0])  # one place of the type: the group of two does not fit the cap
    assert await statuses(database, ids(group)) == [Status.waitlisted] * 2
    await cancel(client, holders[1])
    assert await statuses(database, ids(group)) == [Status.confirmed] * 2


@pytest.mark.parametrize("seed", [20, 2026])
async def test_no_member_of_a_group_is_ever_promoted_alone(
    client: httpx.AsyncClient, database: Database, settings: Settings, seed: int
) -> None:
    rng = random.Random(seed)
    capacity = 6
    ticket = await priced(database, capacity)
    people = [await single(client, ticket) for _ in range(capacity)]
    groups: list[dict[str, Any]] = []
    for _ in range(4):
        groups.append(await book_group(client, ticket, rng.randint(2, 5)))
        people.extend([await single(client, ticket) for _ in range(rng.randint(0, 2))])
    everyone = people + [m for g in groups for m in g["members"]]
    by_id = {p["id"]: p for p in everyone}

    for _step in range(30):
        async with database.read() as db:
            rows = list((await db.execute(sa.select(Registration))).scalars())
        live = [r for r in rows if r.status != Status.cancelled and str(r.id) in by_id]
        if not live:
            break
        if rng.random() < 0.25:
            fresh = await single(
                client, ticket
            )  # a newcomer: a free place nobody waiting fits, else the list
            by_id[fresh["id"]] = fresh
        else:
            await cancel(client, by_id[str(rng.choice(live).id)])
        await check(database)
    # Not vacuous: some group did come off the list (whole) along the way.
    placed = await statuses(database, [m["id"] for g in groups for m in g["members"]])
    assert any(s in HOLDING for s in placed)


async def check(database: Database) -> None:
    """Every group is all waiting or all placed, and nothing that fits the free places is left waiting."""
    async with database.read() as db:
        conference = await places.get_conference(db)
        rows = list((await db.execute(sa.select(Registration))).scalars())
    free = conference.capacity - sum(1 for r in rows if r.status in HOLDING)
    units: dict[Any, list[Registration]] = {}
    for r in rows:
        if r.status != Status.cancelled:
            units.setdefault(r.group_id or r.id, []).append(r)
    for unit in units.values():
        waiting = [r for r in unit if r.status == Status.waitlisted]
        assert len(waiting) in (0, len(unit)), [r.status for r in unit]
        assert len(waiting) == 0 or len(waiting) > free, (len(waiting), free)


async def test_a_group_with_a_reserved_block_counts_its_block_and_the_general_places(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    ticket = await priced(database, 6)
    org = bearer(await organiser_token(database))
    made = await client.post(
        "/api/v1/codes", headers=org, json={"label": "Leeds", "max_uses": 5, "reserved_places": 2}
    )
    assert made.status_code == 201, made.text
    code = made.json()
    holders = [await single(client, ticket) for _ in range(4)]  # the four general places
    body = {**group_body(ticket, 4), "code": code["text"]}
    response = await client.post("/api/v1/groups", json=body)
    assert response.status_code == 201, response.text
    group = response.json()
    assert group["status"] == "waitlisted"  # two block places and no general one: four do not fit
    later = await single(client, ticket)

    # The block's two and one general place: three, not four; the later single takes the general place.
    await cancel(client, holders[0])
    assert await statuses(database, ids(group)) == [Status.waitlisted] * 4
    assert await statuses(database, [later["id"]]) == [Status.confirmed]
    await cancel(client, holders[1])
    assert await statuses(database, ids(group)) == [Status.waitlisted] * 4
    await cancel(client, holders[2])  # two general places and the block's two
    assert await statuses(database, ids(group)) == [Status.confirmed] * 4
    left = (await client.get(f"/api/v1/codes/{code['id']}", headers=org)).json()["reserved_left"]
    conference = (await client.get("/api/v1/conference")).json()
    assert (left, conference["remaining"]) == (0, 0)


async def test_the_promotion_email_is_in_the_leads_data_and_goes_with_their_erasure(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    ticket = await priced(database, 1)
    holder = await single(client, ticket)
    group = await book_group(client, ticket, 1)
    await cancel(client, holder)  # the group's one member fits: promoted, and the lead told
    assert len(await emails(database, settings, kind="group_promoted")) == 1
    group_id = uuid.UUID(group["id"])
    async with database.read() as db:
        kinds = [e["kind"] for e in (await personal_data.export_group_for(db, group_id=group_id))["emails"]]
    assert "group_promoted" in kinds and "group_booked" in kinds

    async with database.transaction() as db:
        await personal_data.erase_group(db, group_id=group_id, actor=audit.SYSTEM, reason="organiser")
    async with database.read() as db:
        to_lead = (
            await db.execute(
                sa.select(OutboxEmail).where(
                    sa.func.lower(col(OutboxEmail.to_address)) == group["lead_email"]
                )
            )
        ).scalars()
        assert list(to_lead) == []  # neither the booking nor the promotion email keeps the lead's address
