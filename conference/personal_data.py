"""A delegate's personal data: the copy they may download, its erasure, and the retention rule that erases it.

- `export_for` gathers everything held about one registration as JSON (packages built on this one add their
  part through `hooks.personal_data`: sessions adds seats, agenda, choices, stars and proposals).
- `erase` replaces the personal fields of a registration with placeholders and removes what only identifies
  the person (unsent emails, addresses of sent ones, stars and ranked choices), keeping what the counts and the
  law need: sector, ticket type, status, check-ins, payments, refunds and invoices. Invoices keep their billing
  fields: accounting law (HMRC: six years) requires us to keep the invoices we issued as issued.
- `erase_expired` applies the conference's `retention_days`: every registration not yet erased is erased once
  the conference ended that many days ago. `RetentionWorker` runs it hourly in every server process; each
  registration is erased in its own transaction under the capacity lock and re-checked there, so several
  processes (or the `conference erase-expired` command) can run it at once without doing anything twice.
  Each tick first purges Idempotency-Key records older than `CONFERENCE_IDEMPOTENCY_RETENTION_DAYS` (they hold a
  hash of a whole registration request); a registration's own go at once when it is erased or transferred.
- A group booking's lead (conference/groups.py) has personal data of their own on `group_booking`: their name and
  email and the billing contact, email and address. `export_group_for` is the lead's download; `erase_group`
  erases it, at the lead's request (refused while a member's place still waits for payment, approval or a place:
  the group's next invoice or card payment needs those details) and by the retention rule once every member's
  record is erased. Invoices keep their own copies of the billing details. An erased group is marked by its lead's
  placeholder address (`group_erased`), so no column is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference import answers
from conference.core import audit, background, errors, hooks
from conference.core.audit import Actor
from conference.core.code_models import Code
from conference.core.db import Database, lock_for_update
from conference.core.group_models import GroupBooking
from conference.core.models import (
    SECTOR_LABELS,
    Checkin,
    Conference,
    IdempotencyKey,
    Invoice,
    OutboxEmail,
    Payment,
    Refund,
    Registration,
    Status,
    TicketType,
    utcnow,
)
from conference.core.security import hash_token
from conference.core.settings import Settings
from conference.decisions import cancel_registration
from conference.invoices.invoicing import INVOICE_KINDS
from conference.places import get_conference, price_of, waitlist_position
from conference.questions import all_questions
from conference.registration import forget_idempotency_keys, purge_idempotency_keys

log = logging.getLogger("conference.personal_data")

FORMAT = "conference-personal-data/1"
ERASED_NAME = "Erased delegate"
# Why personal data was erased (the audit entry's `reason`).
REASONS = ("delegate_request", "organiser", "retention")
_Row = TypeVar("_Row", Registration, GroupBooking)  # what an erasure locks (`_lock_to_erase`)
# Emails not (yet) delivered: deleted on erasure. Sent and kept ones lose their address and context only.
UNSENT = ("queued", "sending", "failed")
MAX_RETENTION_DAYS = 3650


class AlreadyErased(errors.DomainError):
    code = "already_erased"
    message = "This registration's personal data has already been erased."


def erased_email(registration_id: uuid.UUID) -> str:
    """A unique address that can never be delivered (.invalid is reserved by RFC 2606)."""
    return f"erased-{registration_id}@invalid"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


# Parts of the delegate's and the group lead's downloads that read the same.
def _attrs(row: Any, *names: str) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


def _ticket_row(ticket: TicketType) -> dict[str, Any]:
    return {"id": str(ticket.id), **_attrs(ticket, "name", "price_pence", "vat_rate_percent", "currency")}


def _invoice_billing(i: Invoice) -> dict[str, Any]:
    names = ("billing_organisation", "billing_contact", "billing_email", "billing_address", "purchase_order")
    return _attrs(i, *names)


def _invoice_dates(i: Invoice) -> dict[str, Any]:
    return {
        "currency": i.currency,
        **{name: _iso(getattr(i, name)) for name in ("issued_on", "due_on", "paid_at")},
    }


def _email_rows(emails: Iterable[OutboxEmail]) -> list[dict[str, Any]]:
    return [
        {
            "kind": e.kind,
            "to": e.to_address,
            "status": e.status,
            "created_at": _iso(e.created_at),
            "sent_at": _iso(e.sent_at),
        }
        for e in emails
    ]


# --- the export --------------------------------------------------------------------------------------------


def retention_due_at(conference: Conference) -> datetime | None:
    """From when the retention rule erases personal data (None: kept until an organiser decides)."""
    if conference.retention_days is None:
        return None
    return conference.ends_at + timedelta(days=conference.retention_days)


def _about(conference: Conference, now: datetime) -> dict[str, Any]:
    due = retention_due_at(conference)
    return {
        "what": f"Everything {conference.name} holds about one registration: the details given when registering, "
        "the answers to the organisers' questions, the booking's status and history, payments, refunds, invoices, "
        "check-ins, the emails we sent, "
        "and workshop seats, choices and talk stars.",
        "format": FORMAT,
        "generated_at": now.isoformat(),
        "conference": conference.name,
        "notes": [
            "Times are ISO 8601 with their offset; money is in pence with its currency.",
            "Card details never reach us: card payments are taken by Stripe, which keeps its own records.",
            "Talk proposals are listed when a speaker on them has this registration's email address, once that "
            "address is confirmed (the link we email to it); only your own entry as a speaker is shown.",
            "Emails are listed when they were sent to this registration's current address (or, for invoices, to "
            "its billing contact): a place transferred from a colleague does not show what was sent to them.",
            "When personal data is erased, the sector, ticket type, status, check-ins, payments, refunds and "
            "invoices stay (invoices with their billing details, as the law requires) for the organisers' "
            "counts and accounts.",
        ],
        "retention": (
            f"Personal data is erased {conference.retention_days} days after the conference ends, on "
            f"{due.isoformat()}."
            if due is not None
            else "The organisers have not set a retention period yet."
        ),
    }


async def _booked_with(db: AsyncSession, r: Registration, ticket: TicketType) -> dict[str, Any]:
    """The price this place sold at, the code it was booked with and the group it belongs to (the delegate's
    download and the registration API answer both carry these)."""
    code = await db.get(Code, r.code_id) if r.code_id else None
    group = await db.get(GroupBooking, r.group_id) if r.group_id else None
    return {
        # Net of VAT, after any code (places.price_of): what an invoice or a card payment charges for the place.
        "price_pence": price_of(r, ticket),
        "currency": ticket.currency,
        "code": {"id": str(code.id), "text": code.text, "label": code.label} if code else None,
        "group": {"id": str(group.id), "reference": group.reference} if group else None,
    }


async def booking_terms(db: AsyncSession, r: Registration) -> dict[str, Any]:
    """`price_pence`, `currency`, `code` and `group` of a registration (conference/api/registrations.py)."""
    ticket = await db.get(TicketType, r.ticket_type_id)
    assert ticket is not None
    return await _booked_with(db, r, ticket)


async def export_for(db: AsyncSession, *, registration_id: uuid.UUID) -> dict[str, Any]:
    """Everything held about the registration's delegate, as JSON-ready data (no Stripe ids or secrets)."""
    r = await db.get(Registration, registration_id)
    if r is None:
        raise errors.NotFound("No registration has this id.")
    conference = await db.get(Conference, r.conference_id)
    ticket = await db.get(TicketType, r.ticket_type_id)
    assert conference is not None and ticket is not None
    by_registration = {"registration_id": r.id}
    checkins = (
        await db.execute(sa.select(Checkin).filter_by(**by_registration).order_by(col(Checkin.scanned_at)))
    ).scalars()
    payments = (
        await db.execute(sa.select(Payment).filter_by(**by_registration).order_by(col(Payment.attempt)))
    ).scalars()
    refunds = (
        await db.execute(sa.select(Refund).filter_by(**by_registration).order_by(col(Refund.created_at)))
    ).scalars()
    invoices = list(
        (
            await db.execute(
                sa.select(Invoice)
                .filter_by(**by_registration)
                .order_by(col(Invoice.created_at), col(Invoice.number))
            )
        ).scalars()
    )
    numbers = {i.id: i.number for i in invoices}
    # Only what went to the current holder: after a transfer the place's earlier emails went to the colleague it
    # was transferred from. Invoices (which belong to the place) went to its billing contact.
    to_holder = sa.func.lower(col(OutboxEmail.to_address)) == r.email_key
    billing_email = str((r.billing or {}).get("email", "")).lower()
    to_billing = sa.and_(
        col(OutboxEmail.kind).in_(sorted(INVOICE_KINDS)),
        sa.func.lower(col(OutboxEmail.to_address)) == billing_email,
    )
    emails = (
        await db.execute(
            sa.select(OutboxEmail)
            .filter_by(**by_registration)
            .where(sa.or_(to_holder, to_billing) if billing_email else to_holder)
            .order_by(col(OutboxEmail.created_at))
        )
    ).scalars()
    return {
        "about": _about(conference, utcnow()),
        "registration": {
            "id": str(r.id),
            "reference": r.reference,
            "status": r.status.value,
            "name": r.name,
            "email": r.email,
            "organisation": r.organisation,
            "sector": r.sector.value,
            "sector_label": SECTOR_LABELS[r.sector],
            "job_title": r.job_title,
            "region": r.region,
            "dietary": r.dietary,
            "access_needs": r.access_needs,
            "payment_method": r.payment_method.value,
            "waitlist_position": await waitlist_position(db, r),
            "consent_at": _iso(r.consent_at),
            "created_at": _iso(r.created_at),
            "updated_at": _iso(r.updated_at),
            "cancelled_at": _iso(r.cancelled_at),
            "cancel_reason": r.cancel_reason,
            "hold_expires_at": _iso(r.hold_expires_at),
            "email_verified_at": _iso(r.email_verified_at),
            "verify_expires_at": _iso(r.verify_expires_at),
            "badge_printed_at": _iso(r.badge_printed_at),
            "erasure_requested_at": _iso(r.erasure_requested_at),
            "erased_at": _iso(r.erased_at),
            **await _booked_with(db, r, ticket),
        },
        "ticket_type": _ticket_row(ticket),
        "billing": r.billing,
        # Answers to the organisers' questions: the question as it was asked (and as it reads now), the answer.
        "answers": answers.download(await all_questions(db), r.answers),
        "check_ins": [
            {
                "list": c.list,
                "result": c.result,
                "scanned_at": _iso(c.scanned_at),
                "recorded_at": _iso(c.received_at),
                "offline": c.offline,
            }
            for c in checkins
        ],
        "payments": [
            {
                "attempt": p.attempt,
                "status": p.status,
                "amount_pence": p.amount_pence,
                "currency": p.currency.upper(),
                "refunded_pence": p.refunded_pence,
                "created_at": _iso(p.created_at),
                "paid_at": _iso(p.paid_at),
            }
            for p in payments
        ],
        "refunds": [
            {
                "amount_pence": f.amount_pence,
                "reason": f.reason,
                "status": f.status,
                "created_at": _iso(f.created_at),
                "updated_at": _iso(f.updated_at),
            }
            for f in refunds
        ],
        "invoices": [
            {
                "number": i.number,
                "kind": i.kind,
                "status": i.status,
                "credits_invoice": numbers.get(i.credits_invoice_id) if i.credits_invoice_id else None,
                **_invoice_billing(i),
                "delegate_name": i.delegate_name,
                "description": i.description,
                "net_pence": i.net_pence,
                "vat_rate_percent": i.vat_rate_percent,
                "vat_pence": i.vat_pence,
                "gross_pence": i.gross_pence,
                **_invoice_dates(i),
                "paid_on": _iso(i.paid_on),
                "paid_amount_pence": i.paid_amount_pence,
                "payment_reference": i.payment_reference,
            }
            for i in invoices
        ],
        "emails": _email_rows(emails),
        **await hooks.collect_personal_data(db, r),
    }


