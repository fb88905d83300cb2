"""Spreadsheets for organisers: the delegate list, dietary and access needs for the venue, and attendance.

Each export is a header row and rows of plain values, written as CSV (UTF-8 with a byte order mark, so Excel
reads accents right) or as an Excel workbook (openpyxl's write_only mode streams the rows). Both neutralise
text that a spreadsheet would run as a formula (OWASP's "CSV injection"): a cell starting with = + - @, a tab or
a carriage return gets a leading apostrophe. A registration whose personal data was erased appears with its
reference, status, ticket and dates only.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import hooks
from conference.core.models import (
    HOLDING,
    SECTOR_LABELS,
    Checkin,
    Conference,
    Registration,
    Status,
    TicketType,
)
from conference.places import get_conference

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
KINDS = ("delegates", "dietary", "attendance")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ERASED = "[erased]"
STATUS_LABELS = {
    Status.confirmed: "Confirmed",
    Status.pending_payment: "Pending payment",
    Status.awaiting_approval: "Awaiting approval",
    Status.waitlisted: "Waitlisted",
    Status.cancelled: "Cancelled",
}
METHOD_LABELS = {"none": "Nothing to pay", "card": "Card", "invoice": "Invoice"}

Cell = str | int | datetime | None


@dataclass(frozen=True)
class Sheet:
    title: str  # the workbook's sheet name (at most 31 characters)
    header: list[str]
    rows: list[list[Cell]]
    widths: Sequence[int] = ()


def safe(value: Cell) -> Cell:
    """A cell's value as a spreadsheet may show it: text that would start a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    # Local wall time without an offset: what a spreadsheet can hold (openpyxl refuses aware datetimes).
    return moment.astimezone(zone).replace(tzinfo=None, microsecond=0) if moment else None


def to_csv(sheet: Sheet) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe(h) for h in sheet.header])
    for row in sheet.rows:
        writer.writerow(
            [
                v.strftime("%Y-%m-%d %H:%M") if isinstance(v, datetime) else "" if v is None else safe(v)
                for v in row
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _xlsx_text(value: Cell) -> Cell:
    value = safe(value)
    # Control characters (other than tab and line breaks) cannot be stored in the file's XML.
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def to_xlsx(sheet: Sheet) -> bytes:
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(sheet.title[:31])
    for i, width in enumerate(sheet.widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for text in sheet.header:
        cell = WriteOnlyCell(ws, value=_xlsx_text(text))
        cell.font = bold
        header.append(cell)
    ws.append(header)
    for row in sheet.rows:
        cells: list[Any] = []
        for value in row:
            if isinstance(value, datetime):
                cell = WriteOnlyCell(ws, value=value)
                cell.number_format = "yyyy-mm-dd hh:mm"
                cells.append(cell)
            else:
                cells.append(_xlsx_text(value))
        ws.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def render(sheet: Sheet, fmt: str) -> bytes:
    return to_csv(sheet) if fmt == "csv" else to_xlsx(sheet)


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
        sa.select(Registration, TicketType.name)
        .join(TicketType, col(TicketType.id) == Registration.ticket_type_id)
        .where(*where)
        .order_by(col(Registration.number))
    )
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
                STATUS_LABELS[r.status],
                *person,
                ticket,
                METHOD_LABELS.get(r.payment_method.value, r.payment_method.value),
                _local(r.created_at, zone),
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
        ],
        rows,
        (12, 18, 28, 34, 34, 24, 28, 22, 20, 16, 20),
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
            sa.select(Checkin.registration_id, Checkin.list, Checkin.scanned_at)
            .where(col(Checkin.result) == "ok", col(Checkin.registration_id).is_not(None))
            .order_by(col(Checkin.scanned_at))
        )
    ).all()
    door: dict[uuid.UUID, datetime] = {}
    sessions: dict[uuid.UUID, list[tuple[str, datetime]]] = {}
    for registration_id, list_name, scanned_at in admissions:
        if list_name == "door":
            door.setdefault(registration_id, scanned_at)
        else:
            sessions.setdefault(registration_id, []).append((list_name, scanned_at))
    ids = {uuid.UUID(name) for visits in sessions.values() for name, _ in visits if _is_uuid(name)}
    # Session check-in lists are named by the package that has them (sessions: the session's title).
    titles = await hooks.collect_checkin_list_titles(db, ids) if ids else {}
    came = set(door) | set(sessions)
    stmt = (
        sa.select(Registration, TicketType.name)
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
            f"{titles.get(name, 'Unknown session')} ({_local(at, zone):%d %b %H:%M})" for name, at in visits
        )
        person: list[Cell] = [ERASED, ""] if _erased(r) else [r.name, r.organisation]
        rows.append(
            [
                r.reference,
                *person,
                ticket,
                STATUS_LABELS[r.status],
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
