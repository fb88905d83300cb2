"""Certificates of attendance at conference size: 1,000 delegates' CPD hours computed, certificates issued and
every PDF rendered, against the target of 1,000 in under 20 s.

    .venv/bin/python bench/certificates.py                    # 1,000 delegates, SQLite in a temporary directory
    .venv/bin/python bench/certificates.py --delegates 2000 --batch 200 --out /tmp/certificate.pdf

Makes a fresh migrated SQLite database with a two-day programme (a plenary and 3 workshop slots x 6 rooms a day,
38 sessions), N confirmed delegates who came and 5% more who never did (names from the demo's lists, one in fifty
outside Windows-1252, which the PDF sets in the Unicode TTF), and their check-ins as the scanners write them: the door
on day 1, the door again on day 2 (80%), a workshop scan in 85% of the slots of the days they came, and a plenary scan
for half of them (the plenary counts on the door scan anyway, the default rule).

Then, timed separately, on the code paths the console and `conference certificates issue` use:
  compute   every delegate's verified attendance and CPD hours (attended_sessions + compute_cpd), no writes;
  issue     a bulk run (bulk.start_run + bulk.run_issue, --batch delegates a transaction): compute, sign, store;
  again     the same run once more with nothing changed (every certificate kept: no writes but the run's);
  render    every issued certificate's PDF (certificate_pdf.render_certificate, its cache emptied first).
The target counts issue + render, which is the whole job (PDFs are made on download or email in the service).
The baseline, in the same run: one QR code of a verify URL (qrcode, fixed mask), to compare machines by ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from sqlmodel import col
from starlette.datastructures import Secret

from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.migrate import upgrade
from conference.core.models import Checkin, Conference, Registration, Sector, Status, TicketType, utcnow
from conference.core.security import hash_token, manage_token
from conference.core.settings import Settings
from conference.server.demo import FIRST, LAST, PLACES
from sessions.attendance import bulk, certificate_pdf
from sessions.attendance.certificate_pdf import render_certificate
from sessions.attendance.certificates import issue_context, new_code, verify_url
from sessions.attendance.cpd import compute_cpd
from sessions.models import Certificate, CertificateStatus, Kind, RoomCreate, SessionCreate, TimeSlotCreate
from sessions.workshops import programme
from sessions.workshops.attended import DOOR, attended_sessions

SECRET = "bench-secret-key-that-is-long-enough-0123456789"
TARGET_S = 20.0  # per 1,000 certificates
ACTOR = Actor("organiser", "bench")
BEYOND_1252 = ["Łucja Wiśniewska", "Nguyễn Thị Minh Khai", "Ayşe Yılmaz", "Dvořák Tomáš"]
DAYS = (8, 9)
WORKSHOP_SLOTS = ((11, 0), (13, 30), (15, 30))  # 90 minutes each
ROOMS = 6


async def seed_programme(database: Database) -> tuple[dict[int, uuid.UUID], dict[int, list[list[uuid.UUID]]]]:
    """The plenary of each day, and each day's workshops by slot."""
    plenaries: dict[int, uuid.UUID] = {}
    workshops: dict[int, list[list[uuid.UUID]]] = {}
    async with database.transaction() as db:
        rooms = [
            (
                await programme.create_room(
                    db, data=RoomCreate(name=f"Room {i + 1}", capacity=200), actor=ACTOR
                )
            ).id
            for i in range(ROOMS)
        ]
        hall = (await programme.create_room(db, data=RoomCreate(name="Hall", capacity=1200), actor=ACTOR)).id
        for d in DAYS:
            start = datetime(2026, 12, d, 9, 30, tzinfo=UTC)
            slot = await programme.create_slot(
                db, data=TimeSlotCreate(starts_at=start, ends_at=start + timedelta(hours=1)), actor=ACTOR
            )
            plenaries[d] = (
                await programme.create_session(
                    db,
                    data=SessionCreate(
                        title=f"Day {d - 7} plenary", kind=Kind.plenary, room_id=hall, start_slot_id=slot.id
                    ),
                    actor=ACTOR,
                )
            ).id
            workshops[d] = []
            for h, m in WORKSHOP_SLOTS:
                start = datetime(2026, 12, d, h, m, tzinfo=UTC)
                slot = await programme.create_slot(
                    db,
                    data=TimeSlotCreate(starts_at=start, ends_at=start + timedelta(minutes=90)),
                    actor=ACTOR,
                )
                workshops[d].append(
                    [
                        (
                            await programme.create_session(
                                db,
                                data=SessionCreate(
                                    title=f"Partnership working in practice {d}-{h}-{room + 1}",
                                    kind=Kind.workshop,
                                    room_id=rooms[room],
                                    start_slot_id=slot.id,
                                ),
                                actor=ACTOR,
                            )
                        ).id
                        for room in range(ROOMS)
                    ]
                )
    return plenaries, workshops


