"""Registration use-cases: register (one, or many under one lock, replaying idempotent retries), find a booking by
its manage token, change the conference, resend a manage link. Cancelling and approving are in `decisions`.

Every function runs inside the caller's transaction (`async with database.transaction() as db:`) and takes
the conference's capacity lock itself, before it checks availability.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from conference import answers, codes, event, places
from conference.core import errors, registration_window
from conference.core.audit import Actor
from conference.core.db import Database, insert_rows
from conference.core.models import (
    HOLDING,
    AuditEntry,
    Conference,
    IdempotencyKey,
    OutboxEmail,
    PaymentMethod,
    Registration,
    Status,
    TicketType,
    utcnow,
)
from conference.core.question_models import Question
from conference.core.schemas import RegistrationCreate
from conference.core.security import hash_token, manage_token, new_reference
from conference.core.settings import Settings
from conference.invoices import invoicing
from conference.mail.outbox import outbox_row, queue_email
from conference.payments import gateway
from conference.questions import all_questions


@dataclass(frozen=True)
class Registered:
    row: dict[str, Any]  # the registration's columns as written (or, on a replay, as stored)
    manage_token: str
    waitlist_position: int | None
    # On an idempotent replay: the first answer, as it was given.
    replayed_response: dict[str, Any] | None = None
    checkout_url: str | None = None  # set by the web layer once Stripe has opened the Checkout page
    payment_error: str | None = None

    @cached_property
    def registration(self) -> Registration:
        # Built only when a caller wants the model: the API answer needs just three columns.
        return Registration(**self.row)

    @property
    def replayed(self) -> bool:
        return self.replayed_response is not None

    def public(self) -> dict[str, Any]:
        if self.replayed_response is not None:
            answer = {**self.replayed_response, "manage_token": self.manage_token}
            return {**answer, "checkout_url": self.checkout_url} if self.checkout_url else answer
        answer = {
            "id": str(self.row["id"]),
            "reference": self.row["reference"],
            "status": self.row["status"].value,
            "manage_token": self.manage_token,
            "checkout_url": self.checkout_url,
            "waitlist_position": self.waitlist_position,
        }
        if self.payment_error:
            answer["payment_error"] = self.payment_error
        return answer


def payment_method(
    settings: Settings,
    ticket: TicketType | sa.Row[Any],
    data: RegistrationCreate,
    *,
    price: int | None = None,
) -> PaymentMethod:
    """How this registration pays: nothing for a free ticket (or one a code made free: `price`, the price after
    the code); card (if Stripe is set up) or invoice otherwise."""
    if (ticket.price_pence if price is None else price) == 0:
        return PaymentMethod.none
    card_set_up = gateway.card_available(settings)
    card = card_set_up and ticket.card_allowed  # the organisers may take a type by invoice only
    method = data.payment_method or (PaymentMethod.card if card else PaymentMethod.invoice)
    if method == PaymentMethod.none:
        raise errors.InvalidInput(
            fields={"payment_method": "This ticket has a price: choose card or invoice."}
        )
    if method == PaymentMethod.card and not card:
        refusal = "This ticket cannot be paid by card" if card_set_up else "Card payment is not available"
        raise errors.InvalidInput(fields={"payment_method": f"{refusal}; choose invoice."})
    if method == PaymentMethod.invoice:
        if not ticket.invoice_allowed:
            raise errors.InvalidInput(
                fields={"payment_method": "This ticket cannot be paid by invoice; choose card."}
            )
        if data.billing is None:
            raise errors.InvalidInput(
                fields={
                    "billing": "Give the paying organisation, contact, email, address "
                    "and purchase order number to be invoiced."
                }
            )
    return method


def request_fingerprint(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _table(model: type[SQLModel]) -> sa.Table:
    # The table itself (SQLModel does not declare `__table__` for type checkers): Core statements, no ORM
    # bookkeeping.
    name = model.__tablename__
    assert isinstance(name, str)
    return model.metadata.tables[name]


# register_many()'s statements, built once: building a statement costs more than running it on SQLite.
_TICKETS = sa.select(
    col(TicketType.id),
    col(TicketType.conference_id),
    col(TicketType.public),
    col(TicketType.cap),
    col(TicketType.approval),
    col(TicketType.approval_domains),
    col(TicketType.price_pence),
    col(TicketType.invoice_allowed),
    col(TicketType.invoice_confirms),
    col(TicketType.card_allowed),
    col(TicketType.available_from),
    col(TicketType.available_until),
).where(col(TicketType.id).in_(sa.bindparam("ids", expanding=True)))
_LOCK_AND_NUMBER = (
    sa.update(_table(Conference))
    .values(registration_seq=col(Conference.registration_seq) + sa.bindparam("count"))
    .where(col(Conference.id) == sa.select(sa.func.min(col(Conference.id))).scalar_subquery())
    .returning(
        col(Conference.id),
        col(Conference.capacity),
        col(Conference.registration_open),
        col(Conference.registration_seq),
        col(Conference.registration_opens_at),
        col(Conference.registration_closes_at),
    )
)
_LIVE_EMAILS = sa.select(col(Registration.email_key)).where(
    col(Registration.conference_id) == sa.bindparam("conference_id"),
    col(Registration.email_key).in_(sa.bindparam("emails", expanding=True)),
    col(Registration.status) != Status.cancelled,
)
_REGISTRATION_TABLE = _table(Registration)
_OUTBOX_TABLE = _table(OutboxEmail)
_AUDIT_TABLE = _table(AuditEntry)
_IDEMPOTENCY_TABLE = _table(IdempotencyKey)


@dataclass(frozen=True)
class RegistrationRequest:
    """One delegate's registration, as the web layer hands it over."""

    data: RegistrationCreate
    actor: Actor
    idempotency_key: str | None = None
    fingerprint: str = ""
    # The caller already knows the delegate reads this address (the demo's synthetic delegates): a place the email's
    # domain approves is then confirmed at once instead of awaiting_verification.
    email_verified: bool = False


