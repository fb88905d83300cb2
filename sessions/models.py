"""Rooms, time slots, programme sessions (plenaries, workshops, talks), seat bookings and ranked choices."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, EmailStr, field_validator
from pydantic import Field as PField
from sqlmodel import Field, SQLModel

from conference.core.models import MAX_INT, MAX_YEAR, MIN_YEAR, UTCDateTime, utcnow


def _when(nullable: bool = False, **kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable, **kw)


def _enum(cls: type[enum.Enum], length: int) -> Any:
    return sa.Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class Kind(str, enum.Enum):
    plenary = "plenary"  # everyone, no booking
    workshop = "workshop"  # bookable, limited seats
    talk = "talk"  # open to all, no booking


class SeatStatus(str, enum.Enum):
    booked = "booked"
    waitlisted = "waitlisted"
    cancelled = "cancelled"


class Room(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conference_id: int = Field(foreign_key="conference.id", index=True)
    name: str = Field(max_length=100)
    capacity: int = Field(ge=0)
    accessibility: str = Field(default="", max_length=500)
    position: int = 0


class TimeSlot(SQLModel, table=True):
    __tablename__ = "time_slot"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conference_id: int = Field(foreign_key="conference.id", index=True)
    starts_at: datetime = _when()
    ends_at: datetime = _when()
    label: str = Field(default="", max_length=100)


class ProgrammeSession(SQLModel, table=True):
    __tablename__ = "programme_session"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conference_id: int = Field(foreign_key="conference.id", index=True)
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=4000)
    kind: Kind = Field(sa_type=_enum(Kind, 16))
    room_id: uuid.UUID | None = Field(default=None, foreign_key="room.id", index=True)
    start_slot_id: uuid.UUID = Field(foreign_key="time_slot.id", index=True)
    slot_count: int = Field(default=1, ge=1)
    # Seats: the room's capacity unless set lower here.
    capacity_limit: int | None = Field(default=None, ge=0)
    # Copied from the slots so clashes are one indexed query; kept in step by programme.py.
    starts_at: datetime = _when()
    ends_at: datetime = _when()
    theme: str = Field(default="", max_length=100)
    speakers: str = Field(default="", max_length=500)
    cancelled: bool = False
    # Incremented under the session's lock: gives seat requests their arrival order.
    booking_seq: int = 0
    updated_at: datetime = _when(default_factory=utcnow)


class SeatBooking(SQLModel, table=True):
    __tablename__ = "seat_booking"
    __table_args__ = (
        sa.Index(
            "uq_seat_live",
            "session_id",
            "registration_id",
            unique=True,
            sqlite_where=sa.text("status != 'cancelled'"),
            postgresql_where=sa.text("status != 'cancelled'"),
        ),
        sa.Index("ix_seat_session_status_number", "session_id", "status", "number"),
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    session_id: uuid.UUID = Field(foreign_key="programme_session.id")
    registration_id: uuid.UUID = Field(foreign_key="registration.id", index=True)
    status: SeatStatus = Field(sa_type=_enum(SeatStatus, 16))
    number: int
    source: str = Field(default="booking", max_length=20)  # booking | allocation | organiser
    created_at: datetime = _when(default_factory=utcnow)
    updated_at: datetime = _when(default_factory=utcnow)


class SessionChoice(SQLModel, table=True):
    """A delegate's ranked choice for the fair allocation (rank 1 = first choice) within one time slot."""

    __tablename__ = "session_choice"
    __table_args__ = (sa.UniqueConstraint("registration_id", "session_id"),)
    id: int | None = Field(default=None, primary_key=True)
    registration_id: uuid.UUID = Field(foreign_key="registration.id", index=True)
    session_id: uuid.UUID = Field(foreign_key="programme_session.id", index=True)
    rank: int = Field(ge=1)
    created_at: datetime = _when(default_factory=utcnow)


class AllocationRun(SQLModel, table=True):
    __tablename__ = "allocation_run"
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _when(default_factory=utcnow)
    seed: int
    applied: bool = False
    figures: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


