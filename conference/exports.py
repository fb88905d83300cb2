"""Spreadsheets for organisers: the delegate list, dietary and access needs for the venue, and attendance.

Each export is a header row and rows of plain values (a Sheet), written as CSV or as an Excel workbook by
conference/core/spreadsheets.py, which also neutralises text a spreadsheet would run as a formula. A
registration whose personal data was erased appears with its reference, status, ticket and dates only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference import answers
from conference.core import formats, hooks
from conference.core.models import (
    HOLDING,
    METHOD_LABELS,
    SECTOR_LABELS,
    STATUS_LABELS,
    Checkin,
    Conference,
    Registration,
    TicketType,
)
from conference.core.spreadsheets import Cell, Sheet
from conference.places import get_conference
from conference.questions import all_questions

KINDS = ("delegates", "dietary", "attendance")
ERASED = "[erased]"


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    # Local wall time without an offset: what a spreadsheet can hold (openpyxl refuses aware datetimes).
    return moment.astimezone(zone).replace(tzinfo=None, microsecond=0) if moment else None


def filename(kind: str, fmt: str, today: date) -> str:
    return f"{kind}-{today.isoformat()}.{fmt}"


def _erased(r: Registration) -> bool:
    return r.erased_at is not None


async def _conference(db: AsyncSession) -> Conference:
    return await get_conference(db)


async def delegates(db: AsyncSession, where: Iterable[Any]) -> Sheet:
    """The delegate list, in arrival order, filtered like the console's list (`where`)."""
    conference = await _conference(db)
    zone = ZoneInfo(conference.timezone)
    stmt = (
        sa.select(Registration, col(TicketType.name))
        .join(TicketType, col(TicketType.id) == Registration.ticket_type_id)
        .where(*where)
        .order_by(col(Registration.number))
    )
    # One column per registration question ever asked (hidden ones too), each answer as it was given.
    asked = await all_questions(db)
    rows: list[list[Cell]] = []
    for r, ticket in (await db.execute(stmt)).all():
        person: list[Cell] = (
            [ERASED, "", "", "", "", ""]
            if _erased(r)
            else [
                r.name,
                r.email,
                r.organisation,
                r.job_title,
                SECTOR_LABELS.get(r.sector, r.sector.value),
                r.region,
            ]
        )
        rows.append(
            [
                r.reference,
                STATUS_LABELS[r.status.value],
                *person,
                ticket,
                METHOD_LABELS.get(r.payment_method.value, r.payment_method.value),
                _local(r.created_at, zone),
                *answers.export_cells(asked, None if _erased(r) else r.answers),
            ]
        )
    return Sheet(
        "Delegates",
        [
            "Reference",
            "Status",
            "Name",
            "Email",
            "Organisation",
            "Job title",
            "Sector",
            "Region",
            "Ticket type",
            "Payment method",
            f"Registered ({conference.timezone})",
            *answers.export_headers(asked),
        ],
        rows,
        (12, 18, 28, 34, 34, 24, 28, 22, 20, 16, 20, *(30 for _ in asked)),
    )


async def dietary(db: AsyncSession) -> Sheet:
    """For the venue: delegates holding a place (not the waiting list, not cancelled) with a dietary requirement
    or an access need."""
    conference = await _conference(db)
    stmt = (
        sa.select(Registration)
        .where(
            col(Registration.conference_id) == conference.id,
            col(Registration.status).in_(HOLDING),
            col(Registration.erased_at).is_(None),
            sa.or_(sa.func.trim(Registration.dietary) != "", sa.func.trim(Registration.access_needs) != ""),
        )
        .order_by(col(Registration.number))
    )
    rows: list[list[Cell]] = [
        [r.reference, r.name, r.organisation, r.dietary, r.access_needs]
        for r in (await db.execute(stmt)).scalars()
    ]
    return Sheet(
        "Dietary and access",
        ["Reference", "Name", "Organisation", "Dietary requirements", "Access needs"],
        rows,
        (12, 28, 34, 40, 50),
    )


async def attendance(db: AsyncSession) -> Sheet:
    """Who came: every delegate holding a place, and anyone else admitted somewhere (cancelled since, say), with
    the door check-in and each session they were checked in to (admissions only: refused scans are left out)."""
    conference = await _conference(db)
    zone = ZoneInfo(conference.timezone)
    admissions = (
        await db.execute(
            sa.select(col(Checkin.registration_id), col(Checkin.list), col(Checkin.scanned_at))
            .where(col(Checkin.result) == "ok", col(Checkin.registration_id).is_not(None))
            .order_by(col(Checkin.scanned_at))
        )
    ).all()
    door: dict[uuid.UUID, datetime] = {}
    sessions: dict[uuid.UUID, list[tuple[str, datetime]]] = {}
    for registration_id, list_name, scanned_at in admissions:
        assert registration_id is not None  # the query leaves out scans of no registration
        if list_name == "door":
            door.setdefault(registration_id, scanned_at)
        else:
            sessions.setdefault(registration_id, []).append((list_name, scanned_at))
    ids = {uuid.UUID(name) for visits in sessions.values() for name, _ in visits if _is_uuid(name)}
    # Session check-in lists are named by the package that has them (sessions: the session's title).
    titles = await hooks.collect_checkin_list_titles(db, ids) if ids else {}
    came = set(door) | set(sessions)
    stmt = (
        sa.select(Registration, col(TicketType.name))
        .join(TicketType, col(TicketType.id) == Registration.ticket_type_id)
        .where(
            col(Registration.conference_id) == conference.id,
            sa.or_(col(Registration.status).in_(HOLDING), col(Registration.id).in_(came))
            if came
            else col(Registration.status).in_(HOLDING),
        )
        .order_by(col(Registration.number))
    )
    rows: list[list[Cell]] = []
    for r, ticket in (await db.execute(stmt)).all():
        visits = sessions.get(r.id, [])
        attended = "; ".join(
            f"{titles.get(name, 'Unknown session')} ({formats.when(at, zone)})" for name, at in visits
        )
        person: list[Cell] = [ERASED, ""] if _erased(r) else [r.name, r.organisation]
        rows.append(
            [
                r.reference,
                *person,
                ticket,
                STATUS_LABELS[r.status.value],
                "Yes" if r.id in came else "No",
                _local(door.get(r.id), zone),
                len(visits),
                attended,
            ]
        )
    return Sheet(
        "Attendance",
        [
            "Reference",
            "Name",
            "Organisation",
            "Ticket type",
            "Status",
            "Came",
            f"Door check-in ({conference.timezone})",
            "Sessions attended",
            "Session check-ins",
        ],
        rows,
        (12, 28, 34, 20, 18, 8, 20, 10, 80),
    )


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