@dataclass
class _UnderLock:
    """What the capacity lock's holder knows, kept current as it registers delegates one after another."""

    conference_id: int
    capacity: int
    registration_open: bool
    next_number: int
    registered: int
    waitlisted: int
    tickets: dict[uuid.UUID, sa.Row[*tuple[Any, ...]]]
    single: bool
    held_by_type: dict[uuid.UUID, int] = field(default_factory=dict)
    live_emails: set[str] = field(default_factory=set)
    # The registration questions, to check each registration's answers (conference/answers.py).
    questions: list[Question] = field(default_factory=list)
    # Places of codes' reserved blocks not yet taken (places.reserved_places): not for general sale.
    reserved: int = 0
    conference: Conference | None = None  # loaded for the first registration that gives a code


async def register(
    db: AsyncSession,
    *,
    settings: Settings,
    data: RegistrationCreate,
    actor: Actor,
    idempotency_key: str | None = None,
    fingerprint: str = "",
    database: Database | None = None,
    email_verified: bool = False,
) -> Registered:
    """Take a place (or a waiting-list position) for one delegate, in the caller's transaction."""
    snapshot = None
    if settings.test_unsafe_no_capacity_lock:
        # Negative control for the race tests: the classic bug, availability checked before (outside) the
        # write transaction and its lock. Nothing has run on `db` yet, so its transaction has not begun.
        assert database is not None
        async with database.read() as read:
            snapshot = await places.availability(read, await places.get_conference(read))
        await asyncio.sleep(settings.test_sleep_after_capacity_check_ms / 1000)
    request = RegistrationRequest(data, actor, idempotency_key, fingerprint, email_verified)
    outcome = (await register_many(db, settings=settings, requests=[request], snapshot=snapshot))[0]
    if isinstance(outcome, errors.DomainError):
        raise outcome
    return outcome