async def record_download(db: AsyncSession, *, registration_id: uuid.UUID, actor: Actor, via: str) -> None:
    """Every download of a delegate's data is in the audit trail (who, which registration, from where)."""
    r = await db.get(Registration, registration_id)
    if r is None:
        raise errors.NotFound("No registration has this id.")
    await audit.record(db, "conference.personal_data.downloaded", actor=actor, subject=r.reference, via=via)


# --- erasure -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Erasure:
    registration_id: uuid.UUID
    reference: str
    status: Status
    erased_at: datetime
    already: bool = False  # erased before: nothing was changed
    cancelled: bool = False  # the place (or waiting-list entry) was given up first
    refund_pence: int = 0  # card refunds the cancellation's policy decided
    credit_notes: int = 0  # invoices the cancellation's policy credited

    def public(self) -> dict[str, Any]:
        return {
            "id": str(self.registration_id),
            "reference": self.reference,
            "status": self.status.value,
            "erased_at": self.erased_at.isoformat(),
            "already_erased": self.already,
            "cancelled": self.cancelled,
            "refund_pence": self.refund_pence,
            "credit_notes": self.credit_notes,
            "message": (
                "This registration's personal data had already been erased; nothing changed."
                if self.already
                else "The personal data is erased."
            ),
        }