# --- API shapes --------------------------------------------------------------------------------------------

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("Give the time with its offset, e.g. 2026-12-08T09:00:00+00:00.")
    if value is not None and not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"Give a time between the years {MIN_YEAR} and {MAX_YEAR}.")
    return value


# Properties to receive on room creation
class RoomCreate(BaseModel):
    model_config = _STRICT
    name: str = PField(min_length=1, max_length=100)
    capacity: int = PField(ge=0, le=10_000)
    accessibility: str = PField(default="", max_length=500)
    position: int = PField(default=0, ge=-MAX_INT, le=MAX_INT)


# Properties to receive on room update (all optional)
class RoomUpdate(BaseModel):
    model_config = _STRICT
    name: str | None = PField(default=None, min_length=1, max_length=100)
    capacity: int | None = PField(default=None, ge=0, le=10_000)
    accessibility: str | None = PField(default=None, max_length=500)
    position: int | None = PField(default=None, ge=-MAX_INT, le=MAX_INT)


# Properties to receive on slot creation
class TimeSlotCreate(BaseModel):
    model_config = _STRICT
    starts_at: datetime
    ends_at: datetime
    label: str = PField(default="", max_length=100)

    _check_aware = field_validator("starts_at", "ends_at")(_aware)


# Properties to receive on session creation
class SessionCreate(BaseModel):
    model_config = _STRICT
    title: str = PField(min_length=1, max_length=200)
    description: str = PField(default="", max_length=4000)
    kind: Kind
    room_id: uuid.UUID | None = None
    start_slot_id: uuid.UUID
    slot_count: int = PField(default=1, ge=1, le=12)
    capacity: int | None = PField(default=None, ge=0, le=10_000)
    theme: str = PField(default="", max_length=100)
    speakers: str = PField(default="", max_length=500)


# Properties to receive on session update (all optional)
class SessionUpdate(BaseModel):
    model_config = _STRICT
    title: str | None = PField(default=None, min_length=1, max_length=200)
    description: str | None = PField(default=None, max_length=4000)
    room_id: uuid.UUID | None = None
    start_slot_id: uuid.UUID | None = None
    slot_count: int | None = PField(default=None, ge=1, le=12)
    capacity: int | None = PField(default=None, ge=0, le=10_000)
    theme: str | None = PField(default=None, max_length=100)
    speakers: str | None = PField(default=None, max_length=500)
    cancelled: bool | None = None


class SeatRequest(BaseModel):
    model_config = _STRICT
    session_id: uuid.UUID


class ChoiceRanking(BaseModel):
    """Ranked choices per slot: {"choices": [{"session_id", "rank"}]} replaces the delegate's previous ones."""

    model_config = _STRICT
    choices: list[ChoiceItem] = PField(max_length=100)


class ChoiceItem(BaseModel):
    model_config = _STRICT
    session_id: uuid.UUID
    rank: int = PField(ge=1, le=10)


ChoiceRanking.model_rebuild()


class BookingPhase(SQLModel, table=True):
    """Whether delegates may rank choices (before the allocation) and book seats (first come, first served)."""

    __tablename__ = "booking_phase"
    conference_id: int = Field(foreign_key="conference.id", primary_key=True)
    choices_open: bool = False
    booking_open: bool = True
    updated_at: datetime = _when(default_factory=utcnow)


# Properties to receive on a change of phase (organisers)
class BookingPhaseUpdate(BaseModel):
    model_config = _STRICT
    choices_open: bool | None = None
    booking_open: bool | None = None


# --- the call for talks, review and delegates' stars ----------------------------------------------------------


class ProposalFormat(str, enum.Enum):
    talk = "talk"
    panel = "panel"
    workshop = "workshop"  # a hands-on workshop


FORMAT_LABELS: dict[ProposalFormat, str] = {
    ProposalFormat.talk: "Talk",
    ProposalFormat.panel: "Panel",
    ProposalFormat.workshop: "Hands-on workshop",
}