async def register_many(
    db: AsyncSession,
    *,
    settings: Settings,
    requests: list[RegistrationRequest],
    snapshot: places.Availability | None = None,
) -> list[Registered | errors.DomainError]:
    """Register delegates in the order given, under one capacity lock, in the caller's transaction.

    This is the hottest write path on the day registration opens. Several registrations that arrive together
    share one transaction (conference/group_commit.py): one UPDATE both takes the capacity lock and numbers
    them, one count of places follows, and the counts are then kept in memory as each delegate gets a place or
    a waiting-list position, so each registration costs little more than its own INSERT.

    A request refused for a reason of its own (registration closed, an unknown or full ticket type, an email
    already registered, a reused idempotency key) gets its error in the list, decided before any of its rows
    are written, and the others go on. A database error aborts the whole transaction: the caller then writes
    the requests one by one, so that only the one at fault fails.
    """
    assert db.in_transaction()
    conn = await db.connection()
    # Read before the lock what needs no lock, so the capacity lock is held for as short a time as possible.
    ids = list({r.data.ticket_type_id for r in requests})
    tickets = {row.id: row for row in (await conn.execute(_TICKETS, {"ids": ids})).all()}
    questions = await all_questions(db)
    # The capacity lock: on PostgreSQL the UPDATE holds the conference row until commit; on SQLite the
    # transaction already holds the write lock (BEGIN IMMEDIATE). Every path that changes who holds a place
    # takes this lock first.
    locked = (await conn.execute(_LOCK_AND_NUMBER, {"count": len(requests)})).first()
    if locked is None:
        raise errors.NotFound(
            "No conference has been set up yet: an organiser sets it up in the console at /console/event."
        )
    conference_id, capacity, switch, last_number, opens_at, closes_at = locked
    # The switch and the window, on the clock now (under the lock): the form opens and closes by itself.
    window = registration_window.state(switch=switch, opens_at=opens_at, closes_at=closes_at)
    registration_open = window is registration_window.RegistrationState.open
    assert conference_id is not None
    seen = snapshot or await places.count_places(db, conference_id, capacity)
    if snapshot is None and seen.waitlisted and seen.general_free > 0:
        # Places came free with nobody to hand them to (a code's reserved block lapsed: nothing runs at that
        # moment): the waiting list takes them first, then these registrations count what is left.
        conference = await db.get(Conference, conference_id)
        assert conference is not None
        if await places.promote_waitlist(db, settings=settings, conference=conference):
            seen = await places.count_places(db, conference_id, capacity)
    state = _UnderLock(
        conference_id=conference_id,
        capacity=capacity,
        registration_open=registration_open,
        next_number=last_number - len(requests) + 1,
        registered=seen.registered,
        waitlisted=seen.waitlisted,
        tickets=tickets,
        single=len(requests) == 1,
        questions=questions,
        reserved=seen.reserved,
    )
    if not state.single:
        # One registration alone lets the unique index find a duplicate; in a batch that would abort the
        # others too, so their emails are looked up first (under the lock, so none can appear meanwhile).
        emails = [r.data.email.lower() for r in requests]
        found = await conn.execute(_LIVE_EMAILS, {"conference_id": conference_id, "emails": emails})
        state.live_emails.update(found.scalars())
    outcomes: list[Registered | errors.DomainError] = []
    for request in requests:
        numbered = state.next_number
        try:
            outcomes.append(await _register_one(db, settings, state, request))
        except errors.DomainError as exc:
            if state.next_number != numbered:
                raise  # refused after its rows were (being) written: only rolling back the transaction undoes them
            outcomes.append(exc)
    return outcomes


