"""Email verification: proving that a delegate reads the address they registered with.

Anybody can type a public-sector address, so a place that a ticket type approves because of the email's domain is
only held (`awaiting_verification`) until the delegate follows the link emailed to that address
(`mailtext.verify_url`, kind `verify_email`); then it is granted as any approved place (confirmed, or held for a card
payment, or invoiced). A place not confirmed within `CONFERENCE_EMAIL_VERIFY_HOURS` is released like an expired card
hold (`expire_unverified`, run by `VerificationWorker` in every process): the waiting list moves up and the delegate
is emailed. Any other delegate may confirm their address from the booking page (`request_verification`); data
matched only by email (talk proposals, in the data download) is shown once the address is confirmed.

The link (`security.email_verify_token`) is derived from the server secret, the registration, its current address
and its token version, so nothing secret is stored and a changed address, a transfer or an erasure ends it. It works
once: following it again changes nothing. Opening it (GET) changes nothing either; the page's button (POST) confirms.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference import places
from conference.core import audit, background, errors
from conference.core.audit import Actor
from conference.core.db import Database, lock_for_update
from conference.core.models import Registration, Status, TicketType, utcnow
from conference.core.security import email_verify_subject, email_verify_token, tokens_match
from conference.core.settings import Settings
from conference.mail.outbox import queue_email
from conference.payments.fulfilment import release_hold

log = logging.getLogger("conference.verification")

RELEASED = "verification_expired"  # the cancel_reason (and the email kind) of a place released unconfirmed


class InvalidLink(errors.NotFound):
    message = "This confirmation link is not valid any more. Use the newest link we emailed you."


def _matches(settings: Settings, registration: Registration, token: str) -> bool:
    expected = email_verify_token(
        str(settings.secret_key), registration.id, registration.email_key, registration.token_version
    )
    return tokens_match(expected, token)


async def find_by_token(db: AsyncSession, settings: Settings, token: str) -> Registration | None:
    """The registration a confirmation link is for, while the link still matches it (same address and version)."""
    registration_id = email_verify_subject(token)
    if registration_id is None:
        return None
    registration = await db.get(Registration, registration_id)
    if registration is None or registration.erased_at is not None:
        return None
    return registration if _matches(settings, registration, token) else None


@dataclass(frozen=True)
class Confirmation:
    # confirmed: just now; already: confirmed before (nothing changed); released: the place was given up meanwhile
    state: str
    registration: Registration


async def confirm_email(db: AsyncSession, *, settings: Settings, token: str) -> Confirmation:
    """Confirm the address a link was sent to and, for a place held awaiting_verification, grant the place.

    Under the capacity lock, then the registration's (the lock order of conference/registration.py); the link is
    checked again under the lock, so an address changed meanwhile is not confirmed."""
    await places.get_conference(db, for_update=True)
    found = await find_by_token(db, settings, token)
    if found is None:
        raise InvalidLink()
    registration = await lock_for_update(db, Registration, found.id)
    if registration.erased_at is not None or not _matches(settings, registration, token):
        raise InvalidLink()
    if registration.email_verified_at is not None:
        return Confirmation("already", registration)
    if registration.status == Status.cancelled:
        return Confirmation("released", registration)
    actor = Actor("attendee", registration.reference, registration.id)
    now = utcnow()
    registration.email_verified_at = registration.updated_at = now
    granted = registration.status == Status.awaiting_verification
    if granted:
        # Honoured even just past its time if the worker has not released it yet: the place is still held.
        ticket = await db.get(TicketType, registration.ticket_type_id)
        assert ticket is not None
        registration.verify_expires_at = None
        await places.grant_place(
            db,
            settings,
            registration,
            ticket,
            places.status_approved(ticket, registration.payment_method),
            actor,
        )
        queue_email(
            db,
            settings,
            kind="email_verified",
            to=registration.email,
            registration_id=registration.id,
            status=registration.status.value,
        )
    await audit.record(
        db,
        "conference.registration.email_verified",
        actor=actor,
        subject=registration.reference,
        status=registration.status.value,
        place_granted=granted,
    )
    await db.flush()
    return Confirmation("confirmed", registration)


async def request_verification(
    db: AsyncSession, *, settings: Settings, registration_id: uuid.UUID, actor: Actor
) -> bool:
    """Email the delegate a link to confirm their address (from the booking page). False when there is nothing to
    confirm (already confirmed, cancelled or erased)."""
    registration = await db.get(Registration, registration_id)
    if registration is None:
        raise errors.NotFound("No registration has this id.")
    if (
        registration.email_verified_at is not None
        or registration.status == Status.cancelled
        or registration.erased_at is not None
    ):
        return False
    # A place held for the confirmation gets the same email as when it was first held (its deadline, its place).
    held = registration.status == Status.awaiting_verification
    queue_email(
        db,
        settings,
        kind="verify_email",
        to=registration.email,
        registration_id=registration.id,
        status=registration.status.value,
        **({} if held else {"requested": True}),
    )
    await audit.record(
        db, "conference.registration.verification_requested", actor=actor, subject=registration.reference
    )
    return True


async def expire_unverified(database: Database, settings: Settings, *, now: datetime | None = None) -> int:
    """Release every place held awaiting_verification past its time. Each release re-checks under the locks, so
    several processes can run this at once; state is in the database, so it resumes after a restart."""
    now = now or utcnow()
    async with database.read() as db:
        due = list(
            (
                await db.execute(
                    sa.select(col(Registration.id))
                    .where(
                        col(Registration.status) == Status.awaiting_verification,
                        col(Registration.verify_expires_at) <= now,
                    )
                    .order_by(col(Registration.verify_expires_at))
                    .limit(100)
                )
            ).scalars()
        )
    released = 0
    for registration_id in due:
        async with database.transaction() as db:
            conference = await places.get_conference(db, for_update=True)
            registration = await lock_for_update(db, Registration, registration_id)
            if (
                registration.status != Status.awaiting_verification
                or registration.verify_expires_at is None
                or registration.verify_expires_at > now
            ):
                continue  # confirmed (or cancelled, or given more time) meanwhile
            registration.verify_expires_at = None
            await release_hold(db, settings, conference, registration, reason=RELEASED)
            released += 1
    if released:
        log.info("released %d places whose email address was not confirmed in time", released)
    return released


class VerificationWorker:
    """One per process: releases unconfirmed places past their time every `interval` seconds."""

    def __init__(self, database: Database, settings: Settings, *, interval: float = 60.0) -> None:
        self.database, self.settings, self.interval = database, settings, interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="verification-worker")

    async def stop(self) -> None:
        await background.stop(self._task)

    async def _run(self) -> None:
        while True:
            try:
                await expire_unverified(self.database, self.settings)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the database may be down; the next tick retries
                log.warning("verification tick failed: %s", type(exc).__name__)
            await asyncio.sleep(self.interval)
