"""How full the workshops are: the organisers' dashboard's `workshops` series (through
`hooks.on_dashboard_series`, registered by sessions.wiring), counts only (no personal data)."""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import formats
from sessions.models import Kind, ProgrammeSession, Room, TimeSlot
from sessions.workshops import capacity

SERIES = "workshops"


async def workshop_fill(db: AsyncSession, conference_id: int, zone: ZoneInfo) -> list[dict[str, Any]]:
    """Per time slot (in time order), its workshops' seats booked against their capacity."""
    sessions = (
        (
            await db.execute(
                sa.select(ProgrammeSession)
                .where(
                    col(ProgrammeSession.conference_id) == conference_id,
                    col(ProgrammeSession.kind) == Kind.workshop,
                    col(ProgrammeSession.cancelled).is_(False),
                )
                .order_by(col(ProgrammeSession.starts_at), col(ProgrammeSession.title))
            )
        )
        .scalars()
        .all()
    )
    if not sessions:
        return []
    rooms = {
        r.id: r
        for r in (await db.execute(sa.select(Room).where(col(Room.conference_id) == conference_id))).scalars()
    }
    slots = {
        s.id: s
        for s in (
            await db.execute(sa.select(TimeSlot).where(col(TimeSlot.conference_id) == conference_id))
        ).scalars()
    }
    counts = await capacity.seat_counts(db, [s.id for s in sessions])
    by_slot: dict[uuid.UUID, dict[str, Any]] = {}
    for s in sessions:
        room = rooms.get(s.room_id) if s.room_id else None
        seats = capacity.seats_in(s, room)
        seen = counts.get(s.id, {})
        slot = slots.get(s.start_slot_id)
        starts = (slot.starts_at if slot else s.starts_at).astimezone(zone)
        entry = by_slot.setdefault(
            s.start_slot_id,
            {
                "slot_id": str(s.start_slot_id),
                "label": slot.label if slot and slot.label else formats.when(starts, zone),
                "starts_at": starts.isoformat(),
                "booked": 0,
                "capacity": 0,
                "waitlisted": 0,
                "sessions": [],
            },
        )
        booked, waiting = seen.get("booked", 0), seen.get("waitlisted", 0)
        entry["sessions"].append(
            {
                "id": str(s.id),
                "title": s.title,
                "room": room.name if room else None,
                "booked": booked,
                "capacity": seats,
                "waitlisted": waiting,
            }
        )
        entry["booked"] += booked
        entry["capacity"] += seats
        entry["waitlisted"] += waiting
    return sorted(by_slot.values(), key=lambda e: (e["starts_at"], e["label"]))
