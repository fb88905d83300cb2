"""What the group booking tests share: a booking body, a card group booked, the members' statuses in order, the
lead's "Amount due", and a conference whose exhibitor ticket has no cap of its own."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import col

from conference.core.db import Database
from conference.core.models import Registration, Status, TicketType
from tests.factories import make_conference

# A council's billing details, with a purchase order and a buyer reference.
BILLING = {
    "organisation": "Leeds City Council",
    "contact": "Accounts Payable",
    "email": "ap@leeds.gov.uk",
    "address": "Civic Hall, Calverley Street, Leeds LS1 1UR",
    "purchase_order": "PO-777",
    "buyer_reference": "BR-12",
}


def group_body(ticket: Any, count: int, *, lead_name: str = "Lena Lead", **overrides: Any) -> dict[str, Any]:
    """A group of `count` members paying by card, unique addresses (the lead's from their name's first word)."""
    tag = uuid.uuid4().hex[:6]
    body: dict[str, Any] = {
        "ticket_type_id": str(ticket),
        "lead": {"name": lead_name, "email": f"{lead_name.split()[0].lower()}-{tag}@leeds.gov.uk"},
        "organisation": "Leeds City Council",
        "sector": "local_authority",
        "members": [
            {"name": f"Member {i}", "email": f"m{i}-{tag}@leeds.gov.uk"} for i in range(1, count + 1)
        ],
        "payment_method": "card",
    }
    body.update(overrides)
    return body


async def book_card_group(
    client: httpx.AsyncClient, database: Database, count: int, *, lead_name: str = "Lena Lead"
) -> dict[str, Any]:
    """A conference of 10 places (exhibitor: £450 + 20% VAT, cap 3) and a card group of exhibitors booked in it."""
    tickets = await make_conference(database, capacity=10)
    booked: dict[str, Any] = (
        await client.post("/api/v1/groups", json=group_body(tickets["exhibitor"], count, lead_name=lead_name))
    ).json()
    return booked


async def statuses(database: Database, group_id: Any) -> list[Status]:
    """The group members' statuses, in the order they were booked."""
    async with database.read() as db:
        stmt = (
            sa.select(col(Registration.status))
            .where(col(Registration.group_id) == uuid.UUID(str(group_id)))
            .order_by(col(Registration.number))
        )
        return list((await db.execute(stmt)).scalars())


async def amount_due(client: httpx.AsyncClient, lead: str) -> tuple[str, httpx.Response]:
    """The lead's page (at `lead`) and what its "Amount due" paragraph says."""
    page = await client.get(lead)
    due = re.search(r'<p id="amount-due">(.*?)</p>', page.text, re.S)
    assert due is not None
    return due.group(1), page


async def uncapped_exhibitors(database: Database, *, capacity: int) -> dict[str, Any]:
    """A conference of `capacity` places whose exhibitor ticket (priced, open to invoices) has no cap of its own."""
    tickets: dict[str, Any] = await make_conference(database, capacity=capacity)
    async with database.transaction() as db:
        await db.execute(
            sa.update(TicketType).where(col(TicketType.id) == tickets["exhibitor"]).values(cap=None)
        )
    return tickets
