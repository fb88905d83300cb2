"""Organisers managing delegates: correct a delegate's details, transfer a place to a colleague, decide many
registrations awaiting approval at once, and send a delegate's emails again.

Every function runs inside the caller's transaction. Those that change who a registration belongs to (its email)
take the capacity lock first, as conference/registration.py does, so a new registration with the same email
cannot slip in between the check and the write. Audit entries name fields and counts, never personal data.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference import decisions, places
from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.db import lock_for_update
from conference.core.models import (
    Conference,
    Invoice,
    OutboxEmail,
    PaymentMethod,
    Registration,
    Status,
    utcnow,
)
from conference.core.schemas import RegistrationCreate
from conference.core.security import hash_token, manage_token
from conference.core.settings import Settings
from conference.invoices import invoicing
from conference.invoices.invoicing import INVOICE_KINDS
from conference.mail import mailtext
from conference.mail.outbox import queue_email
from conference.registration import forget_idempotency_keys

# The delegate's own details, in the registration form's order; everything else (ticket, payment, invoices,
# seats) belongs to the place, not to the person.
FIELDS = ("name", "email", "organisation", "job_title", "sector", "region", "dietary", "access_needs")
MAX_BULK = 200  # registrations decided in one request (the list shows 50 a page)
RESEND_KINDS = ("confirmation", "invoice")


class PersonalDataErased(errors.DomainError):
    code = "personal_data_erased"
    message = "This registration's personal data has been erased; its details can no longer be changed."


class NothingToResend(errors.DomainError):
    code = "nothing_to_resend"
    message = "There is nothing to send again."


# RegistrationCreate also asks for a ticket type and consent, which are the place's, not the person's: these stand
# in for them so that only the delegate's fields can fail.
_PLACE = {"ticket_type_id": uuid.UUID(int=0), "consent": True}


def parse_details(values: dict[str, Any]) -> dict[str, Any]:
    """The delegate's details from a form, checked by the registration form's own rules (RegistrationCreate:
    lengths, email syntax, sector and region from their lists). Raises InvalidInput naming each field."""
    data = {name: values.get(name, "") for name in FIELDS}
    problems: dict[str, str] = {}
    if not str(data["sector"]).strip():
        problems["sector"] = "Choose the sector the delegate works in."
    try:
        parsed = RegistrationCreate.model_validate({**data, **_PLACE})
    except ValidationError as exc:
        fields = errors.from_validation_error(exc).fields or {}
        problems = {**{k: v for k, v in fields.items() if k in FIELDS}, **problems}
    if problems:
        raise errors.InvalidInput(fields={k: problems[k] for k in FIELDS if k in problems})
    details = {name: getattr(parsed, name) for name in FIELDS}
    details["email"] = str(parsed.email)
    return details


async def _lock(db: AsyncSession, registration_id: uuid.UUID) -> tuple[Conference, Registration]:
    """The capacity lock, then the registration's row (the lock order of conference/registration.py)."""
    conference = await places.get_conference(db, for_update=True)
    if await db.get(Registration, registration_id) is None:
        raise errors.NotFound("No registration has this id.")
    registration = await lock_for_update(db, Registration, registration_id)
    if registration.erased_at is not None:
        raise PersonalDataErased()
    return conference, registration


async def _email_taken(db: AsyncSession, registration: Registration, email_key: str) -> None:
    """Refuse an email that another live registration of this conference uses (call with the capacity lock)."""
    other = (
        await db.execute(
            sa.select(col(Registration.reference))
            .where(
                col(Registration.conference_id) == registration.conference_id,
                col(Registration.email_key) == email_key,
                col(Registration.status) != Status.cancelled,
                col(Registration.id) != registration.id,
            )
            .limit(1)
        )
    ).scalar_one_or_none()
    if other is not None:
        raise errors.AlreadyRegistered(
            "This email address is already registered.",
            fields={
                "email": f"Registration {other} already uses this email address; one live registration "
                "per address."
            },
        )


async def _flush(db: AsyncSession) -> None:
    try:
        await db.flush()
    except IntegrityError as exc:
        # Not reachable while the capacity lock is held (every registration takes it first); kept as the last word.
        if "email_key" in str(exc.orig) or "uq_registration_live_email" in str(exc.orig):
            raise errors.AlreadyRegistered(
                fields={"email": "Another live registration already uses this email address."}
            ) from None
        raise


def _apply(registration: Registration, details: dict[str, Any]) -> list[str]:
    changed = [name for name in FIELDS if getattr(registration, name) != details[name]]
    for name in changed:
        setattr(registration, name, details[name])
    registration.email_key = registration.email.lower()
    return changed


