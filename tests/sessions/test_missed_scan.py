"""An organiser adds a scan the room's scanner missed: recorded as a check-in (device "organiser", their name and
reason), audited, and the delegate's certificate reissued with a new code (the old one stops verifying); refused
when the delegate was already admitted there, the session was cancelled, or they never came through the door.
A correction after the certificate email went emails the corrected certificate at once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference.core import errors
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import AuditEntry, Checkin
from conference.core.settings import Settings
from conference.mail.outbox import queue_email
from sessions.attendance import corrections, followup
from sessions.attendance.certificates import verify
from sessions.attendance.followup import CERTIFICATE_READY
from sessions.models import ProgrammeSession
from sessions.models.attendance import CertificateStatus
from sessions.workshops.attended import ORGANISER_DEVICE
from tests.sessions.after_event_world import (
    Event,
    attend,
    certificates,
    current,
    finished_event,
    issue_all,
    outbox,
)
from tests.support import HTML, body_of, csrf, emails, organiser_token, sign_in

ORGANISER = Actor("organiser", "Events team")


async def _add(
    database: Database, settings: Settings, event: Event, n: int, title: str, reason: str = "Scanner was down"
) -> Checkin:
    async with database.transaction() as db:
        return await corrections.add_missed_scan(
            db,
            settings,
            registration_id=event.id(n),
            session_id=event.programme.sessions[title],
            reason=reason,
            actor=ORGANISER,
        )


async def test_an_added_scan_is_audited_and_reissues_the_certificate_with_a_new_code(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    event = await finished_event(database, client, delegates=1)
    await attend(database, event, 0, "A")
    await issue_all(database, settings)
    first = await current(database, event.id(0))
    assert first is not None and first.cpd_minutes == 60
    await sign_in(client, await organiser_token(database))
    page_url = f"/console/after-event/delegates/{event.id(0)}"
    page = await client.get(page_url, headers=HTML)
    assert "Add a missed scan" in page.text
    workshop_c = event.programme.sessions["C"]
    added = await client.post(
        page_url + "/scans",
        data={
            "csrf_token": csrf(page.text),
            "session_id": str(workshop_c),
            "reason": "The room's scanner was flat; the speaker saw them.",
        },
    )
    assert added.status_code == 303 and added.headers["location"].endswith("?done=scan_added")
    async with database.read() as db:
        scan = (await db.execute(sa.select(Checkin).where(col(Checkin.list) == str(workshop_c)))).scalar_one()
        audit = (
            await db.execute(
                sa.select(AuditEntry).where(col(AuditEntry.action) == "sessions.attendance.scan_added")
            )
        ).scalar_one()
    assert (scan.result, scan.device, scan.registration_id) == ("ok", ORGANISER_DEVICE, event.id(0))
    assert (
        scan.staff.startswith("organiser:")
        and scan.reason == "The room's scanner was flat; the speaker saw them."
    )
    assert audit.subject == str(event.id(0)) and audit.data["session_id"] == str(workshop_c)
    second = await current(database, event.id(0))
    assert second is not None and second.code != first.code and second.cpd_minutes == 120
    assert any(s["session_id"] == str(workshop_c) for s in second.sessions)
    states = {c.code: c.status for c in await certificates(database, event.id(0))}
    assert states == {first.code: CertificateStatus.superseded, second.code: CertificateStatus.issued}
    async with database.read() as db:
        assert (await verify(db, settings, first.code)).state == "superseded"
        assert (await verify(db, settings, second.code)).state == "genuine"
    page = await client.get(added.headers["location"], headers=HTML)
    assert "The missed scan is added" in page.text and "A scan an organiser added" in page.text
    assert second.code in page.text and "Replaced by a corrected one" in page.text
    # The certificate email had not gone yet: nothing is sent now (the scheduled one will carry the new one).
    assert await outbox(database, CERTIFICATE_READY) == []


async def test_a_correction_after_the_email_went_sends_the_corrected_certificate(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    event = await finished_event(database, client, delegates=1)
    await attend(database, event, 0, "A")
    await issue_all(database, settings)
    async with database.transaction() as db:  # the certificate email went before the correction
        row = queue_email(
            db,
            settings,
            kind=CERTIFICATE_READY,
            to=event.people[0]["email"],
            registration_id=event.id(0),
            scheduled=True,
        )
        row.status = "sent"
    await _add(database, settings, event, 0, "C")
    rows = await outbox(database, CERTIFICATE_READY)
    assert len(rows) == 2 and rows[1].context.get("corrected") is True
    assert rows[1].registration_id == event.id(0) and rows[1].status in ("queued", "kept")
    corrected = (await emails(database, settings, CERTIFICATE_READY))[1]
    assert "corrected certificate" in corrected["Subject"]
    assert "replaces the one we sent before" in body_of(corrected)
    new = await current(database, event.id(0))
    assert new is not None and [p.get_filename() for p in corrected.iter_attachments()] == [
        f"certificate-{new.code}.pdf"
    ]


async def test_before_any_certificate_run_the_scan_is_added_and_nothing_issued(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    event = await finished_event(database, client, delegates=1)
    await attend(database, event, 0)
    await _add(database, settings, event, 0, "B")
    assert await certificates(database, event.id(0)) == []
    await issue_all(database, settings)
    issued = await current(database, event.id(0))
    assert issued is not None and [s["title"] for s in issued.sessions] == ["Workshop B"]


async def test_after_a_run_a_delegate_it_passed_over_gets_a_certificate(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    event = await finished_event(database, client, delegates=2)
    await attend(database, event, 0, "A")
    await attend(database, event, 1)  # admitted, but no verified session: no certificate from the run
    await issue_all(database, settings)
    assert await current(database, event.id(1)) is None
    at = datetime(2026, 12, 10, 9, tzinfo=UTC)
    async with database.transaction() as db:
        await followup.schedule_followups(
            db, settings, conference_id=1, certificate_at=at, feedback_at=None, actor=ORGANISER
        )
    assert {r.registration_id for r in await outbox(database, CERTIFICATE_READY)} == {event.id(0)}
    await _add(database, settings, event, 1, "B")
    issued = await current(database, event.id(1))
    assert issued is not None and issued.cpd_minutes == 60
    # Their certificate is emailed with everyone's, at the time chosen.
    rows = {r.registration_id: r for r in await outbox(database, CERTIFICATE_READY)}
    assert (
        set(rows) == {event.id(0), event.id(1)}
        and rows[event.id(1)].next_attempt_at.replace(tzinfo=UTC) == at
    )


@pytest.mark.parametrize(
    ("case", "code", "field"),
    [
        ("already admitted", "already_admitted", "session_id"),
        ("cancelled session", "session_cancelled", "session_id"),
        ("never at the door", "not_admitted", "session_id"),
        ("no reason", "validation_error", "reason"),
        ("another event's session", "validation_error", "session_id"),
    ],
)
async def test_refused_cases_change_nothing(
    client: httpx.AsyncClient, database: Database, settings: Settings, case: str, code: str, field: str
) -> None:
    event = await finished_event(database, client, delegates=2)
    await attend(database, event, 0, "A")
    n, title, reason = 0, "C", "Scanner was down"
    if case == "already admitted":
        title = "A"
    elif case == "cancelled session":
        async with database.transaction() as db:
            session = await db.get(ProgrammeSession, event.programme.sessions["C"])
            assert session is not None
            session.cancelled = True
    elif case == "never at the door":
        n = 1
    elif case == "no reason":
        reason = "   "
    async with database.read() as db:
        before = (await db.execute(sa.select(sa.func.count()).select_from(Checkin))).scalar_one()
    with pytest.raises(errors.DomainError) as refused:
        async with database.transaction() as db:
            await corrections.add_missed_scan(
                db,
                settings,
                registration_id=event.id(n),
                session_id=uuid.uuid4()
                if case == "another event's session"
                else event.programme.sessions[title],
                reason=reason,
                actor=ORGANISER,
            )
    assert refused.value.code == code
    assert field in (refused.value.fields or {})
    async with database.read() as db:
        after = (await db.execute(sa.select(sa.func.count()).select_from(Checkin))).scalar_one()
        audited = (
            await db.execute(
                sa.select(sa.func.count()).where(col(AuditEntry.action) == "sessions.attendance.scan_added")
            )
        ).scalar_one()
    assert (after, audited) == (before, 0)


async def test_the_console_shows_a_refusal_on_its_field_with_what_was_typed(
    client: httpx.AsyncClient, database: Database
) -> None:
    event = await finished_event(database, client, delegates=1)
    await attend(database, event, 0, "A")
    await sign_in(client, await organiser_token(database))
    page_url = f"/console/after-event/delegates/{event.id(0)}"
    page = await client.get(page_url, headers=HTML)
    token = csrf(page.text)
    missing = await client.post(
        page_url + "/scans",
        data={"csrf_token": token, "session_id": "", "reason": "Left the list at home"},
        headers=HTML,
    )
    assert missing.status_code == 422
    assert 'id="session_id-error"' in missing.text and "Left the list at home" in missing.text
    # Workshop A is not offered (they were scanned into it); a forged post for it is refused on the field.
    assert f'value="{event.programme.sessions["A"]}"' not in page.text
    again = await client.post(
        page_url + "/scans",
        data={"csrf_token": token, "session_id": str(event.programme.sessions["A"]), "reason": "Twice"},
        headers=HTML,
    )
    assert again.status_code == 409 and "already admitted to that session" in again.text
    unknown = await client.get(f"/console/after-event/delegates/{uuid.uuid4()}", headers=HTML)
    assert unknown.status_code == 404
