"""What the feedback tests share: an event that has already happened, delegates, and real check-in rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import sqlalchemy as sa
from sqlmodel import col

from conference.core.db import Database
from conference.core.models import Checkin, Conference, utcnow
from sessions.models import ProgrammeSession, TimeSlot
from sessions.models.feedback import FeedbackAnswer
from tests.factories import Programme, make_conference, make_programme
from tests.support import register


@dataclass
class PastEvent:
    tickets: dict[str, uuid.UUID]
    programme: Programme
    shift: timedelta  # what was taken off every time of the factories' programme


async def past_event(database: Database, *, started_days_ago: float = 2) -> PastEvent:
    """The factories' conference and programme, moved so that the event started `started_days_ago` days ago."""
    tickets = await make_conference(database, capacity=50)
    programme, shift = await past_programme(database, started_days_ago=started_days_ago)
    return PastEvent(tickets, programme, shift)


async def past_programme(database: Database, *, started_days_ago: float = 2) -> tuple[Programme, timedelta]:
    """The factories' programme on the conference already made, both moved to have started days ago."""
    programme = await make_programme(database)
    async with database.transaction() as db:
        conference = (await db.execute(sa.select(Conference))).scalar_one()
        shift = conference.starts_at - (utcnow() - timedelta(days=started_days_ago))
        conference.starts_at -= shift
        conference.ends_at -= shift
        for slot in (await db.execute(sa.select(TimeSlot))).scalars():
            slot.starts_at -= shift
            slot.ends_at -= shift
        for session in (await db.execute(sa.select(ProgrammeSession))).scalars():
            session.starts_at -= shift
            session.ends_at -= shift
    return programme, shift


async def delegate(client: httpx.AsyncClient, event: PastEvent, **overrides: str) -> dict[str, str]:
    """A registered delegate: the API's answer (id, reference, manage_token) plus their email."""
    return await register(client, event.tickets["delegate"], **overrides)


async def check_in(
    database: Database, person: dict[str, str], list_: str, at: datetime | None = None
) -> None:
    """A real admission (`ok`) on the door's list or a session's list (its id)."""
    async with database.transaction() as db:
        db.add(
            Checkin(
                registration_id=uuid.UUID(person["id"]),
                list=list_,
                result="ok",
                device="door-a" if list_ == "door" else "room-a",
                staff="staff:tests",
                scanned_at=at or utcnow(),
            )
        )


async def session_start(database: Database, session_id: uuid.UUID) -> datetime:
    async with database.read() as db:
        session = await db.get(ProgrammeSession, session_id)
        assert session is not None
        return session.starts_at


async def answers_in_db(database: Database) -> list[FeedbackAnswer]:
    async with database.read() as db:
        return list(
            (await db.execute(sa.select(FeedbackAnswer).order_by(col(FeedbackAnswer.rating)))).scalars()
        )


async def age_answers(database: Database, days: float) -> None:
    """Move the clock: every answer was given (and last changed) `days` days earlier than it was."""
    async with database.transaction() as db:
        for a in (await db.execute(sa.select(FeedbackAnswer))).scalars():
            a.created_at -= timedelta(days=days)
            a.updated_at -= timedelta(days=days)
