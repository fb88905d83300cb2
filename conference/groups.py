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

import base64
import csv
import hashlib
import hmac
import io
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, EmailStr, StrictBool, ValidationError, field_validator
from pydantic import Field as PField
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference import answers, codes, decisions, delegates, places, self_service
from conference.core import audit, errors, registration_window
from conference.core.audit import Actor
from conference.core.db import lock_for_update
from conference.core.group_models import GroupBooking, InvoiceLine
from conference.core.models import (
    HOLDING,
    REGIONS,
    STATUS_LABELS,
    Approval,
    Conference,
    IdempotencyKey,
    Invoice,
    OutboxEmail,
    PaymentMethod,
    Registration,
    Sector,
    Status,
    TicketType,
    utcnow,
)
from conference.core.question_models import Question
from conference.core.security import hash_token, manage_token, new_reference
from conference.core.settings import Settings
from conference.core.text import Line, Text
from conference.invoices import invoicing
from conference.mail import mailtext
from conference.mail.outbox import queue_email
from conference.payments import checkout, gateway
from conference.questions import all_questions

_STRIP = ConfigDict(str_strip_whitespace=True, extra="forbid")
# The most members a request may carry at all (the deployment's own limit, settings.group_max_members, is lower).
MEMBERS_LIMIT = 500


# --- the shapes the API and the pages hand over -------------------------------------------------------------------


# The lead booker (who may or may not attend)
class GroupLead(BaseModel):
    model_config = _STRIP
    name: Line = PField(min_length=1, max_length=120)
    email: EmailStr = PField(max_length=254)
    attends: StrictBool = False


# One member of the group
class GroupMember(BaseModel):
    model_config = _STRIP
    name: Line = PField(min_length=1, max_length=120)
    email: EmailStr = PField(max_length=254)
    job_title: Line = PField(default="", max_length=120)
    region: Line = PField(default="", max_length=60)
    dietary: Text = PField(default="", max_length=500)
    access_needs: Text = PField(default="", max_length=1000)
    answers: dict[str, Any] = PField(default_factory=dict, max_length=200)

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value and value not in REGIONS:
            raise ValueError("Choose a region from the list.")
        return value


# The organisation an invoice goes to: the purchase order may be empty when the ticket type allows it (po_optional)
class GroupBilling(BaseModel):
    model_config = _STRIP
    organisation: Line = PField(min_length=1, max_length=200)
    contact: Line = PField(min_length=1, max_length=120)
    email: EmailStr = PField(max_length=254)
    address: Text = PField(min_length=5, max_length=1000)
    purchase_order: Line = PField(default="", max_length=60)
    buyer_reference: Line = PField(default="", max_length=60)


# Properties to receive on a group booking (the API and the group form share it)
class GroupCreate(BaseModel):
    model_config = _STRIP
    ticket_type_id: uuid.UUID | None = None  # None: the first public ticket type on sale
    lead: GroupLead
    organisation: Line = PField(min_length=1, max_length=200)
    sector: Sector
    members: list[GroupMember] = PField(min_length=1, max_length=MEMBERS_LIMIT)
    payment_method: PaymentMethod | None = None  # None: card if it can be taken, else invoice
    billing: GroupBilling | None = None
    code: Line | None = PField(default=None, max_length=60)
    if_full: Literal["refuse", "waitlist"] = "refuse"


# A member added later by the lead, or the colleague who takes a member's place
class MemberCreate(GroupMember):
    pass


class NotEnoughPlaces(errors.DomainError):
    code = "not_enough_places"
    message = "There are not enough places left for the whole group."

    def __init__(self, remaining: int, wanted: int) -> None:
        self.remaining, self.wanted = remaining, wanted
        places_left = (
            "no places" if remaining == 0 else f"only {remaining} place{'s' if remaining != 1 else ''}"
        )
        super().__init__(
            f"There are {places_left} left, and the group needs {wanted}. Nothing has been booked: you can "
            f"waitlist the whole group (if_full: waitlist)"
            + (f" or book {remaining} of them." if remaining else ".")
        )

    def payload(self) -> dict[str, Any]:
        body = super().payload()
        body["error"]["remaining"] = self.remaining
        return body


class GroupClosed(errors.DomainError):
    code = "group_closed"
    message = "This group booking is cancelled; nothing can be changed on it."


