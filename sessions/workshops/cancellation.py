"""Cancelling a programme session, and restoring it until the event starts.

A cancellation releases every seat and waiting-list place in the session, and each remembers what it was
(`SeatBooking.held_before_cancel`), so a restore can give them back in their booking order: a seat where it still
fits (the delegate is still confirmed, has booked nothing else at that time, and the session has room), else a
waiting-list place; a seat whose delegate has since booked another session at that time is not given back.
Delegates who had a seat are told either way. sessions/workshops/programme.py's update_session calls these
(PATCH /api/v1/sessions/{id} with `cancelled`, and the console's cancel and restore).

Lock order (as in capacity.py): the released seats' registrations, sorted by id, then the session.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import errors, formats
from conference.core.db import lock_for_update
from conference.core.models import Conference, Registration, Status, utcnow
from conference.core.settings import Settings
from conference.mail.outbox import queue_email
from sessions.models import ProgrammeSession, Room, SeatBooking, SeatStatus, SessionTalk
from sessions.workshops import capacity

# What a restore does with one released seat.
GIVEN_BACK = "booked"  # the seat again
WAITING = "waitlisted"  # a waiting-list place (the session is full now, or it was one before)
CLASH = "clash"  # not given back: the delegate has booked another session at that time
GONE = "gone"  # not given back: the registration is no longer confirmed


class TooLateToRestore(errors.DomainError):
    code = "too_late_to_restore"
    message = "The event has started, so a cancelled session can no longer be restored."


class TalksElsewhere(errors.DomainError):
    code = "talks_rescheduled"
    message = "Talks in this session are now in another session of the programme, so it can't be restored."


@dataclass(frozen=True)
class Return:
    """One released seat and what restoring the session does with it."""

    seat: SeatBooking
    registration: Registration | None
    held: str  # what it was when the session was cancelled: booked or waitlisted
    result: str  # GIVEN_BACK, WAITING, CLASH or GONE


def describe_at(starts_at: datetime, ends_at: datetime, room: Room | None, zone: ZoneInfo) -> str:
    """When and where, as an email says it: "Tue 8 Dec 2026, 11:30–12:30 in Small"."""
    return f"{formats.span(starts_at, ends_at, zone)} in {room.name if room else 'no room'}"


async def release(db: AsyncSession, session: ProgrammeSession) -> list[SeatBooking]:
    """Release the live seats of a session being cancelled (its lock held), remembering what each was; returns
    them in booking order."""
    seats = (
        (
            await db.execute(
                sa.select(SeatBooking)
                .where(col(SeatBooking.session_id) == session.id, col(SeatBooking.status).in_(capacity.LIVE))
                .order_by(col(SeatBooking.number))
            )
        )
        .scalars()
        .all()
    )
    now = utcnow()
    for seat in seats:
        seat.held_before_cancel = seat.status.value
        seat.status, seat.updated_at = SeatStatus.cancelled, now
    await db.flush()
    return list(seats)


async def released_seats(db: AsyncSession, session_id: uuid.UUID) -> list[SeatBooking]:
    """The seats the session's cancellation released: seats first, then waiting-list places, each in booking
    order."""
    seats = (
        (
            await db.execute(
                sa.select(SeatBooking).where(
                    col(SeatBooking.session_id) == session_id,
                    col(SeatBooking.status) == SeatStatus.cancelled,
                    col(SeatBooking.held_before_cancel).in_(
                        [SeatStatus.booked.value, SeatStatus.waitlisted.value]
                    ),
                )
            )
        )
        .scalars()
        .all()
    )
    return sorted(seats, key=lambda s: (s.held_before_cancel != SeatStatus.booked.value, s.number))


def check_in_time(conference: Conference) -> None:
    if utcnow() >= conference.starts_at:
        raise TooLateToRestore(
            fields={"cancelled": "The event has started: a cancelled session can't be restored."}
        )


async def check_talks(db: AsyncSession, session: ProgrammeSession) -> None:
    """A session made from talks can't come back once a published programme has put its talks elsewhere."""
    mine = sa.select(col(SessionTalk.proposal_id)).where(col(SessionTalk.programme_session_id) == session.id)
    other = (
        await db.execute(
            sa.select(col(ProgrammeSession.title))
            .join(SessionTalk, col(SessionTalk.programme_session_id) == ProgrammeSession.id)
            .where(
                col(SessionTalk.proposal_id).in_(mine),
                col(ProgrammeSession.id) != session.id,
                col(ProgrammeSession.cancelled).is_(False),
            )
            .limit(1)
        )
    ).scalar_one_or_none()
    if other is not None:
        raise TalksElsewhere(
            f"Talks in this session are now in '{other}', so it can't be restored.",
            fields={"cancelled": "Its talks are in another session now."},
        )


