"""Check-in: a scan at the door or a workshop room answers in one short write, and every scan is recorded.

A scan reads the badge's registration and writes one `checkin` row, in a write transaction it shares with the
scans arriving with it (badges/checkin_queue.py, badges/admissions.py). The unique index on admissions
(`uq_checkin_admitted`: one `ok` per delegate per list) decides races between scanners: the loser's insert
fails, and it answers `already_checked_in` with the winner's time and place. Offline scanners upload their
queue later (`sync`): scans are merged in the order they were made, and a delegate that an offline device
let in although somebody else already had is flagged (`conflict`) for the organisers.

A scan may carry the device's `scan_id`: a repeat of exactly that scan (the same code or reference, list and
device) is answered from the first record; the id used for anything else is refused (ScanIdReused, 409), so a
known id can't turn a forged or cancelled badge into the first delegate's `ok`.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from badges.codes import BadgeSigner, InvalidBadge, for_staff
from conference.core import audit, errors, metrics
from conference.core.audit import Actor
from conference.core.db import UNAVAILABLE, Database, lock_for_update
from conference.core.models import Checkin, Registration, Status, utcnow
from sessions.models import ProgrammeSession, SeatBooking, SeatStatus

DOOR = "door"
# What a scan can answer (API.md), plus `no_place` for a delegate on the waiting list or awaiting approval.
RESULTS = ("ok", "already_checked_in", "invalid", "cancelled", "unpaid", "not_booked", "no_place")
REFUSALS = {
    "invalid": "This is not a valid badge for this conference.",
    "cancelled": "This registration is cancelled.",
    "unpaid": "Payment for this place has not arrived.",
    "not_booked": "This delegate has no seat in this session.",
    "no_place": "This delegate has no place yet (waiting list or awaiting approval).",
}

# Built once: on the scan path, building a statement costs more than SQLite takes to run it.
_REGISTRATION = sa.select(
    col(Registration.id),
    col(Registration.reference),
    col(Registration.name),
    col(Registration.organisation),
    col(Registration.status),
    col(Registration.badge_version),
).where(col(Registration.reference) == sa.bindparam("reference"))
_ADMISSION = sa.select(col(Checkin.scanned_at), col(Checkin.device), col(Checkin.staff)).where(
    col(Checkin.registration_id) == sa.bindparam("registration_id"),
    col(Checkin.list) == sa.bindparam("list"),
    col(Checkin.result) == "ok",
)
_SEAT = sa.select(col(SeatBooking.status)).where(
    col(SeatBooking.session_id) == sa.bindparam("session_id"),
    col(SeatBooking.registration_id) == sa.bindparam("registration_id"),
    col(SeatBooking.status) != SeatStatus.cancelled,
)
# The table itself (SQLModel does not declare `__table__` for type checkers): Core statements, no ORM bookkeeping.
_CHECKIN: sa.Table = Checkin.metadata.tables[Checkin.__tablename__]
_INSERT = sa.insert(_CHECKIN)
_BY_SCAN_ID = sa.select(
    col(Checkin.id),
    col(Checkin.result),
    col(Checkin.registration_id),
    col(Checkin.list),
    col(Checkin.scanned_at),
    col(Checkin.reason),
    col(Checkin.conflict),
    col(Checkin.device),
    col(Checkin.scan_digest),
).where(col(Checkin.scan_id) == sa.bindparam("scan_id"))
_ATTENDEE = sa.select(
    col(Registration.name), col(Registration.organisation), col(Registration.reference)
).where(col(Registration.id) == sa.bindparam("registration_id"))
# INSERT ... ON CONFLICT DO NOTHING against the partial unique index of admissions (both dialects have it).
_ADMIT = {
    dialect.__name__.rsplit(".", 1)[-1]: dialect.insert(_CHECKIN)
    .on_conflict_do_nothing(index_elements=["registration_id", "list"], index_where=sa.text("result = 'ok'"))
    .returning(col(Checkin.id))
    for dialect in (sqlite, postgresql)
}


@dataclass(frozen=True)
class Scan:
    """One scan as a device reports it. `code` is the QR text; `reference` is a manual look-up instead."""

    list: str
    code: str = ""
    reference: str = ""
    device: str = ""
    scanned_at: datetime | None = None
    offline: bool = False
    shown: str = ""  # what an offline device showed ("ok" when it let the delegate in)
    scan_id: str = ""  # the device's id for this scan: an exact repeat is answered from the first record


@dataclass
class ScanResult:
    result: str
    attendee: dict[str, str] | None = None
    checked_in_at: datetime | None = None
    first: dict[str, Any] | None = (
        None  # for already_checked_in: when, where and by whom the first admission was
    )
    reason: str = ""
    conflict: bool = False
    registration_id: uuid.UUID | None = field(default=None, repr=False)
    checkin_id: uuid.UUID | None = None  # the admission's record, for an `ok` (what undo names)

    def public(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "result": self.result,
            "attendee": self.attendee,
            "checked_in_at": self.checked_in_at.isoformat() if self.checked_in_at else None,
        }
        if self.first is not None:
            body["first_checkin"] = self.first
        if self.result != "ok":
            body["message"] = self.reason or REFUSALS.get(self.result, "")
        if self.conflict:
            body["conflict"] = True
        if self.result == "ok" and self.checkin_id is not None:
            body["checkin_id"] = str(self.checkin_id)
        return body


class ScanIdReused(errors.DomainError):
    code = "scan_id_reused"
    message = (
        "This scan_id was already used for a different scan (another badge, list or device); "
        "give every new scan a new scan_id."
    )


def scan_digest(scan: Scan) -> str:
    """What was scanned, as the judge reads it (a reference, when given, before the code): SHA-256 in hex."""
    reference = scan.reference.strip().upper()
    what = f"reference:{reference}" if reference else f"code:{scan.code}"
    return hashlib.sha256(what.encode()).hexdigest()


async def resolve_list(db: AsyncSession, name: str) -> str:
    """`door`, or the id of a session that exists (as its canonical text)."""
    if name == DOOR:
        return DOOR
    try:
        session_id = uuid.UUID(name)
    except (ValueError, AttributeError):
        raise errors.InvalidInput(
            fields={"list": 'Use "door" or the id of a session from /api/v1/sessions.'}
        ) from None
    if await db.get(ProgrammeSession, session_id) is None:
        raise errors.InvalidInput(
            fields={"list": "No session has this id; check the list in /api/v1/sessions."}
        )
    return str(session_id)


async def check_in(database: Database, signer: BadgeSigner, scan: Scan, *, actor: Actor) -> ScanResult:
    """Answer one scan (its list resolved) and record it, in a write transaction of its own: an offline
    scanner's queue (`sync`). Live scans share transactions instead (badges/checkin_queue.py)."""
    for attempt in (1, 2):
        try:
            async with database.transaction() as db:
                outcome = await scan_in(db, signer, scan, actor=actor)
            break
        except IntegrityError:
            if attempt == 2 or not scan.scan_id:
                raise
            # The same scan id arrived twice at once (a retry overtaking its first attempt): answer as the first.
    metrics.CHECKINS.labels(outcome.result).inc()  # committed
    return outcome