def parse(model: type[GroupCreate] | type[MemberCreate], data: Any) -> Any:
    """Validate a body, naming members' fields like `members[3].email` (pydantic says `members.3.email`)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        found = errors.from_validation_error(exc)
        fields = {re.sub(r"^members\.(\d+)", r"members[\1]", k): v for k, v in (found.fields or {}).items()}
        raise errors.InvalidInput(fields=fields) from None


# --- tokens ---------------------------------------------------------------------------------------------------------


def group_token(secret: str, group_id: uuid.UUID, version: int) -> str:
    """The lead's private link, derived from the server secret like a member's manage token (its own prefix)."""
    raw = hmac.new(secret.encode(), f"group:{group_id}:{version}".encode(), hashlib.sha256).digest()
    return "g_" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def find_by_token(db: AsyncSession, token: str) -> GroupBooking:
    if not token.startswith("g_"):
        raise errors.NotFound("This group link is not valid; ask the organisers to send it again.")
    stmt = sa.select(GroupBooking).where(col(GroupBooking.manage_token_hash) == hash_token(token))
    group = (await db.execute(stmt)).scalar_one_or_none()
    if group is None:
        raise errors.NotFound("This group link is not valid; ask the organisers to send it again.")
    return group


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


@dataclass
class _Plan:
    """What was checked before the lock: the ticket, the payment, each member's row-to-be."""

    ticket: TicketType
    method: PaymentMethod
    members: list[GroupMember]
    answers: list[dict[str, Any]] = field(default_factory=list)


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


def _method(
    settings: Settings,
    ticket: TicketType,
    body: GroupCreate,
    problems: dict[str, str],
    *,
    price: int | None = None,
) -> PaymentMethod:
    """How the group pays: nothing for a free ticket, or one a code made free (`price`, the price after the code,
    as conference/registration.py's payment_method); card or invoice otherwise, with the billing an invoice needs."""
    if (ticket.price_pence if price is None else price) == 0:
        return PaymentMethod.none
    card_set_up = gateway.card_available(settings)
    card = card_set_up and ticket.card_allowed
    method = body.payment_method or (PaymentMethod.card if card else PaymentMethod.invoice)
    if method == PaymentMethod.none:
        problems["payment_method"] = "This ticket has a price: choose card or invoice."
    elif method == PaymentMethod.card and not card:
        refusal = "This ticket cannot be paid by card" if card_set_up else "Card payment is not available"
        problems["payment_method"] = f"{refusal}; choose invoice."
    elif method == PaymentMethod.invoice:
        if not ticket.invoice_allowed:
            problems["payment_method"] = "This ticket cannot be paid by invoice; choose card."
        elif body.billing is None:
            problems["billing"] = (
                "Give the paying organisation, contact, email, address and purchase order number to be invoiced."
            )
        elif not body.billing.purchase_order and not ticket.po_optional:
            problems["billing.purchase_order"] = (
                "Give the purchase order number the invoice must quote (this ticket type needs one)."
            )
    return method


def _members_of(body: GroupCreate, problems: dict[str, str]) -> list[GroupMember]:
    """The members in order; the lead is added first when they attend and are not listed already."""
    members = list(body.members)
    lead_key = body.lead.email.lower()
    listed = [i for i, m in enumerate(members) if m.email.lower() == lead_key]
    if body.lead.attends and not listed:
        members.insert(0, GroupMember(name=body.lead.name, email=body.lead.email))
    elif listed and not body.lead.attends:
        problems[f"members[{listed[0]}].email"] = (
            "This is the lead booker's address, but the lead does not attend: set lead.attends to true, "
            "or give this member's own address."
        )
    return members


