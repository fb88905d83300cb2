"""Messages from the organisers to a group of delegates (a segment), delivered through the mail outbox.

Segments (`SEGMENTS`):
- `all`: every delegate holding a place, i.e. `models.HOLDING`: confirmed, pending_payment, awaiting_approval
  and awaiting_verification. Delegates whose payment, approval or email confirmation is outstanding are included
  on purpose: they hold a place, so joining instructions or a change of venue concern them as much as anyone.
- `ticket_type`: the same, for one ticket type (`ref` is its id).
- `session`: delegates with a booked seat (not a waiting-list place) in one workshop whose registration holds a
  place (`ref` is the session's id).
- `waitlist`: the conference's waiting list (status waitlisted).
Cancelled registrations are never included, nor erased ones (`registration.erased_at` set).

`send` writes the Broadcast row and one outbox email per recipient (with `broadcast_id`) in the caller's
transaction: all or nothing. The i-th copy is due `i * 60 / per_minute` seconds after sending; the mail worker
claims only rows whose `next_attempt_at` has come (`sender.claim_due`), so copies leave at a steady rate.

A copy is rendered when it is sent, from the Broadcast row: the organiser's subject and plain-text body, where
`{name}` becomes the delegate's name (a plain `str.replace`: nothing else in the body is interpreted), then the
delegate's booking reference and their manage link, derived from the server secret as for every other email.
Nothing secret and nothing personal beyond the address is stored on the outbox row.

The `session` segment is provided by sessions through `hooks.on_message_segment` (sessions/workshops/segments.py:
the label, the members' WHERE clause and the compose form's workshops), since imports point sessions → conference.
Without a provider the segment is refused like an unknown one, and the form offers no workshops.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit, errors, hooks
from conference.core.audit import Actor
from conference.core.models import (
    HOLDING,
    Broadcast,
    Conference,
    OutboxEmail,
    Registration,
    Status,
    TicketType,
    utcnow,
)
from conference.core.settings import Settings
from conference.mail import mailtext
from conference.mail.outbox import outbox_row
from conference.places import get_conference

KIND = "broadcast"

SEGMENTS = {
    "all": "Everyone holding a place (confirmed, or waiting for payment or approval)",
    "ticket_type": "Everyone holding a place with one ticket type",
    "session": "Everyone with a booked seat in one workshop",
    "waitlist": "Everyone on the waiting list",
}
# The form field that carries a segment's reference (and that an error about it names).
REF_FIELDS = {"ticket_type": "ticket_type_id", "session": "session_id"}

MAX_SUBJECT = 200
MAX_BODY = 10_000
MIN_RATE, MAX_RATE, DEFAULT_RATE = 1, 600, 60
NAME_PLACEHOLDER = "{name}"
# In the organiser's preview, in place of the delegate's own link (a credential the organiser has no use for).
LINK_PLACEHOLDER = "(the delegate's own booking link)"


class EmptySegment(errors.InvalidInput):
    code = "empty_segment"
    message = "Nobody is in this group, so there is nobody to send the message to."


class AudienceChanged(errors.DomainError):
    code = "audience_changed"
    message = "The group has changed since the preview. Check the new preview and send again."


class RecipientErased(mailtext.Undeliverable):
    """The delegate's personal data was erased after the copy was queued: it is not sent."""


@dataclass(frozen=True)
class Recipient:
    registration_id: uuid.UUID
    reference: str
    name: str
    email: str


@dataclass(frozen=True)
class Audience:
    segment: str
    ref: str
    label: str
    recipients: list[Recipient]


@dataclass(frozen=True)
class Preview:
    audience: Audience
    subject: str
    body: str  # the copy the first recipient would get, with LINK_PLACEHOLDER for their link
    per_minute: int

    @property
    def count(self) -> int:
        return len(self.audience.recipients)

    @property
    def sample(self) -> Recipient:
        return self.audience.recipients[0]

    @property
    def minutes(self) -> float:
        """How long after sending the last copy is due."""
        return (self.count - 1) / self.per_minute


# --- validation -----------------------------------------------------------------------------------------------


def _message_problems(subject: str, body: str) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not subject:
        problems["subject"] = "Enter a subject."
    elif len(subject) > MAX_SUBJECT:
        problems["subject"] = f"Use at most {MAX_SUBJECT} characters in the subject."
    elif "\n" in subject or "\r" in subject:
        problems["subject"] = "Write the subject on one line."
    if not body.strip():
        problems["body"] = "Enter the message."
    elif len(body) > MAX_BODY:
        problems["body"] = f"Use at most {MAX_BODY:,} characters in the message (this one has {len(body):,})."
    return problems


