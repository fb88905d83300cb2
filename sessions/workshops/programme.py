"""Organisers' changes to rooms, time slots and sessions, with the rules that keep the programme sound."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.db import lock_for_update
from conference.core.formats import conference_zone
from conference.core.models import Registration, utcnow
from conference.core.settings import Settings
from conference.mail.outbox import queue_email
from conference.places import get_conference
from sessions.models import (
    Kind,
    ProgrammeSession,
    Room,
    RoomCreate,
    RoomUpdate,
    SeatBooking,
    SeatStatus,
    SessionChoice,
    SessionCreate,
    SessionUpdate,
    TimeSlot,
    TimeSlotCreate,
)
from sessions.workshops import cancellation, capacity


class RoomTaken(errors.DomainError):
    code = "room_taken"
    message = "Another session is in this room at that time."


class InUse(errors.DomainError):
    code = "in_use"
    message = "Sessions still use this; move or delete them first."


async def ordered_slots(db: AsyncSession, conference_id: int) -> list[TimeSlot]:
    stmt = (
        sa.select(TimeSlot)
        .where(col(TimeSlot.conference_id) == conference_id)
        .order_by(col(TimeSlot.starts_at))
    )
    return list((await db.execute(stmt)).scalars())


async def ordered_rooms(db: AsyncSession, conference_id: int) -> list[Room]:
    stmt = (
        sa.select(Room)
        .where(col(Room.conference_id) == conference_id)
        .order_by(col(Room.position), col(Room.name))
    )
    return list((await db.execute(stmt)).scalars())


async def create_room(db: AsyncSession, *, data: RoomCreate, actor: Actor) -> Room:
    conference = await get_conference(db)
    assert conference.id is not None
    room = Room(conference_id=conference.id, **data.model_dump())
    db.add(room)
    await audit.record(db, "sessions.room.created", actor=actor, subject=str(room.id))
    await db.flush()
    return room


async def update_room(
    db: AsyncSession, *, settings: Settings, room_id: uuid.UUID, data: RoomUpdate, actor: Actor
) -> Room:
    room = await db.get(Room, room_id)
    if room is None:
        raise errors.NotFound("No room has this id.")
    changes = data.model_dump(exclude_unset=True)
    if "capacity" in changes and changes["capacity"] is None:
        raise errors.InvalidInput(fields={"capacity": "Give the number of seats."})
    sessions = (
        (await db.execute(sa.select(ProgrammeSession).where(col(ProgrammeSession.room_id) == room_id)))
        .scalars()
        .all()
    )
    for session_id in sorted(s.id for s in sessions):
        await lock_for_update(db, ProgrammeSession, session_id)
    for name, value in changes.items():
        if value is not None:
            setattr(room, name, value)
    counts = await capacity.seat_counts(db, [s.id for s in sessions])
    for s in sessions:
        if capacity.seats_in(s, room) < counts.get(s.id, {}).get("booked", 0):
            raise errors.DomainError(
                f"'{s.title}' already has more seats booked than {room.capacity}; move it to a larger room first.",
                fields={"capacity": "Fewer seats than are already booked in a session here."},
            )
    await audit.record(db, "sessions.room.updated", actor=actor, subject=str(room.id), fields=sorted(changes))
    await db.flush()
    for s in sessions:
        await capacity.promote_session_waitlist(db, settings=settings, session=s)
    return room


async def delete_room(db: AsyncSession, *, room_id: uuid.UUID, actor: Actor) -> None:
    room = await db.get(Room, room_id)
    if room is None:
        raise errors.NotFound("No room has this id.")
    used = await db.execute(
        sa.select(col(ProgrammeSession.id)).where(col(ProgrammeSession.room_id) == room_id).limit(1)
    )
    if used.first() is not None:
        raise InUse()
    await db.delete(room)
    await audit.record(db, "sessions.room.deleted", actor=actor, subject=str(room_id))


async def create_slot(db: AsyncSession, *, data: TimeSlotCreate, actor: Actor) -> TimeSlot:
    if data.ends_at <= data.starts_at:
        raise errors.InvalidInput(fields={"ends_at": "The slot must end after it starts."})
    conference = await get_conference(db)
    assert conference.id is not None
    if data.starts_at < conference.starts_at or data.ends_at > conference.ends_at:
        raise errors.InvalidInput(fields={"starts_at": "The slot must lie within the conference's dates."})
    for other in await ordered_slots(db, conference.id):
        if other.starts_at < data.ends_at and data.starts_at < other.ends_at:
            raise errors.DomainError(
                "This slot overlaps another slot.", fields={"starts_at": "Overlaps another slot."}
            )
    slot = TimeSlot(conference_id=conference.id, **data.model_dump())
    db.add(slot)
    await audit.record(db, "sessions.slot.created", actor=actor, subject=str(slot.id))
    await db.flush()
    return slot


async def delete_slot(db: AsyncSession, *, slot_id: uuid.UUID, actor: Actor) -> None:
    slot = await db.get(TimeSlot, slot_id)
    if slot is None:
        raise errors.NotFound("No time slot has this id.")
    sessions = (
        await db.execute(
            sa.select(col(ProgrammeSession.id)).where(
                col(ProgrammeSession.conference_id) == slot.conference_id,
                col(ProgrammeSession.starts_at) < slot.ends_at,
                col(ProgrammeSession.ends_at) > slot.starts_at,
            )
        )
    ).first()
    if sessions is not None:
        raise InUse()
    await db.delete(slot)
    await audit.record(db, "sessions.slot.deleted", actor=actor, subject=str(slot_id))


async def _span(
    db: AsyncSession, conference_id: int, start_slot_id: uuid.UUID, count: int
) -> tuple[datetime, datetime]:
    """Start and end of `count` consecutive slots from the given one, on the same day."""
    slots = await ordered_slots(db, conference_id)
    index = next((i for i, s in enumerate(slots) if s.id == start_slot_id), None)
    if index is None:
        raise errors.InvalidInput(
            fields={"start_slot_id": "No time slot has this id; see GET /api/v1/slots."}
        )
    span = slots[index : index + count]
    if len(span) < count or len({s.starts_at.date() for s in span}) > 1:
        raise errors.InvalidInput(
            fields={"slot_count": f"There are not {count} consecutive slots from that slot on the same day."}
        )
    return span[0].starts_at, span[-1].ends_at


async def _check_room(
    db: AsyncSession, session: ProgrammeSession, *, times_known: bool = True
) -> Room | None:
    """The session's room, checked: it exists, it is big enough, and (when the times are known) it is free."""
    if session.room_id is None:
        if session.kind == Kind.workshop:
            raise errors.InvalidInput(
                fields={"room_id": "A workshop needs a room (its seats come from the room)."}
            )
        return None
    room = await db.get(Room, session.room_id)
    if room is None or room.conference_id != session.conference_id:
        raise errors.InvalidInput(fields={"room_id": "No room has this id; see GET /api/v1/rooms."})
    if session.capacity_limit is not None and session.capacity_limit > room.capacity:
        raise errors.InvalidInput(
            fields={"capacity": f"The room has only {room.capacity} seats; give at most that."}
        )
    if session.cancelled or not times_known:
        return room  # a cancelled session holds no room; an unknown time can't be checked
    taken = await db.execute(
        sa.select(col(ProgrammeSession.title))
        .where(
            col(ProgrammeSession.room_id) == room.id,
            col(ProgrammeSession.id) != session.id,
            col(ProgrammeSession.cancelled).is_(False),
            col(ProgrammeSession.starts_at) < session.ends_at,
            col(ProgrammeSession.ends_at) > session.starts_at,
        )
        .limit(1)
    )
    other = taken.scalar_one_or_none()
    if other is not None:
        raise RoomTaken(
            f"{room.name} is already taken at that time by '{other}'.",
            fields={"room_id": "Taken at that time."},
        )
    return room