async def _money_decided(db: AsyncSession, registration_id: uuid.UUID) -> tuple[int, int]:
    refunded = await db.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(col(Refund.amount_pence)), 0)).where(
            col(Refund.registration_id) == registration_id
        )
    )
    notes = await db.scalar(
        sa.select(sa.func.count())
        .select_from(Invoice)
        .where(col(Invoice.registration_id) == registration_id, col(Invoice.kind) == "credit_note")
    )
    return int(refunded or 0), int(notes or 0)


async def _lock_to_erase(
    db: AsyncSession,
    model: type[_Row],
    ident: uuid.UUID,
    *,
    reason: str,
    reasons: tuple[str, ...],
    missing: str,
) -> tuple[Conference, _Row]:
    """The conference and the registration or group to erase, both locked for the caller's transaction.

    Lock order, as every path that changes who holds a place (and the group's own changes, groups._lock_group):
    the conference (capacity) → the registration or the group."""
    if reason not in reasons:
        raise ValueError(f"reason must be one of {', '.join(reasons)}")
    assert db.in_transaction()
    conference = await get_conference(db, for_update=True)
    if await db.get(model, ident) is None:
        raise errors.NotFound(missing)
    return conference, await lock_for_update(db, model, ident)


async def erase(
    db: AsyncSession,
    *,
    settings: Settings,
    registration_id: uuid.UUID,
    actor: Actor,
    reason: str,
    at: datetime | None = None,
) -> Erasure:
    """Erase one delegate's personal data, in the caller's transaction. Erasing twice changes nothing.

    A registration that still holds a place or a waiting-list entry is cancelled first, through
    `cancel_registration`, so its place and seats are freed, the waiting list moves up and the cancellation
    policy refunds or credits (the delegate's policy when the actor is the delegate). Once the conference has
    ended there is no place left to free: a confirmed registration keeps its status (the record that the place
    was taken, for the counts), and nothing is refunded or promoted; a registration still waiting (list,
    approval or payment) is closed as cancelled (`cancel_reason` "erased"), with no refund or promotion.

    Kept, with no personal data in them: sector, ticket type, status, check-ins, seat bookings, payments,
    refunds and invoices. Invoices and credit notes keep their billing fields, and their emails to the paying
    organisation stay: the law requires us to keep the invoices we issued (HMRC: six years).

    `at` (default: the clock) decides whether the conference has ended; the retention run passes its own.
    """
    conference, r = await _lock_to_erase(
        db,
        Registration,
        registration_id,
        reason=reason,
        reasons=REASONS,
        missing="No registration has this id.",
    )
    if r.erased_at is not None:  # re-read under the lock: another process may have just erased it
        return Erasure(r.id, r.reference, r.status, r.erased_at, already=True)
    now = utcnow()
    ended = (at or now) >= conference.ends_at
    cancelled = False
    refunded_before, notes_before = await _money_decided(db, r.id)
    if r.status != Status.cancelled:
        if not ended:
            r = await cancel_registration(db, settings=settings, registration_id=r.id, actor=actor)
            cancelled = True
        elif r.status != Status.confirmed:
            r.status, r.cancelled_at, r.cancel_reason, r.hold_expires_at = (
                Status.cancelled,
                now,
                "erased",
                None,
            )
            await audit.record(
                db,
                "conference.registration.cancelled",
                actor=actor,
                subject=r.reference,
                reason="erased_after_event",
            )
            await db.flush()
            await hooks.run_registration_released(db, settings, r)
            cancelled = True
    refunded_after, notes_after = await _money_decided(db, r.id)

    r.name = ERASED_NAME
    r.email = r.email_key = erased_email(r.id)
    r.organisation = r.job_title = r.region = r.dietary = r.access_needs = ""
    r.billing = None
    r.answers = None  # the answers to the registration questions
    # Old manage links and badges stop working: the link's hash matches no token anyone holds, and the badge's
    # version moves on so its QR code scans as invalid.
    r.token_version += 1
    r.manage_token_hash = hash_token(secrets.token_urlsafe(32))
    r.badge_version += 1
    r.email_verified_at = r.verify_expires_at = None
    # Idempotency-Key records keep a hash of the whole first request (personal data) and could replay it.
    forgotten = await forget_idempotency_keys(db, r.id)
    if reason == "delegate_request" and r.erasure_requested_at is None:
        r.erasure_requested_at = now
    r.erased_at = r.updated_at = now

    mine = col(OutboxEmail.registration_id) == r.id
    not_invoices = col(OutboxEmail.kind).not_in(sorted(INVOICE_KINDS))
    # An UPDATE or DELETE answers with a CursorResult (SQLAlchemy types execute() as a plain Result).
    deleted = cast(
        "CursorResult[Any]",
        await db.execute(
            sa.delete(OutboxEmail).where(mine, not_invoices, col(OutboxEmail.status).in_(UNSENT))
        ),
    ).rowcount
    blanked = cast(
        "CursorResult[Any]",
        await db.execute(sa.update(OutboxEmail).where(mine, not_invoices).values(to_address="", context={})),
    ).rowcount
    await hooks.run_registration_erased(db, settings, r)
    await audit.record(
        db,
        "conference.registration.erased",
        actor=actor,
        subject=r.reference,
        reason=reason,
        cancelled=cancelled,
        emails_deleted=deleted,
        emails_blanked=blanked,
        idempotency_keys_deleted=forgotten,
    )
    await db.flush()
    return Erasure(
        r.id,
        r.reference,
        r.status,
        now,
        cancelled=cancelled,
        refund_pence=refunded_after - refunded_before,
        credit_notes=notes_after - notes_before,
    )