async def _register_one(
    db: AsyncSession, settings: Settings, state: _UnderLock, request: RegistrationRequest
) -> Registered:
    data, secret = request.data, str(settings.secret_key)
    conn = await db.connection()
    if request.idempotency_key:
        # Under the lock, so a retry racing its own first attempt waits for it and then replays its answer.
        replay = await _replay(db, secret, request.idempotency_key, request.fingerprint)
        if replay is not None:
            return replay
    if not state.registration_open:
        raise errors.RegistrationClosed()
    ticket = state.tickets.get(data.ticket_type_id)
    if ticket is None or ticket.conference_id != state.conference_id or not ticket.public:
        raise errors.InvalidInput(
            fields={"ticket_type_id": "Choose one of the ticket types listed at /api/v1/ticket-types."}
        )
    if not places.on_sale(ticket):
        # Checked when the registration arrives: an early bird that ended while the form was open is refused.
        raise errors.InvalidInput(
            fields={"ticket_type_id": "This ticket type is not on sale now; choose another ticket type."}
        )
    redemption = None
    if data.code:
        # Under the capacity lock: its uses are counted here, so two people never both take its last use.
        if state.conference is None:
            state.conference = await db.get(Conference, state.conference_id)
            assert state.conference is not None
        redemption = await codes.redeem(
            db, conference=state.conference, text=data.code, ticket=ticket, uses=1
        )
    price = redemption.price_pence(ticket.price_pence) if redemption and redemption.sets_price else None
    method = payment_method(settings, ticket, data, price=price)
    checked_answers = answers.check_answers(state.questions, ticket_type_id=ticket.id, given=data.answers)
    email_key = data.email.lower()
    if email_key in state.live_emails:
        raise errors.AlreadyRegistered(fields={"email": "This email address is already registered."})
    # A code's reserved block is for its holders only: others see the places left outside every block.
    in_block = redemption is not None and redemption.block_places > 0
    has_place = in_block or state.registered + state.reserved < state.capacity
    if has_place and ticket.cap is not None:
        if ticket.id not in state.held_by_type:
            state.held_by_type[ticket.id] = await places.held_by_type(db, ticket.id)
        if state.held_by_type[ticket.id] >= ticket.cap:
            raise errors.TicketTypeUnavailable()
    status = (
        places.status_with_place(ticket, email_key, method, email_verified=request.email_verified)
        if has_place
        else Status.waitlisted
    )
    # Under the lock this registration has the highest number, so it joins the end of the waiting list.
    position = state.waitlisted + 1 if status == Status.waitlisted else None

    registration_id = uuid.uuid4()
    token = manage_token(secret, registration_id, 1)
    now = utcnow()
    row = {
        **data.model_dump(exclude={"email", "consent", "payment_method", "billing", "answers", "code"}),
        "answers": checked_answers or None,
        "code_id": redemption.code.id if redemption else None,
        "price_pence": price,
        "payment_method": method,
        "billing": data.billing.model_dump(mode="json")
        if method == PaymentMethod.invoice and data.billing
        else None,
        "hold_expires_at": places.hold_until(settings, now) if places.needs_hold(status, method) else None,
        "id": registration_id,
        "conference_id": state.conference_id,
        "number": state.next_number,
        "reference": new_reference(),
        "status": status,
        "email": str(data.email),
        "email_key": email_key,
        "manage_token_hash": hash_token(token),
        "token_version": 1,
        "consent_at": now,
        "created_at": now,
        "updated_at": now,
        "cancelled_at": None,
        "email_verified_at": now if request.email_verified else None,
        "verify_expires_at": places.verify_until(settings, now)
        if status == Status.awaiting_verification
        else None,
    }
    state.next_number += 1
    email = outbox_row(
        settings,
        # A place held until the delegate confirms their address: the one email carries the link to do so.
        kind="verify_email" if status == Status.awaiting_verification else "registration",
        to=row["email"],
        registration_id=registration_id,
        status=status.value,
        position=position,
    )
    entry = {
        "actor": request.actor.label,
        "action": "conference.registration.created",
        "subject": row["reference"],
        "data": {"status": status.value, **({"code_id": str(redemption.code.id)} if redemption else {})},
    }
    try:
        # One round trip on PostgreSQL for the three rows: the capacity lock is held until commit.
        await insert_rows(conn, [(_REGISTRATION_TABLE, row), (_OUTBOX_TABLE, email), (_AUDIT_TABLE, entry)])
    except IntegrityError as exc:
        duplicate = "email_key" in str(exc.orig) or "uq_registration_live_email" in str(exc.orig)
        if duplicate and state.single:
            raise errors.AlreadyRegistered(
                fields={"email": "This email address is already registered."}
            ) from None
        raise
    state.live_emails.add(email_key)
    if status == Status.waitlisted:
        state.waitlisted += 1
    else:
        state.registered += 1
        if in_block:
            state.reserved -= 1  # the block's place is taken, not a general one
        if ticket.id in state.held_by_type:
            state.held_by_type[ticket.id] += 1
    result = Registered(row, token, position)
    if method == PaymentMethod.invoice and status in HOLDING and status not in places.UNDECIDED:
        full_ticket = await db.get(TicketType, data.ticket_type_id)
        assert full_ticket is not None
        await invoicing.issue_invoice(
            db, settings, registration=result.registration, ticket=full_ticket, actor=request.actor
        )
    if request.idempotency_key:
        public = result.public()
        public.pop("manage_token")
        await conn.execute(
            sa.insert(_IDEMPOTENCY_TABLE),
            {
                "key": request.idempotency_key,
                "request_hash": request.fingerprint,
                "status_code": 201,
                "response": public,
                "registration_id": registration_id,
                "token_version": 1,
            },
        )
    return result


