"""Rooms, time slots, programme sessions (plenaries, workshops, talks), seat bookings and ranked choices."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, field_validator
from pydantic import Field as PField
from sqlmodel import Field, SQLModel

from conference.core.models import utcnow
from conference.core.schemas import MAX_INT
from conference.core.text import Line, Text
from sessions.models.common import STRICT, aware, enum_type, when


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
    starts_at: datetime = when()
    ends_at: datetime = when()
    label: str = Field(default="", max_length=100)


class ProgrammeSession(SQLModel, table=True):
    __tablename__ = "programme_session"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conference_id: int = Field(foreign_key="conference.id", index=True)
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=4000)
    kind: Kind = Field(sa_type=enum_type(Kind, 16))
    room_id: uuid.UUID | None = Field(default=None, foreign_key="room.id", index=True)
    start_slot_id: uuid.UUID = Field(foreign_key="time_slot.id", index=True)
    slot_count: int = Field(default=1, ge=1)
    # Seats: the room's capacity unless set lower here.
    capacity_limit: int | None = Field(default=None, ge=0)
    # Copied from the slots so clashes are one indexed query; kept in step by programme.py.
    starts_at: datetime = when()
    ends_at: datetime = when()
    theme: str = Field(default="", max_length=100)
    speakers: str = Field(default="", max_length=500)
    cancelled: bool = False
    # Incremented under the session's lock: gives seat requests their arrival order.
    booking_seq: int = 0
    updated_at: datetime = when(default_factory=utcnow)


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
    status: SeatStatus = Field(sa_type=enum_type(SeatStatus, 16))
    number: int
    source: str = Field(default="booking", max_length=20)  # booking | allocation | organiser
    # What the seat was (booked | waitlisted) when its session was cancelled, so restoring the session can give
    # it back in booking order (sessions/workshops/cancellation.py); "" for every other seat.
    held_before_cancel: str = Field(default="", max_length=16)
    created_at: datetime = when(default_factory=utcnow)
    updated_at: datetime = when(default_factory=utcnow)


class SessionChoice(SQLModel, table=True):
    """A delegate's ranked choice for the fair allocation (rank 1 = first choice) within one time slot."""

    __tablename__ = "session_choice"
    __table_args__ = (sa.UniqueConstraint("registration_id", "session_id"),)
    id: int | None = Field(default=None, primary_key=True)
    registration_id: uuid.UUID = Field(foreign_key="registration.id", index=True)
    session_id: uuid.UUID = Field(foreign_key="programme_session.id", index=True)
    rank: int = Field(ge=1)
    created_at: datetime = when(default_factory=utcnow)


class AllocationRun(SQLModel, table=True):
    __tablename__ = "allocation_run"
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = when(default_factory=utcnow)
    seed: int
    applied: bool = False
    figures: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


# --- API shapes --------------------------------------------------------------------------------------------


# Properties to receive on room creation
class RoomCreate(BaseModel):
    model_config = STRICT
    name: Line = PField(min_length=1, max_length=100)
    capacity: int = PField(ge=0, le=10_000)
    accessibility: Text = PField(default="", max_length=500)
    position: int = PField(default=0, ge=-MAX_INT, le=MAX_INT)


# Properties to receive on room update (all optional)
class RoomUpdate(BaseModel):
    model_config = STRICT
    name: Line | None = PField(default=None, min_length=1, max_length=100)
    capacity: int | None = PField(default=None, ge=0, le=10_000)
    accessibility: Text | None = PField(default=None, max_length=500)
    position: int | None = PField(default=None, ge=-MAX_INT, le=MAX_INT)


# Properties to receive on slot creation
class TimeSlotCreate(BaseModel):
    model_config = STRICT
    starts_at: datetime
    ends_at: datetime
    label: Line = PField(default="", max_length=100)

    _check_aware = field_validator("starts_at", "ends_at")(aware)


# Properties to receive on session creation
class SessionCreate(BaseModel):
    model_config = STRICT
    title: Line = PField(min_length=1, max_length=200)  # one line: it is in emails' subjects (seat_promoted)
    description: Text = PField(default="", max_length=4000)
    kind: Kind
    room_id: uuid.UUID | None = None
    start_slot_id: uuid.UUID
    slot_count: int = PField(default=1, ge=1, le=12)
    capacity: int | None = PField(default=None, ge=0, le=10_000)
    theme: Line = PField(default="", max_length=100)
    speakers: Line = PField(default="", max_length=500)


# Properties to receive on session update (all optional)
class SessionUpdate(BaseModel):
    model_config = STRICT
    title: Line | None = PField(default=None, min_length=1, max_length=200)
    description: Text | None = PField(default=None, max_length=4000)
    room_id: uuid.UUID | None = None
    start_slot_id: uuid.UUID | None = None
    slot_count: int | None = PField(default=None, ge=1, le=12)
    capacity: int | None = PField(default=None, ge=0, le=10_000)
    theme: Line | None = PField(default=None, max_length=100)
    speakers: Line | None = PField(default=None, max_length=500)
    cancelled: bool | None = None


class SeatRequest(BaseModel):
    model_config = STRICT
    session_id: uuid.UUID


class ChoiceRanking(BaseModel):
    """Ranked choices per slot: {"choices": [{"session_id", "rank"}]} replaces the delegate's previous ones."""

    model_config = STRICT
    choices: list[ChoiceItem] = PField(max_length=100)


class ChoiceItem(BaseModel):
    model_config = STRICT
    session_id: uuid.UUID
    rank: int = PField(ge=1, le=10)


ChoiceRanking.model_rebuild()


class BookingPhase(SQLModel, table=True):
    """Whether delegates may rank choices (before the allocation) and book seats (first come, first served)."""

    __tablename__ = "booking_phase"
    conference_id: int = Field(foreign_key="conference.id", primary_key=True)
    choices_open: bool = False
    booking_open: bool = True
    updated_at: datetime = when(default_factory=utcnow)


# Properties to receive on a change of phase (organisers)
class BookingPhaseUpdate(BaseModel):
    model_config = STRICT
    choices_open: bool | None = None
    booking_open: bool | None = None
