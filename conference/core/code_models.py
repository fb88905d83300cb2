"""Codes (pretix's vouchers, for our needs): the table, its kinds of discount, and the price a place sells at.

conference/codes.py has the rules (redeeming under the capacity lock, creating, revoking). A code's uses are the
live registrations (not cancelled) that carry its id (`Registration.code_id`), counted under the capacity lock, so
two people can never both take its last use, and a cancelled place gives its use back.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, field_validator
from pydantic import Field as PField
from sqlmodel import Field, SQLModel

from conference.core.models import UTCDateTime, utcnow
from conference.core.text import Line


class Discount(str, enum.Enum):
    none = "none"  # a reserved block (or a use limit) only: the list price
    complimentary = "complimentary"  # nothing to pay (speakers, sponsors)
    percent = "percent"  # value: 1-100 per cent off
    fixed = "fixed"  # value: pence off the net price


DISCOUNT_LABELS: dict[str, str] = {
    Discount.none.value: "No discount",
    Discount.complimentary.value: "Complimentary (nothing to pay)",
    Discount.percent.value: "Percentage off",
    Discount.fixed.value: "Fixed amount off",
}


class Code(SQLModel, table=True):
    __tablename__ = "code"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conference_id: int = Field(foreign_key="conference.id", index=True)
    # Stored upper-case (entry is case-insensitive: conference/codes.py normalises what people type).
    text: str = Field(max_length=40, unique=True)
    label: str = Field(default="", max_length=200)  # who it is for: "Speakers", "Metropolitan Police"
    discount: Discount = Field(
        default=Discount.none,
        sa_type=sa.Enum(
            Discount, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]
        ),
    )
    value: int = Field(default=0, ge=0)  # percent (1-100) or pence, as `discount` says
    max_uses: int = Field(default=1, ge=1)
    valid_from: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    valid_until: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    # The ticket types it applies to (ids as text); empty: every ticket type.
    ticket_type_ids: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    # A block of places held for the code's holders from creation (0: none), counted against the capacity until
    # reserved_until (None: until revoked); then what is left of it returns to general sale.
    reserved_places: int = Field(default=0, ge=0)
    reserved_until: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    created_by: str = Field(default="", max_length=120)  # the actor's label
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False, default_factory=utcnow)


def price_of(registration: Any, ticket: Any) -> int:
    """The net price this place sells at: the one a code set when it was booked, else the ticket's list price.
    Invoices and card payments charge this (also exported as `conference.places.price_of`)."""
    price = registration.price_pence
    return int(ticket.price_pence) if price is None else int(price)


# --- shapes the API and the console receive -------------------------------------------------------------------

_SHAPE = ConfigDict(str_strip_whitespace=True, extra="forbid")
MAX_BULK = 1000


# The settings a code carries (one code or a bulk of them)
class CodeSettings(BaseModel):
    model_config = _SHAPE
    label: Line = PField(default="", max_length=200)
    discount: Discount = Discount.none
    value: int = PField(default=0, ge=0, le=10_000_000, strict=True)
    max_uses: int = PField(default=1, ge=1, le=100_000, strict=True)
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    ticket_type_ids: list[uuid.UUID] = PField(default_factory=list, max_length=100)
    reserved_places: int = PField(default=0, ge=0, le=100_000, strict=True)
    reserved_until: datetime | None = None

    @field_validator("valid_from", "valid_until", "reserved_until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("Give the time with its offset, e.g. 2026-12-08T09:00:00+00:00.")
        if value is not None and not 2000 <= value.year <= 2100:
            raise ValueError("Give a time between the years 2000 and 2100.")
        return value


# Properties to receive on creating one code: its text, or none to have one made (with an optional prefix)
class CodeCreate(CodeSettings):
    text: Line | None = PField(default=None, max_length=40)
    prefix: Line = PField(default="", max_length=12)


# Properties to receive on creating codes in bulk: `count` codes made with the prefix, each with these settings
class CodeBulkCreate(CodeSettings):
    count: int = PField(ge=1, le=MAX_BULK, strict=True)
    prefix: Line = PField(default="", max_length=12)
