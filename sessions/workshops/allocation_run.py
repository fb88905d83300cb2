"""Run the fair allocation on the conference's data, and (when asked) book the seats it gives.

Applying loads, solves and books in one transaction; it locks in the usual order (conference → the
registrations it seats, by id → workshops, by id; see sessions/workshops/capacity.py), so a cancellation or a booking
racing it waits or is waited for, and the free seats it computed are still free when it books them.
The solve itself runs in a worker thread: the event loop keeps serving other requests meanwhile.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import col

from conference.core import audit, errors, formats
from conference.core.audit import Actor
from conference.core.db import Database, lock_for_update
from conference.core.models import Conference, Registration, Status, utcnow
from conference.core.settings import Settings
from conference.mail.outbox import queue_email
from conference.places import get_conference
from sessions.models import (
    AllocationRun,
    Kind,
    ProgrammeSession,
    Room,
    SeatBooking,
    SeatStatus,
    SessionChoice,
    TimeSlot,
)
from sessions.workshops import allocation, choices
from sessions.workshops.capacity import seat_counts, seats_in
from sessions.workshops.programme import ordered_slots


class NothingToAllocate(errors.DomainError):
    code = "nothing_to_allocate"
    message = "No confirmed delegate has ranked any workshop yet."


@dataclass
class Loaded:
    instance: allocation.Instance
    sessions: list[ProgrammeSession]  # by workshop index
    registrations: list[Registration]  # by delegate index
    slots: list[TimeSlot]


def _slot_span(slots: list[TimeSlot], starts_at: datetime, ends_at: datetime) -> frozenset[int]:
    return frozenset(
        i for i, slot in enumerate(slots) if slot.starts_at < ends_at and slot.ends_at > starts_at
    )


async def load(db: AsyncSession, conference: Conference, *, lock: bool) -> Loaded:
    assert conference.id is not None
    slots = await ordered_slots(db, conference.id)
    ranked = (
        await db.execute(
            sa.select(
                col(SessionChoice.registration_id), col(SessionChoice.session_id), col(SessionChoice.rank)
            )
            .join(Registration, col(Registration.id) == SessionChoice.registration_id)
            .where(
                col(Registration.conference_id) == conference.id, col(Registration.status) == Status.confirmed
            )
        )
    ).all()
    if lock:
        for registration_id in sorted({r for r, _, _ in ranked}):
            await lock_for_update(db, Registration, registration_id)
    registrations = list(
        (
            await db.execute(
                sa.select(Registration)
                .where(
                    col(Registration.id).in_({r for r, _, _ in ranked}),
                    col(Registration.status) == Status.confirmed,
                )
                .order_by(col(Registration.number))  # order of registration: the first-come baseline's order
            )
        ).scalars()
    )
    stmt = sa.select(ProgrammeSession).where(
        col(ProgrammeSession.conference_id) == conference.id,
        col(ProgrammeSession.kind) == Kind.workshop,
        col(ProgrammeSession.cancelled).is_(False),
    )
    sessions = list((await db.execute(stmt.order_by(col(ProgrammeSession.id)))).scalars())
    if lock:
        for session in sessions:
            await lock_for_update(db, ProgrammeSession, session.id)
    rooms = {
        r.id: r
        for r in (await db.execute(sa.select(Room).where(col(Room.conference_id) == conference.id))).scalars()
    }
    counts = await seat_counts(db, [s.id for s in sessions])
    slot_index = {slot.id: i for i, slot in enumerate(slots)}
    sessions = [s for s in sessions if s.start_slot_id in slot_index]
    index = {s.id: i for i, s in enumerate(sessions)}
    workshops = [
        allocation.Workshop(
            key=s.id,
            start=slot_index[s.start_slot_id],
            slots=_slot_span(slots, s.starts_at, s.ends_at) | {slot_index[s.start_slot_id]},
            seats=max(
                0,
                seats_in(s, rooms.get(s.room_id) if s.room_id else None)
                - counts.get(s.id, {}).get("booked", 0),
            ),
        )
        for s in sessions
    ]
    # Seats delegates already hold (any session, including plenary-time bookings) make those slots busy.
    held = (
        await db.execute(
            sa.select(
                col(SeatBooking.registration_id),
                col(ProgrammeSession.starts_at),
                col(ProgrammeSession.ends_at),
            )
            .join(ProgrammeSession, col(ProgrammeSession.id) == SeatBooking.session_id)
            .where(col(SeatBooking.status) == SeatStatus.booked, col(ProgrammeSession.cancelled).is_(False))
        )
    ).all()
    busy: dict[uuid.UUID, set[int]] = {}
    for registration_id, starts_at, ends_at in held:
        busy.setdefault(registration_id, set()).update(_slot_span(slots, starts_at, ends_at))
    ranks: dict[uuid.UUID, dict[int, int]] = {}
    for registration_id, session_id, rank in ranked:
        if session_id in index:  # a choice of a session since cancelled drops out
            ranks.setdefault(registration_id, {})[index[session_id]] = rank
    delegates = [
        allocation.Delegate(key=r.id, ranks=ranks.get(r.id, {}), busy=frozenset(busy.get(r.id, ())))
        for r in registrations
    ]
    return Loaded(
        allocation.Instance(workshops=workshops, delegates=delegates), sessions, registrations, slots
    )


async def run_allocation(
    database: Database, *, settings: Settings, seed: int, apply: bool, time_limit: float, actor: Actor
) -> dict[str, Any]:
    """Allocate ranked choices; report the figures beside the first-come baseline's; book seats if `apply`.

    Applying loads, solves and books in one locked transaction, so the seats it computed are still free when
    it books them. A preview reads, solves outside any transaction (a solve takes seconds: on SQLite a write
    transaction would hold up every registration meanwhile) and then only records the run.
    """
    if apply:
        async with database.transaction() as db:
            conference = await get_conference(db, for_update=True)
            loaded = await load(db, conference, lock=True)
            report, result = await _solve(loaded, seed=seed, time_limit=time_limit, apply=True)
            await _record(db, report, actor=actor)
            await _book(db, settings, loaded, conference, result.assignment)
            await choices.set_phase(db, changes={"choices_open": False, "booking_open": True}, actor=actor)
        return report
    async with database.read() as db:
        loaded = await load(db, await get_conference(db), lock=False)
    report, _ = await _solve(loaded, seed=seed, time_limit=time_limit, apply=False)
    async with database.transaction() as db:
        await _record(db, report, actor=actor)
    return report


async def _solve(
    loaded: Loaded, *, seed: int, time_limit: float, apply: bool
) -> tuple[dict[str, Any], allocation.Result]:
    instance = loaded.instance
    if not any(d.ranks for d in instance.delegates):
        raise NothingToAllocate()
    baseline = allocation.first_come(instance)
    try:
        # In a worker thread: the event loop goes on serving other requests during the solve.
        result = await anyio.to_thread.run_sync(
            lambda: allocation.solve(instance, seed=seed, time_limit=time_limit)
        )
    except allocation.AllocationFailed as exc:
        raise errors.DomainError(str(exc)) from exc
    problems = allocation.check(instance, result.assignment)
    if problems:  # never book an allocation that breaks a rule, whatever the solver said
        raise RuntimeError(f"allocation broke {len(problems)} rule(s), first: {problems[0]}")
    report: dict[str, Any] = {
        "seed": seed,
        "applied": apply,
        "status": result.status,
        "seconds": round(result.seconds, 3),
        "solver": result.stages[0] if result.stages else {},
        "allocation": allocation.figures(instance, result.assignment),
        "first_come_baseline": allocation.figures(instance, baseline),
    }
    return report, result


async def _record(db: AsyncSession, report: dict[str, Any], *, actor: Actor) -> None:
    run = AllocationRun(seed=report["seed"], applied=report["applied"], figures=dict(report))
    db.add(run)
    await db.flush()
    report["run_id"] = run.id
    run.figures = report
    flag_modified(run, "figures")  # changed in place since the insert: say so, or it is not saved
    action = "sessions.allocation.applied" if report["applied"] else "sessions.allocation.previewed"
    await audit.record(
        db,
        action,
        actor=actor,
        subject=str(run.id),
        seed=report["seed"],
        seats=report["allocation"]["seats_given"],
    )
    await db.flush()


async def _book(
    db: AsyncSession,
    settings: Settings,
    loaded: Loaded,
    conference: Conference,
    assignment: allocation.Assignment,
) -> None:
    zone = ZoneInfo(conference.timezone)
    waiting = {
        (seat.registration_id, seat.session_id): seat
        for seat in (
            await db.execute(sa.select(SeatBooking).where(col(SeatBooking.status) == SeatStatus.waitlisted))
        ).scalars()
    }
    for registration, delegate, given in zip(
        loaded.registrations, loaded.instance.delegates, assignment, strict=True
    ):
        if not delegate.ranks:
            continue
        lines: list[str] = []
        covered: set[int] = set()
        for w in given:
            session = loaded.sessions[w]
            covered |= loaded.instance.workshops[w].slots
            seat = waiting.get((registration.id, session.id))
            if seat is not None:  # already queuing for it: the queue place becomes the seat
                seat.status = SeatStatus.booked
                seat.source = "allocation"
                seat.updated_at = utcnow()
            else:
                session.booking_seq += 1
                db.add(
                    SeatBooking(
                        session_id=session.id,
                        registration_id=registration.id,
                        status=SeatStatus.booked,
                        number=session.booking_seq,
                        source="allocation",
                    )
                )
            when = formats.when(session.starts_at, zone)
            lines.append(f"{when}: {session.title}")
        wanted = {loaded.instance.workshops[w].start for w in delegate.ranks} - delegate.busy
        missed = [formats.when(loaded.slots[s].starts_at, zone) for s in sorted(wanted - covered)]
        queue_email(
            db,
            settings,
            kind="allocation",
            to=registration.email,
            registration_id=registration.id,
            seats=lines,
            missed=missed,
        )
    await db.flush()
