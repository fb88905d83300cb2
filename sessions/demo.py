"""The demo event's venue and programme: rooms, two days of slots and the plenaries organisers place by hand;
the workshops are built by the scheduler from the demo call's accepted talks and published (version 1).
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from sqlmodel import col

from conference.core import errors
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.formats import conference_zone
from conference.core.models import Registration, Status
from conference.core.settings import Settings
from conference.places import get_conference
from sessions.models import (
    Kind,
    ProgrammeSession,
    Room,
    RoomCreate,
    ScheduleState,
    ScheduleVersion,
    SessionCreate,
    TimeSlot,
    TimeSlotCreate,
)
from sessions.workshops import capacity, programme

DEMO = Actor("cli", "demo")

ROOMS = [  # name, seats, accessibility
    (
        "Main Auditorium",
        1000,
        "Step-free, hearing loop, BSL interpreters on the stage, wheelchair spaces front and back.",
    ),
    ("Exchange Hall", 400, "Step-free, hearing loop."),
    ("Charter Room", 150, "Step-free, hearing loop."),
    ("Room 1", 80, "Step-free via lift B."),
    ("Room 2", 60, "Step-free via lift B."),
    ("Room 3", 45, "Step-free via lift B; no hearing loop."),
    ("Room 4", 30, "Step-free via lift C; small room, quiet."),
]
SLOT_TIMES = [
    (time(9, 30), time(10, 30)),
    (time(11, 0), time(12, 0)),
    (time(12, 15), time(13, 15)),
    (time(14, 15), time(15, 15)),
    (time(15, 30), time(16, 30)),
]
PLENARIES = [
    (
        0,
        0,
        "Opening plenary: safer communities, together",
        "The Minister for Safeguarding and the conference chair open the event.",
    ),
    (
        1,
        0,
        "Day two plenary: what the evidence tells us",
        "The What Works Centre presents this year's evaluation findings.",
    ),
    (
        1,
        4,
        "Closing plenary: commitments for the year ahead",
        "Partners from every sector say what they will do next.",
    ),
]
THEMES = [
    "information sharing",
    "partnership working",
    "community engagement",
    "education",
    "online safety",
    "evaluation",
]


def _at(day: datetime, t: time) -> datetime:
    """`t` on `day`, in `day`'s time zone (the conference's)."""
    return datetime.combine(day.date(), t, tzinfo=day.tzinfo)


async def load_demo_programme(database: Database) -> int:
    """Rooms, slots and sessions, once, then the call for talks (sessions/call/demo.py) with the delegates' stars.
    Returns how many sessions exist afterwards."""
    from conference.core.settings import load_settings
    from sessions.call.demo import load_demo_call

    await _load_venue_and_sessions(database)
    # The same environment `conference demo` read its settings from (the call's emails are queued, or kept).
    settings = load_settings()
    await load_demo_call(database, settings)
    await publish_demo_programme(database, settings)
    async with database.read() as db:
        return int(
            (
                await db.execute(
                    sa.select(sa.func.count())
                    .select_from(ProgrammeSession)
                    .where(col(ProgrammeSession.cancelled).is_(False))
                )
            ).scalar_one()
        )


async def publish_demo_programme(database: Database, settings: Settings, *, time_limit: float = 5.0) -> str:
    """Build the workshops from the accepted talks and publish them, once (a rerun keeps what is published)."""
    from sessions.schedule import build as schedule_build
    from sessions.schedule import publish as schedule_publish

    async with database.read() as db:
        if (
            await db.execute(
                sa.select(col(ScheduleVersion.id)).where(
                    col(ScheduleVersion.state) == ScheduleState.published
                )
            )
        ).first():
            return "demo: the programme was already published"
    draft = await schedule_build.build_draft(database, time_limit=time_limit, actor=DEMO)
    if not draft.placement:
        return "demo: no programme keeps every rule: " + " ".join(draft.figures.get("explanation", []))
    assert draft.id is not None
    async with database.transaction() as db:
        version = await schedule_publish.publish(db, settings=settings, draft_id=draft.id, actor=DEMO)
    return f"demo: programme version {version.number} published ({draft.figures.get('workshops')} workshops)"


async def _load_venue_and_sessions(database: Database) -> int:
    async with database.transaction() as db:
        if (await db.execute(sa.select(col(Room.id)).limit(1))).first() is not None:
            return int((await db.execute(sa.text("SELECT count(*) FROM programme_session"))).scalar_one())
        conference = await get_conference(db)
        rooms = [
            await programme.create_room(
                db, data=RoomCreate(name=n, capacity=c, accessibility=a, position=i), actor=DEMO
            )
            for i, (n, c, a) in enumerate(ROOMS)
        ]
        first_day = conference.starts_at.astimezone(conference_zone(conference))
        slots: list[list[TimeSlot]] = []
        for d in range(2):
            day = first_day + timedelta(days=d)
            slots.append(
                [
                    await programme.create_slot(
                        db,
                        data=TimeSlotCreate(
                            starts_at=_at(day, start),
                            ends_at=_at(day, end),
                            label=f"Day {d + 1} session {i + 1}",
                        ),
                        actor=DEMO,
                    )
                    for i, (start, end) in enumerate(SLOT_TIMES)
                ]
            )
        count = 0
        for d, i, title, description in PLENARIES:
            await programme.create_session(
                db,
                data=SessionCreate(
                    title=title,
                    description=description,
                    kind=Kind.plenary,
                    room_id=rooms[0].id,
                    start_slot_id=slots[d][i].id,
                ),
                actor=DEMO,
            )
            count += 1
        return count


async def book_demo_seats(database: Database, settings: Settings, *, seed: int, share: float = 0.6) -> int:
    """Confirmed delegates book workshops, skewed toward a few popular ones (as real demand is)."""
    rng = random.Random(seed)
    async with database.read() as db:
        people = (
            (
                await db.execute(
                    sa.select(col(Registration.id))
                    .where(col(Registration.status) == Status.confirmed)
                    .order_by(col(Registration.number))
                )
            )
            .scalars()
            .all()
        )
        sessions = await programme.sessions_public(db)
    workshops = [s for s in sessions if s["bookable"]]
    popularity = {s["id"]: rng.paretovariate(1.2) for s in workshops}
    by_time: dict[str, list[dict[str, object]]] = {}
    for s in workshops:
        by_time.setdefault(str(s["starts_at"]), []).append(s)
    booked = 0
    for person in people:
        if rng.random() > share:
            continue
        for _start, options in sorted(by_time.items()):
            if rng.random() < 0.35:
                continue
            pick = rng.choices(options, weights=[popularity[str(o["id"])] for o in options])[0]
            async with database.transaction() as db:
                try:
                    await capacity.book_seat(
                        db,
                        settings=settings,
                        registration_id=person,
                        session_id=uuid.UUID(str(pick["id"])),
                        actor=DEMO,
                        source="organiser",
                    )
                    booked += 1
                except errors.DomainError:
                    pass  # clashes with a two-slot workshop they already hold
    return booked
