"""How money, dates and times read in pages, emails and documents: one format everywhere.

Times read in the conference's own time zone (`Conference.timezone`): callers pass `conference_zone(conference)`.
DEFAULT_ZONE is for the one case with no conference to ask (a database before its conference row is made).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Only where there is no conference (nothing set up yet): the zone a new Conference row gets by default.
DEFAULT_ZONE = ZoneInfo("Europe/London")

_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


class HasTimezone(Protocol):
    timezone: str


def conference_zone(conference: HasTimezone | None) -> ZoneInfo:
    """The conference's time zone; DEFAULT_ZONE when there is no conference (or its zone is unknown here)."""
    name = getattr(conference, "timezone", None)
    if not name:
        return DEFAULT_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return DEFAULT_ZONE


def money(pence: int | None, currency: str = "GBP") -> str:
    """£1,234.50; -£5.00; "CHF 12.00" for a currency without a symbol here; nothing for no amount."""
    if pence is None:
        return ""
    sign = "-" if pence < 0 else ""
    pounds, pennies = divmod(abs(pence), 100)
    symbol = _SYMBOLS.get(currency.upper())
    amount = f"{pounds:,}.{pennies:02d}"
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{currency.upper()} {amount}"


def when(value: datetime | str | None, zone: ZoneInfo) -> str:
    """A moment in the conference's time zone, e.g. '8 Dec 2026, 09:00 GMT'."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(zone)
    return f"{local.day} {local:%b %Y, %H:%M %Z}"


def day(value: date | str | None) -> str:
    if not value:
        return ""
    d = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{d.day} {d:%b %Y}"
