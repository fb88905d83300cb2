"""Places: the conference row and its capacity lock, how many places are held, and the waiting list.

The lowest layer of the registration domain: registration, payments (a released card hold) and the console all
give places back or hand them out through here, under the capacity lock (`get_conference(db, for_update=True)`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit, code_models, errors, registration_window
from conference.core.audit import Actor
from conference.core.code_models import Code
from conference.core.group_models import GroupBooking
from conference.core.models import (
    HOLDING,
    Approval,
    Conference,
    PaymentMethod,
    Registration,
    Status,
    TicketType,
    utcnow,
)
from conference.core.settings import Settings
from conference.invoices import invoicing
from conference.mail.outbox import queue_email

_COUNTS = (
    sa.select(col(Registration.status), sa.func.count())
    .where(col(Registration.conference_id) == sa.bindparam("conference_id"))
    .group_by(col(Registration.status))
)


# The net price a registration's place sells at: a code's price, else the list price (core/code_models.py).
price_of = code_models.price_of


@dataclass(frozen=True)
class Availability:
    capacity: int
    registered: int  # places held: confirmed, pending payment, awaiting approval
    waitlisted: int
    # Places of codes' reserved blocks not yet taken (conference/codes.py): held from general sale until the
    # block lapses or is revoked.
    reserved: int = 0

    @property
    def remaining(self) -> int:
        return max(self.capacity - self.registered - self.reserved, 0)

    @property
    def general_free(self) -> int:
        """Places anybody may take (may be negative when blocks were made over a later capacity cut)."""
        return self.capacity - self.registered - self.reserved


async def get_conference(db: AsyncSession, *, for_update: bool = False) -> Conference:
    """The deployment's conference; `for_update` takes its row lock (the capacity lock) in the same query."""
    stmt = sa.select(Conference).order_by(col(Conference.id)).limit(1)
    if for_update:
        assert db.in_transaction()
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    conference = (await db.execute(stmt)).scalar_one_or_none()
    if conference is None:
        raise errors.NotFound(
            "No conference has been set up yet: an organiser sets it up in the console at /console/event."
        )
    return conference


async def availability(db: AsyncSession, conference: Conference) -> Availability:
    assert conference.id is not None
    return await count_places(db, conference.id, conference.capacity)


async def count_places(db: AsyncSession, conference_id: int, capacity: int) -> Availability:
    counts = dict((await db.execute(_COUNTS, {"conference_id": conference_id})).all())
    return Availability(
        capacity=capacity,
        registered=sum(counts.get(s, 0) for s in HOLDING),
        waitlisted=counts.get(Status.waitlisted, 0),
        reserved=await reserved_places(db, conference_id),
    )


# Each live block's code, its places and how many of them its code's registrations hold (one row per live block).
_BLOCKS = (
    sa.select(col(Code.id), col(Code.reserved_places), sa.func.count(col(Registration.id)))
    .select_from(Code)
    .outerjoin(
        Registration,
        sa.and_(col(Registration.code_id) == col(Code.id), col(Registration.status).in_(HOLDING)),
    )
    .where(
        col(Code.conference_id) == sa.bindparam("conference_id"),
        col(Code.reserved_places) > 0,
        col(Code.revoked_at).is_(None),
        sa.or_(col(Code.reserved_until).is_(None), col(Code.reserved_until) > sa.bindparam("now")),
    )
    .group_by(col(Code.id), col(Code.reserved_places))
)


async def reserved_places(db: AsyncSession, conference_id: int, now: datetime | None = None) -> int:
    """Places held back for codes' reserved blocks: for each block neither revoked nor lapsed (on the
    registration window's clock, which tests move), its places its code's holders have not yet taken."""
    return sum((await block_places(db, conference_id, now)).values())