class AudienceLevel(str, enum.Enum):
    introductory = "introductory"
    intermediate = "intermediate"
    advanced = "advanced"


class ProposalStatus(str, enum.Enum):
    submitted = "submitted"
    accepted = "accepted"  # waiting for the speakers to confirm
    confirmed = "confirmed"
    declined = "declined"  # accepted, but the speakers said no
    rejected = "rejected"
    withdrawn = "withdrawn"


# Talks delegates may star, and the scheduler places (a declined or withdrawn talk drops out).
STARRABLE = (ProposalStatus.accepted, ProposalStatus.confirmed)

CRITERIA = ("relevance", "impact", "transferability")
CRITERIA_LABELS = {
    "relevance": "Relevance to the themes",
    "impact": "Evidence of impact",
    "transferability": "Transferability to other areas",
}


class CallForTalks(SQLModel, table=True):
    """The organisers' settings for the call: when it is open, the themes and the formats on offer."""

    __tablename__ = "call_for_talks"
    conference_id: int = Field(foreign_key="conference.id", primary_key=True)
    opens_at: datetime | None = _when(nullable=True, default=None)
    closes_at: datetime | None = _when(nullable=True, default=None)
    themes: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    # Format value → the durations (minutes) the event offers for it; a format left out is not on offer.
    formats: dict[str, list[int]] = Field(default_factory=dict, sa_type=sa.JSON)
    # Reviewers see neither the speakers' names nor their organisations.
    anonymous_review: bool = True
    updated_at: datetime = _when(default_factory=utcnow)


