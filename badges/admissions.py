"""Many scans judged and recorded with a handful of statements: the batch of badges/checkin_queue.py.

One scan on its own (`checkin.scan_in`) costs two statements (the badge's registration, then the admission or
the record of a refusal), and at the door's rush the statements' own cost, not the database's work, was most of
a scan's CPU. Here a batch's registrations are read in one SELECT, its admissions written in one
`INSERT … ON CONFLICT DO NOTHING RETURNING` (the unique index on admissions still decides every race, with
other batches and other workers alike), the first admissions of those already in read in one SELECT, and the
records of every other answer written in one INSERT: four statements for up to 64 scans.

The answers are exactly `scan_in`'s. Scans whose scan id was seen before, or comes twice in the batch, are not
handled here (the queue answers them one by one after these, from their first record).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from badges import checkin
from badges.checkin import DOOR, Scan, ScanResult
from badges.codes import BadgeSigner
from conference.core.audit import Actor
from conference.core.models import Checkin, Registration, utcnow
from sessions.models import SeatBooking, SeatStatus

__all__ = ["admit_many", "scan_ids_seen"]

_CHECKIN: sa.Table = Checkin.metadata.tables[Checkin.__tablename__]
_PEOPLE = sa.select(
    col(Registration.id),
    col(Registration.reference),
    col(Registration.name),
    col(Registration.organisation),
    col(Registration.status),
    col(Registration.badge_version),
).where(col(Registration.reference).in_(sa.bindparam("references", expanding=True)))
_SEATS = sa.select(col(SeatBooking.registration_id), col(SeatBooking.status)).where(
    col(SeatBooking.session_id) == sa.bindparam("session_id"),
    col(SeatBooking.registration_id).in_(sa.bindparam("ids", expanding=True)),
    col(SeatBooking.status) != SeatStatus.cancelled,
)
_SEEN = sa.select(col(Checkin.scan_id)).where(col(Checkin.scan_id).in_(sa.bindparam("ids", expanding=True)))
_FIRSTS = sa.select(
    col(Checkin.registration_id),
    col(Checkin.list),
    col(Checkin.scanned_at),
    col(Checkin.device),
    col(Checkin.staff),
).where(
    col(Checkin.result) == "ok",
    col(Checkin.registration_id).in_(sa.bindparam("ids", expanding=True)),
    col(Checkin.list).in_(sa.bindparam("lists", expanding=True)),
)
_ADMIT = {
    dialect.__name__.rsplit(".", 1)[-1]: dialect.insert(_CHECKIN)
    .on_conflict_do_nothing(index_elements=["registration_id", "list"], index_where=sa.text("result = 'ok'"))
    .returning(col(Checkin.id))
    for dialect in (sqlite, postgresql)
}
_RECORD = sa.insert(_CHECKIN)


async def scan_ids_seen(conn: AsyncConnection, scan_ids: Sequence[str]) -> set[str]:
    """Which of these scan ids are recorded already."""
    if not scan_ids:
        return set()
    return {s for s in (await conn.execute(_SEEN, {"ids": list(scan_ids)})).scalars() if s}


async def admit_many(
    conn: AsyncConnection, signer: BadgeSigner, scans: Sequence[tuple[Scan, Actor]]
) -> list[ScanResult]:
    """Judge and record `scans` (lists resolved, scan ids new and distinct) in the caller's transaction, in the
    order given (the queue's: by reference, so that batches take the admissions index in one order)."""
    now = utcnow()
    reads = [checkin.read_badge(signer, scan) for scan, _ in scans]
    references = sorted({read[0] for read in reads if not isinstance(read, ScanResult)})
    people: dict[str, Any] = {}
    if references:
        people = {r.reference: r for r in await conn.execute(_PEOPLE, {"references": references})}
    seats = await _seats(conn, scans, reads, people)

    outcomes: list[ScanResult] = []
    rows: list[dict[str, Any]] = []
    for (scan, actor), read in zip(scans, reads, strict=True):
        if isinstance(read, ScanResult):
            outcome, person = read, None
        else:
            person = people.get(read[0])
            seat = seats.get((scan.list, person.id)) if person is not None else None
            outcome = checkin.judge_row(scan, person, read[1], seat)
        outcome.registration_id = person.id if person is not None else None
        digest = checkin.scan_digest(scan) if scan.scan_id else None
        outcomes.append(outcome)
        rows.append(
            checkin.checkin_row(scan, outcome, outcome.registration_id, actor=actor, digest=digest, now=now)
        )

    # Admissions: the first `ok` of each delegate and list in the batch, in one statement.
    firsts: dict[tuple[uuid.UUID | None, str], int] = {}
    for i, outcome in enumerate(outcomes):
        if outcome.result == "ok":
            firsts.setdefault((outcome.registration_id, rows[i]["list"]), i)
    admitted: set[uuid.UUID] = set()
    if firsts:
        tried = [rows[i] for i in sorted(firsts.values())]
        dialect = conn.dialect.name
        admitted = set((await conn.execute(_ADMIT[dialect], tried)).scalars())

    # Everybody else who would have been let in is in already: told when, where and by whom.
    turned_away = [i for i, o in enumerate(outcomes) if o.result == "ok" and rows[i]["id"] not in admitted]
    if turned_away:
        ids = sorted({outcomes[i].registration_id for i in turned_away}, key=str)
        lists = sorted({rows[i]["list"] for i in turned_away})
        found = {
            (f.registration_id, f.list): f for f in await conn.execute(_FIRSTS, {"ids": ids, "lists": lists})
        }
        for i in turned_away:
            scan = scans[i][0]
            attendee, registration_id = outcomes[i].attendee, outcomes[i].registration_id
            first = found[(registration_id, rows[i]["list"])]
            assert attendee is not None
            outcomes[i] = checkin.already(attendee, first)
            outcomes[i].registration_id = registration_id
            rows[i]["result"] = outcomes[i].result
            if scan.offline and scan.shown == "ok":  # an offline device let them in too: for the organisers
                outcomes[i].conflict = rows[i]["conflict"] = True
    for i, outcome in enumerate(outcomes):
        if outcome.result == "ok":
            outcome.checked_in_at, outcome.checkin_id = rows[i]["scanned_at"], rows[i]["id"]

    # The record of every scan that was not an admission, in one statement.
    others = [rows[i] for i, o in enumerate(outcomes) if o.result != "ok"]
    if others:
        await conn.execute(_RECORD, others)
    return outcomes


async def _seats(
    conn: AsyncConnection,
    scans: Sequence[tuple[Scan, Actor]],
    reads: Sequence[tuple[str, int | None] | ScanResult],
    people: dict[str, Any],
) -> dict[tuple[str, uuid.UUID], Any]:
    """The seats of the delegates scanned at workshop rooms, by (list, registration id): one read a room."""
    wanted: dict[str, set[uuid.UUID]] = {}
    for (scan, _), read in zip(scans, reads, strict=True):
        if scan.list != DOOR and not isinstance(read, ScanResult) and read[0] in people:
            wanted.setdefault(scan.list, set()).add(people[read[0]].id)
    seats: dict[tuple[str, uuid.UUID], Any] = {}
    for list_name, ids in wanted.items():
        params = {"session_id": uuid.UUID(list_name), "ids": sorted(ids, key=str)}
        for seat in await conn.execute(_SEATS, params):
            key = (list_name, seat.registration_id)
            if key not in seats or seat.status == SeatStatus.booked:  # a booked seat decides
                seats[key] = seat
    return seats