async def block_places(
    db: AsyncSession, conference_id: int, now: datetime | None = None
) -> dict[uuid.UUID, int]:
    """{code id: places of its live block not yet taken}, for the blocks with any left."""
    moment = now or registration_window.clock()
    rows = (await db.execute(_BLOCKS, {"conference_id": conference_id, "now": moment})).all()
    return {code_id: int(size) - int(held) for code_id, size, held in rows if int(size) > int(held)}


async def held_by_type(db: AsyncSession, ticket_type_id: uuid.UUID) -> int:
    stmt = sa.select(sa.func.count()).where(
        col(Registration.ticket_type_id) == ticket_type_id, col(Registration.status).in_(HOLDING)
    )
    return int((await db.execute(stmt)).scalar_one())


async def ticket_types_with_availability(
    db: AsyncSession, conference: Conference
) -> list[tuple[TicketType, bool]]:
    types = (
        await db.execute(
            sa.select(TicketType)
            .where(col(TicketType.conference_id) == conference.id, col(TicketType.public).is_(True))
            .order_by(col(TicketType.position), col(TicketType.name))
        )
    ).scalars()
    held = dict(
        (
            await db.execute(
                sa.select(col(Registration.ticket_type_id), sa.func.count())
                .where(col(Registration.status).in_(HOLDING))
                .group_by(col(Registration.ticket_type_id))
            )
        ).all()
    )
    # Only the types on sale now: an early bird that has ended (or a type not yet on sale) is not offered at all.
    now = registration_window.clock()
    return [
        (t, registration_window.is_open(conference, now) and (t.cap is None or held.get(t.id, 0) < t.cap))
        for t in types
        if on_sale(t, now)
    ]


def on_sale(ticket: TicketType | sa.Row[Any], now: datetime | None = None) -> bool:
    """Within the type's sale window (available_from inclusive, available_until exclusive); no window: always.
    The time is the registration window's clock (tests move it), so both windows read the same moment."""
    now = now or registration_window.clock()
    starts, ends = ticket.available_from, ticket.available_until
    return (starts is None or now >= starts) and (ends is None or now < ends)


async def waitlist_position(db: AsyncSession, registration: Registration) -> int | None:
    if registration.status != Status.waitlisted:
        return None
    stmt = sa.select(sa.func.count()).where(
        col(Registration.conference_id) == registration.conference_id,
        col(Registration.status) == Status.waitlisted,
        col(Registration.number) <= registration.number,
    )
    return int((await db.execute(stmt)).scalar_one())


# Held, but not yet given: no invoice is issued and no card hold starts until an organiser approves (or the delegate
# confirms their address), and then the place is granted as `status_approved` says.
UNDECIDED = (Status.awaiting_approval, Status.awaiting_verification)


def status_with_place(
    ticket: TicketType | sa.Row[Any], email: str, method: PaymentMethod, *, email_verified: bool = False
) -> Status:
    if ticket.approval == Approval.manual:
        return Status.awaiting_approval
    if ticket.approval == Approval.domain:
        if not domain_approved(ticket, email):
            return Status.awaiting_approval
        if not email_verified:
            # Anybody can type a public-sector address: the domain vouches for the place only once the delegate
            # has followed the link sent to it (conference/verification.py).
            return Status.awaiting_verification
    return status_approved(ticket, method)


def status_approved(ticket: TicketType | sa.Row[Any], method: PaymentMethod) -> Status:
    # Nothing to pay (PaymentMethod.none on a priced ticket): a complimentary place, or one booked while it was free.
    if (
        ticket.price_pence == 0
        or method == PaymentMethod.none
        or (method == PaymentMethod.invoice and ticket.invoice_confirms)
    ):
        return Status.confirmed
    return Status.pending_payment


def needs_hold(status: Status, method: PaymentMethod) -> bool:
    return status == Status.pending_payment and method == PaymentMethod.card


def hold_until(settings: Settings, now: datetime) -> datetime:
    return now + timedelta(minutes=settings.payment_hold_minutes)


