"""What door staff see beyond a scan's answer: the list a scanner keeps for offline use, the search for a
delegate without a badge, and the organisers' switch that shows delegates' access needs at the door.

The kept list is the scanner's whole offline memory, so it stays small: one short entry per delegate (about
150 bytes of JSON; 1,000 delegates are ~150 KB, tens of KB gzipped, which is how it is sent to a client that
accepts gzip; bench/README.md). Access needs are in it only while the organisers have switched them on, and only for delegates
who gave some.

The switch is the organisers' last recorded choice in the audit trail (`badges.door.access_needs`, data
`{"shown": true|false}`): the audit entry every setting change needs anyway, read back through its index on
`action`, with no table of its own (and no migration).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from badges.checkin import DOOR
from badges.codes import BadgeSigner
from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import AuditEntry, Checkin, Registration, Status, utcnow
from sessions.models import ProgrammeSession, SeatBooking, SeatStatus

__all__ = [
    "ACCESS_NEEDS_ACTION",
    "access_needs_shown",
    "door_list",
    "list_title",
    "search",
    "show_access_needs",
]

ACCESS_NEEDS_ACTION = "badges.door.access_needs"
SEARCH_LIMIT = 20


async def access_needs_shown(db: AsyncSession) -> bool:
    """Whether door staff see delegates' access needs (off until an organiser switches it on)."""
    data = (
        await db.execute(
            sa.select(col(AuditEntry.data))
            .where(col(AuditEntry.action) == ACCESS_NEEDS_ACTION)
            .order_by(col(AuditEntry.id).desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return bool(isinstance(data, dict) and data.get("shown") is True)


async def show_access_needs(database: Database, *, shown: bool, actor: Actor) -> None:
    async with database.transaction() as db:
        await audit.record(db, ACCESS_NEEDS_ACTION, actor=actor, shown=shown)


async def list_title(db: AsyncSession, list_name: str) -> str:
    """How people name a list: "The conference (main door)" or the workshop's title."""
    if list_name == DOOR:
        return "The conference (main door)"
    title = (
        await db.execute(
            sa.select(col(ProgrammeSession.title)).where(col(ProgrammeSession.id) == uuid.UUID(list_name))
        )
    ).scalar_one_or_none()
    return title or "A session that no longer exists"


def _admitted(list_name: str) -> Any:
    return sa.select(col(Checkin.registration_id), col(Checkin.scanned_at)).where(
        col(Checkin.list) == list_name, col(Checkin.result) == "ok"
    )


async def door_list(database: Database, signer: BadgeSigner, list_name: str) -> dict[str, Any]:
    """What a scanner keeps to work offline: who may come in (and their badge version), and who already has."""
    async with database.read() as db:
        needs = await access_needs_shown(db)
        columns = [
            col(Registration.reference),
            col(Registration.name),
            col(Registration.organisation),
            col(Registration.status),
            col(Registration.badge_version),
            col(Registration.id),
        ]
        stmt = sa.select(*columns, *([col(Registration.access_needs)] if needs else []))
        if list_name != DOOR:
            stmt = stmt.join(SeatBooking, col(SeatBooking.registration_id) == Registration.id).where(
                col(SeatBooking.session_id) == uuid.UUID(list_name),
                col(SeatBooking.status) == SeatStatus.booked,
            )
        rows = (await db.execute(stmt.order_by(col(Registration.reference)))).all()
        admitted = dict((await db.execute(_admitted(list_name))).all())
        title = await list_title(db, list_name)
    entries = []
    for r in rows:
        entry: dict[str, Any] = {
            "reference": r.reference,
            "name": r.name,
            "organisation": r.organisation,
            "status": r.status.value,
            "badge_version": r.badge_version,
            "checked_in_at": admitted[r.id].isoformat() if r.id in admitted else None,
        }
        if needs and r.access_needs:
            entry["access_needs"] = r.access_needs
        entries.append(entry)
    digest = hashlib.sha256(
        repr(
            [
                (e["reference"], e["status"], e["badge_version"], e["checked_in_at"], e.get("access_needs"))
                for e in entries
            ]
        ).encode()
    ).hexdigest()[:16]
    return {
        "list": list_name,
        "title": title,
        "generated_at": utcnow().isoformat(),
        "algorithm": "Ed25519",
        "public_key": signer.public_key_b64,
        "version": digest,
        "access_needs_shown": needs,
        "entries": entries,
    }


async def search(database: Database, query: str, *, list_name: str = DOOR) -> list[dict[str, Any]]:
    """Delegates without their badge, by name, reference or organisation, each with where they stand on
    `list_name`: `checked_in_at` (or null), and for a session whether they have a seat (`booked`)."""
    q = query.strip()
    if len(q) < 2:
        raise errors.InvalidInput(fields={"q": "Type at least two letters of the name or the reference."})
    pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    async with database.read() as db:
        needs = await access_needs_shown(db)
        rows = (
            await db.execute(
                sa.select(
                    col(Registration.id),
                    col(Registration.reference),
                    col(Registration.name),
                    col(Registration.organisation),
                    col(Registration.status),
                    col(Registration.access_needs),
                )
                .where(
                    sa.or_(
                        sa.func.lower(col(Registration.name)).like(pattern, escape="\\"),
                        sa.func.lower(col(Registration.reference)).like(pattern, escape="\\"),
                        sa.func.lower(col(Registration.organisation)).like(pattern, escape="\\"),
                    )
                )
                .order_by(col(Registration.name))
                .limit(SEARCH_LIMIT)
            )
        ).all()
        ids = [r.id for r in rows]
        admitted: dict[uuid.UUID, datetime] = (
            dict((await db.execute(_admitted(list_name).where(col(Checkin.registration_id).in_(ids)))).all())
            if ids
            else {}
        )
        booked: set[uuid.UUID] | None = None
        if list_name != DOOR and ids:
            booked = set(
                (
                    await db.execute(
                        sa.select(col(SeatBooking.registration_id)).where(
                            col(SeatBooking.session_id) == uuid.UUID(list_name),
                            col(SeatBooking.status) == SeatStatus.booked,
                            col(SeatBooking.registration_id).in_(ids),
                        )
                    )
                ).scalars()
            )
    found = []
    for r in rows:
        person: dict[str, Any] = {
            "reference": r.reference,
            "name": r.name,
            "organisation": r.organisation,
            "status": r.status.value,
            "checked_in_at": admitted[r.id].isoformat() if r.id in admitted else None,
            "booked": None if list_name == DOOR else (booked is not None and r.id in booked),
            "can_check_in": _can_check_in(r.status, r.id in admitted, list_name, booked, r.id),
        }
        if needs and r.access_needs:
            person["access_needs"] = r.access_needs
        found.append(person)
    return found


def _can_check_in(
    status: Status, inside: bool, list_name: str, booked: set[uuid.UUID] | None, registration_id: uuid.UUID
) -> bool:
    """Whether a scan by reference would answer `ok` now (the page offers "Check in" only then)."""
    if status != Status.confirmed or inside:
        return False
    return list_name == DOOR or (booked is not None and registration_id in booked)