async def stored_answer(db: AsyncSession, key: str, fingerprint: str) -> IdempotencyKey | None:
    """The answer kept for an idempotency key (None: a new key); IdempotencyKeyReused when the key was first used
    with another request. Also a group booking's (conference/groups.py)."""
    stored = await db.get(IdempotencyKey, key)
    if stored is not None and stored.request_hash != fingerprint:
        raise errors.IdempotencyKeyReused()
    return stored


async def _replay(db: AsyncSession, secret: str, key: str, fingerprint: str) -> Registered | None:
    stored = await stored_answer(db, key, fingerprint)
    if stored is None:
        return None
    registration = await db.get(Registration, stored.registration_id)
    assert registration is not None
    if registration.token_version != stored.token_version or registration.erased_at is not None:
        # The manage link was reissued (a transfer to a colleague, an erasure) after this answer was given: the
        # first caller's retry must not get the link that now belongs to somebody else.
        raise errors.IdempotencyKeySuperseded()
    token = manage_token(secret, registration.id, registration.token_version)
    position = stored.response.get("waitlist_position")
    row = {column.name: getattr(registration, column.name) for column in _REGISTRATION_TABLE.columns}
    return Registered(row, token, position, replayed_response=stored.response)


async def forget_idempotency_keys(db: AsyncSession, registration_id: uuid.UUID) -> int:
    """Delete the Idempotency-Key records of a registration (on transfer and erasure): they hold a hash of the whole
    first request and would let its sender fetch the booking again. A retry with such a key is a new request."""
    # A DELETE answers with a CursorResult (SQLAlchemy types execute() as a plain Result).
    deleted = await db.execute(
        sa.delete(IdempotencyKey).where(col(IdempotencyKey.registration_id) == registration_id)
    )
    return int(cast("CursorResult[Any]", deleted).rowcount or 0)


async def purge_idempotency_keys(
    database: Database, settings: Settings, *, now: datetime | None = None
) -> int:
    """Delete Idempotency-Key records older than `idempotency_retention_days` (the retention worker, hourly)."""
    before = (now or utcnow()) - timedelta(days=settings.idempotency_retention_days)
    async with database.transaction() as db:
        deleted = await db.execute(sa.delete(IdempotencyKey).where(col(IdempotencyKey.created_at) < before))
    return int(cast("CursorResult[Any]", deleted).rowcount or 0)


async def find_by_token(db: AsyncSession, token: str) -> Registration | None:
    stmt = sa.select(Registration).where(col(Registration.manage_token_hash) == hash_token(token))
    return (await db.execute(stmt)).scalar_one_or_none()


async def update_conference(
    db: AsyncSession, *, settings: Settings, changes: dict[str, Any], actor: Actor
) -> Conference:
    # The rules (all problems at once, nothing half-saved, the audit) are the event settings' own: conference/event.py.
    return await event.update_conference(db, settings=settings, changes=changes, actor=actor)


async def resend_manage_link(db: AsyncSession, *, settings: Settings, email: str) -> bool:
    conference = await places.get_conference(db)
    registration = (
        await db.execute(
            sa.select(Registration).where(
                col(Registration.conference_id) == conference.id,
                col(Registration.email_key) == email.lower(),
                col(Registration.status) != Status.cancelled,
            )
        )
    ).scalar_one_or_none()
    if registration is None:
        return False
    position = await places.waitlist_position(db, registration)
    queue_email(
        db,
        settings,
        kind="manage_link",
        to=registration.email,
        registration_id=registration.id,
        status=registration.status.value,
        position=position,
    )
    return True
