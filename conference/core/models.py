"""The tables, their enums and labels; the shapes the API receives and returns are in conference.core.schemas."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both databases (SQLite keeps no offset, so we put it back on load)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _enum(cls: type[enum.Enum], length: int) -> Any:
    # Stored as its value in a plain string column (no native enum type to migrate), loaded as the enum.
    return sa.Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


def _when(nullable: bool = False, **kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable, **kw)


class Sector(str, enum.Enum):
    local_authority = "local_authority"
    police = "police"
    youth_offending_team = "youth_offending_team"
    school = "school"
    further_higher_education = "further_higher_education"
    health = "health"
    probation = "probation"
    prison = "prison"
    fire_rescue = "fire_rescue"
    community_faith = "community_faith"
    central_government = "central_government"
    other = "other"


SECTOR_LABELS: dict[Sector, str] = {
    Sector.local_authority: "Local authority",
    Sector.police: "Police",
    Sector.youth_offending_team: "Youth offending team",
    Sector.school: "School",
    Sector.further_higher_education: "Further or higher education",
    Sector.health: "Health",
    Sector.probation: "Probation",
    Sector.prison: "Prison",
    Sector.fire_rescue: "Fire and rescue",
    Sector.community_faith: "Community or faith organisation",
    Sector.central_government: "Central government",
    Sector.other: "Other",
}

REGIONS = [
    "East Midlands",
    "East of England",
    "London",
    "North East",
    "North West",
    "South East",
    "South West",
    "West Midlands",
    "Yorkshire and the Humber",
    "Scotland",
    "Wales",
    "Northern Ireland",
    "Outside the UK",
]


class Status(str, enum.Enum):
    confirmed = "confirmed"
    pending_payment = "pending_payment"
    awaiting_approval = "awaiting_approval"
    waitlisted = "waitlisted"
    cancelled = "cancelled"
    # Added: a place approved by the email's domain, held until the delegate follows the link sent to that address
    # (conference/verification.py); released like an expired card hold when the link is not followed in time.
    awaiting_verification = "awaiting_verification"


# What people read for each status, by its value (pages, console, exports; the templates' `status_label`).
STATUS_LABELS: dict[str, str] = {
    Status.confirmed.value: "Confirmed",
    Status.pending_payment.value: "Pending payment",
    Status.awaiting_approval.value: "Awaiting approval",
    Status.waitlisted.value: "Waitlisted",
    Status.cancelled.value: "Cancelled",
    Status.awaiting_verification.value: "Awaiting email confirmation",
}

# Statuses that hold one of the event's places (a place is kept while payment or approval is outstanding,
# so approving or paying can never fail for want of room).
HOLDING = (Status.confirmed, Status.pending_payment, Status.awaiting_approval, Status.awaiting_verification)


class PaymentMethod(str, enum.Enum):
    none = "none"  # a free ticket
    card = "card"  # Stripe Checkout
    invoice = "invoice"  # the organisation pays an invoice against a purchase order


# What people read for each payment method, by its value (the templates' `method_label`).
METHOD_LABELS: dict[str, str] = {
    PaymentMethod.none.value: "Nothing to pay",
    PaymentMethod.card.value: "Card",
    PaymentMethod.invoice.value: "Invoice",
}


class Approval(str, enum.Enum):
    none = "none"  # confirmed at once
    manual = "manual"  # an organiser approves every registration
    domain = "domain"  # automatic for email domains on the list, an organiser approves the rest


# --- tables -----------------------------------------------------------------------------------------------


class Conference(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    venue: str = Field(default="", max_length=300)
    timezone: str = Field(default="Europe/London", max_length=64)
    starts_at: datetime = _when()
    ends_at: datetime = _when()
    capacity: int = Field(default=1000, ge=0)
    # The organisers' manual switch: off closes registration whatever the window below says.
    registration_open: bool = True
    # The window the public form and API take registrations in (None: no limit on that side), read from the clock
    # at each request (core/registration_window.py); migration 0014, like the fields below.
    registration_opens_at: datetime | None = _when(nullable=True, default=None)
    registration_closes_at: datetime | None = _when(nullable=True, default=None)
    # The venue beyond its name (`venue`), and the event's public texts (pages/legal.py), set in the console.
    venue_address: str = Field(default="", max_length=1000)
    travel_notes: str = Field(default="", max_length=3000)
    accessibility_notes: str = Field(default="", max_length=3000)
    privacy_notice: str = Field(default="", sa_type=sa.Text)
    accessibility_statement: str = Field(default="", sa_type=sa.Text)
    contact_email: str | None = Field(default=None, max_length=254)
    # Incremented under the capacity lock: gives every registration its arrival number (waiting-list order).
    registration_seq: int = 0
    # Gapless numbering of invoices and credit notes (incremented under the capacity lock, like the above).
    invoice_seq: int = 0
    credit_note_seq: int = 0
    # Cancellation policy: a full refund (or credit) until this moment, none after it; None = always refund.
    refund_full_until: datetime | None = _when(nullable=True, default=None)
    # Personal data is erased this many days after the event ends (None: kept until an organiser decides).
    retention_days: int | None = Field(default=None, ge=0)
    # Delegates may change their answers to the registration questions until then (None: until the event starts).
    answers_editable_until: datetime | None = _when(nullable=True, default=None)
    # A delegate may transfer their place (conference/self_service.py) to an address at any email domain; off: only
    # at their own organisation's domain. Migration 0018.
    transfer_any_domain: bool = False
    created_at: datetime = _when(default_factory=utcnow)


class TicketType(SQLModel, table=True):
    __tablename__ = "ticket_type"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conference_id: int = Field(foreign_key="conference.id", index=True)
    name: str = Field(max_length=100)
    description: str = Field(default="", max_length=500)
    price_pence: int = Field(default=0, ge=0)
    currency: str = Field(default="GBP", max_length=3)
    cap: int | None = Field(default=None, ge=0)
    approval: Approval = Field(default=Approval.none, sa_type=_enum(Approval, 16))
    # Comma-separated domains; a domain matches itself and its subdomains (police.uk matches met.police.uk).
    approval_domains: str = Field(default="", max_length=1000)
    public: bool = True  # offered on the public form and API
    position: int = 0
    # Prices are net of VAT, as public bodies budget; a card payment or an invoice adds VAT at this rate.
    vat_rate_percent: int = Field(default=20, ge=0, le=100)
    invoice_allowed: bool = True  # the delegate's organisation may pay by invoice against a purchase order
    # Invoice payment confirms the place at once (public bodies pay late but pay); off: the place is held
    # as pending_payment until an organiser marks the invoice paid.
    invoice_confirms: bool = True
    card_allowed: bool = True  # the delegate may pay by card (when Stripe is set up); migration 0015
    # On sale from/until (an early-bird price until a date); None: no limit. The public form and API check the
    # window when a registration arrives; organisers book any type by hand at any time (conference/bookings.py).
    available_from: datetime | None = _when(nullable=True, default=None)
    available_until: datetime | None = _when(nullable=True, default=None)
    # An invoice payer may leave the purchase order empty (charities and companies without a PO system); migration 0020.
    po_optional: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})


class Registration(SQLModel, table=True):
    __table_args__ = (
        # One live registration per email; a cancelled one may register again.
        sa.Index(
            "uq_registration_live_email",
            "conference_id",
            "email_key",
            unique=True,
            sqlite_where=sa.text("status != 'cancelled'"),
            postgresql_where=sa.text("status != 'cancelled'"),
        ),
        sa.Index("ix_registration_status_number", "conference_id", "status", "number"),
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conference_id: int = Field(foreign_key="conference.id")
    ticket_type_id: uuid.UUID = Field(foreign_key="ticket_type.id", index=True)
    number: int
    reference: str = Field(max_length=16, unique=True)
    status: Status = Field(sa_type=_enum(Status, 24))
    name: str = Field(max_length=120)
    email: str = Field(max_length=254)
    email_key: str = Field(max_length=254)  # lower-cased, for the uniqueness rule
    organisation: str = Field(max_length=200)
    sector: Sector = Field(sa_type=_enum(Sector, 40))
    job_title: str = Field(default="", max_length=120)
    region: str = Field(default="", max_length=60)
    dietary: str = Field(default="", max_length=500)
    access_needs: str = Field(default="", max_length=1000)
    manage_token_hash: str = Field(max_length=64, unique=True)
    token_version: int = 1
    consent_at: datetime = _when()
    created_at: datetime = _when(default_factory=utcnow)
    updated_at: datetime = _when(default_factory=utcnow)
    cancelled_at: datetime | None = _when(nullable=True, default=None)
    # Why a cancelled registration was cancelled: delegate, organiser, hold_expired, payment_failed, credited.
    cancel_reason: str = Field(default="", max_length=40)
    payment_method: PaymentMethod = Field(default=PaymentMethod.none, sa_type=_enum(PaymentMethod, 16))
    # A place an organiser gave free, by hand (conference/bookings.py): nothing to pay whatever the ticket's price.
    complimentary: bool = False
    # While a card payment is outstanding the place is held until then; the expiry task releases it after.
    hold_expires_at: datetime | None = _when(nullable=True, default=None, index=True)
    # Invoice payers: the paying organisation (BillingDetails), kept so a waitlisted delegate is invoiced when
    # promoted. Erased with the other personal fields.
    billing: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    # The badge's QR code carries this; reissuing a badge bumps it, so the old code stops working.
    badge_version: int = 1
    badge_printed_at: datetime | None = _when(nullable=True, default=None)
    # Personal data erased (on the delegate's request, or by the retention rule): the row stays for the counts,
    # payments and invoices the law requires us to keep.
    erasure_requested_at: datetime | None = _when(nullable=True, default=None)
    erased_at: datetime | None = _when(nullable=True, default=None)
    # When the delegate followed the link emailed to `email` (conference/verification.py); cleared when the address
    # changes (an edit, a transfer). Data matched by email (talk proposals) is shown only once it is set.
    email_verified_at: datetime | None = _when(nullable=True, default=None)
    # While awaiting_verification: the place is held until then, and released after it if still unconfirmed.
    verify_expires_at: datetime | None = _when(nullable=True, default=None, index=True)
    # Answers to the registration questions by question id, each with the question as it was asked
    # (conference/questions.py); None: none given. Erased with the other personal fields.
    answers: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    # The code it was booked with (conference/codes.py; the table is in core/code_models.py), and the net price that
    # code set (None: the ticket type's list price; `places.price_of` reads both). Migration 0019.
    code_id: uuid.UUID | None = Field(default=None, foreign_key="code.id", index=True)
    price_pence: int | None = Field(default=None, ge=0)
    # A member of a group booking (conference/groups.py; table in core/group_models.py); migration 0020.
    group_id: uuid.UUID | None = Field(default=None, foreign_key="group_booking.id", index=True)


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_key"
    key: str = Field(primary_key=True, max_length=300)  # scope + ":" + client's key
    request_hash: str = Field(max_length=64)
    status_code: int
    # The answer without secrets (the manage token is derived again on replay).
    response: dict[str, Any] = Field(sa_type=sa.JSON)
    registration_id: uuid.UUID | None = Field(default=None, index=True)
    # The registration's token_version when the answer was given: once the manage token has changed (a transfer,
    # a reissue), a replay no longer hands it out. Rows go on transfer, on erasure and after a retention period.
    token_version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    created_at: datetime = _when(default_factory=utcnow, index=True)


class OutboxEmail(SQLModel, table=True):
    __tablename__ = "outbox_email"
    __table_args__ = (sa.Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(max_length=60)
    to_address: str = Field(max_length=254)
    registration_id: uuid.UUID | None = Field(default=None, index=True)
    broadcast_id: uuid.UUID | None = Field(default=None, foreign_key="broadcast.id", index=True)
    # What the message needs that may change later (status, position); rendered when sent, so no
    # secret (manage links) is ever stored in the database.
    context: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    status: str = Field(default="queued", max_length=16)  # queued | sending | sent | failed | kept
    attempts: int = 0
    next_attempt_at: datetime = _when(default_factory=utcnow)
    lease_until: datetime | None = _when(nullable=True, default=None)
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = _when(default_factory=utcnow)
    sent_at: datetime | None = _when(nullable=True, default=None)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=100)
    role: str = Field(max_length=20)
    token_hash: str = Field(max_length=64, unique=True)
    created_by: str = Field(default="", max_length=120)  # the actor's label; "" = the command line
    created_at: datetime = _when(default_factory=utcnow)
    last_used_at: datetime | None = _when(nullable=True, default=None)
    revoked_at: datetime | None = _when(nullable=True, default=None)


class UserAccount(SQLModel, table=True):
    """An organiser or a member of staff who signs in to the console with an email and a password."""

    __tablename__ = "user_account"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(max_length=254)
    email_key: str = Field(max_length=254, unique=True)  # lower-cased
    name: str = Field(default="", max_length=120)
    role: str = Field(max_length=20)  # organiser | staff
    password_hash: str = Field(default="", max_length=255)  # argon2id; "" = no password set yet
    # The TOTP secret, encrypted with a key derived from the server secret (a database dump alone can't mint
    # codes); confirmed once the user has typed a first valid code.
    totp_secret: str = Field(default="", max_length=255)
    totp_enabled_at: datetime | None = _when(nullable=True, default=None)
    totp_last_step: int = 0  # the last time step accepted: a code is good once
    failed_logins: int = 0
    locked_until: datetime | None = _when(nullable=True, default=None)
    created_at: datetime = _when(default_factory=utcnow)
    last_login_at: datetime | None = _when(nullable=True, default=None)
    disabled_at: datetime | None = _when(nullable=True, default=None)


class PasswordReset(SQLModel, table=True):
    __tablename__ = "password_reset"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime = _when()
    used_at: datetime | None = _when(nullable=True, default=None)
    created_at: datetime = _when(default_factory=utcnow)


class ConsoleSession(SQLModel, table=True):
    """One signed-in console browser (conference/core/console_sessions.py). Its cookie carries only a random key,
    of which this row keeps the hash; it belongs to an account or, for a door device or script signed in with an
    API token, to that token (by the token's hash). Signing out, a password change and the like set ended_at."""

    __tablename__ = "console_session"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    key_hash: str = Field(max_length=64, unique=True)
    user_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id", index=True)
    token_hash: str | None = Field(default=None, max_length=64, index=True)
    created_at: datetime = _when(default_factory=utcnow)
    last_seen_at: datetime = _when(default_factory=utcnow)
    expires_at: datetime = _when(index=True)  # created_at + the lifetime; past it the row is purged
    ended_at: datetime | None = _when(nullable=True, default=None)


class Broadcast(SQLModel, table=True):
    """A message organisers sent to a segment of delegates; each recipient's copy is an outbox email."""

    __tablename__ = "broadcast"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    segment: str = Field(max_length=40)  # all | ticket_type | session | waitlist
    segment_ref: str = Field(default="", max_length=64)  # the ticket type's or the session's id
    segment_label: str = Field(default="", max_length=300)
    subject: str = Field(max_length=200)
    body: str = Field(max_length=10_000)
    recipients: int = 0
    per_minute: int = 60
    created_by: str = Field(max_length=120)
    created_at: datetime = _when(default_factory=utcnow)


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when(default_factory=utcnow, index=True)
    actor: str = Field(max_length=120)  # "organiser:<token name>", "attendee:<reference>", "system"
    action: str = Field(max_length=80, index=True)  # dotted, e.g. conference.registration.created
    subject: str = Field(default="", max_length=80)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class Payment(SQLModel, table=True):
    """One Stripe Checkout Session opened for a registration (a delegate may need a second attempt)."""

    __tablename__ = "payment"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    registration_id: uuid.UUID = Field(foreign_key="registration.id", index=True)
    attempt: int = 1
    checkout_session_id: str | None = Field(default=None, max_length=255, unique=True)
    checkout_url: str | None = Field(default=None, max_length=2000)
    payment_intent_id: str | None = Field(default=None, max_length=255, index=True)
    amount_pence: int
    currency: str = Field(default="gbp", max_length=3)
    status: str = Field(default="creating", max_length=16)  # creating | open | paid | expired | failed
    refunded_pence: int = 0
    expires_at: datetime = _when()
    created_at: datetime = _when(default_factory=utcnow)
    paid_at: datetime | None = _when(nullable=True, default=None)
    # The registration's token_version when the page was opened: the payment-return page links to the booking only
    # while it is unchanged (after a transfer the payer is no longer the one the booking belongs to).
    token_version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})