# --- a group booking's lead ------------------------------------------------------------------------------------

ERASED_LEAD_NAME = "Erased lead booker"
# Why a lead's personal data was erased (the audit entry's `reason`).
GROUP_REASONS = ("lead_request", "organiser", "retention")
# What an erased group keeps of its billing details: the paying organisation and its references name no person.
KEPT_BILLING = ("organisation", "purchase_order", "buyer_reference")
# A member in one of these may still get a place to pay for: the group's next invoice (to its billing contact) or
# its card payment (the lead's) needs the lead's details, so the lead cannot erase them yet.
UNSETTLED = (
    Status.pending_payment,
    Status.waitlisted,
    Status.awaiting_approval,
    Status.awaiting_verification,
)


class GroupUnsettled(errors.DomainError):
    code = "group_unsettled"
    message = (
        "Some of your group's places still wait for payment, approval or a free place, and the organisers need "
        "your details until they are settled: pay, or cancel those places, then erase your details (or ask the "
        "organisers)."
    )


def erased_group_email(group_id: uuid.UUID) -> str:
    """The erased lead's address: unique, never deliverable, and the mark of an erased group."""
    return f"erased-group-{group_id}@invalid"


def group_erased(group: GroupBooking) -> bool:
    return group.lead_email_key == erased_group_email(group.id)


