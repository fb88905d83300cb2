"""Seats in workshops: book, give up, and the per-session waiting list.

Lock order, everywhere, so PostgreSQL never deadlocks: the conference row (only for registration-level
changes) → the acting delegate's registration row → programme sessions, sorted by id. Locking the
registration first serialises one delegate's own bookings (so the clash check holds) and keeps a booking
from slipping past a concurrent cancellation. Promotion from a waiting list needs other delegates' rows
against that order, so it only *tries* them (SKIP LOCKED) and passes over a delegate busy in another
transaction for this round. On SQLite the write transaction holds the database's single write lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.db import lock_for_update, try_lock
from conference.core.models import Registration, Status, utcnow
from conference.core.settings import Settings
from conference.mail.outbox import queue_email
from sessions.models import Kind, ProgrammeSession, Room, SeatBooking, SeatStatus
from sessions.workshops import choices


class TimeClash(errors.DomainError):
    code = "time_clash"
    message = "This session overlaps a session you have already booked. Give that seat up first."


class NotBookable(errors.DomainError):
    code = "not_bookable"
    message = "This session needs no booking: plenaries and talks are open to every delegate."


class SessionCancelled(errors.DomainError):
    code = "session_cancelled"
    message = "This session has been cancelled."


class NotConfirmed(errors.DomainError):
    code = "registration_not_confirmed"
    message = "Only confirmed registrations can book seats."


class AlreadyBooked(errors.DomainError):
    code = "already_booked"
    message = "You already have a seat (or a waiting-list place) in this session."


class NotBooked(errors.DomainError):
    status_code = 404
    code = "not_booked"
    message = "You hold no seat in this session."


class SwapFull(errors.DomainError):
    code = "workshop_full"
    message = "This workshop is full, so you keep the seat you have."


LIVE = (SeatStatus.booked, SeatStatus.waitlisted)


def seats_in(session: ProgrammeSession, room: Room | None) -> int:
    room_capacity = room.capacity if room is not None else 0
    if session.capacity_limit is None:
        return room_capacity
    return min(session.capacity_limit, room_capacity) if room is not None else session.capacity_limit


async def session_capacity(db: AsyncSession, session: ProgrammeSession) -> int:
    room = await db.get(Room, session.room_id) if session.room_id else None
    return seats_in(session, room)


async def seat_counts(
    db: AsyncSession, session_ids: Iterable[uuid.UUID] | None = None
) -> dict[uuid.UUID, dict[str, int]]:
    stmt = sa.select(col(SeatBooking.session_id), col(SeatBooking.status), sa.func.count()).where(
        col(SeatBooking.status).in_(LIVE)
    )
    if session_ids is not None:
        stmt = stmt.where(col(SeatBooking.session_id).in_(list(session_ids)))
    counts: dict[uuid.UUID, dict[str, int]] = {}
    for session_id, status, n in (
        await db.execute(stmt.group_by(col(SeatBooking.session_id), col(SeatBooking.status)))
    ).all():
        counts.setdefault(session_id, {"booked": 0, "waitlisted": 0})[SeatStatus(status).value] = n
    return counts


async def booked_count(db: AsyncSession, session_id: uuid.UUID) -> int:
    stmt = sa.select(sa.func.count()).where(
        col(SeatBooking.session_id) == session_id, col(SeatBooking.status) == SeatStatus.booked
    )
    return int((await db.execute(stmt)).scalar_one())


async def has_clashing_booking(
    db: AsyncSession, registration_id: uuid.UUID, session: ProgrammeSession
) -> bool:
    stmt = (
        sa.select(col(SeatBooking.id))
        .join(ProgrammeSession, col(ProgrammeSession.id) == SeatBooking.session_id)
        .where(
            col(SeatBooking.registration_id) == registration_id,
            col(SeatBooking.status) == SeatStatus.booked,
            col(ProgrammeSession.id) != session.id,
            col(ProgrammeSession.cancelled).is_(False),
            col(ProgrammeSession.starts_at) < session.ends_at,
            col(ProgrammeSession.ends_at) > session.starts_at,
        )
        .limit(1)
    )
    return (await db.execute(stmt)).first() is not None


async def _live_seat(
    db: AsyncSession, registration_id: uuid.UUID, session_id: uuid.UUID
) -> SeatBooking | None:
    stmt = sa.select(SeatBooking).where(
        col(SeatBooking.registration_id) == registration_id,
        col(SeatBooking.session_id) == session_id,
        col(SeatBooking.status).in_(LIVE),
    )
    return (await db.execute(stmt.execution_options(populate_existing=True))).scalar_one_or_none()


def _refuse_unbookable(session: ProgrammeSession, registration: Registration) -> None:
    """Raise why this registration can have no seat in this session at all, whatever the seats left."""
    if session.conference_id != registration.conference_id:
        raise errors.InvalidInput(fields={"session_id": "No session has this id; see GET /api/v1/sessions."})
    if session.cancelled:
        raise SessionCancelled()
    if session.kind != Kind.workshop:
        raise NotBookable()
    if registration.status != Status.confirmed:
        raise NotConfirmed(
            f"Only confirmed registrations can book seats; this one is {registration.status.value}."
        )


async def book_seat(
    db: AsyncSession,
    *,
    settings: Settings,
    registration_id: uuid.UUID,
    session_id: uuid.UUID,
    actor: Actor,
    source: str = "booking",
) -> SeatBooking:
    """A seat if one is free, else a place on the session's waiting list."""
    assert db.in_transaction()
    if await db.get(Registration, registration_id) is None:
        raise errors.NotFound("No registration has this id.")
    if await db.get(ProgrammeSession, session_id) is None:
        raise errors.InvalidInput(fields={"session_id": "No session has this id; see GET /api/v1/sessions."})
    registration = await lock_for_update(db, Registration, registration_id)
    session = await lock_for_update(db, ProgrammeSession, session_id)
    _refuse_unbookable(session, registration)
    if source == "booking" and not (await choices.phase(db)).booking_open:
        raise choices.BookingClosed()
    if await _live_seat(db, registration_id, session_id) is not None:
        raise AlreadyBooked()
    if await has_clashing_booking(db, registration_id, session):
        raise TimeClash()
    # Nobody jumps the queue: those already waiting get any free seats first; a newcomer takes what is left.
    await promote_session_waitlist(db, settings=settings, session=session)
    free = await session_capacity(db, session) - await booked_count(db, session_id)
    status = SeatStatus.booked if free > 0 else SeatStatus.waitlisted
    session.booking_seq += 1
    seat = SeatBooking(
        session_id=session_id,
        registration_id=registration_id,
        status=status,
        number=session.booking_seq,
        source=source,
    )
    db.add(seat)
    await audit.record(
        db,
        f"sessions.seat.{status.value}",
        actor=actor,
        subject=registration.reference,
        session=str(session_id),
    )
    await db.flush()
    return seat


