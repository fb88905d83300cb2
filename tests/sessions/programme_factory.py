"""A small programme for tests: three rooms, two days of slots, a plenary and workshops."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from conference.core.audit import Actor
from conference.core.db import Database
from sessions.models import Kind, RoomCreate, SessionCreate, TimeSlotCreate
from sessions.workshops import programme

ORGANISER = Actor("organiser", "tests")


@dataclass
class Programme:
    rooms: dict[str, uuid.UUID] = field(default_factory=dict)
    slots: list[uuid.UUID] = field(default_factory=list)
    sessions: dict[str, uuid.UUID] = field(default_factory=dict)


async def make_programme(database: Database, *, small_capacity: int = 3) -> Programme:
    """Slots: day 1 at 10:00, 11:30, 14:00; day 2 at 10:00, 11:30 (UTC, an hour each). Workshops A (slot 0,
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