class Proposal(SQLModel, table=True):
    __table_args__ = (sa.Index("ix_proposal_conference_status", "conference_id", "status"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conference_id: int = Field(foreign_key="conference.id")
    title: str = Field(max_length=200)
    abstract: str = Field(max_length=3000)
    format: ProposalFormat = Field(sa_type=_enum(ProposalFormat, 16))
    duration_minutes: int = Field(ge=1)
    themes: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    audience_level: AudienceLevel = Field(sa_type=_enum(AudienceLevel, 16))
    access_needs: str = Field(default="", max_length=1000)
    status: ProposalStatus = Field(default=ProposalStatus.submitted, sa_type=_enum(ProposalStatus, 16))
    # The submitter's private link (view, edit, withdraw; confirm once accepted), derived like a manage token.
    edit_token_hash: str = Field(max_length=64, unique=True)
    token_version: int = 1
    created_at: datetime = _when(default_factory=utcnow)
    updated_at: datetime = _when(default_factory=utcnow)
    decided_at: datetime | None = _when(nullable=True, default=None)
    answered_at: datetime | None = _when(nullable=True, default=None)  # confirmed or declined by the speakers


class ProposalSpeaker(SQLModel, table=True):
    """One of a proposal's one to three speakers (position 0 is the contact), with the times they can't do."""

    __tablename__ = "proposal_speaker"
    __table_args__ = (sa.UniqueConstraint("proposal_id", "position"),)
    id: int | None = Field(default=None, primary_key=True)
    proposal_id: uuid.UUID = Field(foreign_key="proposal.id")  # indexed by the unique constraint
    position: int = Field(ge=0)
    name: str = Field(max_length=120)
    email: str = Field(max_length=254)
    # Lower-cased: the scheduler's identity for "the same speaker in two talks".
    email_key: str = Field(max_length=254, index=True)
    organisation: str = Field(max_length=200)
    # Time slot ids (strings) the speaker cannot do, and whole conference days (ISO dates) they cannot do.
    unavailable_slots: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    unavailable_days: list[str] = Field(default_factory=list, sa_type=sa.JSON)


class Reviewer(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("conference_id", "email_key"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conference_id: int = Field(foreign_key="conference.id")
    name: str = Field(max_length=120)
    email: str = Field(max_length=254)
    email_key: str = Field(max_length=254)
    token_hash: str = Field(max_length=64, unique=True)
    token_version: int = 1
    created_at: datetime = _when(default_factory=utcnow)
    revoked_at: datetime | None = _when(nullable=True, default=None)


class Review(SQLModel, table=True):
    """One reviewer's scores (1-5 on each criterion) and comment on one proposal; edited in place."""

    __table_args__ = (sa.UniqueConstraint("proposal_id", "reviewer_id"),)
    id: int | None = Field(default=None, primary_key=True)
    proposal_id: uuid.UUID = Field(foreign_key="proposal.id")  # indexed by the unique constraint
    reviewer_id: uuid.UUID = Field(foreign_key="reviewer.id", index=True)
    relevance: int = Field(ge=1, le=5)
    impact: int = Field(ge=1, le=5)
    transferability: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=2000)
    created_at: datetime = _when(default_factory=utcnow)
    updated_at: datetime = _when(default_factory=utcnow)


class Star(SQLModel, table=True):
    """A delegate would like to attend this accepted talk: the scheduler's expected audience."""

    __table_args__ = (sa.UniqueConstraint("registration_id", "proposal_id"),)
    id: int | None = Field(default=None, primary_key=True)
    registration_id: uuid.UUID = Field(foreign_key="registration.id")  # indexed by the unique constraint
    proposal_id: uuid.UUID = Field(foreign_key="proposal.id", index=True)
    created_at: datetime = _when(default_factory=utcnow)


# Properties to receive on a change of the call (organisers)
class CallUpdate(BaseModel):
    model_config = _STRICT
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    themes: list[str] | None = PField(default=None, min_length=1, max_length=30)
    formats: dict[ProposalFormat, list[int]] | None = None
    anonymous_review: bool | None = None

    _check_aware = field_validator("opens_at", "closes_at")(_aware)

    @field_validator("themes")
    @classmethod
    def _themes(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = [t.strip() for t in value]
        if any(not t or len(t) > 60 for t in cleaned):
            raise ValueError("Give each theme as 1 to 60 characters.")
        if len({t.lower() for t in cleaned}) != len(cleaned):
            raise ValueError("Each theme may appear only once.")
        return cleaned

    @field_validator("formats")
    @classmethod
    def _formats(
        cls, value: dict[ProposalFormat, list[int]] | None
    ) -> dict[ProposalFormat, list[int]] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("Offer at least one format.")
        for durations in value.values():
            if not durations or any(not 5 <= d <= 480 for d in durations):
                raise ValueError("Give each format one or more durations from 5 to 480 minutes.")
        return {k: sorted(set(v)) for k, v in value.items()}


# A speaker, as the submitter gives them
class SpeakerIn(BaseModel):
    model_config = _STRICT
    name: str = PField(min_length=1, max_length=120)
    email: EmailStr = PField(max_length=254)
    organisation: str = PField(min_length=1, max_length=200)
    # Time slot ids (GET /api/v1/call) or conference days (YYYY-MM-DD) this speaker cannot do.
    unavailable: list[str] = PField(default_factory=list, max_length=100)


def _speakers(value: list[SpeakerIn] | None) -> list[SpeakerIn] | None:
    if value is not None:
        if not 1 <= len(value) <= 3:
            raise ValueError("Give one to three speakers.")
        if len({str(s.email).lower() for s in value}) != len(value):
            raise ValueError("Give each speaker their own email address.")
    return value


def _themes(value: list[str] | None) -> list[str] | None:
    if value is not None and not value:
        raise ValueError("Choose at least one theme.")
    return value


# Properties to receive on submission (the form and the JSON API share it)
class ProposalCreate(BaseModel):
    model_config = _STRICT
    title: str = PField(min_length=1, max_length=200)
    abstract: str = PField(min_length=1, max_length=3000)
    format: ProposalFormat
    duration_minutes: int = PField(ge=5, le=480)
    themes: list[str] = PField(max_length=6)
    speakers: list[SpeakerIn]
    audience_level: AudienceLevel = AudienceLevel.intermediate
    access_needs: str = PField(default="", max_length=1000)

    _check_speakers = field_validator("speakers")(_speakers)
    _check_themes = field_validator("themes")(_themes)


# Properties to receive on an edit by the submitter (all optional; speakers are replaced as a whole)
class ProposalUpdate(BaseModel):
    model_config = _STRICT
    title: str | None = PField(default=None, min_length=1, max_length=200)
    abstract: str | None = PField(default=None, min_length=1, max_length=3000)
    format: ProposalFormat | None = None
    duration_minutes: int | None = PField(default=None, ge=5, le=480)
    themes: list[str] | None = PField(default=None, max_length=6)
    speakers: list[SpeakerIn] | None = None
    audience_level: AudienceLevel | None = None
    access_needs: str | None = PField(default=None, max_length=1000)

    _check_speakers = field_validator("speakers")(_speakers)
    _check_themes = field_validator("themes")(_themes)


# Properties to receive on a reviewer's invitation
class ReviewerInvite(BaseModel):
    model_config = _STRICT
    name: str = PField(min_length=1, max_length=120)
    email: EmailStr = PField(max_length=254)


# A reviewer's scores (1-5) and comment
class ReviewIn(BaseModel):
    model_config = _STRICT
    relevance: int = PField(ge=1, le=5)
    impact: int = PField(ge=1, le=5)
    transferability: int = PField(ge=1, le=5)
    comment: str = PField(default="", max_length=2000)


class Decision(str, enum.Enum):
    accept = "accept"
    reject = "reject"


# An organiser's decision on one or many proposals
class DecisionBulk(BaseModel):
    model_config = _STRICT
    decision: Decision
    proposal_ids: list[uuid.UUID] = PField(min_length=1, max_length=500)


# A delegate's stars: the accepted talks they would like to attend (replaces the previous set)
class StarsIn(BaseModel):
    model_config = _STRICT
    proposal_ids: list[str] = PField(max_length=200)


# --- building and publishing the workshop programme (sessions/schedule/build.py) --------------------------------


class ScheduleState(str, enum.Enum):
    building = "building"  # a build is solving now: a second build waits for it (409)
    draft = "draft"
    published = "published"
    superseded = "superseded"  # was published; a later version replaced it
    discarded = "discarded"  # a draft nobody published, or a build that never finished


class ScheduleVersion(SQLModel, table=True):
    """One build of the workshop programme: a draft with its figures, then (once published) a numbered version."""

    __tablename__ = "schedule_version"
    __table_args__ = (sa.Index("ix_schedule_version_conference_state", "conference_id", "state"),)
    id: int | None = Field(default=None, primary_key=True)
    conference_id: int = Field(foreign_key="conference.id")
    number: int | None = None  # 1, 2, ... once published
    state: ScheduleState = Field(sa_type=_enum(ScheduleState, 16))
    # The published version this draft was built on (None: none was published); publishing needs it current.
    base_version_id: int | None = None
    created_at: datetime = _when(default_factory=utcnow)
    created_by: str = Field(default="", max_length=120)
    published_at: datetime | None = _when(nullable=True, default=None)
    published_by: str = Field(default="", max_length=120)
    time_limit: float = 30.0
    figures: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    # The grouped sessions: [{key, title, talk_ids, themes, kind, slot_count, audience, stars, speakers}]
    workshops: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    # Workshop key → {"room_id", "slot_id"} (the start slot); empty when the build found no schedule.
    placement: dict[str, dict[str, str]] = Field(default_factory=dict, sa_type=sa.JSON)
    # What publishing changed (or, for a draft, nothing until then): [{kind, key, title, from, to}]
    changes: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)


class SessionTalk(SQLModel, table=True):
    """The accepted talks a published workshop session is made of, in running order."""

    __tablename__ = "session_talk"
    programme_session_id: uuid.UUID = Field(foreign_key="programme_session.id", primary_key=True)
    proposal_id: uuid.UUID = Field(foreign_key="proposal.id", primary_key=True, index=True)
    position: int = Field(default=0, ge=0)
