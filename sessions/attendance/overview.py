"""What the organisers' after-event pages show: the delegates admitted at the door with their certificates (a
search by name or reference), the counts, and one delegate's verified attendance and certificates."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core.models import Checkin, Registration
from sessions.models import ProgrammeSession
from sessions.models.attendance import AfterEventSettings, Certificate, CertificateStatus
from sessions.workshops.attended import DOOR, ORGANISER_DEVICE, Attended, attended_by

LIST_LIMIT = 100  # rows on the page; a search finds the others
STATES = {"": "Everyone admitted", "with": "With a certificate", "without": "Without a certificate"}


@dataclass(frozen=True)
class DelegateRow:
    registration: Registration
    certificate: Certificate | None


@dataclass(frozen=True)
class Counts:
    admitted: int
    certified: int  # with a current certificate
    withdrawn: int  # certificates withdrawn by an organiser


@dataclass
class DelegateDetail:
    registration: Registration
    admitted: bool
    attended: list[Attended]
    current: Certificate | None
    history: list[Certificate]  # every certificate they were issued, newest first
    added_scans: list[tuple[Checkin, str]] = field(default_factory=list)  # (scan, session title)
    can_add: list[ProgrammeSession] = field(default_factory=list)  # sessions a missed scan may be added for


def _admitted_ids() -> sa.Select[uuid.UUID | None]:
    return sa.select(col(Checkin.registration_id)).where(
        col(Checkin.list) == DOOR, col(Checkin.result) == "ok"
    )


def _current_join() -> sa.ColumnElement[bool]:
    return sa.and_(
        col(Certificate.registration_id) == col(Registration.id),
        col(Certificate.status) == CertificateStatus.issued,
    )


async def delegate_rows(
    db: AsyncSession, conference_id: int, *, q: str = "", state: str = "", limit: int = LIST_LIMIT
) -> tuple[list[DelegateRow], int]:
    """Delegates admitted at the door, by name, with their current certificate; and how many match in all."""
    where: list[sa.ColumnElement[bool]] = [
        col(Registration.conference_id) == conference_id,
        col(Registration.id).in_(_admitted_ids()),
    ]
    if q:
        needle = q.lower()
        where.append(
            sa.or_(
                sa.func.lower(col(Registration.name)).contains(needle, autoescape=True),
                sa.func.lower(col(Registration.reference)).contains(needle, autoescape=True),
            )
        )
    if state == "with":
        where.append(col(Certificate.id).is_not(None))
    elif state == "without":
        where.append(col(Certificate.id).is_(None))
    base = sa.select(Registration, Certificate).outerjoin(Certificate, _current_join()).where(*where)
    total = int((await db.execute(sa.select(sa.func.count()).select_from(base.subquery()))).scalar_one())
    rows = await db.execute(base.order_by(col(Registration.name), col(Registration.reference)).limit(limit))
    return [DelegateRow(r, c) for r, c in rows.all()], total


async def counts(db: AsyncSession, conference_id: int) -> Counts:
    admitted = sa.select(sa.func.count()).where(
        col(Registration.conference_id) == conference_id, col(Registration.id).in_(_admitted_ids())
    )

    def certificates(status: CertificateStatus) -> sa.Select[int]:
        return sa.select(sa.func.count()).where(
            col(Certificate.conference_id) == conference_id, col(Certificate.status) == status
        )

    return Counts(
        admitted=int((await db.execute(admitted)).scalar_one()),
        certified=int((await db.execute(certificates(CertificateStatus.issued))).scalar_one()),
        withdrawn=int((await db.execute(certificates(CertificateStatus.withdrawn))).scalar_one()),
    )


async def delegate_detail(
    db: AsyncSession, registration: Registration, rules: AfterEventSettings, zone: ZoneInfo
) -> DelegateDetail:
    admitted = bool(
        (
            await db.execute(
                sa.select(sa.func.count()).where(
                    col(Checkin.registration_id) == registration.id,
                    col(Checkin.list) == DOOR,
                    col(Checkin.result) == "ok",
                )
            )
        ).scalar_one()
    )
    attended = await attended_by(
        db,
        conference_id=registration.conference_id,
        registration_id=registration.id,
        plenaries_on_door_scan=rules.plenaries_on_door_scan,
        zone=zone,
    )
    history = list(
        (
            await db.execute(
                sa.select(Certificate)
                .where(col(Certificate.registration_id) == registration.id)
                .order_by(col(Certificate.issued_at).desc())
            )
        ).scalars()
    )
    current = next((c for c in history if c.status == CertificateStatus.issued), None)
    sessions = {
        s.id: s
        for s in (
            await db.execute(
                sa.select(ProgrammeSession)
                .where(col(ProgrammeSession.conference_id) == registration.conference_id)
                .order_by(col(ProgrammeSession.starts_at), col(ProgrammeSession.title))
            )
        ).scalars()
    }
    scanned = {
        list_name
        for (list_name,) in await db.execute(
            sa.select(col(Checkin.list)).where(
                col(Checkin.registration_id) == registration.id, col(Checkin.result) == "ok"
            )
        )
    }
    added = list(
        (
            await db.execute(
                sa.select(Checkin)
                .where(
                    col(Checkin.registration_id) == registration.id,
                    col(Checkin.device) == ORGANISER_DEVICE,
                    col(Checkin.result) == "ok",
                )
                .order_by(col(Checkin.received_at))
            )
        ).scalars()
    )
    added_scans = []
    for checkin in added:
        try:
            title = sessions[uuid.UUID(checkin.list)].title
        except (ValueError, KeyError):
            title = "A session no longer in the programme"
        added_scans.append((checkin, title))
    can_add = [s for s in sessions.values() if not s.cancelled and str(s.id) not in scanned]
    return DelegateDetail(registration, admitted, attended, current, history, added_scans, can_add)
