"""The shapes the API receives and returns (Base → Create → Public, CONVENTIONS.md); the tables are in
conference.core.models."""

from __future__ import annotations

import functools
import uuid
import zoneinfo
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, StrictBool, field_validator
from pydantic import Field as PField

from conference.core.models import REGIONS, PaymentMethod, Sector, Status
from conference.core.text import Line, Text

_STRIP = ConfigDict(str_strip_whitespace=True, extra="forbid")
# Times given to the API lie in these years: far outside them Europe/London's offset is local mean time
# (-00:01:15 before 1847), which is not a valid RFC 3339 offset in the answers (found by tests/fuzz/).
MIN_YEAR, MAX_YEAR = 2000, 2100
# The largest id or number a client may give for an integer column (PostgreSQL's integer; SQLite's is wider).
MAX_INT = 2**31 - 1
# The privacy notice and the accessibility statement: long, but well inside a form post's body limit.
NOTICE_MAX = 20_000


@functools.cache
def iana_zones() -> frozenset[str]:
    """The IANA time zone names this machine knows (tzdata); a conference's `timezone` must be one of them.
    Not the files that name no zone of their own: the machine's `localtime` and tzdata's placeholder `Factory`."""
    return frozenset(zoneinfo.available_timezones() - {"localtime", "Factory", "posixrules"})


# The organisation that pays an invoice
class BillingDetails(BaseModel):
    model_config = _STRIP
    organisation: Line = PField(min_length=1, max_length=200)
    contact_name: Line = PField(min_length=1, max_length=120)
    email: EmailStr = PField(max_length=254)
    address: Text = PField(min_length=5, max_length=1000)
    purchase_order: Line = PField(min_length=1, max_length=60)


# Properties to receive on registration (the form and the JSON API share it)
class RegistrationCreate(BaseModel):
    model_config = _STRIP
    name: Line = PField(min_length=1, max_length=120)
    email: EmailStr = PField(max_length=254)
    organisation: Line = PField(min_length=1, max_length=200)
    sector: Sector
    ticket_type_id: uuid.UUID
    # The JSON boolean true only: not "true", not 1 (the form's checkbox is turned into True by the page).
    consent: StrictBool
    job_title: Line = PField(default="", max_length=120)
    region: Line = PField(default="", max_length=60)
    dietary: Text = PField(default="", max_length=500)
    access_needs: Text = PField(default="", max_length=1000)
    # Paid tickets only: "card" (Stripe Checkout) or "invoice" (with `billing`); free tickets ignore both.
    payment_method: PaymentMethod | None = None
    billing: BillingDetails | None = None
    # Answers to the registration questions (GET /api/v1/questions), by question id: text, a number, true or
    # false, an option's text, a list of options' texts, or a date "YYYY-MM-DD" (conference/answers.py checks).
    answers: dict[str, Any] = PField(default_factory=dict, max_length=200)
    # A code (conference/codes.py): a complimentary place, a discount, or a place in a reserved block. Any case.
    code: Line | None = PField(default=None, max_length=40)

    @field_validator("consent")
    @classmethod
    def _consent_given(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError("You must agree to the privacy notice to register.")
        return value

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value and value not in REGIONS:
            raise ValueError("Choose a region from the list.")
        return value


# Properties returned once a registration is made
class RegistrationCreated(BaseModel):
    id: uuid.UUID
    reference: str
    status: Status
    manage_token: str
    checkout_url: str | None = None
    waitlist_position: int | None = None


# Properties to receive on a change of the conference (organisers)
class ConferenceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Line | None = PField(default=None, min_length=1, max_length=200)
    venue: Line | None = PField(default=None, max_length=300)
    capacity: int | None = PField(default=None, ge=0, le=100_000)
    registration_open: bool | None = None
    refund_full_until: datetime | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    # Personal data is erased this many days after the conference ends; null: kept until organisers decide.
    retention_days: int | None = PField(default=None, strict=True)
    # Added with the console's event settings (conference/event.py checks them against each other and the clock).
    timezone: Line | None = PField(default=None, max_length=64)
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    venue_address: Text | None = PField(default=None, max_length=1000)
    travel_notes: Text | None = PField(default=None, max_length=3000)
    accessibility_notes: Text | None = PField(default=None, max_length=3000)
    privacy_notice: Text | None = PField(default=None, max_length=NOTICE_MAX)
    accessibility_statement: Text | None = PField(default=None, max_length=NOTICE_MAX)
    contact_email: EmailStr | None = PField(default=None, max_length=254)
    # Delegates may transfer their own place to an address at any email domain (conference/self_service.py).
    transfer_any_domain: bool | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and value not in iana_zones():
            raise ValueError("Give a time zone by its IANA name, e.g. Europe/London.")
        return value

    @field_validator(
        "starts_at", "ends_at", "refund_full_until", "registration_opens_at", "registration_closes_at"
    )
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("Give the time with its offset, e.g. 2026-12-08T09:00:00+00:00.")
        if value is not None and not MIN_YEAR <= value.year <= MAX_YEAR:
            raise ValueError(f"Give a time between the years {MIN_YEAR} and {MAX_YEAR}.")
        return value

    @field_validator("retention_days")
    @classmethod
    def _days(cls, value: int | None) -> int | None:
        if value is not None and not 0 <= value <= 3650:
            raise ValueError(
                "Give a number of days from 0 to 3650 (ten years), or null to keep personal data "
                "until an organiser decides."
            )
        return value


class ResendLink(BaseModel):
    model_config = _STRIP
    email: EmailStr = PField(max_length=254)