def clean_text(subject: str, body: str) -> tuple[str, str]:
    """The subject trimmed; the body with one kind of line ending and no trailing blank space."""
    return subject.strip(), body.replace("\r\n", "\n").replace("\r", "\n").rstrip()


def parse_rate(value: Any) -> int | None:
    """A sending rate (copies a minute) from a form, or None when it is not a whole number in range."""
    try:
        rate = int(str(value).strip())
    except ValueError:
        return None
    return rate if MIN_RATE <= rate <= MAX_RATE else None


RATE_PROBLEM = f"Enter a whole number of emails a minute from {MIN_RATE} to {MAX_RATE}."


# --- segments -------------------------------------------------------------------------------------------------


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value.strip())
    except (ValueError, AttributeError):
        return None


async def resolve_segment(
    db: AsyncSession, conference: Conference, *, segment: str, ref: str
) -> tuple[str, str]:
    """(label, normalised ref) of a segment; InvalidInput naming the form field that is wrong."""
    if segment not in SEGMENTS:
        raise errors.InvalidInput(fields={"segment": "Choose who the message goes to."})
    if segment == "ticket_type":
        ticket_id = _uuid(ref)
        ticket = await db.get(TicketType, ticket_id) if ticket_id else None
        if ticket is None or ticket.conference_id != conference.id:
            raise errors.InvalidInput(fields={"ticket_type_id": "Choose one of the ticket types listed."})
        return f"Ticket type: {ticket.name}", str(ticket.id)
    provided = hooks.message_segments.get(segment)
    if provided is not None:
        return await provided.resolve(db, conference, ref)
    if segment in REF_FIELDS:  # a segment another package provides, not installed
        raise errors.InvalidInput(fields={"segment": "Choose who the message goes to."})
    return SEGMENTS[segment], ""


def _members(conference_id: int, segment: str, ref: str) -> list[Any]:
    """The WHERE clause of a segment's registrations (the segment and ref already resolved)."""
    where: list[Any] = [
        col(Registration.conference_id) == conference_id,
        col(Registration.erased_at).is_(None),
    ]
    if segment == "waitlist":
        where.append(col(Registration.status) == Status.waitlisted)
        return where
    where.append(col(Registration.status).in_(HOLDING))
    if segment == "ticket_type":
        where.append(col(Registration.ticket_type_id) == uuid.UUID(ref))
    elif (provided := hooks.message_segments.get(segment)) is not None:
        where.append(provided.members(ref))
    return where


async def audience(db: AsyncSession, *, segment: str, ref: str) -> Audience:
    """Who a segment reaches now, in arrival order (the first is the preview's sample)."""
    conference = await get_conference(db)
    assert conference.id is not None
    label, ref = await resolve_segment(db, conference, segment=segment, ref=ref)
    stmt = (
        sa.select(
            col(Registration.id), col(Registration.reference), col(Registration.name), col(Registration.email)
        )
        .where(*_members(conference.id, segment, ref))
        .order_by(col(Registration.number))
    )
    recipients = [Recipient(*row) for row in (await db.execute(stmt)).all()]
    return Audience(segment, ref, label, recipients)


Option = hooks.SegmentOption


async def segment_options(db: AsyncSession) -> dict[str, Any]:
    """What the compose form offers: each segment's size, every ticket type and every workshop with theirs."""
    conference = await get_conference(db)
    assert conference.id is not None
    live = [col(Registration.conference_id) == conference.id, col(Registration.erased_at).is_(None)]
    holding = sa.and_(col(Registration.status).in_(HOLDING), *live)
    per_ticket: dict[uuid.UUID, int] = dict(
        (
            await db.execute(
                sa.select(col(Registration.ticket_type_id), sa.func.count())
                .where(holding)
                .group_by(col(Registration.ticket_type_id))
            )
        ).all()
    )
    tickets = (
        (
            await db.execute(
                sa.select(TicketType)
                .where(col(TicketType.conference_id) == conference.id)
                .order_by(col(TicketType.position), col(TicketType.name))
            )
        )
        .scalars()
        .all()
    )
    workshops = hooks.message_segments.get("session")
    waiting = (
        await db.execute(
            sa.select(sa.func.count())
            .select_from(Registration)
            .where(col(Registration.status) == Status.waitlisted, *live)
        )
    ).scalar_one()
    return {
        "counts": {"all": sum(per_ticket.values()), "waitlist": int(waiting)},
        "ticket_types": [Option(str(t.id), t.name, int(per_ticket.get(t.id, 0))) for t in tickets],
        "sessions": await workshops.options(db, conference, holding) if workshops is not None else [],
    }


