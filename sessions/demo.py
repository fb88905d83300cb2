"""The demo event's venue and hand-made programme: rooms, two days of slots, plenaries and workshops.

(Until the scheduler builds the programme from accepted talks, this is the programme organisers typed in.)
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from conference import errors
from conference.audit import Actor
from conference.db import Database
from conference.models import Registration, Status
from conference.registration import get_conference
from conference.settings import Settings
from sessions import capacity, programme
from sessions.models import Kind, Room, RoomCreate, SessionCreate, TimeSlotCreate

LONDON = ZoneInfo("Europe/London")
DEMO = Actor("cli", "demo")

ROOMS = [  # name, seats, accessibility
    ("Main Auditorium", 1000, "Step-free, hearing loop, BSL interpreters on the stage, wheelchair spaces front and back."),
    ("Exchange Hall", 400, "Step-free, hearing loop."),
    ("Charter Room", 150, "Step-free, hearing loop."),
    ("Room 1", 80, "Step-free via lift B."),
    ("Room 2", 60, "Step-free via lift B."),
    ("Room 3", 45, "Step-free via lift B; no hearing loop."),
    ("Room 4", 30, "Step-free via lift C; small room, quiet."),
]
SLOT_TIMES = [(time(9, 30), time(10, 30)), (time(11, 0), time(12, 0)), (time(12, 15), time(13, 15)),
              (time(14, 15), time(15, 15)), (time(15, 30), time(16, 30))]
PLENARIES = [
    (0, 0, "Opening plenary: safer communities, together", "The Minister for Safeguarding and the conference chair open the event."),
    (1, 0, "Day two plenary: what the evidence tells us", "The What Works Centre presents this year's evaluation findings."),
    (1, 4, "Closing plenary: commitments for the year ahead", "Partners from every sector say what they will do next."),
]
THEMES = ["information sharing", "partnership working", "community engagement", "education", "online safety", "evaluation"]
WORKSHOPS = [
    ("Contextual safeguarding: mapping the places young people meet", "partnership working"),
    ("Multi-agency safeguarding hubs that actually share information", "information sharing"),
    ("Reducing school exclusions through early help", "education"),
    ("Trauma-informed practice in custody suites", "partnership working"),
    ("County lines: a police and youth offending team joint approach", "partnership working"),
    ("Co-designing services with care-experienced young people", "community engagement"),
    ("Online harms: what teachers need to know in 2026", "online safety"),
    ("Evaluating small community projects on a small budget", "evaluation"),
    ("Data protection and lawful information sharing, in plain English", "information sharing"),
    ("Mentoring schemes that reduce reoffending", "community engagement"),
    ("Faith groups as safeguarding partners", "community engagement"),
    ("Fire and rescue home visits as a safeguarding route", "partnership working"),
    ("Mental health first response: police and NHS street triage", "partnership working"),
    ("Serious violence duty: a year in", "evaluation"),
    ("Digital resilience clubs in primary schools", "online safety"),
    ("Transitions from youth to adult probation", "partnership working"),
    ("Measuring what matters: outcome frameworks", "evaluation"),
    ("Neighbourhood policing and community trust", "community engagement"),
    ("Family hubs: one front door for families", "information sharing"),
    ("Sextortion and image abuse: responding well", "online safety"),
    ("Prison leavers and housing: a partnership that works", "partnership working"),
    ("Youth voice in local safeguarding partnerships", "community engagement"),
    ("Attendance, inclusion and the role of colleges", "education"),
    ("Using shared case records across agencies", "information sharing"),
    ("Domestic abuse: learning from reviews", "evaluation"),
    ("University partnerships for local evidence", "evaluation"),
    ("Restorative practice in schools and children's homes", "education"),
    ("Online radicalisation: spotting the signs", "online safety"),
    ("Volunteers as part of the safeguarding workforce", "community engagement"),
    ("Hospital-based youth violence intervention", "partnership working"),
    ("Cross-border information sharing between forces", "information sharing"),
    ("Exploitation screening tools: do they work?", "evaluation"),
]
HANDS_ON = {"Co-designing services with care-experienced young people", "Evaluating small community projects on a small budget"}


def _at(day: datetime, t: time) -> datetime:
    return datetime.combine(day.date(), t, tzinfo=LONDON)


async def load_demo_programme(database: Database) -> int:
    """Rooms, slots and sessions, once, then the call for talks (sessions/call_demo.py) with the delegates' stars.
    Returns how many sessions exist afterwards."""
    from conference.settings import load_settings
    from sessions.call_demo import load_demo_call

    count = await _load_venue_and_sessions(database)
    # The same environment `conference demo` read its settings from (the call's emails are queued, or kept).
    await load_demo_call(database, load_settings())
    return count


async def _load_venue_and_sessions(database: Database) -> int:
    async with database.transaction() as db:
        if (await db.execute(sa.select(Room.id).limit(1))).first() is not None:
            return int((await db.execute(sa.text("SELECT count(*) FROM programme_session"))).scalar_one())
        conference = await get_conference(db)
        rooms = [await programme.create_room(db, data=RoomCreate(name=n, capacity=c, accessibility=a, position=i), actor=DEMO)
                 for i, (n, c, a) in enumerate(ROOMS)]
        first_day = conference.starts_at.astimezone(LONDON)
        slots: list[list[object]] = []
        for d in range(2):
            day = first_day + timedelta(days=d)
            slots.append([await programme.create_slot(db, data=TimeSlotCreate(
                starts_at=_at(day, start), ends_at=_at(day, end), label=f"Day {d + 1} session {i + 1}"), actor=DEMO)
                for i, (start, end) in enumerate(SLOT_TIMES)])
        count = 0
        for d, i, title, description in PLENARIES:
            await programme.create_session(db, data=SessionCreate(
                title=title, description=description, kind=Kind.plenary, room_id=rooms[0].id,
                start_slot_id=slots[d][i].id), actor=DEMO)  # type: ignore[attr-defined]
            count += 1
        workshop_rooms = rooms[1:]
        free = [(d, i) for d in range(2) for i in range(5) if (d, i) not in {(p[0], p[1]) for p in PLENARIES}]
        titles = iter(WORKSHOPS)
        busy: set[tuple[int, int, int]] = set()
        for d, i in free:
            for r, room in enumerate(workshop_rooms):
                if (d, i, r) in busy:
                    continue
                title, theme = next(titles, (None, None))
                if title is None:
                    break
                span = 2 if title in HANDS_ON and (d, i + 1) in free else 1
                for k in range(span):
                    busy.add((d, i + k, r))
                await programme.create_session(db, data=SessionCreate(
                    title=title, theme=theme or "", kind=Kind.workshop, room_id=room.id, start_slot_id=slots[d][i].id,  # type: ignore[attr-defined]
                    slot_count=span, description=f"A best-practice workshop on {theme}.",
                    speakers="Practitioners from councils, police and community partners"), actor=DEMO)
                count += 1
        return count


async def book_demo_seats(database: Database, settings: Settings, *, seed: int, share: float = 0.6) -> int:
    """Confirmed delegates book workshops, skewed toward a few popular ones (as real demand is)."""
    rng = random.Random(seed)
    async with database.read() as db:
        people = (await db.execute(sa.select(Registration.id).where(Registration.status == Status.confirmed)
                                   .order_by(Registration.number))).scalars().all()
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
                    await capacity.book_seat(db, settings=settings, registration_id=person, session_id=uuid.UUID(str(pick["id"])),
                                             actor=DEMO, source="organiser")
                    booked += 1
                except errors.DomainError:
                    pass  # clashes with a two-slot workshop they already hold
    return booked
