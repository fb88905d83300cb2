"""The published programme as the public reads it: one snapshot of the non-cancelled sessions (with the talks
inside each workshop) and, for the page only, the cancelled ones (shown as "Cancelled" rather than vanishing), the
`?theme=` / `?day=` filter, and the JSON shape. The iCalendar and schedule XML
renderings of the same snapshot are in sessions/schedule/feeds.py.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import errors
from conference.core.models import Conference
from conference.places import get_conference
from sessions.call.call import conference_days, get_call
from sessions.models import (
    Kind,
    ProgrammeSession,
    Proposal,
    ProposalSpeaker,
    ProposalStatus,
    Room,
    ScheduleState,
    ScheduleVersion,
    SessionTalk,
    TimeSlot,
)
from sessions.workshops import capacity, programme

KIND_LABELS = {Kind.plenary: "Plenary", Kind.workshop: "Workshop", Kind.talk: "Talk"}
NO_ROOM = "To be confirmed"  # a plenary or talk may be published before it has a room


@dataclass(frozen=True)
class Speaker:
    name: str
    organisation: str


@dataclass(frozen=True)
class Talk:
    id: uuid.UUID
    title: str
    abstract: str
    duration_minutes: int
    themes: tuple[str, ...]
    speakers: tuple[Speaker, ...]


@dataclass(frozen=True)
class Item:
    """One published session with what the public sees of it."""

    session: ProgrammeSession
    room: Room | None
    talks: tuple[Talk, ...]
    capacity: int | None  # seats for a workshop, the room's size otherwise
    remaining: int | None  # seats left (workshops only)

    @property
    def bookable(self) -> bool:
        return self.session.kind == Kind.workshop

    @property
    def themes(self) -> list[str]:
        seen: dict[str, str] = {}
        for theme in (self.session.theme, *(t for talk in self.talks for t in talk.themes)):
            if theme.strip():
                seen.setdefault(theme.strip().lower(), theme.strip())
        return list(seen.values())

    @property
    def speakers(self) -> list[Speaker]:
        """The talks' speakers when the session is made of talks, else the organisers' speakers text."""
        if self.talks:
            out: list[Speaker] = []
            for talk in self.talks:
                out.extend(s for s in talk.speakers if s not in out)
            return out
        return parse_speakers(self.session.speakers)


@dataclass(frozen=True)
class Snapshot:
    conference: Conference
    tz: ZoneInfo
    days: list[date]
    rooms: list[Room]  # in the organisers' order
    slots: list[TimeSlot]  # in time order
    items: list[Item]  # in time order, then room order
    themes: list[str]  # every theme a filter may name: the call's and those in the programme
    version: int | None  # the published schedule version's number, if the programme was published by a build
    cancelled: list[Item] = field(default_factory=list)  # for the page; the JSON and the feeds leave them out

    def day_of(self, when: datetime) -> date:
        return when.astimezone(self.tz).date()


@dataclass(frozen=True)
class Filter:
    themes: frozenset[str] = field(default_factory=frozenset)  # lower-cased; empty = every theme
    days: frozenset[date] = field(default_factory=frozenset)  # empty = every day

    def keeps(self, snapshot: Snapshot, item: Item) -> bool:
        if self.themes and not self.themes & {t.lower() for t in item.themes}:
            return False
        return not self.days or snapshot.day_of(item.session.starts_at) in self.days


def parse_speakers(text: str) -> list[Speaker]:
    """Organisers type speakers as 'Name (Organisation); Name (Organisation)'; anything else is one name."""
    out = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        name, sep, rest = part.partition("(")
        if sep and rest.endswith(")") and name.strip():
            out.append(Speaker(name.strip(), rest[:-1].strip()))
        else:
            out.append(Speaker(part, ""))
    return out


async def talks_by_session(db: AsyncSession, session_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Talk]]:
    """The accepted talks inside each session, in running order. Speakers are named only once they confirmed
    (as on GET /api/v1/talks); talks the speakers declined or withdrew drop out."""
    if not session_ids:
        return {}
    rows = (
        await db.execute(
            sa.select(col(SessionTalk.programme_session_id), Proposal)
            .join(Proposal, col(Proposal.id) == SessionTalk.proposal_id)
            .where(
                col(SessionTalk.programme_session_id).in_(session_ids),
                col(Proposal.status).in_([ProposalStatus.accepted, ProposalStatus.confirmed]),
            )
            .order_by(col(SessionTalk.position), col(Proposal.title))
        )
    ).all()
    proposal_ids = [p.id for _sid, p in rows]
    speakers: dict[uuid.UUID, list[Speaker]] = {}
    if proposal_ids:
        for s in (
            await db.execute(
                sa.select(ProposalSpeaker)
                .where(col(ProposalSpeaker.proposal_id).in_(proposal_ids))
                .order_by(col(ProposalSpeaker.position))
            )
        ).scalars():
            speakers.setdefault(s.proposal_id, []).append(Speaker(s.name, s.organisation))
    out: dict[uuid.UUID, list[Talk]] = {}
    for session_id, p in rows:
        named = tuple(speakers.get(p.id, [])) if p.status == ProposalStatus.confirmed else ()
        out.setdefault(session_id, []).append(
            Talk(p.id, p.title, p.abstract, p.duration_minutes, tuple(p.themes), named)
        )
    return out


async def published_version(db: AsyncSession, conference_id: int) -> int | None:
    stmt = (
        sa.select(col(ScheduleVersion.number))
        .where(
            col(ScheduleVersion.conference_id) == conference_id,
            col(ScheduleVersion.state) == ScheduleState.published,
        )
        .order_by(col(ScheduleVersion.number).desc())
        .limit(1)
    )
    number = (await db.execute(stmt)).scalar_one_or_none()
    return int(number) if number is not None else None


async def load_snapshot(db: AsyncSession) -> Snapshot:
    conference = await get_conference(db)
    assert conference.id is not None
    tz = ZoneInfo(conference.timezone)
    rooms = list(
        (
            await db.execute(
                sa.select(Room)
                .where(col(Room.conference_id) == conference.id)
                .order_by(col(Room.position), col(Room.name))
            )
        ).scalars()
    )
    by_id = {r.id: r for r in rooms}
    order = {r.id: i for i, r in enumerate(rooms)}
    sessions = list(
        (
            await db.execute(
                sa.select(ProgrammeSession).where(col(ProgrammeSession.conference_id) == conference.id)
            )
        ).scalars()
    )
    sessions.sort(
        key=lambda s: (s.starts_at, order.get(s.room_id, len(order)) if s.room_id else len(order), s.title)
    )
    counts = await capacity.seat_counts(db, [s.id for s in sessions])
    talks = await talks_by_session(db, [s.id for s in sessions])
    items = []
    for s in sessions:
        room = by_id.get(s.room_id) if s.room_id else None
        if s.kind == Kind.workshop:
            seats: int | None = capacity.seats_in(s, room)
            remaining = max((seats or 0) - counts.get(s.id, {}).get("booked", 0), 0)
        else:
            seats, remaining = (room.capacity if room else None), None
        items.append(Item(s, room, tuple(talks.get(s.id, [])), seats, None if s.cancelled else remaining))
    _conf, call = await get_call(db)
    themes: dict[str, str] = {}
    for theme in [*call.themes, *(t for item in items if not item.session.cancelled for t in item.themes)]:
        themes.setdefault(theme.lower(), theme)
    return Snapshot(
        conference=conference,
        tz=tz,
        days=conference_days(conference),
        rooms=rooms,
        slots=await programme.ordered_slots(db, conference.id),
        items=[i for i in items if not i.session.cancelled],
        themes=list(themes.values()),
        version=await published_version(db, conference.id),
        cancelled=[i for i in items if i.session.cancelled],
    )


def parse_filter(snapshot: Snapshot, query: Mapping[str, Sequence[str]]) -> Filter:
    """`theme` and `day` (each may repeat: any of them). An unknown one is a 400 naming the field."""
    problems: dict[str, str] = {}
    known = {t.lower() for t in snapshot.themes}
    themes = {v.strip().lower() for v in query.get("theme", ()) if v.strip()}
    if themes - known:
        problems["theme"] = (
            f"Unknown theme; choose from: {', '.join(sorted(snapshot.themes, key=str.lower))}."
        )
    days: set[date] = set()
    for value in (v.strip() for v in query.get("day", ()) if v.strip()):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            day = None
        if day is None or len(value) != 10 or day not in snapshot.days:
            problems["day"] = (
                f"Give a conference day as YYYY-MM-DD: {', '.join(d.isoformat() for d in snapshot.days)}."
            )
        else:
            days.add(day)
    if problems:
        raise errors.MalformedRequest("The programme can't be filtered like that.", fields=problems)
    return Filter(frozenset(themes), frozenset(days))


def room_name(item: Item) -> str:
    return item.room.name if item.room else NO_ROOM


def room_names(snapshot: Snapshot, items: list[Item]) -> list[str]:
    """The rooms these sessions use, in the organisers' order (then NO_ROOM): the timetable's columns."""
    used = {i.room.id for i in items if i.room}
    return [r.name for r in snapshot.rooms if r.id in used] + (
        [NO_ROOM] if any(not i.room for i in items) else []
    )


def kept(snapshot: Snapshot, chosen: Filter) -> list[Item]:
    return [item for item in snapshot.items if chosen.keeps(snapshot, item)]


def content_hash(snapshot: Snapshot) -> str:
    """A short digest of what the programme says (not its seat counts): the version of an unnumbered programme."""
    facts = [
        (
            str(i.session.id),
            i.session.title,
            i.session.description,
            i.session.kind.value,
            i.session.starts_at.isoformat(),
            i.session.ends_at.isoformat(),
            i.room.name if i.room else "",
            i.session.theme,
            i.session.speakers,
            [(str(t.id), t.title, t.abstract, [s.name for s in t.speakers]) for t in i.talks],
        )
        for i in snapshot.items
    ]
    digest = hashlib.sha256(
        json.dumps([snapshot.conference.name, facts], sort_keys=True).encode()
    ).hexdigest()
    return digest[:12]


def version_label(snapshot: Snapshot) -> str:
    return str(snapshot.version) if snapshot.version is not None else content_hash(snapshot)


# --- JSON ----------------------------------------------------------------------------------------------------------


def _speaker_json(s: Speaker) -> dict[str, str]:
    return {"name": s.name, "organisation": s.organisation}


def item_json(snapshot: Snapshot, item: Item) -> dict[str, Any]:
    s = item.session
    return {
        "id": str(s.id),
        "title": s.title,
        "kind": s.kind.value,
        "room": item.room.name if item.room else None,
        "room_id": str(item.room.id) if item.room else None,
        "starts_at": s.starts_at.astimezone(snapshot.tz).isoformat(),
        "ends_at": s.ends_at.astimezone(snapshot.tz).isoformat(),
        "slot_count": s.slot_count,
        "theme": s.theme or None,
        "themes": item.themes,
        "speakers": [_speaker_json(p) for p in item.speakers],
        "description": s.description,
        "talks": [
            {
                "id": str(t.id),
                "title": t.title,
                "abstract": t.abstract,
                "duration_minutes": t.duration_minutes,
                "themes": list(t.themes),
                "speakers": [_speaker_json(p) for p in t.speakers],
            }
            for t in item.talks
        ],
        "capacity": item.capacity,
        "bookable": item.bookable,
        "remaining": item.remaining,
    }


def programme_json(snapshot: Snapshot, chosen: Filter) -> dict[str, Any]:
    conf = snapshot.conference
    items = kept(snapshot, chosen)
    by_slot: dict[uuid.UUID, list[Item]] = {}
    for item in items:
        by_slot.setdefault(item.session.start_slot_id, []).append(item)
    days = []
    for day in snapshot.days:
        if chosen.days and day not in chosen.days:
            continue
        slots = [slot for slot in snapshot.slots if snapshot.day_of(slot.starts_at) == day]
        days.append(
            {
                "date": day.isoformat(),
                "slots": [
                    {
                        "id": str(slot.id),
                        "label": slot.label,
                        "starts_at": slot.starts_at.astimezone(snapshot.tz).isoformat(),
                        "ends_at": slot.ends_at.astimezone(snapshot.tz).isoformat(),
                        "sessions": [item_json(snapshot, i) for i in by_slot.get(slot.id, [])],
                    }
                    for slot in slots
                ],
            }
        )
    return {
        "version": version_label(snapshot),
        "conference": {
            "name": conf.name,
            "venue": conf.venue,
            "timezone": conf.timezone,
            "starts_at": conf.starts_at.astimezone(snapshot.tz).isoformat(),
            "ends_at": conf.ends_at.astimezone(snapshot.tz).isoformat(),
            "days": [d.isoformat() for d in snapshot.days],
        },
        "themes": snapshot.themes,
        "rooms": [
            {"id": str(r.id), "name": r.name, "capacity": r.capacity, "accessibility": r.accessibility}
            for r in snapshot.rooms
        ],
        "days": days,
        "count": len(items),
    }
