"""What the tables and the API shapes of sessions share: timestamp and enum columns, strict input models."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import ConfigDict
from sqlmodel import Field

from conference.core.models import UTCDateTime
from conference.core.schemas import MAX_YEAR, MIN_YEAR


def when(nullable: bool = False, **kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable, **kw)


def enum_type(cls: type[enum.Enum], length: int) -> Any:
    return sa.Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)


def aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("Give the time with its offset, e.g. 2026-12-08T09:00:00+00:00.")
    if value is not None and not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"Give a time between the years {MIN_YEAR} and {MAX_YEAR}.")
    return value
