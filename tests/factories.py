"""Builders for test data: rows (a conference with ticket types, a programme, the call for talks, reviewers) and
request bodies (a registration, one paid by invoice, a proposal).

Helpers that act through the HTTP API with these bodies (register, submit) are in tests/support.py.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from conference import accounts, questions
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import Approval, Conference, TicketType, utcnow
from conference.core.settings import Settings
from sessions.call import call as calls
from sessions.call import review
from sessions.models import CallUpdate, Kind, ReviewerInvite, RoomCreate, SessionCreate, TimeSlotCreate
from sessions.workshops import programme

ORGANISER = Actor("organiser", "tests")  # who the factories say made what they make

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


# --- the programme ----------------------------------------------------------------------------------------------


@dataclass
class Programme:
    rooms: dict[str, uuid.UUID] = field(default_factory=dict)
    slots: list[uuid.UUID] = field(default_factory=list)
    sessions: dict[str, uuid.UUID] = field(default_factory=dict)


async def make_programme(database: Database, *, small_capacity: int = 3) -> Programme:
    """A small programme: three rooms and a hall, two days of slots, a plenary and workshops.

    Slots: day 1 at 10:00, 11:30, 14:00; day 2 at 10:00, 11:30 (UTC, an hour each). Workshops A (slot 0,
    Small), B (slot 0, Big), C (slot 1, Small), Long (slots 0-1, Medium), D (slot 4, Big); plenary P (slot 3)."""
    p = Programme()
    async with database.transaction() as db:
        for name, seats in (("Hall", 400), ("Big", 50), ("Small", small_capacity), ("Medium", 10)):
            room = await programme.create_room(
                db, data=RoomCreate(name=name, capacity=seats), actor=ORGANISER
            )
            p.rooms[name] = room.id
        for day, hours in ((8, (10, 11.5, 14)), (9, (10, 11.5))):
            for h in hours:
                start = datetime(2026, 12, day, int(h), int((h % 1) * 60), tzinfo=UTC)
                slot = await programme.create_slot(
                    db,
                    data=TimeSlotCreate(starts_at=start, ends_at=start + timedelta(hours=1)),
                    actor=ORGANISER,
                )
                p.slots.append(slot.id)
        specs = [
            ("A", Kind.workshop, "Small", 0, 1),
            ("B", Kind.workshop, "Big", 0, 1),
            ("C", Kind.workshop, "Small", 1, 1),
            ("Long", Kind.workshop, "Medium", 0, 2),
            ("P", Kind.plenary, "Hall", 3, 1),
            ("D", Kind.workshop, "Big", 4, 1),
        ]
        for title, kind, room, slot, count in specs:
            s = await programme.create_session(
                db,
                data=SessionCreate(
                    title=f"Workshop {title}" if kind == Kind.workshop else "Opening plenary",
                    kind=kind,
                    room_id=p.rooms[room],
                    start_slot_id=p.slots[slot],
                    slot_count=count,
                    theme="partnership working",
                ),
                actor=ORGANISER,
            )
            p.sessions[title] = s.id
    return p


# --- the call for talks -----------------------------------------------------------------------------------------


async def set_call(database: Database, *, open_: bool = True, anonymous: bool = True) -> None:
    """Open the call (it opened 30 days ago and closes in 10) or close it (it closed yesterday)."""
    now = utcnow()
    async with database.transaction() as db:
        await calls.update_call(
            db,
            data=CallUpdate(
                opens_at=now - timedelta(days=30),
                closes_at=now + (timedelta(days=10) if open_ else -timedelta(days=1)),
                anonymous_review=anonymous,
            ),
            actor=ORGANISER,
        )


def proposal_body(**overrides: Any) -> dict[str, Any]:
    n = uuid.uuid4().hex[:6]
    body: dict[str, Any] = {
        "title": "One front door for children's referrals",
        "abstract": "How a shared triage desk cut referral times from five days to one.",
        "format": "talk",
        "duration_minutes": 20,
        "themes": ["information sharing", "partnership working"],
        "speakers": [
            {
                "name": "Grace Okafor",
                "email": f"grace.okafor.{n}@leeds.gov.uk",
                "organisation": "Leeds City Council",
            }
        ],
        "audience_level": "intermediate",
        "access_needs": "Step-free access to the stage",
    }
    body.update(overrides)
    return body


async def invite(
    database: Database, settings: Settings, name: str = "Dr Helen Marsh", email: str | None = None
) -> tuple[uuid.UUID, str]:
    """A reviewer invited by the organisers: their id and the token of their private link."""
    async with database.transaction() as db:
        r = await review.invite_reviewer(
            db,
            settings=settings,
            actor=ORGANISER,
            data=ReviewerInvite(
                name=name, email=email or f"reviewer.{uuid.uuid4().hex[:6]}@whatworks.org.uk"
            ),
        )
    return r.id, review.reviewer_token(settings, r)


# --- registration questions ------------------------------------------------------------------------------------


async def make_question(
    database: Database,
    label: str,
    kind: str = "text",
    *,
    required: bool = False,
    options: list[str] | None = None,
    ticket_type_ids: list[uuid.UUID] | None = None,
    on_badge: bool = False,
    help_text: str = "",
) -> uuid.UUID:
    """A registration question, made as the console makes one (conference/questions.py); its id."""
    async with database.transaction() as db:
        data = questions.check_question(
            {
                "label": label,
                "kind": kind,
                "required": required,
                "options": options or [],
                "ticket_type_ids": [str(t) for t in ticket_type_ids or []],
                "on_badge": on_badge,
                "help_text": help_text,
            },
            ticket_types=await questions.ticket_type_names(db),
        )
        return (await questions.create_question(db, data=data, actor=ORGANISER)).id


# --- console accounts ------------------------------------------------------------------------------------------


async def make_console_user(
    database: Database, settings: Settings, *, email: str, password: str, role: str = "organiser"
) -> None:
    """A console account that signs in with `password`, made as the CLI makes one (no invitation)."""
    async with database.transaction() as db:
        user = await accounts.add_user(db, settings, email=email, role=role, actor=Actor("cli"), invite=False)
        await accounts.set_password(db, user, password, actor=Actor("cli"))
