"""Ranked choices for the fair allocation, and the booking phase that says when they (and seats) are open."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.db import lock_for_update
from conference.core.models import Registration, Status, utcnow
from conference.places import get_conference
from sessions.models import BookingPhase, ChoiceRanking, Kind, ProgrammeSession, SessionChoice

MAX_CHOICES_PER_SLOT = 5


class ChoicesClosed(errors.DomainError):
    code = "choices_closed"
    message = "Ranking choices is closed; book a seat directly instead."


class BookingClosed(errors.DomainError):
    code = "booking_closed"
    message = "Seat booking has not opened yet; rank your choices and the allocation will give you seats."


async def phase(db: AsyncSession) -> BookingPhase:
    conference = await get_conference(db)
    assert conference.id is not None
    current = await db.get(BookingPhase, conference.id)
    return current or BookingPhase(conference_id=conference.id)


async def set_phase(db: AsyncSession, *, changes: dict[str, Any], actor: Actor) -> BookingPhase:
    conference = await get_conference(db)
    assert conference.id is not None
    current = await db.get(BookingPhase, conference.id)
    if current is None:
        current = BookingPhase(conference_id=conference.id)
        db.add(current)
    for name, value in changes.items():
        if value is None:
            raise errors.InvalidInput(fields={name: "Give true or false."})
        setattr(current, name, value)
    current.updated_at = utcnow()
    await audit.record(db, "sessions.phase.updated", actor=actor, subject=str(conference.id), **changes)
    await db.flush()
    return current


async def set_choices(
    db: AsyncSession, *, registration_id: uuid.UUID, ranking: ChoiceRanking, actor: Actor
) -> None:
    if not (await phase(db)).choices_open:
        raise ChoicesClosed()
    if await db.get(Registration, registration_id) is None:
        raise errors.NotFound("No registration has this id.")
    registration = await lock_for_update(db, Registration, registration_id)
    if registration.status != Status.confirmed:
        raise errors.DomainError("Only confirmed registrations can rank workshops.")
    ids = [c.session_id for c in ranking.choices]
    if len(set(ids)) != len(ids):
        raise errors.InvalidInput(fields={"choices": "Each session may appear only once."})
    sessions = {
        s.id: s
        for s in (
            await db.execute(sa.select(ProgrammeSession).where(col(ProgrammeSession.id).in_(ids)))
        ).scalars()
    }
    problems: dict[str, str] = {}
    for i, choice in enumerate(ranking.choices):
        s = sessions.get(choice.session_id)
        if s is None or s.conference_id != registration.conference_id:
            problems[f"choices.{i}.session_id"] = "No session has this id; see GET /api/v1/sessions."
        elif s.kind != Kind.workshop or s.cancelled:
            problems[f"choices.{i}.session_id"] = "Only workshops that are running can be ranked."
    if problems:
        raise errors.InvalidInput(fields=problems)
    # Ranks are per time slot (the session's start): 1, 2, 3 … without repeats. Every repeat is named by the
    # choice it is in (`choices.{i}.rank`), so a page can show it beside the workshop concerned.
    by_start: dict[Any, list[tuple[int, int]]] = {}
    for i, c in enumerate(ranking.choices):
        by_start.setdefault(sessions[c.session_id].starts_at, []).append((i, c.rank))
    for _start, ranked in by_start.items():
        if len(ranked) > MAX_CHOICES_PER_SLOT:
            problems["choices"] = f"Rank at most {MAX_CHOICES_PER_SLOT} sessions per time slot."
        repeated = {rank for rank, n in Counter(rank for _i, rank in ranked).items() if n > 1}
        for i, rank in ranked:
            if rank in repeated:
                problems[f"choices.{i}.rank"] = (
                    f"Another workshop at this time is also your choice {rank}; give each its own rank."
                )
    if problems:
        raise errors.InvalidInput(fields=problems)
    await db.execute(sa.delete(SessionChoice).where(col(SessionChoice.registration_id) == registration_id))
    for c in ranking.choices:
        db.add(SessionChoice(registration_id=registration_id, session_id=c.session_id, rank=c.rank))
    await audit.record(
        db, "sessions.choices.set", actor=actor, subject=registration.reference, count=len(ids)
    )
    await db.flush()


async def choices_public(db: AsyncSession, registration_id: uuid.UUID) -> list[dict[str, Any]]:
    stmt = (
        sa.select(SessionChoice, ProgrammeSession)
        .join(ProgrammeSession, col(ProgrammeSession.id) == SessionChoice.session_id)
        .where(col(SessionChoice.registration_id) == registration_id)
        .order_by(col(ProgrammeSession.starts_at), col(SessionChoice.rank))
    )
    return [
        {"session_id": str(s.id), "title": s.title, "starts_at": s.starts_at.isoformat(), "rank": c.rank}
        for c, s in (await db.execute(stmt)).all()
    ]