def verify_until(settings: Settings, now: datetime) -> datetime:
    """Until when a place awaiting_verification is held for the delegate to follow the emailed link."""
    return now + timedelta(hours=settings.email_verify_hours)


async def grant_place(
    db: AsyncSession,
    settings: Settings,
    registration: Registration,
    ticket: TicketType,
    status: Status,
    actor: Actor,
    *,
    invoice: bool = True,
) -> None:
    """A waitlisted or approved registration now has a place: hold it for a card payment (or for the delegate to
    confirm their address), or invoice it (`invoice=False`: the caller invoices, e.g. a whole group on one)."""
    registration.status, registration.updated_at = status, utcnow()
    if needs_hold(status, registration.payment_method):
        registration.hold_expires_at = hold_until(settings, registration.updated_at)
    if status == Status.awaiting_verification:
        registration.verify_expires_at = verify_until(settings, registration.updated_at)
    if invoice and invoiced(registration, status):
        await db.flush()
        if registration.group_id is not None:
            # A member of a group booking: invoiced to the group's organisation (conference/groups.py).
            await invoicing.invoice_group_member(
                db, settings, registration=registration, ticket=ticket, actor=actor
            )
        else:
            await invoicing.issue_invoice(db, settings, registration=registration, ticket=ticket, actor=actor)


def invoiced(registration: Registration, status: Status) -> bool:
    """Whether a place just granted is invoiced now (not while an organiser or the delegate still has to decide)."""
    return registration.payment_method == PaymentMethod.invoice and status not in UNDECIDED


def domain_approved(ticket: TicketType | sa.Row[Any], email: str) -> bool:
    domain = email.rsplit("@", 1)[-1].lower()
    allowed = [d.strip().lower().lstrip(".") for d in ticket.approval_domains.split(",") if d.strip()]
    return any(domain == d or domain.endswith("." + d) for d in allowed)


async def promote_waitlist(
    db: AsyncSession, *, settings: Settings, conference: Conference
) -> list[Registration]:
    """Give free places to the earliest waitlisted delegates. Call with the capacity lock held.

    The list is served in arrival order. A group booking's waitlisted members (conference/groups.py) are one entry,
    at its earliest member's position, and are promoted all together or not at all: only when every one of them
    fits in the free places (a code's reserved block first, for its own holders), within their ticket types' caps.
    A group that does not fit yet keeps its place at the head: people behind it who do fit are promoted meanwhile
    (nobody waits behind a group that may never fit), and the group is promoted, before anyone after it, on the
    first call at which it fits. The lead is emailed (`group_promoted`) with the group's new state.
    """
    promoted: list[Registration] = []
    seen = await availability(db, conference)
    free = seen.general_free  # a code's reserved block goes only to its own holders on the list
    assert conference.id is not None
    blocks = await block_places(db, conference.id) if seen.reserved else {}
    if (free <= 0 and not blocks) or seen.waitlisted == 0:
        return promoted
    waiting = list(
        (
            await db.execute(
                sa.select(Registration)
                .where(
                    col(Registration.conference_id) == conference.id,
                    col(Registration.status) == Status.waitlisted,
                )
                .order_by(col(Registration.number))
            )
        ).scalars()
    )
    by_group: dict[uuid.UUID, list[Registration]] = {}
    for registration in waiting:
        if registration.group_id is not None:
            by_group.setdefault(registration.group_id, []).append(registration)
    caps: dict[uuid.UUID, int] = {}  # places held per capped ticket type, as promotions go on
    seen_groups: set[uuid.UUID] = set()
    for registration in waiting:
        if free <= 0 and not blocks:
            break
        if registration.group_id is None:
            unit = [registration]
        elif registration.group_id in seen_groups:
            continue  # promoted (or left waiting) with its group's earliest member
        else:
            seen_groups.add(registration.group_id)
            unit = by_group[registration.group_id]
        # Where each would sit: its code's block while places of it are left, else a general place.
        in_block: list[bool] = []
        taken: dict[uuid.UUID, int] = {}
        for r in unit:
            in_own = r.code_id is not None and blocks.get(r.code_id, 0) - taken.get(r.code_id, 0) > 0
            if in_own:
                assert r.code_id is not None
                taken[r.code_id] = taken.get(r.code_id, 0) + 1
            in_block.append(in_own)
        if in_block.count(False) > max(free, 0):
            continue  # only holders of a code with places left in its block (or a smaller unit) can go now
        tickets: list[TicketType] = []
        wanted: dict[uuid.UUID, int] = {}
        for r in unit:
            ticket = await db.get(TicketType, r.ticket_type_id)
            assert ticket is not None
            tickets.append(ticket)
            wanted[ticket.id] = wanted.get(ticket.id, 0) + 1
        full = False
        for ticket in {t.id: t for t in tickets}.values():
            if ticket.cap is None:
                continue
            if ticket.id not in caps:
                caps[ticket.id] = await held_by_type(db, ticket.id)
            full = full or caps[ticket.id] + wanted[ticket.id] > ticket.cap
        if full:
            continue  # the type is full (for the whole group); the next on the list may hold another type
        for ticket_id, count in wanted.items():
            if ticket_id in caps:
                caps[ticket_id] += count
        for code_id, count in taken.items():
            blocks[code_id] -= count  # places of its code's block, not general ones
        free -= in_block.count(False)
        granted = [
            await _promote(db, settings, r, ticket, invoice=r.group_id is None)
            for r, ticket in zip(unit, tickets, strict=True)
        ]
        promoted.extend(unit)
        if registration.group_id is not None:
            await _group_promoted(db, settings, registration.group_id, granted)
    await db.flush()
    return promoted


