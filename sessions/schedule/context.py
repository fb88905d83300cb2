"""What building, reviewing and publishing the workshop programme read: the venue and the programme as the
checker and the scheduler see them (slots by index, in time order). The decisions it encodes (plenary slots,
sessions placed by hand, joinable slots) are written down in sessions/schedule/build.py.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import formats
from conference.core.models import Conference
from conference.places import get_conference
from sessions.call.accepted_talks import speaker_unavailability
from sessions.models import (
    Kind,
    ProgrammeSession,
    Room,
    ScheduleState,
    ScheduleVersion,
    SessionTalk,
    TimeSlot,
)
from sessions.schedule import grouping
from sessions.schedule.check import CheckRoom, CheckSlot, Fixed
from sessions.workshops import programme


@dataclass
class Context:
    """The venue and programme as the checker and the scheduler see it (slots by index, in time order)."""

    conference: Conference
    slots: list[TimeSlot]
    check_slots: list[CheckSlot]
    rooms: dict[str, Room]
    plenary: frozenset[int]
    fixed: list[tuple[ProgrammeSession, Fixed]]
    unavailable: dict[str, frozenset[int]]  # speaker email key → slot indices
    managed: dict[
        str, tuple[ProgrammeSession, list[str]]
    ]  # workshop key → live session made from talks, talk ids
    published: ScheduleVersion | None

    def slot_index(self) -> dict[str, int]:
        return {str(s.id): i for i, s in enumerate(self.slots)}

    def check_rooms(self) -> dict[str, CheckRoom]:
        return {k: CheckRoom(k, r.name, r.capacity) for k, r in self.rooms.items()}

    def place(self, key: str, placement: dict[str, dict[str, str]]) -> tuple[str, int] | None:
        spot = placement.get(key)
        index = self.slot_index().get(spot["slot_id"], -1) if spot else -1
        return (spot["room_id"], index) if spot else None

    def placed(self, placement: dict[str, dict[str, str]]) -> dict[str, tuple[str, int]]:
        index = self.slot_index()
        return {k: (v["room_id"], index.get(v["slot_id"], -1)) for k, v in placement.items()}


def _covered(slots: list[TimeSlot], starts_at: datetime, ends_at: datetime) -> list[int]:
    return [i for i, s in enumerate(slots) if s.starts_at < ends_at and s.ends_at > starts_at]


async def load_context(db: AsyncSession) -> Context:
    conference = await get_conference(db)
    assert conference.id is not None
    local = ZoneInfo(conference.timezone)
    slots = await programme.ordered_slots(db, conference.id)
    rooms = {
        str(r.id): r
        for r in (
            await db.execute(
                sa.select(Room)
                .where(col(Room.conference_id) == conference.id)
                .order_by(col(Room.position), col(Room.name))
            )
        ).scalars()
    }
    live = list(
        (
            await db.execute(
                sa.select(ProgrammeSession)
                .where(
                    col(ProgrammeSession.conference_id) == conference.id,
                    col(ProgrammeSession.cancelled).is_(False),
                )
                .order_by(col(ProgrammeSession.starts_at))
            )
        ).scalars()
    )
    links: dict[uuid.UUID, list[str]] = defaultdict(list)
    for link in (await db.execute(sa.select(SessionTalk).order_by(col(SessionTalk.position)))).scalars():
        links[link.programme_session_id].append(str(link.proposal_id))
    plenary = frozenset(
        i for s in live if s.kind == Kind.plenary for i in _covered(slots, s.starts_at, s.ends_at)
    )
    fixed, managed = [], {}
    for s in live:
        if s.id in links:
            managed[grouping.workshop_key(links[s.id])] = (s, links[s.id])
        elif s.kind != Kind.plenary and s.room_id is not None:
            fixed.append(
                (s, Fixed(s.title, str(s.room_id), frozenset(_covered(slots, s.starts_at, s.ends_at))))
            )
    check_slots = []
    for i, slot in enumerate(slots):
        start = slot.starts_at.astimezone(local)
        nxt = slots[i + 1] if i + 1 < len(slots) else None
        joinable = (
            nxt is not None
            and nxt.starts_at.astimezone(local).date() == start.date()
            and (nxt.starts_at - slot.ends_at) < timedelta(hours=1)
        )
        check_slots.append(
            CheckSlot(
                str(slot.id),
                start.date().isoformat(),
                joinable,
                formats.when(start, local),  # "Tue 8 Dec 2026, 11:00"
                plenary=i in plenary,
            )
        )
    index = {s.id: i for i, s in enumerate(slots)}
    unavailable = {
        k: frozenset(index[x] for x in v if x in index) for k, v in (await speaker_unavailability(db)).items()
    }
    published = (
        (
            await db.execute(
                sa.select(ScheduleVersion).where(
                    col(ScheduleVersion.conference_id) == conference.id,
                    col(ScheduleVersion.state) == ScheduleState.published,
                )
            )
        )
        .scalars()
        .first()
    )
    return Context(conference, slots, check_slots, rooms, plenary, fixed, unavailable, managed, published)
