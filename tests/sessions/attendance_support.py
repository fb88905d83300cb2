"""Shared by the certificate tests (test_cpd_hours, test_certificates, test_certificate_pages): delegates registered
through the API and their check-ins written as the scanners write them (Checkin rows), at the programme's times.

The programme is tests/factories.make_programme: day 1 (Tue 8 Dec 2026, UTC = London time in December) workshops
A and B 10:00-11:00, C 11:30-12:30, Long 10:00-12:30; day 2 (Wed 9 Dec) the plenary P 10:00-11:00 and D 11:30-12:30.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import col

from conference.core.db import Database
from conference.core.models import Checkin, Conference
from sessions.models import AfterEventSettings, ProgrammeSession
from sessions.workshops.attended import DOOR, ORGANISER_DEVICE
from tests.support import register

DAY1 = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
DAY2 = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)


async def delegate(client: httpx.AsyncClient, ticket: Any, **overrides: Any) -> dict[str, Any]:
    """A confirmed delegate (the API's answer: id, reference, manage_token, plus the email)."""
    return await register(client, ticket, **overrides)


async def checkin(
    database: Database,
    person: dict[str, Any],
    list_: str | uuid.UUID,
    *,
    at: datetime,
    result: str = "ok",
    device: str = "room-scanner",
) -> uuid.UUID:
    """One scan as badges/checkin.py records it: at the door ("door") or a session's list (its id)."""
    row = Checkin(
        registration_id=uuid.UUID(str(person["id"])),
        list=str(list_),
        result=result,
        device=device,
        staff="staff:tests",
        scanned_at=at,
    )
    async with database.transaction() as db:
        db.add(row)
    return row.id


async def door(
    database: Database, person: dict[str, Any], *, at: datetime = DAY1, result: str = "ok"
) -> None:
    await checkin(database, person, DOOR, at=at, result=result, device="door-a")


async def organiser_scan(
    database: Database, person: dict[str, Any], session_id: uuid.UUID, at: datetime
) -> None:
    await checkin(database, person, session_id, at=at, device=ORGANISER_DEVICE)


async def set_rules(
    database: Database,
    *,
    kind_rates: dict[str, float] | None = None,
    plenaries_on_door_scan: bool = True,
    daily_cap_hours: float | None = None,
    rounding_minutes: int = 15,
) -> None:
    async with database.transaction() as db:
        conference = (await db.execute(sa.select(Conference))).scalars().first()
        assert conference is not None and conference.id is not None
        row = await db.get(AfterEventSettings, conference.id)
        if row is None:
            row = AfterEventSettings(conference_id=conference.id)
            db.add(row)
        row.kind_rates = kind_rates or {"plenary": 1.0, "workshop": 1.0, "talk": 1.0}
        row.plenaries_on_door_scan = plenaries_on_door_scan
        row.daily_cap_hours = daily_cap_hours
        row.rounding_minutes = rounding_minutes


async def cancel(database: Database, session_id: uuid.UUID) -> None:
    async with database.transaction() as db:
        await db.execute(
            sa.update(ProgrammeSession).where(col(ProgrammeSession.id) == session_id).values(cancelled=True)
        )


def at(session_start: datetime, minutes: int = 2) -> datetime:
    """A scan a couple of minutes after a session starts."""
    return session_start + timedelta(minutes=minutes)