async def clashing_seats(
    db: AsyncSession, registration_id: uuid.UUID, session: ProgrammeSession
) -> list[tuple[SeatBooking, ProgrammeSession]]:
    """The delegate's booked seats in other running sessions that overlap `session` (what a swap gives up)."""
    stmt = (
        sa.select(SeatBooking, ProgrammeSession)
        .join(ProgrammeSession, col(ProgrammeSession.id) == SeatBooking.session_id)
        .where(
            col(SeatBooking.registration_id) == registration_id,
            col(SeatBooking.status) == SeatStatus.booked,
            col(ProgrammeSession.id) != session.id,
            col(ProgrammeSession.cancelled).is_(False),
            col(ProgrammeSession.starts_at) < session.ends_at,
            col(ProgrammeSession.ends_at) > session.starts_at,
        )
        .order_by(col(ProgrammeSession.starts_at))
    )
    rows = await db.execute(stmt.execution_options(populate_existing=True))
    return [(seat, other) for seat, other in rows.all()]


async def swap_seat(
    db: AsyncSession,
    *,
    settings: Settings,
    registration_id: uuid.UUID,
    session_id: uuid.UUID,
    actor: Actor,
) -> SeatBooking:
    """Give up the booked seats that clash with `session_id` and book a seat in it, in this one transaction.

    Never both lost: the new seat must be free (after those already waiting for it had their turn), else
    SwapFull and nothing changes. With no clashing seat it is an ordinary booking.
    """
    assert db.in_transaction()
    if await db.get(Registration, registration_id) is None:
        raise errors.NotFound("No registration has this id.")
    wanted = await db.get(ProgrammeSession, session_id)
    if wanted is None:
        raise errors.InvalidInput(fields={"session_id": "No session has this id; see GET /api/v1/sessions."})
    registration = await lock_for_update(db, Registration, registration_id)
    # With the delegate's row locked their seats cannot change under us; the sessions are locked in id order.
    held = await clashing_seats(db, registration_id, wanted)
    if not held:
        return await book_seat(
            db, settings=settings, registration_id=registration_id, session_id=session_id, actor=actor
        )
    locked = {
        sid: await lock_for_update(db, ProgrammeSession, sid)
        for sid in sorted({session_id, *(s.id for _, s in held)})
    }
    session = locked[session_id]
    _refuse_unbookable(session, registration)
    if not (await choices.phase(db)).booking_open:
        raise choices.BookingClosed()
    if await _live_seat(db, registration_id, session_id) is not None:
        raise AlreadyBooked()
    held = await clashing_seats(
        db, registration_id, session
    )  # again, now that the session's times are locked
    if {s.id for _, s in held} - locked.keys():
        raise errors.DomainError(
            "Your seats changed while you were swapping; look at your agenda and try again."
        )
    await promote_session_waitlist(db, settings=settings, session=session)
    if await session_capacity(db, session) - await booked_count(db, session_id) <= 0:
        kept = " and ".join(f"“{s.title}”" for _, s in held)
        raise SwapFull(f"“{session.title}” is full, so you keep your seat in {kept}.")
    for seat, old in held:
        seat.status = SeatStatus.cancelled
        seat.updated_at = utcnow()
        await audit.record(
            db,
            "sessions.seat.released",
            actor=actor,
            subject=registration.reference,
            session=str(old.id),
            swapped_to=str(session_id),
        )
    session.booking_seq += 1
    seat = SeatBooking(
        session_id=session_id,
        registration_id=registration_id,
        status=SeatStatus.booked,
        number=session.booking_seq,
        source="booking",
    )
    db.add(seat)
    await audit.record(
        db,
        "sessions.seat.booked",
        actor=actor,
        subject=registration.reference,
        session=str(session_id),
        swapped_from=",".join(str(s.id) for _, s in held),
    )
    await db.flush()
    for _seat, old in held:  # the seats given up go to those waiting for them
        await promote_session_waitlist(db, settings=settings, session=locked[old.id])
    return seat