# --- the copy -------------------------------------------------------------------------------------------------


def personalise(body: str, name: str) -> str:
    # A plain replace, never str.format: a body holding "{0.__class__}" or "{" stays exactly as written.
    return body.replace(NAME_PLACEHOLDER, name)


def compose_text(*, event: str, body: str, name: str, reference: str, link: str) -> str:
    return (
        personalise(body, name) + "\n\n"
        f"Booking reference: {reference}\n"
        f"View or manage your booking: {link}\n"
        "Keep this link private: anyone who has it can manage your booking.\n"
        f"\n{event}\n"
    )


async def compose(db: AsyncSession, settings: Settings, row: OutboxEmail) -> tuple[str, str]:
    """The outbox composer for kind "broadcast": (subject, body) from the Broadcast row, at send time."""
    broadcast = await db.get(Broadcast, row.broadcast_id) if row.broadcast_id else None
    registration = await db.get(Registration, row.registration_id) if row.registration_id else None
    if broadcast is None or registration is None:
        raise LookupError("the message or the registration behind this email no longer exists")
    if registration.erased_at is not None:
        raise RecipientErased("the delegate's personal data has been erased")
    conference = await db.get(Conference, registration.conference_id)
    assert conference is not None
    text = compose_text(
        event=conference.name,
        body=broadcast.body,
        name=registration.name,
        reference=registration.reference,
        link=mailtext.manage_url(settings, registration),
    )
    return broadcast.subject, text


# Registered on import: whatever queues a broadcast imports this module, and the app (the only process that sends
# mail) imports it through its console routes.
mailtext.register_kind(KIND, compose)


# --- preview and send -----------------------------------------------------------------------------------------


async def _checked(
    db: AsyncSession, *, segment: str, ref: str, subject: str, body: str, per_minute: Any
) -> tuple[Audience, str, str, int]:
    subject, body = clean_text(subject, body)
    problems = _message_problems(subject, body)
    rate = parse_rate(per_minute)
    if rate is None:
        problems["per_minute"] = RATE_PROBLEM
    try:
        reached = await audience(db, segment=segment, ref=ref)
    except errors.InvalidInput as exc:
        raise errors.InvalidInput(fields={**(exc.fields or {}), **problems}) from None
    if problems:
        raise errors.InvalidInput(fields=problems)
    if not reached.recipients:
        raise EmptySegment(
            fields={
                REF_FIELDS.get(
                    segment, "segment"
                ): f"Nobody is in this group ({reached.label}) at the moment; choose another."
            }
        )
    assert rate is not None
    return reached, subject, body, rate


async def preview(
    db: AsyncSession, *, segment: str, ref: str, subject: str, body: str, per_minute: Any = DEFAULT_RATE
) -> Preview:
    """How many the message would reach, and the copy the first of them would get (validates like `send`)."""
    reached, subject, body, rate = await _checked(
        db, segment=segment, ref=ref, subject=subject, body=body, per_minute=per_minute
    )
    conference = await get_conference(db)
    first = reached.recipients[0]
    sample = compose_text(
        event=conference.name, body=body, name=first.name, reference=first.reference, link=LINK_PLACEHOLDER
    )
    return Preview(reached, subject, sample, rate)