async def _members(db: AsyncSession, group_id: uuid.UUID) -> list[Registration]:
    stmt = (
        sa.select(Registration)
        .where(col(Registration.group_id) == group_id)
        .order_by(col(Registration.number))
    )
    return list((await db.execute(stmt)).scalars())


async def unsettled_members(
    db: AsyncSession, group: GroupBooking, conference: Conference, now: datetime | None = None
) -> list[Registration]:
    """The members whose place still waits for payment, approval or a free place (none once the event ended:
    nothing is decided or invoiced after it)."""
    if (now or utcnow()) >= conference.ends_at:
        return []
    return [r for r in await _members(db, group.id) if r.erased_at is None and r.status in UNSETTLED]


# The emails written to a group's lead: its booking email and, for a waitlisted group, its promotion.
LEAD_KINDS = frozenset({"group_booked", "group_promoted"})


def _is_groups(e: OutboxEmail, group_id: uuid.UUID) -> bool:
    return e.kind in LEAD_KINDS and str((e.context or {}).get("group_id", "")) == str(group_id)


async def _lead_emails(db: AsyncSession, group: GroupBooking) -> list[OutboxEmail]:
    """The group's emails to its lead (its booking and promotion emails, with the private link) and its invoices'
    emails to the billing contact."""
    addresses = {group.lead_email_key}
    billing_email = str((group.billing or {}).get("email", "")).lower()
    if billing_email:
        addresses.add(billing_email)
    members = sa.select(col(Registration.id)).where(col(Registration.group_id) == group.id)
    stmt = (
        sa.select(OutboxEmail)
        .where(
            sa.func.lower(col(OutboxEmail.to_address)).in_(sorted(addresses)),
            sa.or_(
                col(OutboxEmail.kind).in_(sorted(LEAD_KINDS)),
                sa.and_(
                    col(OutboxEmail.kind).in_(sorted(INVOICE_KINDS)),
                    col(OutboxEmail.registration_id).in_(members),
                ),
            ),
        )
        .order_by(col(OutboxEmail.created_at))
    )
    found = (await db.execute(stmt)).scalars()
    return [e for e in found if e.kind not in LEAD_KINDS or _is_groups(e, group.id)]