async def waitlist_position(db: AsyncSession, seat: SeatBooking) -> int | None:
    if seat.status != SeatStatus.waitlisted:
        return None
    stmt = sa.select(sa.func.count()).where(
        col(SeatBooking.session_id) == seat.session_id,
        col(SeatBooking.status) == SeatStatus.waitlisted,
        col(SeatBooking.number) <= seat.number,
    )
    return int((await db.execute(stmt)).scalar_one())


async def give_up_seat(
    db: AsyncSession, *, settings: Settings, registration_id: uuid.UUID, session_id: uuid.UUID, actor: Actor
) -> SeatBooking:
    if await db.get(Registration, registration_id) is None:
        raise errors.NotFound("No registration has this id.")
    if await db.get(ProgrammeSession, session_id) is None:
        raise errors.NotFound("No session has this id.")
    registration = await lock_for_update(db, Registration, registration_id)
    session = await lock_for_update(db, ProgrammeSession, session_id)
    seat = await _live_seat(db, registration_id, session_id)
    if seat is None:
        raise NotBooked()
    was_booked = seat.status == SeatStatus.booked
    seat.status = SeatStatus.cancelled
    seat.updated_at = utcnow()
    await audit.record(
        db, "sessions.seat.released", actor=actor, subject=registration.reference, session=str(session_id)
    )
    await db.flush()
    if was_booked:
        await promote_session_waitlist(db, settings=settings, session=session)
    return seat


async def promote_session_waitlist(
    db: AsyncSession, *, settings: Settings, session: ProgrammeSession
) -> list[SeatBooking]:
    """Fill free seats from the session's waiting list, in order. Call with the session's lock held.

    A waiting delegate who has since booked another session at the same time is passed over (and keeps their
    place in the queue); one whose registration is no longer confirmed loses the place.
    """
    promoted: list[SeatBooking] = []
    if session.cancelled:
        return promoted
    free = await session_capacity(db, session) - await booked_count(db, session.id)
    if free <= 0:
        return promoted
    waiting = (
        (
            await db.execute(
                sa.select(SeatBooking)
                .where(
                    col(SeatBooking.session_id) == session.id,
                    col(SeatBooking.status) == SeatStatus.waitlisted,
                )
                .order_by(col(SeatBooking.number))
            )
        )
        .scalars()
        .all()
    )
    for seat in waiting:
        if free <= 0:
            break
        registration = await try_lock(db, Registration, seat.registration_id)
        if registration is None:
            continue  # busy in another transaction right now; first in line again next time
        if registration.status != Status.confirmed:
            seat.status = SeatStatus.cancelled
            continue
        if await has_clashing_booking(db, registration.id, session):
            continue
        seat.status = SeatStatus.booked
        seat.updated_at = utcnow()
        free -= 1
        promoted.append(seat)
        queue_email(
            db,
            settings,
            kind="seat_promoted",
            to=registration.email,
            registration_id=registration.id,
            session_title=session.title,
            starts_at=session.starts_at.isoformat(),
        )
        await audit.record(
            db,
            "sessions.seat.promoted",
            actor=audit.SYSTEM,
            subject=registration.reference,
            session=str(session.id),
        )
    await db.flush()
    return promoted


async def release_all_seats(db: AsyncSession, settings: Settings, registration: Registration) -> None:
    """Hook: a registration stopped being confirmed, so its seats and waiting-list places go."""
    seats = (
        (
            await db.execute(
                sa.select(SeatBooking).where(
                    col(SeatBooking.registration_id) == registration.id, col(SeatBooking.status).in_(LIVE)
                )
            )
        )
        .scalars()
        .all()
    )
    for session_id in sorted({s.session_id for s in seats}):
        await lock_for_update(db, ProgrammeSession, session_id)
    freed: list[uuid.UUID] = []
    for seat in seats:
        if seat.status == SeatStatus.booked:
            freed.append(seat.session_id)
        seat.status = SeatStatus.cancelled
        seat.updated_at = utcnow()
    await db.flush()
    for session_id in sorted(freed):
        session = await db.get(ProgrammeSession, session_id)
        assert session is not None
        await promote_session_waitlist(db, settings=settings, session=session)