def _new_address(settings: Settings, registration: Registration) -> bool:
    """The registration's email address is now another one: nobody has confirmed it yet. A place held for the
    confirmation is held afresh for the new address, which gets its own link (the old link named the old address,
    so it stopped working). True when that email is queued."""
    registration.email_verified_at = None
    if registration.status != Status.awaiting_verification:
        return False
    registration.verify_expires_at = places.verify_until(settings, utcnow())
    return True


async def edit_details(
    db: AsyncSession,
    *,
    settings: Settings,
    registration_id: uuid.UUID,
    details: dict[str, Any],
    actor: Actor,
) -> list[str]:
    """Correct a delegate's details (from `parse_details`); returns the names of the fields that changed."""
    _conference, registration = await _lock(db, registration_id)
    email_key = details["email"].lower()
    if email_key != registration.email_key and registration.status != Status.cancelled:
        await _email_taken(db, registration, email_key)
    printed = {"name": registration.name, "organisation": registration.organisation}
    previous_key = registration.email_key
    changed = _apply(registration, details)
    if not changed:
        return []
    registration.updated_at = utcnow()
    if registration.email_key != previous_key and _new_address(settings, registration):
        queue_email(
            db,
            settings,
            kind="verify_email",
            to=registration.email,
            registration_id=registration.id,
            status=registration.status.value,
        )
    if any(printed[k] != getattr(registration, k) for k in printed):
        # The badge and e-ticket show the old text: both are reissued (the old QR answers `invalid` at the door)
        # and the badge is printed again.
        registration.badge_version += 1
        registration.badge_printed_at = None
    await audit.record(
        db, "conference.registration.edited", actor=actor, subject=registration.reference, fields=changed
    )
    await _flush(db)
    return changed


