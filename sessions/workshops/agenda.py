"""A delegate's own agenda: the plenaries and talks everyone may attend, plus the workshops they booked; a
cancelled one stays in it, marked cancelled, until it is restored (sessions/workshops/cancellation.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import icalendar
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core.models import Conference, Registration
from sessions.models import Kind, ProgrammeSession, Room, SeatBooking, SeatStatus
from sessions.workshops.capacity import LIVE, waitlist_position

CANCELLED = "cancelled"  # an agenda row's `why` for a session that is cancelled


async def seats_of(
    db: AsyncSession, registration_id: uuid.UUID
) -> list[tuple[SeatBooking, ProgrammeSession]]:
    stmt = (
        sa.select(SeatBooking, ProgrammeSession)
        .join(ProgrammeSession, col(ProgrammeSession.id) == SeatBooking.session_id)
        .where(col(SeatBooking.registration_id) == registration_id, col(SeatBooking.status).in_(LIVE))
        .order_by(col(ProgrammeSession.starts_at))
    )
    return [(seat, session) for seat, session in (await db.execute(stmt)).all()]


async def registration_sessions(db: AsyncSession, registration: Registration) -> dict[str, Any]:
    """Hook for the registration's API view: its booked and waitlisted sessions."""
    out = []
    for seat, session in await seats_of(db, registration.id):
        out.append(
            {
                "session_id": str(session.id),
                "title": session.title,
                "starts_at": session.starts_at.isoformat(),
                "ends_at": session.ends_at.isoformat(),
                "status": seat.status.value,
                "waitlist_position": await waitlist_position(db, seat),
            }
        )
    return {"sessions": out}


async def agenda(
    db: AsyncSession, registration: Registration
) -> list[tuple[ProgrammeSession, Room | None, str]]:
    """(session, room, why) in time order; why is 'booked', 'waitlisted', 'open to all' or 'cancelled' (a
    plenary, or a session the delegate had a seat in, that is cancelled)."""
    rows: list[tuple[ProgrammeSession, Room | None, str]] = []
    rooms = {r.id: r for r in (await db.execute(sa.select(Room))).scalars()}
    for seat, session in await seats_of(db, registration.id):
        if not session.cancelled:
            rows.append((session, rooms.get(session.room_id) if session.room_id else None, seat.status.value))
    released = await db.execute(
        sa.select(ProgrammeSession)
        .join(SeatBooking, col(SeatBooking.session_id) == ProgrammeSession.id)
        .where(
            col(SeatBooking.registration_id) == registration.id,
            col(SeatBooking.held_before_cancel) == SeatStatus.booked.value,
            col(ProgrammeSession.cancelled).is_(True),
        )
    )
    for session in released.scalars().unique():
        rows.append((session, rooms.get(session.room_id) if session.room_id else None, CANCELLED))
    open_to_all = (
        await db.execute(
            sa.select(ProgrammeSession).where(
                col(ProgrammeSession.conference_id) == registration.conference_id,
                col(ProgrammeSession.kind) == Kind.plenary,
            )
        )
    ).scalars()
    for session in open_to_all:
        why = CANCELLED if session.cancelled else "open to all"
        rows.append((session, rooms.get(session.room_id) if session.room_id else None, why))
    rows.sort(key=lambda r: (r[0].starts_at, r[0].title))
    return rows


def seats_to_swap(
    rows: list[tuple[ProgrammeSession, Room | None, str]], workshops: list[dict[str, Any]]
) -> dict[str, list[ProgrammeSession]]:
    """For each workshop (sessions_public's shape) the delegate holds no place in: the booked sessions in their
    agenda it overlaps, which booking it would give up (a "Swap" rather than a "Book")."""
    booked = [s for s, _room, why in rows if why == "booked"]
    held = {str(s.id) for s, _room, why in rows if why in ("booked", "waitlisted")}
    out: dict[str, list[ProgrammeSession]] = {}
    for w in workshops:
        if w["id"] in held:
            continue
        starts, ends = datetime.fromisoformat(w["starts_at"]), datetime.fromisoformat(w["ends_at"])
        clashing = [s for s in booked if s.starts_at < ends and s.ends_at > starts]
        if clashing:
            out[w["id"]] = clashing
    return out


def new_calendar(conference: Conference, name: str) -> icalendar.Calendar:
    cal = icalendar.Calendar()
    cal.add("prodid", "-//National Conference//Agenda//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", conference.timezone)
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    return cal


def session_event(
    conference: Conference,
    session: ProgrammeSession,
    room: Room | None,
    *,
    base_url: str,
    stamp: datetime,
    description: str,
    tz: tzinfo | None = None,
) -> icalendar.Event:
    """One session as a VEVENT; the UID is the session's, so every feed that carries it names the same event."""
    event = icalendar.Event()
    event.add("uid", f"{session.id}@{base_url.split('://')[-1]}")
    event.add("dtstamp", stamp)
    event.add("dtstart", session.starts_at.astimezone(tz) if tz else session.starts_at)
    event.add("dtend", session.ends_at.astimezone(tz) if tz else session.ends_at)
    event.add("summary", session.title)
    if room is not None:
        event.add("location", f"{room.name}, {conference.venue}" if conference.venue else room.name)
    if description:
        event.add("description", description)
    event.add("sequence", int(session.updated_at.timestamp()) % 2_000_000_000)
    event.add("last-modified", session.updated_at)
    event.add("status", "CONFIRMED")
    return event


def agenda_ics(
    conference: Conference,
    registration: Registration,
    rows: list[tuple[ProgrammeSession, Room | None, str]],
    *,
    base_url: str,
) -> bytes:
    """An iCalendar feed (RFC 5545): stable UIDs and SEQUENCE so subscribed calendars update in place."""
    cal = new_calendar(conference, f"{conference.name}: my agenda")
    stamp = datetime.now(UTC)
    for session, room, why in rows:
        if why in ("waitlisted", CANCELLED):
            continue  # not a seat yet (it appears when the delegate moves up), or not happening
        description = session.description
        if session.speakers:
            description = f"{session.speakers}\n\n{description}".strip()
        cal.add_component(
            session_event(conference, session, room, base_url=base_url, stamp=stamp, description=description)
        )
    return bytes(cal.to_ical())  # icalendar leaves to_ical() unannotated


async def session_delegates(
    db: AsyncSession, session_id: uuid.UUID
) -> list[tuple[SeatBooking, Registration]]:
    stmt = (
        sa.select(SeatBooking, Registration)
        .join(Registration, col(Registration.id) == SeatBooking.registration_id)
        .where(col(SeatBooking.session_id) == session_id, col(SeatBooking.status) == SeatStatus.booked)
        .order_by(col(Registration.name))
    )
    return [(seat, reg) for seat, reg in (await db.execute(stmt)).all()]
