"""The mail sender: claims due rows of the mail queue, renders and delivers them, and retries with a lease.

A sender claims due rows for a while (the lease); a crashed sender's rows become due again when the lease runs
out. On PostgreSQL claims skip rows another instance holds (FOR UPDATE SKIP LOCKED); SQLite's write lock makes
claims single-writer anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import unquote, urlparse

import aiosmtplib
import sqlalchemy as sa
from sqlmodel import col

from conference.core import background, metrics
from conference.core.db import Database
from conference.core.models import OutboxEmail, utcnow
from conference.core.settings import Settings
from conference.mail import mailtext

log = logging.getLogger("conference.outbox")

LEASE = timedelta(minutes=2)  # the default of settings.mail_lease_seconds (CONFERENCE_MAIL_LEASE_SECONDS)
BATCH = 20


async def claim_due(database: Database, *, limit: int = BATCH, lease: timedelta = LEASE) -> list[OutboxEmail]:
    now = utcnow()
    async with database.transaction() as db:
        due = sa.or_(
            sa.and_(col(OutboxEmail.status) == "queued", col(OutboxEmail.next_attempt_at) <= now),
            sa.and_(col(OutboxEmail.status) == "sending", col(OutboxEmail.lease_until) < now),
        )
        stmt = (
            sa.select(OutboxEmail)
            .where(due)
            .order_by(col(OutboxEmail.next_attempt_at))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = list((await db.execute(stmt)).scalars())
        for row in rows:
            row.status = "sending"
            row.lease_until = now + lease
            row.attempts += 1
        return rows


class SmtpTransport:
    def __init__(self, url: str) -> None:
        parts = urlparse(url)
        if parts.scheme not in {"smtp", "smtps", "smtp+starttls"}:
            raise ValueError("CONFERENCE_SMTP_URL must start with smtp://, smtps:// or smtp+starttls://")
        self.hostname = parts.hostname or "localhost"
        self.port = parts.port or (465 if parts.scheme == "smtps" else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.use_tls = parts.scheme == "smtps"
        self.start_tls = parts.scheme == "smtp+starttls"

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self.hostname,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.use_tls,
            start_tls=self.start_tls,
            timeout=15,
        )


async def renew_leases(
    database: Database, rows: list[OutboxEmail], *, lease: timedelta = LEASE
) -> set[uuid.UUID]:
    """Extend the lease of a batch's unsent rows; returns the ids still this sender's.

    A lease covers one row's rendering and sending, not the whole batch's (a confirmation renders a PDF ticket and
    an .ics, so a batch can outlast it): before each row the rest of the batch is renewed. A row another sender
    claimed meanwhile (its lease ran out, so its attempts went up) is not ours any more and is not sent again.
    """
    if not rows:
        return set()
    owned = sa.or_(
        *(sa.and_(col(OutboxEmail.id) == r.id, col(OutboxEmail.attempts) == r.attempts) for r in rows)
    )
    async with database.transaction() as db:
        result = await db.execute(
            sa.update(OutboxEmail)
            .where(owned, col(OutboxEmail.status) == "sending")
            .values(lease_until=utcnow() + lease)
            .returning(col(OutboxEmail.id))
        )
        return set(result.scalars())


async def deliver_due(database: Database, settings: Settings, transport: SmtpTransport) -> int:
    """Send what is due; returns how many were sent."""
    lease = timedelta(seconds=settings.mail_lease_seconds)
    rows = await claim_due(database, lease=lease)
    sent = 0
    for index, row in enumerate(rows):
        if index and row.id not in await renew_leases(database, rows[index:], lease=lease):
            continue  # another sender took it over when our lease ran out: it sends it, not us
        try:
            async with database.read() as db:
                message = await mailtext.render(db, settings, row)
            # The same Message-ID on every attempt at one row: delivery is at-least-once (a sender that dies
            # between the server's 250 and marking the row `sent` sends it again once its lease runs out), and a
            # copy with the same Message-ID is the same message to mail stores and clients, which drop it.
            message.replace_header("Message-ID", f"<{row.id}@conference.local>")
            await transport.send(message)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded on the row and retried
            await _failed(database, settings, row.id, row.attempts, exc)
            continue
        async with database.transaction() as db:
            await db.execute(
                sa.update(OutboxEmail)
                .where(col(OutboxEmail.id) == row.id)
                .values(status="sent", sent_at=utcnow(), lease_until=None, last_error="")
            )
        metrics.MAIL_SENT.inc()
        sent += 1
    return sent


async def _failed(
    database: Database, settings: Settings, row_id: uuid.UUID, attempts: int, exc: Exception
) -> None:
    # The error's class only: server replies can quote the recipient's address.
    error = f"{type(exc).__name__}"
    code = getattr(exc, "code", None)
    if code:
        error += f" (SMTP {code})"
    # Retrying can't help a message that can't be composed, or an address every server refused for good (5xx).
    refused = isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and all(
        500 <= r.code < 600 for r in exc.recipients
    )
    final = attempts >= settings.mail_max_attempts or isinstance(exc, mailtext.Undeliverable) or refused
    delay = min(settings.mail_retry_base_seconds * 2 ** (attempts - 1), 3600)
    log.warning("email %s attempt %d failed: %s%s", row_id, attempts, error, "; giving up" if final else "")
    metrics.MAIL_FAILED.labels("gave_up" if final else "retry").inc()
    async with database.transaction() as db:
        await db.execute(
            sa.update(OutboxEmail)
            .where(col(OutboxEmail.id) == row_id)
            .values(
                status="failed" if final else "queued",
                next_attempt_at=utcnow() + timedelta(seconds=delay),
                lease_until=None,
                last_error=error[:500],
            )
        )


class MailWorker:
    """One per process: woken as soon as a transaction that queued mail commits, and polls for retries.

    Nobody wakes it by hand: `start` asks the database to call `wake` after every commit of a write transaction
    that inserted into the mail queue (conference.core.db.Database.after_insert_commit), whichever code queued
    the rows (queue_email, or outbox_row's columns in a Core INSERT)."""

    def __init__(self, database: Database, settings: Settings, *, poll_seconds: float = 2.0) -> None:
        self.database = database
        self.settings = settings
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unwatch: Callable[[], None] | None = None
        self.transport = SmtpTransport(settings.smtp_url) if settings.smtp_url else None

    def start(self) -> None:
        if self.transport is not None:
            self._unwatch = self.database.after_insert_commit(OutboxEmail.__tablename__, self.wake)
            self._task = asyncio.create_task(self._run(), name="mail-worker")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        await background.stop(self._task)

    async def _run(self) -> None:
        assert self.transport is not None
        while True:
            try:
                while await deliver_due(self.database, self.settings, self.transport) > 0:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("mail worker tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            self._wake.clear()
