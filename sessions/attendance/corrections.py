"""Corrections after the event: an organiser adds a scan the room's scanner missed (audited), and the
delegate's certificate follows.

The added scan is a Checkin like any other (`ok` on the session's own list), made by device ORGANISER_DEVICE
with the organiser as its staff and their reason, so attended.py counts it and says how it was verified. It is
refused when the delegate was already admitted there, when the session was cancelled (it never took place) and
when the delegate was never admitted at the door (nobody attends a session of an event they never entered).
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.models import Checkin, Registration, utcnow
from conference.core.settings import Settings
from sessions.attendance.bulk import latest_run
from sessions.attendance.certificates import current_certificate, issue_certificate
from sessions.attendance.followup import queue_corrected_certificate, queue_new_certificate_emails
from sessions.models import ProgrammeSession
from sessions.workshops.attended import DOOR, ORGANISER_DEVICE

REASON_MAX = 200  # Checkin.reason's length


class AlreadyAdmitted(errors.DomainError):
    code = "already_admitted"
    message = "This delegate was already admitted to that session: there is no scan to add."


class SessionCancelled(errors.DomainError):
    code = "session_cancelled"
    message = "That session was cancelled, so nobody attended it."


class NotAdmitted(errors.DomainError):
    code = "not_admitted"
    message = "This delegate was never admitted at the door, so they cannot have attended a session."


async def _admitted(db: AsyncSession, registration_id: uuid.UUID, list_name: str) -> bool:
    stmt = sa.select(sa.func.count()).where(
        col(Checkin.registration_id) == registration_id,
        col(Checkin.list) == list_name,
        col(Checkin.result) == "ok",
    )
    return int((await db.execute(stmt)).scalar_one()) > 0


async def add_missed_scan(
    db: AsyncSession,
    settings: Settings,
    *,
    registration_id: uuid.UUID,
    session_id: uuid.UUID,
    reason: str,
    actor: Actor,
) -> Checkin:
    """Record that the delegate attended the session, as an organiser says; reissue (or issue) their certificate.

    The certificate is reissued when the delegate has one, and issued when certificates have been issued in bulk
    already (a delegate the run passed over for lack of verified sessions); if the certificate email has already
    gone, the corrected certificate is emailed at once."""
    assert db.in_transaction()
    registration = await db.get(Registration, registration_id)
    if registration is None:
        raise errors.NotFound("No registration has this id.")
    text = reason.strip()
    problems: dict[str, str] = {}
    if not text:
        problems["reason"] = "Say why the scan is added, e.g. the room's scanner was not working."
    elif len(text) > REASON_MAX:
        problems["reason"] = f"Keep the reason to {REASON_MAX} characters or fewer."
    session = await db.get(ProgrammeSession, session_id)
    if session is None or session.conference_id != registration.conference_id:
        problems["session_id"] = "Choose a session of this event."
    if problems:
        raise errors.InvalidInput(fields=problems)
    assert session is not None
    if session.cancelled:
        raise SessionCancelled(fields={"session_id": SessionCancelled.message})
    if not await _admitted(db, registration.id, DOOR):
        raise NotAdmitted(fields={"session_id": NotAdmitted.message})
    if await _admitted(db, registration.id, str(session.id)):
        raise AlreadyAdmitted(fields={"session_id": AlreadyAdmitted.message})
    checkin = Checkin(
        registration_id=registration.id,
        list=str(session.id),
        result="ok",
        device=ORGANISER_DEVICE,
        staff=actor.label[:120],
        scanned_at=session.starts_at,  # when they were there; received_at says when it was added
        received_at=utcnow(),
        reason=text,
    )
    db.add(checkin)
    await db.flush()
    await audit.record(
        db,
        "sessions.attendance.scan_added",
        actor=actor,
        subject=str(registration.id),
        session_id=str(session.id),
        checkin_id=str(checkin.id),
    )
    conference_id = registration.conference_id
    before = await current_certificate(db, registration.id)
    run = await latest_run(db, conference_id)
    if before is None and run is None:
        return checkin  # no certificates issued yet: the bulk issue will count this scan
    after = await issue_certificate(db, settings, registration_id=registration.id, actor=actor)
    if after is not None and before is None:  # their first: emailed as everyone's is, if that is scheduled
        await queue_new_certificate_emails(db, settings, conference_id=conference_id)
    elif after is not None and before is not None and after.id != before.id:
        await queue_corrected_certificate(
            db, settings, registration=registration, conference_id=conference_id
        )
    return checkin