async def send(
    db: AsyncSession,
    *,
    settings: Settings,
    segment: str,
    ref: str,
    subject: str,
    body: str,
    actor: Actor,
    per_minute: Any = DEFAULT_RATE,
    broadcast_id: uuid.UUID | None = None,
    expected: int | None = None,
) -> Broadcast:
    """Queue the message for everyone in the segment now, `per_minute` copies a minute, in the caller's transaction.

    `broadcast_id` (from the preview's form) makes a second submission of the same form collide with the first
    instead of sending twice; `expected` (the preview's count) refuses with AudienceChanged if the group has
    changed since, so the organiser never sends to more (or fewer) people than they confirmed."""
    assert db.in_transaction(), "send needs a transaction"
    reached, subject, body, rate = await _checked(
        db, segment=segment, ref=ref, subject=subject, body=body, per_minute=per_minute
    )
    count = len(reached.recipients)
    if expected is not None and expected != count:
        raise AudienceChanged(
            f"The group has changed since the preview: it was {expected} and is now {count}. "
            "Check the new preview and send again."
        )
    now = utcnow()
    broadcast = Broadcast(
        id=broadcast_id or uuid.uuid4(),
        segment=reached.segment,
        segment_ref=reached.ref,
        segment_label=reached.label[:300],
        subject=subject,
        body=body,
        recipients=count,
        per_minute=rate,
        created_by=actor.label[:120],
        created_at=now,
    )
    db.add(broadcast)
    await db.flush()  # the outbox rows refer to it
    gap = 60.0 / rate
    # One multi-row INSERT (Core, not one ORM object per copy): a large group holds SQLite's write lock briefly.
    await db.execute(
        sa.insert(OutboxEmail),
        [
            {
                **outbox_row(settings, kind=KIND, to=r.email, registration_id=r.registration_id),
                "id": uuid.uuid4(),
                "broadcast_id": broadcast.id,
                "next_attempt_at": now + timedelta(seconds=i * gap),
                "created_at": now,
            }
            for i, r in enumerate(reached.recipients)
        ],
    )
    # The segment and the count, never who: the recipients are in the outbox, linked by the broadcast's id.
    await audit.record(
        db,
        "conference.broadcast.sent",
        actor=actor,
        subject=str(broadcast.id),
        segment=reached.segment,
        segment_ref=reached.ref or None,
        recipients=count,
        per_minute=rate,
    )
    return broadcast


# --- delivery progress ----------------------------------------------------------------------------------------

DELIVERY_STATES = ("queued", "sending", "sent", "failed", "kept")


async def delivery_counts(
    db: AsyncSession, broadcast_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[str, int]]:
    """Per broadcast, how many copies are in each outbox state (queued, sending, sent, failed, kept)."""
    counts = {b: dict.fromkeys(DELIVERY_STATES, 0) for b in broadcast_ids}
    if not broadcast_ids:
        return counts
    stmt = (
        sa.select(col(OutboxEmail.broadcast_id), col(OutboxEmail.status), sa.func.count())
        .where(col(OutboxEmail.broadcast_id).in_(broadcast_ids))
        .group_by(col(OutboxEmail.broadcast_id), col(OutboxEmail.status))
    )
    for broadcast_id, status, n in (await db.execute(stmt)).all():
        if broadcast_id is not None:
            counts[broadcast_id][status] = counts[broadcast_id].get(status, 0) + int(n)
    return counts


@dataclass(frozen=True)
class Problem:
    """A copy that failed for good, or failed at least once and waits for its retry."""

    reference: str
    email: str
    status: str
    attempts: int
    last_error: str
    next_attempt_at: datetime


async def delivery_problems(db: AsyncSession, broadcast_id: uuid.UUID) -> list[Problem]:
    stmt = (
        sa.select(
            col(Registration.reference),
            col(OutboxEmail.to_address),
            col(OutboxEmail.status),
            col(OutboxEmail.attempts),
            col(OutboxEmail.last_error),
            col(OutboxEmail.next_attempt_at),
        )
        .join(Registration, col(Registration.id) == OutboxEmail.registration_id)
        .where(
            col(OutboxEmail.broadcast_id) == broadcast_id,
            sa.or_(col(OutboxEmail.status) == "failed", col(OutboxEmail.last_error) != ""),
        )
        .order_by(col(OutboxEmail.status) != "failed", col(Registration.reference))
    )
    return [Problem(*row) for row in (await db.execute(stmt)).all()]


async def last_due(db: AsyncSession, broadcast_id: uuid.UUID) -> datetime | None:
    """When the last copy still waiting is due (None when none waits)."""
    stmt = sa.select(sa.func.max(OutboxEmail.next_attempt_at)).where(
        col(OutboxEmail.broadcast_id) == broadcast_id, col(OutboxEmail.status).in_(("queued", "sending"))
    )
    value = (await db.execute(stmt)).scalar_one_or_none()
    if isinstance(value, datetime) and value.tzinfo is None:  # SQLite keeps no offset
        value = value.replace(tzinfo=UTC)
    return value if isinstance(value, datetime) else None