async def scan_in(db: AsyncSession, signer: BadgeSigner, scan: Scan, *, actor: Actor) -> ScanResult:
    """Judge and record one scan in the caller's write transaction.

    An admission is an INSERT that does nothing when the delegate is already in (the unique index on `ok` rows):
    no read-then-write race, and a first scan costs a single statement after the badge's lookup.
    """
    conn = await db.connection()
    digest = scan_digest(scan) if scan.scan_id else None
    if scan.scan_id:
        seen = (await conn.execute(_BY_SCAN_ID, {"scan_id": scan.scan_id})).first()
        if seen is not None:
            if not await _same_scan(db, signer, scan, digest, seen):
                raise ScanIdReused()
            return await _replay(conn, seen)
    outcome, registration_id = await judge(db, signer, scan)
    row = checkin_row(scan, outcome, registration_id, actor=actor, digest=digest)
    scanned_at, checkin_id = row["scanned_at"], row["id"]
    outcome.registration_id = registration_id
    if outcome.result == "ok":
        if (await conn.execute(_ADMIT[conn.dialect.name], row)).first() is not None:
            outcome.checked_in_at, outcome.checkin_id = scanned_at, checkin_id
            return outcome
        # Already in (perhaps a moment ago, at another door): answer with that admission.
        first = (
            await conn.execute(_ADMISSION, {"registration_id": registration_id, "list": scan.list})
        ).first()
        assert first is not None and outcome.attendee is not None
        outcome = already(outcome.attendee, first)
        outcome.registration_id = registration_id
        row["result"] = outcome.result
        if scan.offline and scan.shown == "ok":
            # An offline device let this delegate in although somebody else already had: flag it.
            outcome.conflict = row["conflict"] = True
    await conn.execute(_INSERT, row)
    return outcome


