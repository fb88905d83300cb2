"""Certificates of attendance (sessions/attendance/certificates.py, bulk.py, certificate_pdf.py): only verified
attendance is listed; issuing is idempotent, also under concurrency; a correction supersedes; codes are signed;
the PDF's text and QR; bulk runs with progress; the command line's progress bar; personal data export and erasure.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from typing import Any

import httpx
import pypdfium2 as pdfium  # type: ignore[import-untyped]  # no py.typed
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference import personal_data
from conference.core import errors
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import AuditEntry, Checkin
from conference.core.settings import Settings
from conference.places import get_conference
from sessions.attendance import bulk, certificates
from sessions.attendance.certificate_pdf import render_certificate
from sessions.attendance.certificates import (
    ALPHABET,
    NO_LONGER_VERIFIED,
    issue_certificate,
    new_code,
    normalise_code,
    verify,
    verify_url,
    withdraw_certificate,
)
from sessions.models import Certificate, CertificateRun, CertificateStatus
from tests.factories import Programme, make_conference, make_programme
from tests.sessions.attendance_support import DAY2, at, checkin, delegate, door, organiser_scan
from tests.sessions.test_cpd_hours import A_START, C_START, D_START
from tests.support import BASE_URL, SECRET_KEY, count_rows, decode

ORGANISER = Actor("organiser", "tests")


@pytest.fixture
async def world(client: httpx.AsyncClient, database: Database) -> tuple[dict[str, uuid.UUID], Programme]:
    tickets = await make_conference(database, capacity=50)
    return tickets, await make_programme(database)


async def issue(database: Database, settings: Settings, person: dict[str, Any]) -> Certificate | None:
    async with database.transaction() as db:
        return await issue_certificate(db, settings, registration_id=uuid.UUID(person["id"]), actor=ORGANISER)


async def attended_a_and_c(
    client: httpx.AsyncClient, database: Database, world: Any, **body: Any
) -> dict[str, Any]:
    tickets, p = world
    person = await delegate(client, tickets["delegate"], **body)
    await door(database, person)
    await checkin(database, person, p.sessions["A"], at=at(A_START))
    await checkin(database, person, p.sessions["C"], at=at(C_START))
    return person


def pdf_text(pdf: bytes) -> str:
    doc = pdfium.PdfDocument(pdf)
    try:
        return "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    finally:
        doc.close()


def pdf_qr_texts(pdf: bytes) -> list[str]:
    doc = pdfium.PdfDocument(pdf)
    try:
        image = doc[0].render(scale=200 / 72).to_pil().convert("L")
    finally:
        doc.close()
    return [barcode.text for barcode in decode(image)]


async def test_the_certificate_lists_only_verified_attendance(
    client: httpx.AsyncClient, database: Database, settings: Settings, world: Any
) -> None:
    tickets, p = world
    person = await delegate(
        client, tickets["delegate"], name="Siân O’Brien", organisation="Leeds City Council"
    )
    # Booked into D, but never scanned there; scanned into A by the room; C added by an organiser.
    response = await client.post(
        f"/api/v1/registrations/{person['id']}/sessions",
        json={"session_id": str(p.sessions["D"])},
        headers={"authorization": f"Bearer {person['manage_token']}"},
    )
    assert response.status_code == 201, response.text
    await door(database, person)
    await checkin(database, person, p.sessions["A"], at=at(A_START))
    await organiser_scan(database, person, p.sessions["C"], at=at(C_START))
    c = await issue(database, settings, person)
    assert c is not None
    assert [s["title"] for s in c.sessions] == ["Workshop A", "Workshop C"]
    assert c.cpd_minutes == 120 and c.days == {"2026-12-08": 120}
    assert c.name == "Siân O’Brien" and c.organisation == "Leeds City Council"
    assert normalise_code(c.code) == c.code and len(c.code) == 19
    assert set(c.code.replace("-", "")) <= set(ALPHABET)


async def test_no_certificate_without_the_door_or_without_verified_sessions(
    client: httpx.AsyncClient, database: Database, settings: Settings, world: Any
) -> None:
    tickets, p = world
    never_admitted = await delegate(client, tickets["delegate"])
    await checkin(database, never_admitted, p.sessions["A"], at=at(A_START))
    assert await issue(database, settings, never_admitted) is None
    admitted_only = await delegate(client, tickets["delegate"])
    await door(database, admitted_only)  # day 1: no plenary that day, no session scanned
    assert await issue(database, settings, admitted_only) is None
    assert await count_rows(database, Certificate) == 0


async def test_issuing_again_keeps_an_unchanged_certificate_and_a_correction_supersedes_it(
    client: httpx.AsyncClient, database: Database, settings: Settings, world: Any
) -> None:
    _tickets, p = world
    person = await attended_a_and_c(client, database, world)
    first = await issue(database, settings, person)
    again = await issue(database, settings, person)
    assert first is not None and again is not None
    assert again.id == first.id and again.code == first.code
    # A missed scan added for day 2 (and the door that day): a corrected certificate with a new code.
    await door(database, person, at=DAY2, result="already_checked_in")
    await organiser_scan(database, person, p.sessions["D"], at=at(D_START))
    corrected = await issue(database, settings, person)
    assert corrected is not None and corrected.code != first.code
    assert corrected.cpd_minutes == 240  # A, C, the plenary on the door scan, D
    async with database.read() as db:
        old = await verify(db, settings, first.code)
        new = await verify(db, settings, corrected.code)
    assert old.state == "superseded" and not old.valid
    assert new.state == "genuine" and new.valid
    assert await count_rows(database, Certificate) == 2
    async with database.read() as db:
        actions = (await db.execute(sa.select(col(AuditEntry.action)))).scalars().all()
    assert actions.count("sessions.certificate.issued") == 2


async def test_attendance_no_longer_verified_withdraws_the_certificate(
    client: httpx.AsyncClient, database: Database, settings: Settings, world: Any
) -> None:
    person = await attended_a_and_c(client, database, world)
    c = await issue(database, settings, person)
    assert c is not None
    async with database.transaction() as db:  # the scans were undone (a wrong badge scanned, say)
        await db.execute(
            sa.update(Checkin)
            .where(col(Checkin.registration_id) == uuid.UUID(person["id"]), col(Checkin.list) != "door")
            .values(result="undone")
        )
    assert await issue(database, settings, person) is None
    async with database.read() as db:
        v = await verify(db, settings, c.code)
    assert v.state == "withdrawn" and v.certificate is not None
    assert v.certificate.withdrawn_reason == NO_LONGER_VERIFIED and v.certificate.withdrawn_at is not None


async def test_codes_are_signed_and_an_altered_character_is_refused(
    client: httpx.AsyncClient, database: Database, settings: Settings, world: Any
) -> None:
    person = await attended_a_and_c(client, database, world)
    c = await issue(database, settings, person)
    assert c is not None
    raw = c.code.replace("-", "")
    async with database.read() as db:
        assert (await verify(db, settings, c.code.lower().replace("-", " "))).state == "genuine"
        for position in (0, 7, 8, 15):  # in the random part and in the signature
            swap = ALPHABET[(ALPHABET.index(raw[position]) + 1) % len(ALPHABET)]
            altered = raw[:position] + swap + raw[position + 1 :]
            assert (await verify(db, settings, altered)).state == "altered", altered
        assert (await verify(db, settings, new_code(settings))).state == "unknown"  # signed, never issued
        assert (await verify(db, settings, "not-a-code")).state == "unknown"


async def test_withdrawing_needs_a_reason_and_stops_verification(
    client: httpx.AsyncClient, database: Database, settings: Settings, world: Any
) -> None:
    person = await attended_a_and_c(client, database, world)
    c = await issue(database, settings, person)
    assert c is not None
    async with database.transaction() as db:
        with pytest.raises(errors.InvalidInput) as refused:
            await withdraw_certificate(db, certificate_id=c.id, reason="  ", actor=ORGANISER)
    assert refused.value.fields == {"reason": "Enter why the certificate is withdrawn."}
    async with database.transaction() as db:
        await withdraw_certificate(
            db, certificate_id=c.id, reason="Badge lent to a colleague", actor=ORGANISER
        )
    async with database.transaction() as db:
        with pytest.raises(certificates.CertificateNotCurrent):
            await withdraw_certificate(db, certificate_id=c.id, reason="Again", actor=ORGANISER)
    async with database.read() as db:
        assert (await verify(db, settings, c.code)).state == "withdrawn"
        assert await certificates.current_certificate(db, uuid.UUID(person["id"])) is None


async def test_two_concurrent_issues_for_one_delegate_make_one_certificate(
    client: httpx.AsyncClient, database: Database, settings: Settings, world: Any
) -> None:
    person = await attended_a_and_c(client, database, world)

    async def one() -> str:
        async with database.transaction() as db:  # each task its own session and transaction
            c = await issue_certificate(
                db, settings, registration_id=uuid.UUID(person["id"]), actor=ORGANISER
            )
            assert c is not None
            return c.code

    codes = await asyncio.gather(one(), one(), one())
    assert len(set(codes)) == 1
    async with database.read() as db:
        rows = (await db.execute(sa.select(Certificate))).scalars().all()
    assert [(r.status, r.code) for r in rows] == [(CertificateStatus.issued, codes[0])]


async def test_the_pdf_says_what_the_certificate_says_and_its_qr_is_the_verify_url(
    client: httpx.AsyncClient, database: Database, settings: Settings, world: Any
) -> None:
    for name in ("Siân O’Brien", "Łucja Wiśniewska-Kowalczyk"):  # Windows-1252, then beyond it (the TTF)
        person = await attended_a_and_c(client, database, world, name=name, organisation="Leeds City Council")
        c = await issue(database, settings, person)
        assert c is not None
        async with database.read() as db:
            conference = await get_conference(db)
        url = verify_url(settings, c.code)
        assert url == f"{BASE_URL}/verify/{c.code}"
        pdf = render_certificate(c, conference=conference, verify_url=url)
        text = pdf_text(pdf)
        for expected in (
            name,
            "Leeds City Council",
            "Test Conference",
            "Tue 8 Dec 2026 to Wed 9 Dec 2026",
            "Workshop A",
            "Workshop C",
            "10:00–11:00",
            "2 hours",
            c.code,
            url,
        ):
            assert expected in text, (expected, text)
        assert pdf_qr_texts(pdf) == [url]


async def test_a_bulk_run_issues_in_batches_with_progress_and_refuses_a_second_run(
    client: httpx.AsyncClient, database: Database, settings: Settings, world: Any
) -> None:
    tickets, _p = world
    people = [await attended_a_and_c(client, database, world) for _ in range(5)]
    await door(database, await delegate(client, tickets["delegate"]))  # admitted, nothing verified: none
    async with database.transaction() as db:
        conference = await get_conference(db)
        assert conference.id is not None
        run = await bulk.start_run(db, conference_id=conference.id, actor=ORGANISER)
    assert run.total == 6
    async with database.transaction() as db:
        with pytest.raises(bulk.RunInProgress):
            await bulk.start_run(db, conference_id=conference.id, actor=ORGANISER)
    seen: list[tuple[int, int]] = []
    finished = await bulk.run_issue(
        database, settings, run_id=run.id, actor=ORGANISER, progress=lambda d, t: seen.append((d, t)), batch=4
    )
    assert seen == [(0, 6), (4, 6), (6, 6)]
    assert (finished.done, finished.issued, finished.error) == (6, 5, "")
    assert finished.finished_at is not None
    async with database.read() as db:
        assert (await bulk.latest_run(db, conference.id)) is not None
        stored = await db.get(CertificateRun, run.id)
        assert stored is not None and stored.issued == 5
        current = [await certificates.current_certificate(db, uuid.UUID(p["id"])) for p in people]
    assert all(c is not None for c in current)
    # Nothing changed: a second run keeps every certificate.
    async with database.transaction() as db:
        again = await bulk.start_run(db, conference_id=conference.id, actor=ORGANISER)
    second = await bulk.run_issue(database, settings, run_id=again.id, actor=ORGANISER)
    assert (second.done, second.issued) == (6, 0)
    assert await count_rows(database, Certificate) == 5


async def test_the_command_line_issues_with_a_progress_bar(
    client: httpx.AsyncClient, database: Database, settings: Settings, database_url: str, world: Any
) -> None:
    for _ in range(3):
        await attended_a_and_c(client, database, world)
    env = {
        **os.environ,
        "CONFERENCE_DATABASE_URL": database_url,
        "CONFERENCE_SECRET_KEY": SECRET_KEY,
        "CONFERENCE_BASE_URL": BASE_URL,
    }
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "conference.server.cli", "certificates", "issue", "--batch", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert "certificates: 100%" in result.stderr and "3/3" in result.stderr, result.stderr
    assert "3 delegates considered; 3 certificates issued or corrected" in result.stderr
    assert await count_rows(database, Certificate) == 3


async def test_personal_data_export_lists_certificates_and_erasure_blanks_and_withdraws(
    client: httpx.AsyncClient, database: Database, settings: Settings, world: Any
) -> None:
    person = await attended_a_and_c(client, database, world, name="Priya Shah")
    c = await issue(database, settings, person)
    assert c is not None
    registration_id = uuid.UUID(person["id"])
    async with database.read() as db:
        exported = await personal_data.export_for(db, registration_id=registration_id)
    assert [(x["code"], x["name"], x["status"]) for x in exported["certificates"]] == [
        (c.code, "Priya Shah", "issued")
    ]
    async with database.transaction() as db:
        await personal_data.erase(
            db, settings=settings, registration_id=registration_id, actor=ORGANISER, reason="organiser"
        )
    async with database.read() as db:
        v = await verify(db, settings, c.code)
        stored = await db.get(Certificate, c.id)
    assert v.state == "withdrawn"
    assert stored is not None and (stored.name, stored.organisation) == ("", "")
    assert stored.withdrawn_reason == "personal data erased"
    assert await issue(database, settings, person) is None  # never reissued to an erased delegate