class Refund(SQLModel, table=True):
    """A refund decided in our transaction and sent to Stripe after it (retried until Stripe answers)."""

    __tablename__ = "refund"
    __table_args__ = (sa.Index("ix_refund_due", "status", "next_attempt_at"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    payment_id: uuid.UUID = Field(foreign_key="payment.id", index=True)
    registration_id: uuid.UUID = Field(foreign_key="registration.id", index=True)
    amount_pence: int
    reason: str = Field(max_length=40)  # cancelled | late_payment | organiser
    # requested (not yet accepted by Stripe) | pending | requires_action | succeeded | failed | canceled
    status: str = Field(default="requested", max_length=16)
    stripe_refund_id: str | None = Field(default=None, max_length=255, unique=True)
    attempts: int = 0
    next_attempt_at: datetime = _when(default_factory=utcnow)
    last_error: str = Field(default="", max_length=500)
    # Why it failed for good: Stripe's failure_reason or error code (e.g. charge_already_refunded); migration 0013.
    failure_reason: str = Field(default="", max_length=60)
    created_at: datetime = _when(default_factory=utcnow)
    updated_at: datetime = _when(default_factory=utcnow)


class StripeEvent(SQLModel, table=True):
    """Every Stripe event handled, inserted in the transaction that acts on it: a redelivery changes nothing."""

    __tablename__ = "stripe_event"
    id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=80)
    received_at: datetime = _when(default_factory=utcnow)


class Invoice(SQLModel, table=True):
    """An invoice, or a credit note that cancels one (kind), for a registration paid by its organisation."""

    __tablename__ = "invoice"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    number: str = Field(max_length=20, unique=True)
    kind: str = Field(default="invoice", max_length=16)  # invoice | credit_note
    registration_id: uuid.UUID = Field(foreign_key="registration.id", index=True)
    credits_invoice_id: uuid.UUID | None = Field(default=None, foreign_key="invoice.id")
    # A group's invoice (one line per member, in invoice_line) or a credit note for one of its lines; then
    # `registration_id` is the member the document was first issued for (migration 0020).
    group_id: uuid.UUID | None = Field(default=None, foreign_key="group_booking.id", index=True)
    # The buyer's own reference, which public bodies ask to see on the invoice ("" if none given).
    buyer_reference: str = Field(default="", max_length=60, sa_column_kwargs={"server_default": ""})
    billing_organisation: str = Field(max_length=200)
    billing_contact: str = Field(max_length=120)
    billing_email: str = Field(max_length=254)
    billing_address: str = Field(max_length=1000)
    purchase_order: str = Field(max_length=60)
    # The delegate named on the document when it was issued: an invoice prints the same ever after, through a
    # transfer of the place or an erasure of the delegate's record ("" on rows from before migration 0009).
    delegate_name: str = Field(default="", max_length=120)
    description: str = Field(max_length=300)
    net_pence: int
    vat_rate_percent: int
    vat_pence: int
    gross_pence: int
    currency: str = Field(default="GBP", max_length=3)
    status: str = Field(default="issued", max_length=16)  # issued | paid | credited
    # "card": a receipt issued already paid, for a place paid by card (migration 0013); "" otherwise.
    paid_by: str = Field(default="", max_length=16)
    issued_on: date
    due_on: date | None = None
    paid_at: datetime | None = _when(nullable=True, default=None)
    # What the organiser recorded on marking it paid (migration 0021): the day the money arrived, how much
    # and the bank's reference. None / "" on card receipts and on invoices marked paid before.
    paid_on: date | None = None
    paid_amount_pence: int | None = None
    payment_reference: str = Field(default="", max_length=100)
    created_at: datetime = _when(default_factory=utcnow)


class Checkin(SQLModel, table=True):
    """One scan at a door or a workshop room, whatever it answered (the audit of who came in, and who tried)."""

    __tablename__ = "checkin"
    __table_args__ = (
        # At most one admission per delegate per list, however many scanners race (an offline device that let
        # someone in twice is recorded as already_checked_in, flagged).
        sa.Index(
            "uq_checkin_admitted",
            "registration_id",
            "list",
            unique=True,
            sqlite_where=sa.text("result = 'ok'"),
            postgresql_where=sa.text("result = 'ok'"),
        ),
        sa.Index("ix_checkin_list_at", "list", "scanned_at"),
        sa.Index("uq_checkin_scan_id", "scan_id", unique=True),
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    registration_id: uuid.UUID | None = Field(default=None, foreign_key="registration.id", index=True)
    list: str = Field(max_length=64)  # "door" or a session id
    result: str = Field(max_length=24)  # ok | already_checked_in | invalid | cancelled | unpaid | not_booked
    device: str = Field(default="", max_length=100)
    staff: str = Field(default="", max_length=120)  # the actor's label
    scanned_at: datetime = _when()  # on the device (offline scans arrive later)
    received_at: datetime = _when(default_factory=utcnow)
    offline: bool = False
    # An offline device showed green for a delegate somebody else had already let in: for the organisers.
    conflict: bool = False
    reason: str = Field(default="", max_length=200)  # why an invalid code was refused (no code text stored)
    # The scanner's own id for this scan: a retry (or the offline copy of a scan whose answer was lost) is
    # answered from the first record instead of counting twice.
    scan_id: str | None = Field(default=None, max_length=64)
    # SHA-256 (hex) of what was scanned (the code, or the reference looked up): a repeat of the scan id must have
    # scanned the same thing, on the same list and device, to be answered from the first record (no code text).
    scan_digest: str | None = Field(default=None, max_length=64)