def _check_members(
    members: list[GroupMember],
    questions: list[Question],
    ticket: TicketType,
    problems: dict[str, str],
    *,
    offset: int = 0,
    prefix: str = "members",
) -> list[dict[str, Any]]:
    """Each member's checked answers; problems named `members[i].field` (i: the index in the body)."""
    seen: dict[str, int] = {}
    checked: list[dict[str, Any]] = []
    for i, member in enumerate(members):
        # The attending lead added in front of the members (offset 1) is named "lead".
        where = ("lead" if i < offset else f"{prefix}[{i - offset}]") if prefix else ""
        key = member.email.lower()
        if key in seen:
            problems[f"{where}.email".lstrip(".")] = (
                f"This email address is also given for member {seen[key] - offset + 1}: each member needs their "
                "own address."
            )
        seen.setdefault(key, i)
        try:
            checked.append(answers.check_answers(questions, ticket_type_id=ticket.id, given=member.answers))
        except errors.InvalidInput as exc:
            checked.append({})
            for name, text in (exc.fields or {}).items():
                if where == "lead":
                    text = f"{text.rstrip('.')}: the lead attends, so list them among the members with their answers."
                problems[f"{where}.{name}".lstrip(".")] = text
    return checked


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
    problems: dict[str, str] = {}
    ticket = await _ticket(db, body.ticket_type_id)
    # With a code the payment is checked once the code is redeemed: a code that makes the place free needs no
    # payment and no billing (as a single registration's).
    method = PaymentMethod.none if body.code else _method(settings, ticket, body, problems)
    members = _members_of(body, problems)
    offset = len(members) - len(body.members)  # 1 when the attending lead was added in front
    if len(members) > settings.group_max_members:
        problems["members"] = (
            f"A group booking may have at most {settings.group_max_members} members; split the group into "
            "smaller bookings."
        )
    questions = await all_questions(db)
    checked = _check_members(members, questions, ticket, problems, offset=offset)
    if problems:
        raise errors.InvalidInput(fields=problems)

    # The capacity lock, before anything is counted.
    conference = await places.get_conference(db, for_update=True)
    assert conference.id is not None
    if idempotency_key:
        replay = await _replay(db, settings, idempotency_key, fingerprint)
        if replay is not None:
            return replay
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
    redemption = None
    if body.code:
        redemption = await codes.redeem(
            db, conference=conference, text=body.code, ticket=ticket, uses=len(members)
        )
    net = redemption.price_pence(ticket.price_pence) if redemption else ticket.price_pence
    if redemption:
        method = _method(settings, ticket, body, problems, price=net)
        if problems:
            raise errors.InvalidInput(fields=problems)
    seen = await places.availability(db, conference)
    free = await _free_places(db, conference, ticket, seen) + (redemption.block_places if redemption else 0)
    waitlist = len(members) > free
    if waitlist and body.if_full != "waitlist":
        raise NotEnoughPlaces(remaining=free, wanted=len(members))

    now = utcnow()
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
    secret = str(settings.secret_key)
    token = group_token(secret, group.id, 1)
    group.manage_token_hash = hash_token(token)
    db.add(group)
    await db.flush()
    conference.registration_seq += len(members)
    first_number = conference.registration_seq - len(members) + 1
    waitlisted = seen.waitlisted
    booked: list[BookedMember] = []
    for i, (member, member_answers) in enumerate(zip(members, checked, strict=True)):
        status = (
            Status.waitlisted if waitlist else places.status_with_place(ticket, member.email.lower(), method)
        )
        registration = _registration(
            settings,
            conference=conference,
            group=group,
            body=body,
            member=member,
            member_answers=member_answers,
            ticket=ticket,
            method=method,
            status=status,
            number=first_number + i,
            net=net if redemption and redemption.sets_price else None,
            now=now,
            code_id=group.code_id,
        )
        db.add(registration)
        booked.append(BookedMember(registration, manage_token(secret, registration.id, 1)))
        position = waitlisted + i + 1 if status == Status.waitlisted else None
        queue_email(
            db,
            settings,
            kind="verify_email" if status == Status.awaiting_verification else "registration",
            to=registration.email,
            registration_id=registration.id,
            status=status.value,
            position=position,
        )
        await audit.record(
            db,
            "conference.registration.created",
            actor=actor,
            subject=registration.reference,
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
    invoice = await _invoice_placed(db, settings, group=group, ticket=ticket, actor=actor)
    result = GroupBooked(group, token, booked, invoice)
    if idempotency_key:
        await _remember(db, idempotency_key, fingerprint, result)
    return result


def _registration(
    settings: Settings,
    *,
    conference: Conference,
    group: GroupBooking,
    body: GroupCreate,
    member: GroupMember,
    member_answers: dict[str, Any],
    ticket: TicketType,
    method: PaymentMethod,
    status: Status,
    number: int,
    net: int | None,
    now: Any,
    code_id: uuid.UUID | None = None,
) -> Registration:
    assert conference.id is not None
    registration_id = uuid.uuid4()
    return Registration(
        id=registration_id,
        conference_id=conference.id,
        ticket_type_id=ticket.id,
        number=number,
        reference=new_reference(),
        status=status,
        name=member.name,
        email=str(member.email),
        email_key=member.email.lower(),
        organisation=body.organisation,
        sector=body.sector,
        job_title=member.job_title,
        region=member.region,
        dietary=member.dietary,
        access_needs=member.access_needs,
        manage_token_hash=hash_token(manage_token(str(settings.secret_key), registration_id, 1)),
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


async def members_of(db: AsyncSession, group_id: uuid.UUID) -> list[Registration]:
    stmt = (
        sa.select(Registration)
        .where(col(Registration.group_id) == group_id)
        .order_by(col(Registration.number))
    )
    return list((await db.execute(stmt)).scalars())


async def _invoice_placed(
    db: AsyncSession, settings: Settings, *, group: GroupBooking, ticket: TicketType, actor: Actor
) -> Invoice | None:
    """Invoice the group's members that now hold a decided place and are not on an invoice yet (one invoice for
    them all, a line each). Card groups get their receipt when the payment arrives (`confirm_paid`)."""
    if group.payment_method != PaymentMethod.invoice.value:
        return None
    on_lines = set(
        (
            await db.execute(
                sa.select(col(InvoiceLine.registration_id))
                .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
                .where(col(Invoice.group_id) == group.id, col(Invoice.kind) == "invoice")
            )
        ).scalars()
    )
    due = [
        (r, places.price_of(r, ticket))
        for r in await members_of(db, group.id)
        if r.status in HOLDING and r.status not in places.UNDECIDED and r.id not in on_lines
    ]
    due = [(r, net) for r, net in due if net > 0]
    if not due:
        return None
    return await invoicing.issue_group_invoice(
        db, settings, group=group, members=due, ticket=ticket, actor=actor
    )


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
    stored = await db.get(IdempotencyKey, key)
    if stored is None:
        return None
    if stored.request_hash != fingerprint:
        raise errors.IdempotencyKeyReused()
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
    checked = _check_members([member], await all_questions(db), ticket, problems, prefix="")
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
    body = GroupCreate(
        lead=GroupLead(name=group.lead_name, email=group.lead_email),
        organisation=group.organisation,
        sector=Sector(group.sector),
        members=[member],
    )
    status = places.status_with_place(ticket, member.email.lower(), method)
    registration = _registration(
        settings,
        conference=conference,
        group=group,
        body=body,
        member=member,
        member_answers=checked[0],
        ticket=ticket,
        method=method,
        status=status,
        number=conference.registration_seq,
        net=None,  # the list price: a code the group used counted its first members only
        now=now,
    )
    db.add(registration)
    queue_email(
        db,
        settings,
        kind="verify_email" if status == Status.awaiting_verification else "registration",
        to=registration.email,
        registration_id=registration.id,
        status=status.value,
    )
    await audit.record(
        db,
        "conference.group.member_added",
        actor=actor,
        subject=group.reference,
        registration=registration.reference,
        status=status.value,
    )
    await db.flush()
    await _invoice_placed(db, settings, group=group, ticket=ticket, actor=actor)
    return BookedMember(registration, manage_token(str(settings.secret_key), registration.id, 1))


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
    checked = _check_members([member], await all_questions(db), ticket, problems, prefix="")
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


# --- what the lead and the organisers read --------------------------------------------------------------------------


async def list_groups(
    db: AsyncSession, *, query: str = "", limit: int = 100, offset: int = 0
) -> list[GroupBooking]:
    stmt = sa.select(GroupBooking).order_by(col(GroupBooking.created_at).desc()).limit(limit).offset(offset)
    if query:
        like = f"%{query.lower()}%"
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(col(GroupBooking.reference)).like(like),
                sa.func.lower(col(GroupBooking.organisation)).like(like),
                col(GroupBooking.lead_email_key).like(like),
            )
        )
    return list((await db.execute(stmt)).scalars())