async def export_group_for(db: AsyncSession, *, group_id: uuid.UUID) -> dict[str, Any]:
    """Everything held about a group's lead booker, as JSON-ready data. The members are listed by reference and
    status only: their own details are theirs (each downloads them from their own link)."""
    group = await db.get(GroupBooking, group_id)
    if group is None:
        raise errors.NotFound("No group booking has this id.")
    conference = await db.get(Conference, group.conference_id)
    ticket = await db.get(TicketType, group.ticket_type_id)
    assert conference is not None and ticket is not None
    code = await db.get(Code, group.code_id) if group.code_id else None
    invoices = list(
        (
            await db.execute(
                sa.select(Invoice)
                .where(col(Invoice.group_id) == group.id)
                .order_by(col(Invoice.created_at), col(Invoice.number))
            )
        ).scalars()
    )
    about = _about(conference, utcnow())
    about["what"] = (
        f"Everything {conference.name} holds about the lead booker of one group booking: the details given when "
        "booking, the billing details, the group's places, its invoices and the emails we sent to the lead."
    )
    about["notes"] = [
        "Times are ISO 8601 with their offset; money is in pence with its currency.",
        "Each member of the group is a registration of their own, with their own link: their details are theirs "
        "and are listed here by reference and status only. If you attend, your own place is one of them.",
        "When your personal data is erased, the group's organisation, sector, ticket type, places and invoices "
        "stay (invoices with their billing details, as the law requires) for the organisers' counts and accounts.",
    ]
    return {
        "about": about,
        "group": {
            "id": str(group.id),
            "reference": group.reference,
            "lead_name": group.lead_name,
            "lead_email": group.lead_email,
            "lead_attends": group.lead_attends,
            "organisation": group.organisation,
            "sector": group.sector,
            "payment_method": group.payment_method,
            "created_at": _iso(group.created_at),
            "cancelled_at": _iso(group.cancelled_at),
            "code": {"text": code.text, "label": code.label} if code else None,
        },
        "ticket_type": _ticket_row(ticket),
        "billing": group.billing,
        "members": [
            {"reference": r.reference, "status": r.status.value, "price_pence": price_of(r, ticket)}
            for r in await _members(db, group.id)
        ],
        "invoices": [
            {
                "number": i.number,
                "kind": i.kind,
                "status": i.status,
                **_invoice_billing(i),
                "buyer_reference": i.buyer_reference,
                "description": i.description,
                "net_pence": i.net_pence,
                "vat_pence": i.vat_pence,
                "gross_pence": i.gross_pence,
                **_invoice_dates(i),
            }
            for i in invoices
        ],
        "emails": _email_rows(await _lead_emails(db, group)),
    }


