"""Builders for test data: a conference with ticket types, and registration payloads."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

from conference.core.db import Database
from conference.core.models import Approval, Conference, TicketType

_counter = itertools.count(1)


async def make_conference(
    database: Database, *, capacity: int = 100, open_: bool = True
) -> dict[str, uuid.UUID]:
    """A conference and four ticket types; returns the ticket type ids by short name."""
    async with database.transaction() as db:
        conference = Conference(
            name="Test Conference",
            venue="Test Hall",
            capacity=capacity,
            registration_open=open_,
            starts_at=datetime(2026, 12, 8, 9, tzinfo=UTC),
            ends_at=datetime(2026, 12, 9, 17, tzinfo=UTC),
        )
        db.add(conference)
        await db.flush()
        assert conference.id is not None
        types = {
            "delegate": TicketType(conference_id=conference.id, name="Delegate", position=1),
            "public": TicketType(
                conference_id=conference.id,
                name="Public sector",
                position=2,
                approval=Approval.domain,
                approval_domains="gov.uk,police.uk,nhs.net",
            ),
            "press": TicketType(
                conference_id=conference.id, name="Press", position=3, approval=Approval.manual, cap=2
            ),
            "exhibitor": TicketType(
                conference_id=conference.id, name="Exhibitor", position=4, price_pence=45000, cap=3
            ),
            "speaker": TicketType(conference_id=conference.id, name="Speaker", position=5, public=False),
        }
        for t in types.values():
            db.add(t)
        await db.flush()
        return {k: t.id for k, t in types.items()}


def registration_body(ticket_type_id: uuid.UUID | str, **overrides: Any) -> dict[str, Any]:
    n = next(_counter)
    body: dict[str, Any] = {
        "name": f"Delegate {n}",
        "email": f"delegate{n}-{uuid.uuid4().hex[:6]}@leeds.gov.uk",
        "organisation": "Leeds City Council",
        "sector": "local_authority",
        "ticket_type_id": str(ticket_type_id),
        "consent": True,
    }
    body.update(overrides)
    return body


BILLING = {
    "organisation": "Leeds City Council",
    "contact_name": "Accounts Payable",
    "email": "ap@leeds.gov.uk",
    "address": "Civic Hall, Calverley Street, Leeds LS1 1UR",
    "purchase_order": "PO-12345",
}


def invoice_body(ticket_type_id: uuid.UUID | str, **overrides: Any) -> dict[str, Any]:
    """A registration for a priced ticket, paid by the organisation's invoice."""
    return registration_body(ticket_type_id, payment_method="invoice", billing=dict(BILLING), **overrides)
