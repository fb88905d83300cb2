"""The after-event emails: "your certificate" (certificate_ready) and "tell us how it went" (feedback_invite).

Scheduling is queueing: one mail-queue row per delegate whose next_attempt_at is the time the organisers chose
(conference/mail/sender.py claims a queued row only once next_attempt_at has come). Changing the time moves the
rows still waiting; clearing it removes them. A delegate gets each kind once: a later scheduling adds rows only
for delegates who have none yet (a certificate issued since, say). A correction (corrections.py) that reissues a
certificate already emailed queues one more, at once, saying it is corrected. What the email says is composed
when it is sent (followup_mail.py), so it carries the certificate as it is then.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit
from conference.core.audit import Actor
from conference.core.models import Checkin, OutboxEmail, Registration, utcnow
from conference.core.settings import Settings
from conference.mail.outbox import queue_email
from sessions.attendance.rules import after_event_settings
from sessions.models.attendance import AfterEventSettings, Certificate, CertificateStatus
from sessions.workshops.attended import DOOR

CERTIFICATE_READY = "certificate_ready"
FEEDBACK_INVITE = "feedback_invite"
KINDS = (CERTIFICATE_READY, FEEDBACK_INVITE)
WAITING = ("queued", "kept")  # not sent yet ("kept": no mail server, kept for the outbox)


@dataclass
class Scheduled:
    """What one scheduling did to one kind of email."""

    queued: int = 0  # new rows, one per delegate who had none
    moved: int = 0  # rows still waiting, now at the new time
    removed: int = 0  # rows still waiting, removed (the time was cleared)


async def certificate_holders(db: AsyncSession, conference_id: int) -> list[Registration]:
    """Delegates with a current certificate (and their personal data still held)."""
    stmt = (
        sa.select(Registration)
        .join(Certificate, col(Certificate.registration_id) == col(Registration.id))
        .where(
            col(Certificate.conference_id) == conference_id,
            col(Certificate.status) == CertificateStatus.issued,
            col(Registration.erased_at).is_(None),
        )
        .order_by(col(Registration.number))
    )
    return list((await db.execute(stmt)).scalars())


async def admitted_delegates(db: AsyncSession, conference_id: int) -> list[Registration]:
    """Delegates admitted at the door (an `ok` door scan), as attended.py counts them."""
    admitted = sa.select(col(Checkin.registration_id)).where(
        col(Checkin.list) == DOOR, col(Checkin.result) == "ok"
    )
    stmt = (
        sa.select(Registration)
        .where(
            col(Registration.conference_id) == conference_id,
            col(Registration.id).in_(admitted),
            col(Registration.erased_at).is_(None),
        )
        .order_by(col(Registration.number))
    )
    return list((await db.execute(stmt)).scalars())


async def _rows(
    db: AsyncSession, kind: str, registration_ids: set[uuid.UUID] | None = None
) -> list[OutboxEmail]:
    stmt = sa.select(OutboxEmail).where(col(OutboxEmail.kind) == kind)
    if registration_ids is not None:
        stmt = stmt.where(col(OutboxEmail.registration_id).in_(registration_ids))
    return list((await db.execute(stmt)).scalars())


def _waiting(row: OutboxEmail) -> bool:
    """A scheduled row nobody has tried to send yet (a correction's row goes at once and is not moved)."""
    return (
        row.status in WAITING
        and row.attempts == 0
        and row.sent_at is None
        and bool(row.context.get("scheduled"))
    )


async def _schedule_kind(
    db: AsyncSession,
    settings: Settings,
    *,
    kind: str,
    at: datetime | None,
    delegates: list[Registration],
) -> Scheduled:
    done = Scheduled()
    rows = await _rows(db, kind)
    mine = {r.registration_id for r in rows}
    for row in rows:
        if not _waiting(row):
            continue
        if at is None:
            await db.delete(row)
            done.removed += 1
        elif row.next_attempt_at != at:
            row.next_attempt_at = at
            done.moved += 1
    if at is None:
        await db.flush()
        return done
    done.queued = await _queue_new(db, settings, kind=kind, at=at, delegates=delegates, had=mine)
    return done


async def _queue_new(
    db: AsyncSession,
    settings: Settings,
    *,
    kind: str,
    at: datetime,
    delegates: list[Registration],
    had: set[uuid.UUID | None],
) -> int:
    """A row at `at` for each delegate with none of this kind yet (never twice: a correction queues its own)."""
    queued = 0
    for registration in delegates:
        if registration.id in had:
            continue
        row = queue_email(
            db,
            settings,
            kind=kind,
            to=registration.email,
            registration_id=registration.id,
            scheduled=True,
            conference_id=registration.conference_id,
        )
        row.next_attempt_at = at
        queued += 1
    await db.flush()
    return queued


async def queue_new_certificate_emails(db: AsyncSession, settings: Settings, *, conference_id: int) -> int:
    """Once the certificate email is scheduled, a certificate issued later (a later run, a delegate a correction
    gave one) is emailed too, at the time chosen (at once if it has passed); returns how many were queued."""
    s = await db.get(AfterEventSettings, conference_id)
    if s is None or s.certificate_email_at is None:
        return 0
    had = {r.registration_id for r in await _rows(db, CERTIFICATE_READY)}
    holders = await certificate_holders(db, conference_id)
    return await _queue_new(
        db, settings, kind=CERTIFICATE_READY, at=s.certificate_email_at, delegates=holders, had=had
    )


async def schedule_followups(
    db: AsyncSession,
    settings: Settings,
    *,
    conference_id: int,
    certificate_at: datetime | None,
    feedback_at: datetime | None,
    actor: Actor,
) -> dict[str, Scheduled]:
    """Queue (or move, or remove) the after-event emails for the times chosen; None clears a time."""
    assert db.in_transaction()
    s = await after_event_settings(db, conference_id, lock=True)
    s.certificate_email_at = certificate_at
    s.feedback_email_at = feedback_at
    s.updated_at = utcnow()
    s.updated_by = actor.label[:120]
    db.add(s)
    holders = await certificate_holders(db, conference_id) if certificate_at else []
    admitted = await admitted_delegates(db, conference_id) if feedback_at else []
    result = {
        CERTIFICATE_READY: await _schedule_kind(
            db,
            settings,
            kind=CERTIFICATE_READY,
            at=certificate_at,
            delegates=holders,
        ),
        FEEDBACK_INVITE: await _schedule_kind(
            db,
            settings,
            kind=FEEDBACK_INVITE,
            at=feedback_at,
            delegates=admitted,
        ),
    }
    await audit.record(
        db,
        "sessions.after_event.emails_scheduled",
        actor=actor,
        subject=str(conference_id),
        certificate_at=certificate_at.isoformat() if certificate_at else None,
        feedback_at=feedback_at.isoformat() if feedback_at else None,
        **{
            f"{kind}_{what}": getattr(done, what)
            for kind, done in result.items()
            for what in ("queued", "moved", "removed")
        },
    )
    return result


async def queue_corrected_certificate(
    db: AsyncSession, settings: Settings, *, registration: Registration, conference_id: int
) -> OutboxEmail | None:
    """After a correction reissued the certificate: if the delegate was already sent theirs, send the new one now,
    saying it is corrected. A certificate email still waiting needs nothing: it carries the certificate as it is
    when it goes."""
    rows = await _rows(db, CERTIFICATE_READY, {registration.id})
    if not any(r.status in ("sent", "sending") for r in rows):
        return None
    if any(r.status in WAITING and r.attempts == 0 and r.context.get("corrected") for r in rows):
        return None  # a corrected one is already on its way
    row = queue_email(
        db,
        settings,
        kind=CERTIFICATE_READY,
        to=registration.email,
        registration_id=registration.id,
        corrected=True,
        conference_id=conference_id,
    )
    await db.flush()
    return row


async def email_counts(db: AsyncSession) -> dict[str, dict[str, int]]:
    """Each after-event kind's rows by status (for the console: how many wait, went, failed)."""
    stmt = (
        sa.select(col(OutboxEmail.kind), col(OutboxEmail.status), sa.func.count())
        .where(col(OutboxEmail.kind).in_(KINDS))
        .group_by(col(OutboxEmail.kind), col(OutboxEmail.status))
    )
    counts: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}
    for kind, status, n in await db.execute(stmt):
        counts[kind][status] = int(n)
    return counts