async def lock_holders(db: AsyncSession, session_id: uuid.UUID) -> None:
    """Lock the registrations of the seats a restore would give back (before the session: the lock order)."""
    for registration_id in sorted({s.registration_id for s in await released_seats(db, session_id)}):
        await lock_for_update(db, Registration, registration_id)


async def plan(db: AsyncSession, session: ProgrammeSession, room: Room | None) -> list[Return]:
    """What restoring the session would do with each released seat (nothing is changed here)."""
    free = capacity.seats_in(session, room) - await capacity.booked_count(db, session.id)
    out = []
    for seat in await released_seats(db, session.id):
        registration = await db.get(Registration, seat.registration_id)
        held = seat.held_before_cancel
        if registration is None or registration.status != Status.confirmed:
            result = GONE
        elif held == GIVEN_BACK and await capacity.has_clashing_booking(db, registration.id, session):
            result = CLASH
        elif held == GIVEN_BACK and free > 0:
            result, free = GIVEN_BACK, free - 1
        else:
            result = WAITING
        out.append(Return(seat, registration, held, result))
    return out


async def restore(
    db: AsyncSession, settings: Settings, session: ProgrammeSession, room: Room | None, zone: ZoneInfo
) -> list[Return]:
    """Give the released seats back (the session's lock and its holders' held) and tell the delegates who had a
    seat what became of it. The caller then moves the waiting list up."""
    returns = await plan(db, session, room)
    at = describe_at(session.starts_at, session.ends_at, room, zone)
    back = f"'{session.title}' is back in the programme ({at})"
    lines = {
        GIVEN_BACK: f"{back} and your seat is booked again.",
        WAITING: f"{back}, but it is full now: you are on its waiting list and will be emailed if a seat "
        "comes up.",
        CLASH: f"{back}, but we could not give your seat back: you have booked another session at that time.",
    }
    now = utcnow()
    for r in returns:
        r.seat.held_before_cancel = ""
        if r.result in (GIVEN_BACK, WAITING):
            r.seat.status, r.seat.updated_at = SeatStatus(r.result), now
        if r.held == GIVEN_BACK and r.registration is not None and r.result in lines:
            queue_email(
                db,
                settings,
                kind="programme_changed",
                to=r.registration.email,
                registration_id=r.registration.id,
                changes=[lines[r.result]],
            )
    await db.flush()
    return returns


def counts(returns: list[Return]) -> dict[str, int]:
    """How many seats a restore gives back, puts on the waiting list, and can't give back (for the audit log and
    the console)."""
    had_seat = [r for r in returns if r.held == GIVEN_BACK]
    return {
        "given_back": sum(r.result == GIVEN_BACK for r in had_seat),
        "waitlisted": sum(r.result == WAITING for r in had_seat),
        "clash": sum(r.result == CLASH for r in had_seat),
        "gone": sum(r.result == GONE for r in had_seat),
        "waiting_list": sum(r.result == WAITING for r in returns if r.held != GIVEN_BACK),
    }