async def substitute(
    db: AsyncSession, *, settings: Settings, registration_id: uuid.UUID, details: dict[str, Any], actor: Actor
) -> Registration:
    """Transfer the place to a colleague: the same row keeps its place, payment, invoices and seats; the person's
    details are replaced, and the manage link and badge are reissued (the old ones stop working at once).

    The colleague is emailed the confirmation with the new manage link, the previous delegate that the place was
    transferred (without the colleague's details). Mail still queued for the previous delegate is withdrawn:
    emails are rendered when sent, so it would otherwise carry the new manage link to the old address."""
    _conference, registration = await _lock(db, registration_id)
    if registration.status == Status.cancelled:
        raise errors.AlreadyCancelled("A cancelled registration has no place to transfer.")
    email_key = details["email"].lower()
    if email_key == registration.email_key:
        raise errors.InvalidInput(
            fields={
                "email": "This is the current delegate's address: give the colleague's own email address."
            }
        )
    await _email_taken(db, registration, email_key)
    previous_email, previous_name = registration.email, registration.name
    changed = _apply(registration, details)
    # The previous holder's answers to the organisers' questions are theirs: the colleague gives their own.
    if registration.answers:
        registration.answers = None
        changed = [*changed, "answers"]
    registration.token_version += 1
    registration.manage_token_hash = hash_token(
        manage_token(str(settings.secret_key), registration.id, registration.token_version)
    )
    registration.badge_version += 1
    registration.badge_printed_at = None
    registration.updated_at = utcnow()
    verifying = _new_address(settings, registration)
    # The first registration's Idempotency-Key would let its sender replay it and be handed the colleague's link.
    forgotten = await forget_idempotency_keys(db, registration.id)
    # An UPDATE answers with a CursorResult (SQLAlchemy types execute() as a plain Result).
    withdrawn = cast(
        "CursorResult[Any]",
        await db.execute(
            sa.update(OutboxEmail)
            .where(
                col(OutboxEmail.registration_id) == registration.id,
                col(OutboxEmail.to_address) == previous_email,
                col(OutboxEmail.status).in_(("queued", "sending")),
                col(OutboxEmail.kind).not_in(tuple(INVOICE_KINDS)),
            )
            .values(status="failed", last_error="withdrawn: the place was transferred", lease_until=None)
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    position = await places.waitlist_position(db, registration)
    queue_email(
        db,
        settings,
        # A place held for the confirmation of the address: the colleague confirms theirs (the email has the link).
        kind="verify_email" if verifying else "registration",
        to=registration.email,
        registration_id=registration.id,
        status=registration.status.value,
        position=position,
        transferred=True,
    )
    queue_email(
        db,
        settings,
        kind=mailtext.PLACE_TRANSFERRED,
        to=previous_email,
        registration_id=registration.id,
        name=previous_name,
        by=actor.kind,  # "attendee": the delegate handed it on themselves (conference/self_service.py)
    )
    await audit.record(
        db,
        "conference.registration.substituted",
        actor=actor,
        subject=registration.reference,
        fields=changed,
        token_version=registration.token_version,
        badge_version=registration.badge_version,
        withdrawn_emails=withdrawn,
        idempotency_keys_deleted=forgotten,
    )
    await _flush(db)
    return registration


@dataclass
class BulkOutcome:
    decided: list[str] = field(default_factory=list)  # references
    refused: list[tuple[str, str]] = field(
        default_factory=list
    )  # (reference or id, why: a status or "missing")


async def decide_many(
    db: AsyncSession, *, settings: Settings, registration_ids: list[uuid.UUID], approve: bool, actor: Actor
) -> BulkOutcome:
    """Approve (or reject) registrations awaiting approval, in the caller's one transaction.

    Under the capacity lock, each registration's state is checked first: one no longer awaiting approval (or
    unknown) is reported, not decided, and does not stop the others. Each decision runs through
    `decisions.decide_approval` in a savepoint of its own, so a refusal there undoes only its own rows."""
    if len(registration_ids) > MAX_BULK:
        raise errors.InvalidInput(
            fields={"registration": f"Choose at most {MAX_BULK} registrations at a time."}
        )
    await places.get_conference(db, for_update=True)
    outcome = BulkOutcome()
    unique = list(dict.fromkeys(registration_ids))
    found = {
        r.id: r
        for r in (
            await db.execute(
                sa.select(Registration)
                .where(col(Registration.id).in_(unique))
                .execution_options(populate_existing=True)
            )
        ).scalars()
    }
    for registration_id in unique:
        registration = found.get(registration_id)
        if registration is None:
            outcome.refused.append((str(registration_id), "missing"))
            continue
        if registration.status != Status.awaiting_approval:
            outcome.refused.append((registration.reference, registration.status.value))
            continue
        reference = registration.reference  # a rolled-back savepoint expires the object
        try:
            async with db.begin_nested():
                await decisions.decide_approval(
                    db, settings=settings, registration_id=registration_id, approve=approve, actor=actor
                )
        except errors.DomainError as exc:
            outcome.refused.append((reference, exc.code))
            continue
        outcome.decided.append(reference)
    await audit.record(
        db,
        "conference.registrations.decided",
        actor=actor,
        decision="approved" if approve else "rejected",
        decided=len(outcome.decided),
        refused=len(outcome.refused),
    )
    return outcome


async def latest_invoice(db: AsyncSession, registration_id: uuid.UUID) -> Invoice | None:
    """The registration's newest invoice that still stands (issued or paid, not credited)."""
    return (
        await db.execute(
            sa.select(Invoice)
            .where(
                col(Invoice.registration_id) == registration_id,
                col(Invoice.kind) == "invoice",
                col(Invoice.status).in_(invoicing.OPEN),
            )
            .order_by(col(Invoice.created_at).desc(), col(Invoice.number).desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def resend(
    db: AsyncSession, *, settings: Settings, registration_id: uuid.UUID, what: str, actor: Actor
) -> str:
    """Queue the delegate's confirmation (with the manage link) or, for invoice payers, the latest invoice (to the
    billing contact) again. Returns what was sent."""
    if what not in RESEND_KINDS:
        raise errors.InvalidInput(fields={"email": "Choose the confirmation or the invoice."})
    registration = await db.get(Registration, registration_id)
    if registration is None:
        raise errors.NotFound("No registration has this id.")
    if registration.erased_at is not None:
        raise PersonalDataErased(
            "This registration's personal data has been erased: there is no one to email."
        )
    if what == "confirmation":
        if registration.status == Status.cancelled:
            raise NothingToResend("This registration is cancelled: there is no booking to confirm.")
        position = await places.waitlist_position(db, registration)
        queue_email(
            db,
            settings,
            # A place held for the confirmation of the address: the email that carries the link to confirm it.
            kind="verify_email" if registration.status == Status.awaiting_verification else "registration",
            to=registration.email,
            registration_id=registration.id,
            status=registration.status.value,
            position=position,
            resent=True,
        )
        await audit.record(
            db,
            "conference.registration.email_resent",
            actor=actor,
            subject=registration.reference,
            email="confirmation",
        )
        return what
    if registration.payment_method != PaymentMethod.invoice:
        raise NothingToResend("This registration is not paid by invoice.")
    invoice = await latest_invoice(db, registration.id)
    if invoice is None:
        raise NothingToResend("This registration has no invoice that stands (none issued, or all credited).")
    invoicing.email_invoice(db, settings, invoice=invoice)
    await audit.record(
        db,
        "conference.registration.email_resent",
        actor=actor,
        subject=registration.reference,
        email="invoice",
        invoice=invoice.number,
    )
    return what