async def seed(database: Database, delegates: int, seed_value: int) -> list[uuid.UUID]:
    rng = random.Random(seed_value)
    async with database.transaction() as db:
        conference = Conference(
            name="National Conference on Public Service Partnerships",
            venue="Manchester Central",
            capacity=delegates,
            registration_seq=delegates,
            starts_at=datetime(2026, 12, 8, 9, tzinfo=UTC),
            ends_at=datetime(2026, 12, 9, 17, tzinfo=UTC),
        )
        db.add(conference)
        await db.flush()
        assert conference.id is not None
        ticket = TicketType(conference_id=conference.id, name="Delegate", position=1)
        db.add(ticket)
        await db.flush()
        now = utcnow()
        ids = [uuid.uuid4() for _ in range(delegates + delegates // 20)]  # 5% more, who never came
        rows = []
        for n, rid in enumerate(ids):
            name = rng.choice(BEYOND_1252) if n % 50 == 0 else f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            rows.append(
                {
                    "id": rid,
                    "conference_id": conference.id,
                    "ticket_type_id": ticket.id,
                    "number": n + 1,
                    "reference": f"NC-B{n:05d}",
                    "status": Status.confirmed,
                    "name": name,
                    "email": f"bench{n}@leeds.gov.uk",
                    "email_key": f"bench{n}@leeds.gov.uk",
                    "organisation": f"{rng.choice(PLACES)} City Council",
                    "sector": Sector.local_authority,
                    "manage_token_hash": hash_token(manage_token(SECRET, rid, 1)),
                    "consent_at": now,
                }
            )
        await db.execute(sa.insert(Registration.__table__), rows)  # type: ignore[attr-defined]
    plenaries, workshops = await seed_programme(database)
    scans: list[dict[str, Any]] = []

    def scan(rid: uuid.UUID, list_name: str, at: datetime, result: str = "ok") -> None:
        scans.append(
            {
                "id": uuid.uuid4(),
                "registration_id": rid,
                "list": list_name,
                "result": result,
                "device": "bench",
                "staff": "staff:bench",
                "scanned_at": at,
                "received_at": at,
            }
        )

    for rid in ids[:delegates]:
        for d in DAYS:
            first_day = d == DAYS[0]
            if not first_day and rng.random() > 0.80:
                continue
            scan(
                rid,
                DOOR,
                datetime(2026, 12, d, 9, 5, tzinfo=UTC),
                "ok" if first_day else "already_checked_in",
            )
            if rng.random() < 0.5:
                scan(rid, str(plenaries[d]), datetime(2026, 12, d, 9, 31, tzinfo=UTC))
            for i, slot in enumerate(workshops[d]):
                if rng.random() < 0.85:
                    h, m = WORKSHOP_SLOTS[i]
                    scan(rid, str(rng.choice(slot)), datetime(2026, 12, d, h, m + 2, tzinfo=UTC))
    async with database.transaction() as db:
        await db.execute(sa.insert(Checkin.__table__), scans)  # type: ignore[attr-defined]
    return ids


async def compute_all(database: Database, ids: list[uuid.UUID]) -> tuple[int, int]:
    """(delegates with verified attendance, total CPD minutes), reading only."""
    async with database.transaction() as db:
        context = await issue_context(db)
    assert context.conference.id is not None
    async with database.read() as db:
        found = await attended_sessions(
            db,
            conference_id=context.conference.id,
            registration_ids=ids,
            plenaries_on_door_scan=context.rules.plenaries_on_door_scan,
            zone=context.zone,
        )
    minutes = sum(
        compute_cpd(seen, context.rules, context.zone).total_minutes for seen in found.values() if seen
    )
    return sum(1 for seen in found.values() if seen), minutes


async def run_once(
    database: Database, settings: Settings, conference_id: int, batch: int
) -> tuple[float, float, int]:
    started, cpu = time.perf_counter(), time.process_time()
    async with database.transaction() as db:
        run = await bulk.start_run(db, conference_id=conference_id, actor=ACTOR)
    finished = await bulk.run_issue(database, settings, run_id=run.id, actor=ACTOR, batch=batch)
    assert not finished.error, finished.error
    return time.perf_counter() - started, time.process_time() - cpu, finished.issued


async def bench(args: argparse.Namespace, url: str) -> None:
    settings = Settings(
        database_url=url, secret_key=Secret(SECRET), base_url="https://conference.example.gov.uk"
    )
    database = Database.from_settings(settings)
    try:
        started = time.perf_counter()
        ids = await seed(database, args.delegates, args.seed)
        async with database.read() as db:
            scans = (await db.execute(sa.select(sa.func.count()).select_from(Checkin))).scalar_one()
            conference = (await db.execute(sa.select(Conference))).scalars().one()
        assert conference.id is not None
        print(
            f"certificates: {args.delegates} delegates, {scans} check-ins, 38 sessions over 2 days "
            f"(seeded in {time.perf_counter() - started:.1f} s)"
        )

        # The baseline: one QR code of a verify URL (the PDF's QR, qrcode with a fixed mask).
        sample = verify_url(settings, new_code(settings))
        started = time.perf_counter()
        for _ in range(100):
            certificate_pdf._qr_modules(sample)
        qr_ms = (time.perf_counter() - started) / 100 * 1000

        started, cpu = time.perf_counter(), time.process_time()
        eligible, minutes = await compute_all(database, ids)
        compute_s, compute_cpu = time.perf_counter() - started, time.process_time() - cpu

        issue_s, issue_cpu, issued = await run_once(database, settings, conference.id, args.batch)
        again_s, again_cpu, reissued = await run_once(database, settings, conference.id, args.batch)

        async with database.read() as db:
            current = list(
                (
                    await db.execute(
                        sa.select(Certificate).where(col(Certificate.status) == CertificateStatus.issued)
                    )
                ).scalars()
            )
        certificate_pdf._CACHE.clear()
        unicode = sum(1 for c in current if not certificate_pdf._fits_core_font([c.name, c.organisation]))
        started, cpu = time.perf_counter(), time.process_time()
        size = 0
        pdf = b""
        for c in current:
            pdf = render_certificate(c, conference=conference, verify_url=verify_url(settings, c.code))
            size += len(pdf)
        render_s, render_cpu = time.perf_counter() - started, time.process_time() - cpu
        if args.out and pdf:
            args.out.write_bytes(pdf)
    finally:
        await database.dispose()

    n = len(current)
    assert n == issued == eligible, (n, issued, eligible)
    total_s = issue_s + render_s
    target_s = TARGET_S * args.delegates / 1000
    per_ms = render_s / max(n, 1) * 1000
    print(f"baseline: one QR code of a verify URL ({len(sample)} characters, fixed mask)  {qr_ms:6.2f} ms")
    print("                wall     CPU")
    print(
        f"  compute  {compute_s:6.2f} s {compute_cpu:6.2f} s   {eligible} delegates with verified attendance, "
        f"{minutes / 60:.0f} CPD hours"
    )
    print(
        f"  issue    {issue_s:6.2f} s {issue_cpu:6.2f} s   {issued} certificates issued "
        f"(batches of {args.batch}, a transaction each)"
    )
    print(
        f"  again    {again_s:6.2f} s {again_cpu:6.2f} s   {reissued} reissued: nothing changed, every one kept"
    )
    print(
        f"  render   {render_s:6.2f} s {render_cpu:6.2f} s   {n} PDFs, {per_ms:.2f} ms each "
        f"({per_ms / qr_ms:.1f} QR codes), {size / n / 1000:.1f} KB each; {unicode} in the Unicode TTF"
    )
    print(
        f"  issue + render {total_s:.2f} s (CPU {issue_cpu + render_cpu:.2f} s) = {total_s / target_s:.3f} "
        f"of the target ({target_s:.0f} s)"
    )
    verdict = "PASS" if total_s < target_s else "MISS"
    print(
        f"{verdict}: {n} certificates issued and rendered in {total_s:.2f} s (target under {target_s:.0f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--delegates", type=int, default=1_000)
    parser.add_argument("--batch", type=int, default=100, help="delegates per transaction in the run")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=None, help="keep the last PDF here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-certificates-") as workdir:
        url = f"sqlite+aiosqlite:///{Path(workdir) / 'bench.db'}"
        upgrade(url)  # runs its own event loop
        asyncio.run(bench(args, url))


if __name__ == "__main__":
    main()