async def _promote(
    db: AsyncSession, settings: Settings, registration: Registration, ticket: TicketType, *, invoice: bool
) -> tuple[Registration, TicketType]:
    status = status_with_place(
        ticket,
        registration.email_key,
        registration.payment_method,
        email_verified=registration.email_verified_at is not None,
    )
    await grant_place(db, settings, registration, ticket, status, audit.SYSTEM, invoice=invoice)
    # A place held for the delegate to confirm their address: the email says so and carries the link.
    verifying = {"promoted": True} if status == Status.awaiting_verification else {}
    queue_email(
        db,
        settings,
        kind="verify_email" if verifying else "promoted",
        to=registration.email,
        registration_id=registration.id,
        status=registration.status.value,
        **verifying,
    )
    await audit.record(
        db,
        "conference.registration.promoted",
        actor=audit.SYSTEM,
        subject=registration.reference,
        status=registration.status.value,
    )
    return registration, ticket


async def _group_promoted(
    db: AsyncSession, settings: Settings, group_id: uuid.UUID, granted: list[tuple[Registration, TicketType]]
) -> None:
    """A waitlisted group came off the list together: one invoice to its organisation with a line per member (per
    ticket type), and the lead is told (conference/group_mail.py)."""
    group = await db.get(GroupBooking, group_id)
    assert group is not None
    await db.flush()
    lines: dict[uuid.UUID, list[tuple[Registration, int]]] = {}
    tickets: dict[uuid.UUID, TicketType] = {}
    for registration, ticket in granted:
        net = price_of(registration, ticket)
        if invoiced(registration, registration.status) and net > 0:
            lines.setdefault(ticket.id, []).append((registration, net))
            tickets[ticket.id] = ticket
    for ticket_id, members in lines.items():
        await invoicing.issue_group_invoice(
            db, settings, group=group, members=members, ticket=tickets[ticket_id], actor=audit.SYSTEM
        )
    await audit.record(
        db,
        "conference.group.promoted",
        actor=audit.SYSTEM,
        subject=group.reference,
        members=len(granted),
    )
    queue_email(db, settings, kind="group_promoted", to=group.lead_email, group_id=str(group.id))