def checkin_row(
    scan: Scan,
    outcome: ScanResult,
    registration_id: uuid.UUID | None,
    *,
    actor: Actor,
    digest: str | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The `checkin` row that records a scan and what it answered (an admission: `result` ok)."""
    now = now or utcnow()
    return {
        "id": uuid.uuid4(),
        "registration_id": registration_id,
        "list": scan.list,
        "result": outcome.result,
        "device": scan.device[:100],
        "staff": actor.label[:120],
        "scanned_at": scan.scanned_at or now,
        "received_at": now,
        "offline": scan.offline,
        "conflict": False,
        "reason": outcome.reason[:200],
        "scan_id": scan.scan_id or None,
        "scan_digest": digest,
    }


def read_badge(signer: BadgeSigner, scan: Scan) -> tuple[str, int | None] | ScanResult:
    """The reference a scan names and the badge's version (None for a reference typed or found by search), or
    the `invalid` answer for a code that is no genuine badge. No database."""
    reference = scan.reference.strip().upper()
    if reference:
        return reference, None
    try:
        claim = signer.verify(scan.code)
    except InvalidBadge as exc:
        return ScanResult("invalid", reason=f"Not a valid badge: {for_staff(exc.reason)}")
    return claim.reference, claim.version


_REFUSED = {
    Status.cancelled: "cancelled",
    Status.pending_payment: "unpaid",
    Status.waitlisted: "no_place",
    Status.awaiting_approval: "no_place",
    Status.awaiting_verification: "no_place",
}


def judge_row(scan: Scan, row: Any, version: int | None, seat: Any = None) -> ScanResult:
    """What a scan of the registration `row` (None: nobody) answers, short of whether the delegate is already in;
    `seat` is their seat's row on a session's list (None: no seat)."""
    if row is None:
        return ScanResult("invalid", reason="No registration has this badge.")
    attendee = {"name": row.name, "organisation": row.organisation, "reference": row.reference}
    if version is not None and version != row.badge_version:
        return ScanResult(
            "invalid", attendee, reason="This badge was replaced by a newer one; use the new badge."
        )
    refusal = _REFUSED.get(row.status)
    if refusal is not None:
        return ScanResult(refusal, attendee)
    if scan.list != DOOR and (seat is None or seat.status != SeatStatus.booked):
        return ScanResult("not_booked", attendee)
    return ScanResult("ok", attendee)


async def judge(db: AsyncSession, signer: BadgeSigner, scan: Scan) -> tuple[ScanResult, uuid.UUID | None]:
    """What this scan should answer, short of whether the delegate is already in (the admission decides)."""
    read = read_badge(signer, scan)
    if isinstance(read, ScanResult):
        return read, None
    reference, version = read
    conn = await db.connection()
    row = (await conn.execute(_REGISTRATION, {"reference": reference})).first()
    seat = None
    if row is not None and scan.list != DOOR:
        seat = (
            await conn.execute(_SEAT, {"session_id": uuid.UUID(scan.list), "registration_id": row.id})
        ).first()
    return judge_row(scan, row, version, seat), (row.id if row is not None else None)


async def _same_scan(
    db: AsyncSession, signer: BadgeSigner, scan: Scan, digest: str | None, seen: Any
) -> bool:
    """Whether `scan` repeats the recorded scan of the same id: the same code or reference, list and device."""
    if seen.list != scan.list or seen.device != scan.device[:100]:
        return False
    if seen.scan_digest is not None:
        return digest is not None and hmac.compare_digest(seen.scan_digest, digest)
    # Recorded before scans kept their digest: the same delegate (or, for a code naming nobody, nobody either).
    _outcome, registration_id = await judge(db, signer, scan)
    return bool(registration_id == seen.registration_id)


async def _replay(conn: Any, seen: Any) -> ScanResult:
    """The answer a recorded scan was given (for a repeat of the same scan id)."""
    attendee = None
    if seen.registration_id is not None:
        person = (await conn.execute(_ATTENDEE, {"registration_id": seen.registration_id})).first()
        attendee = {"name": person.name, "organisation": person.organisation, "reference": person.reference}
    result = ScanResult(
        seen.result,
        attendee,
        reason=seen.reason,
        conflict=seen.conflict,
        registration_id=seen.registration_id,
    )
    if seen.result == "ok":
        result.checked_in_at, result.checkin_id = seen.scanned_at, seen.id
    elif seen.result == "already_checked_in" and attendee is not None:
        first = (
            await conn.execute(_ADMISSION, {"registration_id": seen.registration_id, "list": seen.list})
        ).first()
        if first is not None:
            result = already(attendee, first)
            result.conflict, result.registration_id = seen.conflict, seen.registration_id
    return result


def already(attendee: dict[str, str], first: Any) -> ScanResult:
    """`already_checked_in`, with when, where and by whom the first admission (`first`) was."""
    where = {"at": first.scanned_at.isoformat(), "device": first.device, "staff": first.staff}
    return ScanResult("already_checked_in", attendee, first.scanned_at, where)


async def sync(
    database: Database, signer: BadgeSigner, scans: Sequence[Scan], *, actor: Actor
) -> list[ScanResult]:
    """An offline scanner's queue, merged in the order the scans were made (then in the order given)."""
    order = sorted(range(len(scans)), key=lambda i: (scans[i].scanned_at or utcnow(), i))
    results: dict[int, ScanResult] = {}
    for i in order:
        try:
            results[i] = await check_in(database, signer, scans[i], actor=actor)
        except (
            ScanIdReused
        ) as exc:  # the scans before it stay recorded; a retry answers them from their records
            raise ScanIdReused(fields={f"scans.{i}.scan_id": exc.message}) from None
    return [results[i] for i in range(len(scans))]


async def reissue(database: Database, registration_id: uuid.UUID, *, actor: Actor) -> int:
    """A new badge (lost, name corrected, substitution): the old code stops working at once."""
    async with database.transaction() as db:
        if await db.get(Registration, registration_id) is None:
            raise errors.NotFound("No registration has this id.")
        registration = await lock_for_update(db, Registration, registration_id)
        registration.badge_version += 1
        registration.badge_printed_at = None
        registration.updated_at = utcnow()
        await audit.record(
            db,
            "badges.badge.reissued",
            actor=actor,
            subject=registration.reference,
            version=registration.badge_version,
        )
        return registration.badge_version


UNDO_MINUTES = 5  # a mistaken admission is noticed at once, at the door; later it is the organisers' matter
UNDONE = "undone"  # what an undone admission's record says instead of `ok` (it stays recorded)


class CannotUndo(errors.DomainError):
    code = "cannot_undo"
    message = "This admission cannot be undone."


async def undo_admission(
    database: Database, checkin_id: uuid.UUID, *, actor: Actor, now: datetime | None = None
) -> dict[str, Any]:
    """Take back a mistaken admission: the staff member who scanned it (or an organiser), within UNDO_MINUTES.

    The record stays, marked `undone` with who undid it (every scan is recorded), so the delegate's next scan
    admits them again; the undo is audited."""
    now = now or utcnow()
    async with database.transaction() as db:
        found = await db.get(Checkin, checkin_id)
        if found is None:
            raise errors.NotFound("No scan has this id.")
        admission = await lock_for_update(db, Checkin, checkin_id)
        if actor.kind != "organiser" and admission.staff != actor.label[:120]:
            raise errors.Forbidden(
                "Only the staff member who scanned this badge, or an organiser, can undo it."
            )
        if admission.result == UNDONE:
            raise CannotUndo("This admission was already undone.")
        if admission.result != "ok":
            raise CannotUndo("This scan let nobody in: there is nothing to undo.")
        received = admission.received_at
        if received.tzinfo is None:  # SQLite hands back naive UTC
            received = received.replace(tzinfo=UTC)
        if now - received > timedelta(minutes=UNDO_MINUTES):
            raise CannotUndo(
                f"Admissions can be undone for {UNDO_MINUTES} minutes; ask an organiser to correct the log."
            )
        admission.result = UNDONE
        admission.reason = f"Admission undone by {actor.label}"[:200]
        reference = None
        if admission.registration_id is not None:
            person = await db.get(Registration, admission.registration_id)
            reference = person.reference if person is not None else None
        await audit.record(
            db,
            "badges.checkin.undone",
            actor=actor,
            subject=reference or str(checkin_id),
            checkin=str(checkin_id),
            list=admission.list,
        )
    return {
        "checkin_id": str(checkin_id),
        "result": UNDONE,
        "reference": reference,
        "undone_at": now.isoformat(),
    }


async def warm_up(database: Database, signer: BadgeSigner) -> None:
    """Run the scan path once at start-up, in a transaction that is rolled back.

    The first scan after a start otherwise pays for compiling its statements and loading the signature code
    (about 20 ms), and at opening time the first scans arrive together, so a queue of them would wait for it.
    """
    signer.verify(signer.code_for("NC-WARMUP", 1))
    try:
        await _run_scan_statements(database)
    except (DBAPIError, *UNAVAILABLE):
        pass  # not reachable or not migrated yet: the first scan pays instead


async def _run_scan_statements(database: Database) -> None:
    async with AsyncSession(database.writer, expire_on_commit=False) as db, db.begin() as transaction:
        conn = await db.connection()
        await conn.execute(_BY_SCAN_ID, {"scan_id": "warm-up"})
        await conn.execute(_REGISTRATION, {"reference": "NC-WARMUP"})
        await conn.execute(_ADMISSION, {"registration_id": uuid.uuid4(), "list": DOOR})
        row = {
            "id": uuid.uuid4(),
            "registration_id": None,
            "list": DOOR,
            "result": "invalid",
            "device": "",
            "staff": "system",
            "scanned_at": utcnow(),
            "received_at": utcnow(),
            "offline": False,
            "conflict": False,
            "reason": "",
            "scan_id": None,
            "scan_digest": None,
        }
        await conn.execute(_ADMIT[conn.dialect.name], row)
        await conn.execute(_INSERT, {**row, "id": uuid.uuid4()})
        await transaction.rollback()
