"""A finished event for the after-event tests: a conference with tests.factories' programme, delegates registered
through the API, and their scans written as the door and room scanners write them (Checkin rows, result ok)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import col

from conference.core.db import Database
from conference.core.models import Checkin, OutboxEmail
from conference.core.settings import Settings
from sessions.attendance import bulk
from sessions.models import ProgrammeSession
from sessions.models.attendance import Certificate, CertificateStatus
from tests.factories import ORGANISER, Programme, make_conference, make_programme
from tests.support import register

DOOR_TIME = datetime(2026, 12, 8, 9, 15, tzinfo=UTC)  # the first morning, at the door


@dataclass
class Event:
    tickets: dict[str, uuid.UUID]
    programme: Programme
    people: list[dict[str, Any]]  # as POST /api/v1/registrations answered, plus "email" and "name"

    def id(self, n: int) -> uuid.UUID:
        return uuid.UUID(self.people[n]["id"])


async def finished_event(database: Database, client: httpx.AsyncClient, delegates: int = 3) -> Event:
    tickets = await make_conference(database, capacity=100)
    programme = await make_programme(database)
    people = []
    for n in range(delegates):
        name = f"Delegate {chr(65 + n)} Person"
        people.append({**await register(client, tickets["delegate"], name=name), "name": name})
    return Event(tickets, programme, people)


async def scan(
    database: Database, registration_id: uuid.UUID, list_: str, *, device: str = "room-1", result: str = "ok"
) -> None:
    """One scan as a scanner records it: at the door (list "door", the first morning) or a session's list (at the
    session's start)."""
    async with database.transaction() as db:
        if list_ == "door":
            at = DOOR_TIME
        else:
            session = await db.get(ProgrammeSession, uuid.UUID(list_))
            assert session is not None
            at = session.starts_at
        db.add(
            Checkin(
                registration_id=registration_id,
                list=list_,
                result=result,
                device=device,
                staff="staff:Door",
                scanned_at=at,
            )
        )


async def attend(database: Database, event: Event, n: int, *titles: str) -> None:
    """Delegate n admitted at the door, then scanned into each session named (tests.factories' short titles)."""
    await scan(database, event.id(n), "door", device="door-a")
    for title in titles:
        await scan(database, event.id(n), str(event.programme.sessions[title]))


async def issue_all(database: Database, settings: Settings) -> None:
    """A whole bulk run, as the console's button starts it."""
    async with database.transaction() as db:
        conference_id = (await db.execute(sa.text("SELECT id FROM conference LIMIT 1"))).scalar_one()
        run = await bulk.start_run(db, conference_id=int(conference_id), actor=ORGANISER)
    await bulk.run_issue(database, settings, run_id=run.id, actor=ORGANISER)


async def certificates(database: Database, registration_id: uuid.UUID) -> list[Certificate]:
    async with database.read() as db:
        return list(
            (
                await db.execute(
                    sa.select(Certificate)
                    .where(col(Certificate.registration_id) == registration_id)
                    .order_by(col(Certificate.issued_at))
                )
            ).scalars()
        )


async def current(database: Database, registration_id: uuid.UUID) -> Certificate | None:
    found = [c for c in await certificates(database, registration_id) if c.status == CertificateStatus.issued]
    assert len(found) <= 1
    return found[0] if found else None


async def outbox(database: Database, kind: str) -> list[OutboxEmail]:
    async with database.read() as db:
        return list(
            (
                await db.execute(
                    sa.select(OutboxEmail)
                    .where(col(OutboxEmail.kind) == kind)
                    .order_by(col(OutboxEmail.created_at))
                )
            ).scalars()
        )