async def group_invoices(db: AsyncSession, group_id: uuid.UUID) -> list[dict[str, Any]]:
    """The group's invoice and its credit notes, oldest first (the API's view of each)."""
    rows = list(
        (
            await db.execute(
                sa.select(Invoice)
                .where(col(Invoice.group_id) == group_id)
                .order_by(col(Invoice.created_at), col(Invoice.kind), col(Invoice.number))
            )
        ).scalars()
    )
    numbers = {r.id: r.number for r in rows}
    return [
        {**invoicing.invoice_public(r, numbers.get(r.credits_invoice_id) if r.credits_invoice_id else None)}
        for r in rows
    ]


async def group_public(
    db: AsyncSession, group: GroupBooking, *, with_tokens: GroupBooked | None = None
) -> dict[str, Any]:
    members = await members_of(db, group.id)
    ticket = await db.get(TicketType, group.ticket_type_id)
    held = [r for r in members if r.status in HOLDING]
    return {
        "id": str(group.id),
        "reference": group.reference,
        "lead": {"name": group.lead_name, "email": group.lead_email, "attends": group.lead_attends},
        "organisation": group.organisation,
        "sector": group.sector,
        "ticket_type": {"id": str(group.ticket_type_id), "name": ticket.name if ticket else ""},
        "payment_method": group.payment_method,
        "billing": group.billing,
        "created_at": group.created_at.isoformat(),
        "cancelled_at": group.cancelled_at.isoformat() if group.cancelled_at else None,
        "places_held": len(held),
        "members": [
            {
                "id": str(r.id),
                "reference": r.reference,
                "name": r.name,
                "email": r.email,
                "status": r.status.value,
                "job_title": r.job_title,
            }
            for r in members
        ],
        "invoices": await group_invoices(db, group.id),
    }