def _all_at_once(found: list[errors.DomainError]) -> errors.DomainError:
    """One refusal for every problem found: the problem itself when there is one, else a 422 naming each field
    (with the refusal's own sentence where it says more than a field note)."""
    if len(found) == 1:
        return found[0]
    fields: dict[str, str] = {}
    for exc in found:
        for name, text in (exc.fields or {"form": exc.message}).items():
            fields.setdefault(name, text if isinstance(exc, errors.InvalidInput) else exc.message)
    return errors.InvalidInput(fields=fields)


async def create_session(db: AsyncSession, *, data: SessionCreate, actor: Actor) -> ProgrammeSession:
    conference = await get_conference(db)
    assert conference.id is not None
    starts_at, ends_at = await _span(db, conference.id, data.start_slot_id, data.slot_count)
    values = data.model_dump(exclude={"capacity"})
    session = ProgrammeSession(
        conference_id=conference.id,
        capacity_limit=data.capacity,
        starts_at=starts_at,
        ends_at=ends_at,
        **values,
    )
    await _check_room(db, session)
    db.add(session)
    await audit.record(db, "sessions.session.created", actor=actor, subject=str(session.id))
    await db.flush()
    return session


async def update_session(
    db: AsyncSession, *, settings: Settings, session_id: uuid.UUID, data: SessionUpdate, actor: Actor
) -> ProgrammeSession:
    """Change any of a session's fields; every problem is refused at once. A move (time or room) emails its booked
    delegates; `cancelled: true` releases its seats and tells them; `cancelled: false` restores a cancelled
    session until the event starts, giving the seats back where they still fit (cancellation.py)."""
    current = await db.get(ProgrammeSession, session_id)
    if current is None:
        raise errors.NotFound("No session has this id.")
    changes = data.model_dump(exclude_unset=True)
    # Only room_id and capacity may be cleared (no room; the room's seats); null elsewhere is a 422, not a 500.
    nulls: dict[str, str] = {
        name: "This field cannot be null."
        for name in ("title", "description", "theme", "speakers", "start_slot_id", "slot_count", "cancelled")
        if name in changes and changes[name] is None
    }
    if nulls:
        raise errors.InvalidInput(fields=nulls)
    asked = sorted(changes)
    conference = await get_conference(db)
    if changes.get("cancelled") is False and current.cancelled:
        await cancellation.lock_holders(db, session_id)  # before the session: the lock order
    session = await lock_for_update(db, ProgrammeSession, session_id)
    cancelling = changes.get("cancelled") is True and not session.cancelled
    restoring = changes.get("cancelled") is False and session.cancelled
    if restoring:
        cancellation.check_in_time(conference)
        await cancellation.check_talks(db, session)
    before = (session.starts_at, session.ends_at, session.room_id)
    old_room = await db.get(Room, session.room_id) if session.room_id else None
    if "capacity" in changes:
        session.capacity_limit = changes.pop("capacity")
    found: list[errors.DomainError] = []
    room: Room | None = None
    # No flush until the slot and room are checked: an unknown id is their 422, not a foreign key failure.
    with db.no_autoflush:
        for name, value in changes.items():
            setattr(session, name, value)
        try:
            session.starts_at, session.ends_at = await _span(
                db, session.conference_id, session.start_slot_id, session.slot_count
            )
        except errors.DomainError as exc:
            found.append(exc)
        try:
            room = await _check_room(db, session, times_known=not found)
        except errors.DomainError as exc:
            found.append(exc)
        # Still unflushed: the session may hold an unknown room or slot id until every problem is known.
        counts = await capacity.seat_counts(db, [session.id])
    booked = counts.get(session.id, {}).get("booked", 0)
    if (
        session.kind == Kind.workshop
        and not session.cancelled
        and not found
        and capacity.seats_in(session, room) < booked
    ):
        found.append(
            errors.DomainError(
                f"{booked} seats are already booked; the session can't have fewer.",
                fields={"capacity": f"At least {booked}."},
            )
        )
    if found:
        raise _all_at_once(found)
    session.updated_at = utcnow()
    zone = conference_zone(conference)
    await db.flush()
    if cancelling:
        released = await cancellation.release(db, session)
        booked_seats = [s for s in released if s.held_before_cancel == SeatStatus.booked.value]
        await _tell(db, settings, booked_seats, f"'{session.title}' is cancelled.")
        await audit.record(
            db,
            "sessions.session.cancelled",
            actor=actor,
            subject=str(session.id),
            told=len(booked_seats),
            waiting_list_released=len(released) - len(booked_seats),
        )
    elif restoring:
        returns = await cancellation.restore(db, settings, session, room, zone)
        await audit.record(
            db,
            "sessions.session.restored",
            actor=actor,
            subject=str(session.id),
            **cancellation.counts(returns),
        )
    others = [f for f in asked if f != "cancelled"] if cancelling or restoring else asked
    if others or not (cancelling or restoring):  # a cancel or restore alone has its own entry above
        await audit.record(
            db, "sessions.session.updated", actor=actor, subject=str(session.id), fields=others
        )
    moved = before != (session.starts_at, session.ends_at, session.room_id)
    if moved and not session.cancelled and not restoring:
        line = (
            f"'{session.title}' has moved from {cancellation.describe_at(before[0], before[1], old_room, zone)} "
            f"to {cancellation.describe_at(session.starts_at, session.ends_at, room, zone)}."
        )
        await _tell(db, settings, await _booked_seats(db, session.id), line)
    if not session.cancelled:
        await capacity.promote_session_waitlist(db, settings=settings, session=session)
    return session


