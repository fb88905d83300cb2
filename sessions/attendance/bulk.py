"""Bulk issue runs: every delegate admitted at the door (and every delegate holding a certificate, who may have
lost it) considered in batches, each batch its own transaction, the run's row counting progress for any worker's
progress bar (the console's page, the command line's).

PDFs are not made here: a certificate is rendered when it is downloaded or emailed (certificate_pdf.py).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.db import Database, lock_for_update
from conference.core.models import Checkin, Conference, Registration, utcnow
from conference.core.settings import Settings
from sessions.attendance.certificates import issue_context, issue_many
from sessions.attendance.followup import queue_new_certificate_emails
from sessions.models import Certificate, CertificateRun, CertificateStatus
from sessions.workshops.attended import DOOR

log = logging.getLogger(__name__)

# An unfinished run that has not moved for this long died with its worker (a batch takes about a second).
STALE_AFTER = timedelta(minutes=2)


class RunInProgress(errors.DomainError):
    code = "run_in_progress"
    message = "Certificates are being issued already: wait for that run to finish, then try again."


async def candidates(db: AsyncSession, conference_id: int) -> list[uuid.UUID]:
    """Delegates a run considers: admitted at the door, or holding a current certificate."""
    admitted = (
        sa.select(col(Checkin.registration_id))
        .join(Registration, col(Registration.id) == col(Checkin.registration_id))
        .where(
            col(Registration.conference_id) == conference_id,
            col(Checkin.list) == DOOR,
            col(Checkin.result) == "ok",
        )
    )
    holding = sa.select(col(Certificate.registration_id)).where(
        col(Certificate.conference_id) == conference_id,
        col(Certificate.status) == CertificateStatus.issued,
        col(Certificate.registration_id).is_not(None),
    )
    rows = (await db.execute(sa.union(admitted, holding))).scalars()
    return sorted({r for r in rows if r is not None})


async def latest_run(db: AsyncSession, conference_id: int) -> CertificateRun | None:
    return (
        await db.execute(
            sa.select(CertificateRun)
            .where(col(CertificateRun.conference_id) == conference_id)
            .order_by(col(CertificateRun.started_at).desc())
            .limit(1)
        )
    ).scalar_one_or_none()


def stalled(run: CertificateRun, now: datetime | None = None) -> bool:
    """An unfinished run that has not moved for STALE_AFTER: its worker stopped (a restart, a crash)."""
    return run.finished_at is None and run.updated_at < (now or utcnow()) - STALE_AFTER


def stalled_error(run: CertificateRun) -> str:
    return (
        f"the server running it stopped after {run.done} of {run.total} delegates. "
        "Issue certificates again to finish: it is safe."
    )


async def start_run(db: AsyncSession, *, conference_id: int, actor: Actor) -> CertificateRun:
    """A new run's row, unless one is still going (unfinished, and moved on within STALE_AFTER); a run that
    stalled is closed with the reason first."""
    assert db.in_transaction(), "start_run needs a transaction"
    await lock_for_update(db, Conference, conference_id)  # two organisers pressing the button: one run
    unfinished = (
        await db.execute(
            sa.select(CertificateRun).where(
                col(CertificateRun.conference_id) == conference_id,
                col(CertificateRun.finished_at).is_(None),
            )
        )
    ).scalars()
    now = utcnow()
    for run in unfinished:
        if not stalled(run, now):
            raise RunInProgress()
        run.error, run.finished_at = stalled_error(run)[:500], now
        db.add(run)
    run = CertificateRun(
        conference_id=conference_id,
        started_by=actor.label,
        total=len(await candidates(db, conference_id)),
    )
    db.add(run)
    await db.flush()
    await audit.record(
        db, "sessions.certificate.run_started", actor=actor, subject=str(run.id), total=run.total
    )
    return run


async def run_issue(
    database: Database,
    settings: Settings,
    *,
    run_id: uuid.UUID,
    actor: Actor,
    progress: Callable[[int, int], None] | None = None,
    batch: int = 100,
) -> CertificateRun:
    """Issue the run's certificates, `batch` delegates a transaction; `progress(done, total)` after each batch.
    A failure stops the run with its reason in `error` (what was issued before it stays issued)."""
    done = issued = 0
    error = ""
    try:
        async with database.transaction() as db:
            run = await db.get(CertificateRun, run_id)
            if run is None:
                raise errors.NotFound("No certificate run has this id.")
            context = await issue_context(db)
            ids = await candidates(db, run.conference_id)
            run.total = len(ids)
        if progress is not None:
            progress(0, len(ids))
        for start in range(0, len(ids), max(1, batch)):
            chunk = ids[start : start + max(1, batch)]
            async with database.transaction() as db:
                _results, count = await issue_many(
                    db, settings, context=context, registration_ids=chunk, actor=actor, run_id=run_id
                )
                done += len(chunk)
                issued += count
                await db.execute(
                    sa.update(CertificateRun)
                    .where(col(CertificateRun.id) == run_id)
                    .values(done=done, issued=issued, updated_at=utcnow())
                )
            if progress is not None:
                progress(done, len(ids))
    except errors.NotFound:
        raise
    except Exception as exc:  # the run records why it stopped; the console shows it
        log.exception("certificate run %s stopped", run_id)
        error = f"Stopped after {done} delegates: {type(exc).__name__}. Start the run again to finish it."
    async with database.transaction() as db:
        run = await db.get(CertificateRun, run_id, populate_existing=True)
        assert run is not None
        run.done, run.issued, run.error = done, issued, error[:500]
        run.finished_at = utcnow()
        # Once the certificate email is scheduled, those this run gave a certificate get it too, whether the run
        # was started from the console or the command line.
        await queue_new_certificate_emails(db, settings, conference_id=run.conference_id)
        await audit.record(
            db,
            "sessions.certificate.run_finished",
            actor=actor,
            subject=str(run_id),
            done=done,
            issued=issued,
            failed=bool(error),
        )
    return run
