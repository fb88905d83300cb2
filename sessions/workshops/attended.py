"""Verified attendance: which sessions a delegate was really at, from the check-in scans (badges/checkin.py).

A session counts when the delegate's badge was admitted (`ok`) on that session's own list, whoever scanned it: a
room's scanner, or an organiser adding a missed scan by hand (device ORGANISER_DEVICE, audited). A plenary also
counts without a scan of its own when the organisers say so (`plenaries_on_door_scan`) and the delegate was seen
at the door on the plenary's day: the door admits once for the whole event, so a later day's presence is the
door's `already_checked_in` scan of that day, or any session scan that day. A cancelled session never counts.
Certificates (sessions/attendance/) and feedback (sessions/feedback/) both ask here, so they agree.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core.models import Checkin
from sessions.models import Kind, ProgrammeSession

DOOR = "door"
ORGANISER_DEVICE = "organiser"  # the device of a scan an organiser added by hand
_SEEN = ("ok", "already_checked_in")  # a door scan that shows the delegate was there that day
_CHUNK = 500  # registration ids per query (SQLite's bound-parameter limit is far above; keeps plans small)


@dataclass(frozen=True)
class Attended:
    """One session a delegate attended, as verified, and how: `scan` at the session itself, `organiser` (a missed
    scan added by hand), or `door` (a plenary on that day's door scan)."""

    session_id: uuid.UUID
    title: str
    kind: Kind
    starts_at: datetime
    ends_at: datetime
    via: str


@dataclass
class _Seen:
    admitted: bool = False
    days: set[date] | None = None
    sessions: dict[uuid.UUID, str] | None = None  # session id -> via


def _chunks(ids: Sequence[uuid.UUID]) -> Iterable[Sequence[uuid.UUID]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


async def _sessions(db: AsyncSession, conference_id: int) -> dict[uuid.UUID, ProgrammeSession]:
    rows = (
        await db.execute(
            sa.select(ProgrammeSession).where(col(ProgrammeSession.conference_id) == conference_id)
        )
    ).scalars()
    return {s.id: s for s in rows}


async def attended_sessions(
    db: AsyncSession,
    *,
    conference_id: int,
    registration_ids: Sequence[uuid.UUID],
    plenaries_on_door_scan: bool,
    zone: ZoneInfo,
) -> dict[uuid.UUID, list[Attended]]:
    """Each delegate's verified sessions in time order, for delegates admitted at the door (a delegate never
    admitted at the door has no entry: no certificate and no feedback, whatever else was scanned)."""
    sessions = await _sessions(db, conference_id)
    seen: dict[uuid.UUID, _Seen] = defaultdict(_Seen)
    for chunk in _chunks(list(registration_ids)):
        rows = await db.execute(
            sa.select(
                col(Checkin.registration_id),
                col(Checkin.list),
                col(Checkin.result),
                col(Checkin.scanned_at),
                col(Checkin.device),
            ).where(col(Checkin.registration_id).in_(chunk), col(Checkin.result).in_(_SEEN))
        )
        for registration_id, list_name, result, scanned_at, device in rows:
            assert registration_id is not None
            s = seen[registration_id]
            s.days = s.days if s.days is not None else set()
            s.sessions = s.sessions if s.sessions is not None else {}
            if list_name == DOOR:
                s.admitted = s.admitted or result == "ok"
                s.days.add(scanned_at.astimezone(zone).date())
                continue
            if result != "ok":
                continue
            try:
                session_id = uuid.UUID(list_name)
            except ValueError:
                continue
            session = sessions.get(session_id)
            if session is None:
                continue
            s.days.add(session.starts_at.astimezone(zone).date())
            s.sessions[session_id] = "organiser" if device == ORGANISER_DEVICE else "scan"
    plenaries = [s for s in sessions.values() if s.kind == Kind.plenary and not s.cancelled]
    answer: dict[uuid.UUID, list[Attended]] = {}
    for registration_id, s in seen.items():
        if not s.admitted:
            continue
        via = dict(s.sessions or {})
        if plenaries_on_door_scan:
            for p in plenaries:
                if p.id not in via and p.starts_at.astimezone(zone).date() in (s.days or set()):
                    via[p.id] = "door"
        attended = [
            Attended(
                sid,
                sessions[sid].title,
                sessions[sid].kind,
                sessions[sid].starts_at,
                sessions[sid].ends_at,
                how,
            )
            for sid, how in via.items()
            if not sessions[sid].cancelled
        ]
        answer[registration_id] = sorted(attended, key=lambda a: (a.starts_at, a.title))
    return answer


async def attended_by(
    db: AsyncSession,
    *,
    conference_id: int,
    registration_id: uuid.UUID,
    plenaries_on_door_scan: bool,
    zone: ZoneInfo,
) -> list[Attended]:
    """One delegate's verified sessions (empty when they were never admitted at the door)."""
    found = await attended_sessions(
        db,
        conference_id=conference_id,
        registration_ids=[registration_id],
        plenaries_on_door_scan=plenaries_on_door_scan,
        zone=zone,
    )
    return found.get(registration_id, [])