async def record_group_download(db: AsyncSession, *, group: GroupBooking, actor: Actor, via: str) -> None:
    await audit.record(
        db, "conference.personal_data.downloaded", actor=actor, subject=group.reference, via=via
    )


@dataclass(frozen=True)
class GroupErasure:
    group_id: uuid.UUID
    reference: str
    already: bool = False  # erased before: nothing was changed
    skipped: bool = False  # (retention) a member's record is not erased yet: the lead's details stay for now


async def erase_group(
    db: AsyncSession,
    *,
    group_id: uuid.UUID,
    actor: Actor,
    reason: str,
    at: datetime | None = None,
) -> GroupErasure:
    """Erase a group lead's personal data, in the caller's transaction. Erasing twice changes nothing.

    Replaces the lead's name and email with placeholders, keeps of the billing details only the paying
    organisation and its purchase order and buyer reference (`KEPT_BILLING`), ends the lead's link, deletes the
    lead's unsent emails (blanking the address of sent ones) and the group's Idempotency-Key records (they hold
    the members' addresses). The members' own registrations are not touched: each is erased on its own.

    At the lead's request it is refused (`GroupUnsettled`) while a member's place still waits for payment,
    approval or a free place, before the event ends. The retention rule (`reason="retention"`) erases only once
    every member's record is erased (`skipped` otherwise). Invoices keep their own billing fields.
    """
    conference, group = await _lock_to_erase(
        db,
        GroupBooking,
        group_id,
        reason=reason,
        reasons=GROUP_REASONS,
        missing="No group booking has this id.",
    )
    if group_erased(group):  # re-read under the lock: another process may have just erased it
        return GroupErasure(group.id, group.reference, already=True)
    members = await _members(db, group.id)
    if reason == "retention" and any(r.erased_at is None for r in members):
        return GroupErasure(group.id, group.reference, skipped=True)
    if reason != "retention" and await unsettled_members(db, group, conference, at):
        raise GroupUnsettled()

    emails = await _lead_emails(db, group)
    group.lead_name = ERASED_LEAD_NAME
    group.lead_email = group.lead_email_key = erased_group_email(group.id)
    if group.billing is not None:
        group.billing = {k: v for k, v in group.billing.items() if k in KEPT_BILLING}
    # The lead's link stops working: its hash matches no token anyone holds, and a replay of the booking request
    # (its Idempotency-Key record) no longer hands it out.
    group.token_version += 1
    group.manage_token_hash = hash_token(secrets.token_urlsafe(32))
    forgotten = cast(
        "CursorResult[Any]",
        await db.execute(sa.delete(IdempotencyKey).where(col(IdempotencyKey.registration_id) == group.id)),
    ).rowcount
    deleted = blanked = 0
    for e in emails:
        if e.kind in INVOICE_KINDS:
            continue  # the invoices' emails to the paying organisation stay with the invoices
        if e.status in UNSENT:
            await db.delete(e)
            deleted += 1
        else:
            e.to_address = ""
            blanked += 1
    await audit.record(
        db,
        "conference.group.erased",
        actor=actor,
        subject=group.reference,
        reason=reason,
        emails_deleted=deleted,
        emails_blanked=blanked,
        idempotency_keys_deleted=forgotten,
    )
    await db.flush()
    return GroupErasure(group.id, group.reference)


