"""Group bookings: a lead booker registers several colleagues at once, with one payment (one card Checkout or one
invoice to the organisation, a line per member). Each member is an ordinary registration (own manage link,
e-ticket and emails) with `group_id` set.

Places are taken all together under the capacity lock: either every member gets a place, or the booking is refused
with `NotEnoughPlaces` (how many are left) - unless the lead asked to waitlist the whole group. Everything a member
could be refused for (a duplicate or registered email, a missing answer) is checked, member by member, before
anything is written, and reported with the member's index (`members[3].email`).

Every function runs inside the caller's transaction (`async with database.transaction() as db:`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference import codes, decisions, delegates, places, self_service
from conference.core import audit, errors, registration_window
from conference.core.audit import Actor
from conference.core.db import lock_for_update
from conference.core.group_models import GroupBooking
from conference.core.models import (
    Approval,
    Conference,
    IdempotencyKey,
    Invoice,
    PaymentMethod,
    Registration,
    Sector,
    Status,
    TicketType,
    utcnow,
)
from conference.core.security import hash_token, manage_token, new_reference
from conference.core.settings import Settings
from conference.group_invoices import group_checkout_amount, invoice_placed
from conference.group_requests import (
    MEMBERS_LIMIT,
    GroupBilling,
    GroupClosed,
    GroupCreate,
    GroupLead,
    GroupMember,
    MemberCreate,
    NotEnoughPlaces,
    check_members,
    parse,
    payment_method,
    with_lead,
)
from conference.group_views import (
    CSV_HEADERS,
    compose_group_booked,
    find_by_token,
    group_csv,
    group_public,
    group_token,
    install,
    lead_email,
    list_groups,
    members_of,
)
from conference.mail.outbox import queue_email
from conference.questions import all_questions
from conference.registration import stored_answer

# The public names of group bookings, wherever they are written (callers import them from here).
__all__ = [
    "CSV_HEADERS",
    "MEMBERS_LIMIT",
    "BookedMember",
    "GroupBilling",
    "GroupBooked",
    "GroupClosed",
    "GroupCreate",
    "GroupLead",
    "GroupMember",
    "MemberCreate",
    "NotEnoughPlaces",
    "add_member",
    "book_group",
    "booked_now",
    "cancel_member",
    "compose_group_booked",
    "find_by_token",
    "group_checkout_amount",
    "group_csv",
    "group_public",
    "group_token",
    "install",
    "lead_email",
    "list_groups",
    "members_of",
    "parse",
    "substitute_member",
]

# --- the result ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookedMember:
    registration: Registration
    manage_token: str


@dataclass(frozen=True)
class GroupBooked:
    group: GroupBooking
    manage_token: str
    members: list[BookedMember]
    invoice: Invoice | None = None
    checkout_url: str | None = None
    payment_error: str | None = None
    replayed: bool = False

    @property
    def status(self) -> str:
        """The group's status: its members' when they agree (confirmed, waitlisted, pending_payment...)."""
        statuses = {m.registration.status.value for m in self.members}
        return statuses.pop() if len(statuses) == 1 else "mixed"

    def public(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "id": str(self.group.id),
            "reference": self.group.reference,
            "manage_token": self.manage_token,
            "status": self.status,
            "members": [
                {
                    "id": str(m.registration.id),
                    "reference": m.registration.reference,
                    "email": m.registration.email,
                    "status": m.registration.status.value,
                    "manage_token": m.manage_token,
                }
                for m in self.members
            ],
            "invoice_number": self.invoice.number if self.invoice else None,
            "checkout_url": self.checkout_url,
        }
        if self.payment_error:
            answer["payment_error"] = self.payment_error
        return answer


# --- booking ----------------------------------------------------------------------------------------------------------


async def _ticket(db: AsyncSession, ticket_type_id: uuid.UUID | None) -> TicketType:
    refusal = errors.InvalidInput(
        fields={"ticket_type_id": "Choose one of the ticket types listed at /api/v1/ticket-types."}
    )
    if ticket_type_id is None:
        now = registration_window.clock()
        stmt = (
            sa.select(TicketType)
            .where(col(TicketType.public).is_(True))
            .order_by(col(TicketType.position), col(TicketType.name))
        )
        ticket = next((t for t in (await db.execute(stmt)).scalars() if places.on_sale(t, now)), None)
        if ticket is None:
            raise refusal
        return ticket
    ticket = await db.get(TicketType, ticket_type_id)
    if ticket is None or not ticket.public:
        raise refusal
    return ticket


async def _live_emails(db: AsyncSession, conference_id: int, emails: list[str]) -> set[str]:
    stmt = sa.select(col(Registration.email_key)).where(
        col(Registration.conference_id) == conference_id,
        col(Registration.email_key).in_(emails),
        col(Registration.status) != Status.cancelled,
    )
    return set((await db.execute(stmt)).scalars())


async def _free_places(
    db: AsyncSession, conference: Conference, ticket: TicketType, seen: places.Availability | None = None
) -> int:
    """Places a booking may take now (call with the capacity lock held): the conference's, within the type's cap."""
    free = (seen or await places.availability(db, conference)).remaining
    if ticket.cap is not None:
        free = min(free, max(ticket.cap - await places.held_by_type(db, ticket.id), 0))
    return max(free, 0)


async def book_group(
    db: AsyncSession,
    settings: Settings,
    *,
    body: GroupCreate,
    actor: Actor,
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> GroupBooked:
    """Book every member or none (NotEnoughPlaces), or waitlist the whole group when the lead asked for that."""
    assert db.in_transaction()
    ticket, method, members, checked = await _checked_request(db, settings, body)
    offset = len(members) - len(body.members)  # 1 when the attending lead was added in front

    # The capacity lock, before anything is counted.
    conference = await places.get_conference(db, for_update=True)
    assert conference.id is not None
    if idempotency_key:
        replay = await _replay(db, settings, idempotency_key, fingerprint)
        if replay is not None:
            return replay
    await _check_under_lock(db, conference, ticket, members, offset)
    redemption = None
    if body.code:
        redemption = await codes.redeem(
            db, conference=conference, text=body.code, ticket=ticket, uses=len(members)
        )
        # The payment is checked once the code is redeemed: a code that makes the place free needs none.
        problems: dict[str, str] = {}
        method = payment_method(
            settings, ticket, body, problems, price=redemption.price_pence(ticket.price_pence)
        )
        if problems:
            raise errors.InvalidInput(fields=problems)
    # A code that sets the price: each member's place is at the code's price (else the ticket's, places.price_of).
    net = redemption.price_pence(ticket.price_pence) if redemption and redemption.sets_price else None
    seen = await places.availability(db, conference)
    free = await _free_places(db, conference, ticket, seen) + (redemption.block_places if redemption else 0)
    waitlist = len(members) > free
    if waitlist and body.if_full != "waitlist":
        raise NotEnoughPlaces(remaining=free, wanted=len(members))

    now = utcnow()
    group, token = _new_group(
        settings,
        conference=conference,
        body=body,
        ticket=ticket,
        method=method,
        redemption=redemption,
        now=now,
    )
    db.add(group)
    await db.flush()
    conference.registration_seq += len(members)
    first_number = conference.registration_seq - len(members) + 1
    booked: list[BookedMember] = []
    for i, (member, member_answers) in enumerate(zip(members, checked, strict=True)):
        status = (
            Status.waitlisted if waitlist else places.status_with_place(ticket, member.email.lower(), method)
        )
        added = _add_registration(
            db,
            settings,
            conference=conference,
            group=group,
            member=member,
            member_answers=member_answers,
            ticket=ticket,
            method=method,
            status=status,
            number=first_number + i,
            net=net,
            now=now,
            code_id=group.code_id,
            position=seen.waitlisted + i + 1 if status == Status.waitlisted else None,
        )
        booked.append(added)
        await audit.record(
            db,
            "conference.registration.created",
            actor=actor,
            subject=added.registration.reference,
            status=status.value,
            group=group.reference,
        )
    await db.flush()
    await audit.record(
        db,
        "conference.group.booked",
        actor=actor,
        subject=group.reference,
        members=len(booked),
        waitlisted=waitlist,
        payment_method=method.value,
    )
    # The lead's own email with their private link (derived again when it is sent: no secret is stored).
    queue_email(db, settings, kind="group_booked", to=group.lead_email, group_id=str(group.id))
    invoice = await invoice_placed(db, settings, group=group, ticket=ticket, actor=actor)
    result = GroupBooked(group, token, booked, invoice)
    if idempotency_key:
        await _remember(db, idempotency_key, fingerprint, result)
    return result


async def _checked_request(
    db: AsyncSession, settings: Settings, body: GroupCreate
) -> tuple[TicketType, PaymentMethod, list[GroupMember], list[dict[str, Any]]]:
    """What can be checked before the lock: the ticket, the payment, the members (the attending lead first) and
    their answers; every problem at once (InvalidInput)."""
    problems: dict[str, str] = {}
    ticket = await _ticket(db, body.ticket_type_id)
    # With a code the payment is checked once the code is redeemed: a code that makes the place free needs no
    # payment and no billing (as a single registration's).
    method = PaymentMethod.none if body.code else payment_method(settings, ticket, body, problems)
    members = with_lead(body, problems)
    if len(members) > settings.group_max_members:
        problems["members"] = (
            f"A group booking may have at most {settings.group_max_members} members; split the group into "
            "smaller bookings."
        )
    offset = len(members) - len(body.members)
    checked = check_members(members, await all_questions(db), ticket, problems, offset=offset)
    if problems:
        raise errors.InvalidInput(fields=problems)
    return ticket, method, members, checked


async def _check_under_lock(
    db: AsyncSession, conference: Conference, ticket: TicketType, members: list[GroupMember], offset: int
) -> None:
    """Under the lock: registration is open, the ticket is on sale, and no member is registered already."""
    assert conference.id is not None
    if not registration_window.is_open(conference):
        raise errors.RegistrationClosed()
    if ticket.conference_id != conference.id:
        raise errors.InvalidInput(
            fields={"ticket_type_id": "Choose one of the ticket types listed at /api/v1/ticket-types."}
        )
    if not places.on_sale(ticket):
        raise errors.InvalidInput(
            fields={"ticket_type_id": "This ticket type is not on sale now; choose another ticket type."}
        )
    live = await _live_emails(db, conference.id, [m.email.lower() for m in members])
    taken = {
        f"members[{i - offset}].email"
        if i >= offset
        else "lead.email": "This email address is already registered."
        for i, m in enumerate(members)
        if m.email.lower() in live
    }
    if taken:
        raise errors.AlreadyRegistered(
            "Some members are already registered; remove them from the group (they keep their own booking).",
            fields=taken,
        )


def _new_group(
    settings: Settings,
    *,
    conference: Conference,
    body: GroupCreate,
    ticket: TicketType,
    method: PaymentMethod,
    redemption: codes.Redemption | None,
    now: datetime,
) -> tuple[GroupBooking, str]:
    """The group's row and the lead's private link (only its hash is stored)."""
    assert conference.id is not None
    group = GroupBooking(
        conference_id=conference.id,
        reference=new_reference("G"),
        lead_name=body.lead.name,
        lead_email=str(body.lead.email),
        lead_email_key=body.lead.email.lower(),
        organisation=body.organisation,
        sector=body.sector.value,
        lead_attends=body.lead.attends,
        payment_method=method.value,
        billing=body.billing.model_dump(mode="json")
        if method == PaymentMethod.invoice and body.billing
        else None,
        manage_token_hash="",
        ticket_type_id=ticket.id,
        code_id=redemption.code.id if redemption else None,
        created_at=now,
    )
    token = group_token(str(settings.secret_key), group.id, 1)
    group.manage_token_hash = hash_token(token)
    return group, token


def _add_registration(
    db: AsyncSession,
    settings: Settings,
    *,
    conference: Conference,
    group: GroupBooking,
    member: GroupMember,
    member_answers: dict[str, Any],
    ticket: TicketType,
    method: PaymentMethod,
    status: Status,
    number: int,
    net: int | None,
    now: datetime,
    code_id: uuid.UUID | None = None,
    **mail: Any,
) -> BookedMember:
    """A member's registration, added with its first email (`mail`: more of that email's context)."""
    assert conference.id is not None
    registration_id = uuid.uuid4()
    token = manage_token(str(settings.secret_key), registration_id, 1)
    registration = Registration(
        id=registration_id,
        conference_id=conference.id,
        ticket_type_id=ticket.id,
        number=number,
        reference=new_reference(),
        status=status,
        name=member.name,
        email=str(member.email),
        email_key=member.email.lower(),
        organisation=group.organisation,
        sector=Sector(group.sector),
        job_title=member.job_title,
        region=member.region,
        dietary=member.dietary,
        access_needs=member.access_needs,
        manage_token_hash=hash_token(token),
        consent_at=now,
        created_at=now,
        updated_at=now,
        payment_method=method,
        hold_expires_at=places.hold_until(settings, now) if places.needs_hold(status, method) else None,
        verify_expires_at=places.verify_until(settings, now)
        if status == Status.awaiting_verification
        else None,
        answers=member_answers or None,
        group_id=group.id,
        code_id=code_id,
        price_pence=net,
    )
    db.add(registration)
    queue_email(
        db,
        settings,
        kind="verify_email" if status == Status.awaiting_verification else "registration",
        to=registration.email,
        registration_id=registration.id,
        status=status.value,
        **mail,
    )
    return BookedMember(registration, token)


# --- idempotent retries ---------------------------------------------------------------------------------------------


async def _remember(db: AsyncSession, key: str, fingerprint: str, result: GroupBooked) -> None:
    public = result.public()
    public.pop("manage_token")
    for member in public["members"]:
        member.pop("manage_token")
    db.add(
        IdempotencyKey(
            key=key,
            request_hash=fingerprint,
            status_code=201,
            response=public,
            registration_id=result.group.id,
            token_version=result.group.token_version,
        )
    )
    await db.flush()


async def _replay(db: AsyncSession, settings: Settings, key: str, fingerprint: str) -> GroupBooked | None:
    stored = await stored_answer(db, key, fingerprint)
    if stored is None:
        return None
    group = await db.get(GroupBooking, stored.registration_id)
    assert group is not None
    if group.token_version != stored.token_version:
        raise errors.IdempotencyKeySuperseded()
    return await booked_now(db, settings, group, replayed=True)


async def booked_now(
    db: AsyncSession, settings: Settings, group: GroupBooking, *, replayed: bool = False
) -> GroupBooked:
    """The group as it stands, with its links (derived again from the secret)."""
    secret = str(settings.secret_key)
    members = [
        BookedMember(r, manage_token(secret, r.id, r.token_version) if r.erased_at is None else "")
        for r in await members_of(db, group.id)
    ]
    invoice = (
        await db.execute(
            sa.select(Invoice)
            .where(col(Invoice.group_id) == group.id, col(Invoice.kind) == "invoice")
            .order_by(col(Invoice.created_at))
            .limit(1)
        )
    ).scalar_one_or_none()
    token = group_token(secret, group.id, group.token_version)
    return GroupBooked(group, token, members, invoice, replayed=replayed)


# --- the lead's changes -----------------------------------------------------------------------------------------------


async def _lock_group(db: AsyncSession, group_id: uuid.UUID) -> tuple[Conference, GroupBooking]:
    # Lock order: conference (the capacity lock) → the group → its members.
    conference = await places.get_conference(db, for_update=True)
    if await db.get(GroupBooking, group_id) is None:
        raise errors.NotFound("No group booking has this id.")
    group = await lock_for_update(db, GroupBooking, group_id)
    if group.cancelled_at is not None:
        raise GroupClosed()
    return conference, group


async def _member(db: AsyncSession, group: GroupBooking, registration_id: uuid.UUID) -> Registration:
    registration = await db.get(Registration, registration_id)
    if registration is None or registration.group_id != group.id:
        raise errors.NotFound("No member of this group has this id.")
    return await lock_for_update(db, Registration, registration_id)


async def add_member(
    db: AsyncSession, settings: Settings, *, group_id: uuid.UUID, member: MemberCreate, actor: Actor
) -> BookedMember:
    """Add a member while places remain (same ticket, same payment); invoiced groups get an invoice for the new
    line. A card group's new member is paid for by the lead, through the group's Checkout ("Pay by card" on the
    lead's page, or POST .../checkout), never by the member."""
    conference, group = await _lock_group(db, group_id)
    assert conference.id is not None
    ticket = await db.get(TicketType, group.ticket_type_id)
    assert ticket is not None
    problems: dict[str, str] = {}
    current = [r for r in await members_of(db, group.id) if r.status != Status.cancelled]
    if len(current) + 1 > settings.group_max_members:
        problems["members"] = f"A group booking may have at most {settings.group_max_members} members."
    checked = check_members([member], await all_questions(db), ticket, problems, prefix="")
    if problems:
        raise errors.InvalidInput(fields=problems)
    if await _live_emails(db, conference.id, [member.email.lower()]):
        raise errors.AlreadyRegistered(fields={"email": "This email address is already registered."})
    if not registration_window.is_open(conference):
        raise errors.RegistrationClosed()
    if await _free_places(db, conference, ticket) < 1:
        raise NotEnoughPlaces(remaining=0, wanted=1)
    method = PaymentMethod(group.payment_method)
    if method == PaymentMethod.none and ticket.price_pence > 0:
        # The group's places were free by a code, which was for its first members only: a new one pays.
        raise errors.DomainError(
            "This group's places were free with a code, which does not cover more people: book the colleague "
            "on their own."
        )
    now = utcnow()
    conference.registration_seq += 1
    status = places.status_with_place(ticket, member.email.lower(), method)
    added = _add_registration(
        db,
        settings,
        conference=conference,
        group=group,
        member=member,
        member_answers=checked[0],
        ticket=ticket,
        method=method,
        status=status,
        number=conference.registration_seq,
        net=None,  # the list price: a code the group used counted its first members only
        now=now,
    )
    await audit.record(
        db,
        "conference.group.member_added",
        actor=actor,
        subject=group.reference,
        registration=added.registration.reference,
        status=status.value,
    )
    await db.flush()
    await invoice_placed(db, settings, group=group, ticket=ticket, actor=actor)
    return added


async def cancel_member(
    db: AsyncSession, settings: Settings, *, group_id: uuid.UUID, registration_id: uuid.UUID, actor: Actor
) -> Registration:
    """Cancel one member: their line is credited (a credit note) or their share of the card payment refunded, by
    the same cancellation path as any registration (decisions.cancel_registration)."""
    _, group = await _lock_group(db, group_id)
    await _member(db, group, registration_id)
    registration = await decisions.cancel_registration(
        db, settings=settings, registration_id=registration_id, actor=actor
    )
    await audit.record(
        db,
        "conference.group.member_cancelled",
        actor=actor,
        subject=group.reference,
        registration=registration.reference,
    )
    return registration


async def substitute_member(
    db: AsyncSession,
    settings: Settings,
    *,
    group_id: uuid.UUID,
    registration_id: uuid.UUID,
    member: MemberCreate,
    actor: Actor,
) -> BookedMember:
    """Give a member's place to a colleague by the rules of a delegate's own transfer (conference/self_service.py):
    until the deadline for changes, to an address at the member's organisation's domain (any domain when the
    organisers allow it), not already registered. The place, the payment and the invoice line stay; the colleague
    gets a new manage link and badge, the old ones stop working (delegates.substitute)."""
    conference, group = await _lock_group(db, group_id)
    assert conference.id is not None
    registration = await _member(db, group, registration_id)
    if registration.status == Status.cancelled:
        raise errors.AlreadyCancelled()
    if not self_service.can_change(registration, conference):
        raise self_service.ChangesClosed()
    ticket = await db.get(TicketType, registration.ticket_type_id)
    assert ticket is not None
    problems: dict[str, str] = {}
    checked = check_members([member], await all_questions(db), ticket, problems, prefix="")
    domain, own = self_service.email_domain(str(member.email)), self_service.email_domain(registration.email)
    if domain != own and not conference.transfer_any_domain:
        problems["email"] = (
            f"Give the colleague's address at @{own}: a place goes to someone in the same organisation. The "
            "organisers can make the change if it needs to be otherwise."
        )
    elif (
        domain != own
        and ticket.approval == Approval.domain
        and not places.domain_approved(ticket, member.email)
    ):
        problems["email"] = (
            f"The {ticket.name} ticket is for addresses at {ticket.approval_domains}: give one of those."
        )
    if problems:
        raise errors.InvalidInput(fields=problems)
    old_reference = registration.reference
    details = {
        "name": member.name,
        "email": str(member.email),
        "organisation": registration.organisation,
        "sector": registration.sector,
        "job_title": member.job_title,
        "region": member.region,
        "dietary": member.dietary,
        "access_needs": member.access_needs,
    }
    registration = await delegates.substitute(
        db, settings=settings, registration_id=registration.id, details=details, actor=actor
    )
    registration.answers = (
        checked[0] or None
    )  # the colleague's own answers (the transfer cleared the previous)
    await audit.record(
        db,
        "conference.group.member_substituted",
        actor=actor,
        subject=group.reference,
        registration=old_reference,
    )
    await db.flush()
    token = manage_token(str(settings.secret_key), registration.id, registration.token_version)
    return BookedMember(registration, token)