CSV_HEADERS = ["reference", "name", "email", "job_title", "region", "status", "dietary", "access_needs"]


async def group_csv(db: AsyncSession, group_id: uuid.UUID) -> str:
    """The group's members as CSV (the lead's download); cells that a spreadsheet would run as a formula are
    quoted with a leading apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADERS)
    for r in await members_of(db, group_id):
        writer.writerow(
            [
                _cell(v)
                for v in (
                    r.reference,
                    r.name,
                    r.email,
                    r.job_title,
                    r.region,
                    r.status.value,
                    r.dietary,
                    r.access_needs,
                )
            ]
        )
    return out.getvalue()


def _cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


async def group_checkout_amount(db: AsyncSession, group: GroupBooking) -> int:
    """What the group's card payment charges: each member's place with its VAT (pence)."""
    ticket = await db.get(TicketType, group.ticket_type_id)
    assert ticket is not None
    members = [r for r in await members_of(db, group.id) if r.status == Status.pending_payment]
    return sum(
        places.price_of(r, ticket) + checkout.vat_pence(places.price_of(r, ticket), ticket.vat_rate_percent)
        for r in members
    )


# --- the lead's email ---------------------------------------------------------------------------------------------


async def compose_group_booked(db: AsyncSession, settings: Settings, row: OutboxEmail) -> tuple[str, str]:
    """To the lead: the group's reference, its members and their status, and the lead's private link."""
    group = await db.get(GroupBooking, uuid.UUID(row.context["group_id"]))
    conference = await db.get(Conference, group.conference_id) if group else None
    if group is None or conference is None:
        raise mailtext.Undeliverable("the group behind this email no longer exists")
    link = f"{settings.base_url}/group/manage/{group_token(str(settings.secret_key), group.id, group.token_version)}"
    members = await members_of(db, group.id)
    listed = "\n".join(f"  {r.name} ({r.reference}): {STATUS_LABELS[r.status.value]}" for r in members)
    body = (
        f"Dear {group.lead_name},\n\n"
        f"Your group booking {group.reference} for {conference.name} has {len(members)} "
        f"{'person' if len(members) == 1 else 'people'}:\n\n{listed}\n\n"
        "Each of them gets their own email with their e-ticket and the link to manage their own booking.\n\n"
        f"Your page for the group (add a colleague while places remain, substitute or cancel one, download the "
        f"invoice and a list of the group):\n{link}\n\n"
        "Keep this link private: anyone with it can change the group's bookings.\n\n"
        f"{conference.name}\n"
    )
    return f"{conference.name}: group booking {group.reference}", body


def install() -> None:
    """Register the lead's email with the mail queue (called by the composition roots: server/plugins.py)."""
    mailtext.register_kind("group_booked", compose_group_booked)