async def _booked_seats(db: AsyncSession, session_id: uuid.UUID) -> list[SeatBooking]:
    stmt = sa.select(SeatBooking).where(
        col(SeatBooking.session_id) == session_id, col(SeatBooking.status) == SeatStatus.booked
    )
    return list((await db.execute(stmt.order_by(col(SeatBooking.number)))).scalars())


async def _tell(db: AsyncSession, settings: Settings, seats: list[SeatBooking], line: str) -> None:
    """One programme_changed email to each seat's delegate."""
    for seat in seats:
        registration = await db.get(Registration, seat.registration_id)
        assert registration is not None
        queue_email(
            db,
            settings,
            kind="programme_changed",
            to=registration.email,
            registration_id=registration.id,
            changes=[line],
        )
    await db.flush()


async def delete_session(db: AsyncSession, *, session_id: uuid.UUID, actor: Actor) -> None:
    session = await db.get(ProgrammeSession, session_id)
    if session is None:
        raise errors.NotFound("No session has this id.")
    used = await db.execute(
        sa.select(col(SeatBooking.id)).where(col(SeatBooking.session_id) == session_id).limit(1)
    )
    if used.first() is not None:
        raise InUse(
            "Delegates have booked this session; cancel it instead (PATCH cancelled: true) so they are told."
        )
    await db.execute(sa.delete(SessionChoice).where(col(SessionChoice.session_id) == session_id))
    await db.delete(session)
    await audit.record(db, "sessions.session.deleted", actor=actor, subject=str(session_id))