async def erase_expired_groups(database: Database, *, now: datetime) -> int:
    """The retention rule for the groups' leads (after their members: see `erase_expired`)."""
    async with database.read() as db:
        conference = await get_conference(db)
        ids = list(
            (
                await db.execute(
                    sa.select(col(GroupBooking.id))
                    .where(
                        col(GroupBooking.conference_id) == conference.id,
                        col(GroupBooking.lead_email_key).not_like("erased-group-%@invalid"),
                    )
                    .order_by(col(GroupBooking.created_at))
                )
            ).scalars()
        )
    erased = 0
    for group_id in ids:
        async with database.transaction() as db:
            result = await erase_group(db, group_id=group_id, actor=audit.SYSTEM, reason="retention", at=now)
        erased += not (result.already or result.skipped)
    if erased:
        log.info("retention: erased the personal data of %d group lead bookers", erased)
    return erased


# --- retention ---------------------------------------------------------------------------------------------


async def erase_expired(database: Database, settings: Settings, *, now: datetime | None = None) -> int:
    """Erase every registration not yet erased once `now` is past the conference's end + `retention_days`.

    Returns how many were erased by this call. Each registration is erased in its own short transaction (the
    capacity lock is not held across thousands of them), and `erase` re-checks `erased_at` under the lock, so
    runs in several processes at once never erase (or audit) one twice. Then the groups' lead bookers are erased
    the same way (`erase_expired_groups`; not in the count, which the CLI prints as registrations).
    """
    now = now or utcnow()
    async with database.read() as db:
        conference = await get_conference(db)
        due = retention_due_at(conference)
        if due is None or now <= due:
            return 0
        ids = list(
            (
                await db.execute(
                    sa.select(col(Registration.id))
                    .where(
                        col(Registration.conference_id) == conference.id,
                        col(Registration.erased_at).is_(None),
                    )
                    .order_by(col(Registration.number))
                )
            ).scalars()
        )
    erased = 0
    for registration_id in ids:
        async with database.transaction() as db:
            result = await erase(
                db,
                settings=settings,
                registration_id=registration_id,
                actor=audit.SYSTEM,
                reason="retention",
                at=now,
            )
        erased += not result.already
    if erased:
        log.info("retention: erased the personal data of %d registrations", erased)
    # Then the groups' leads, each once every member's record is erased (as it now is when this run is due).
    await erase_expired_groups(database, now=now)
    return erased


def will_cancel(registration: Registration, conference: Conference, now: datetime | None = None) -> bool:
    """Whether erasing now would first give up a place or a waiting-list entry (for the confirmation pages)."""
    if registration.status == Status.cancelled or registration.erased_at is not None:
        return False
    return (now or utcnow()) < conference.ends_at or registration.status != Status.confirmed


def refund_policy_applies(conference: Conference, now: datetime | None = None) -> bool:
    """Whether a cancellation now still refunds card payments and credits invoices (`refund_full_until`)."""
    return conference.refund_full_until is None or (now or utcnow()) <= conference.refund_full_until


class RetentionWorker:
    """One per process: applies the retention rule every `interval` seconds (first after `delay`)."""

    def __init__(
        self, database: Database, settings: Settings, *, interval: float = 3600.0, delay: float = 60.0
    ) -> None:
        self.database, self.settings = database, settings
        self.interval, self.delay = interval, delay
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="retention-worker")

    async def stop(self) -> None:
        await background.stop(self._task)

    async def tick(self) -> None:
        """Purge old Idempotency-Key records, then apply the retention rule."""
        await purge_idempotency_keys(self.database, self.settings)
        with contextlib.suppress(errors.NotFound):  # no conference set up yet
            await erase_expired(self.database, self.settings)

    async def _run(self) -> None:
        await asyncio.sleep(self.delay)
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the database may be down; the next tick retries
                log.warning("retention tick failed: %s", type(exc).__name__)
            await asyncio.sleep(self.interval)