async def sessions_public(db: AsyncSession, *, include_cancelled: bool = False) -> list[dict[str, Any]]:
    conference = await get_conference(db)
    stmt = sa.select(ProgrammeSession).where(col(ProgrammeSession.conference_id) == conference.id)
    if not include_cancelled:
        stmt = stmt.where(col(ProgrammeSession.cancelled).is_(False))
    sessions = (
        (await db.execute(stmt.order_by(col(ProgrammeSession.starts_at), col(ProgrammeSession.title))))
        .scalars()
        .all()
    )
    rooms = {r.id: r for r in (await db.execute(sa.select(Room))).scalars()}
    counts = await capacity.seat_counts(db)
    zone = conference_zone(conference)
    return [
        session_public(s, rooms.get(s.room_id) if s.room_id else None, counts.get(s.id, {}), zone)
        for s in sessions
    ]


def session_public(
    s: ProgrammeSession, room: Room | None, counts: dict[str, int], zone: ZoneInfo
) -> dict[str, Any]:
    """A session as the API and pages show it, its times in `zone` (the conference's)."""
    bookable = s.kind == Kind.workshop
    seats = capacity.seats_in(s, room) if bookable else (room.capacity if room else None)
    booked = counts.get("booked", 0)
    return {
        "id": str(s.id),
        "title": s.title,
        "description": s.description,
        "kind": s.kind.value,
        "theme": s.theme,
        "speakers": s.speakers,
        "starts_at": s.starts_at.astimezone(zone).isoformat(),
        "ends_at": s.ends_at.astimezone(zone).isoformat(),
        "slot_count": s.slot_count,
        "room": room.name if room else None,
        "room_id": str(room.id) if room else None,
        "room_accessibility": room.accessibility if room else "",
        "capacity": seats,
        "bookable": bookable,
        "booked": booked,
        "remaining": max((seats or 0) - booked, 0) if bookable else None,
        "waitlisted": counts.get("waitlisted", 0),
        "cancelled": s.cancelled,
    }
