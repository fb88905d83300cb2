"""How money, dates and times read in pages, emails and documents: one format everywhere.

A moment reads "Tue 8 Dec 2026, 09:30" (`when`), a day "Tue 8 Dec 2026" (`day`), a range within a day
"Tue 8 Dec 2026, 09:30–10:30" (`span`) or, beside a day shown already, "09:30–10:30" (`times`). Never an ISO string.

Times read in the conference's own time zone (`Conference.timezone`): callers pass `conference_zone(conference)`.
DEFAULT_ZONE is for the one case with no conference to ask (a database before its conference row is made).
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
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


def _local(value: datetime | str, zone: tzinfo) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(zone)


def _day(d: date) -> str:
    return f"{d:%a} {d.day} {d:%b %Y}"


def when(value: datetime | str | None, zone: tzinfo) -> str:
    """A moment in the conference's time zone, e.g. 'Tue 8 Dec 2026, 09:30'."""
    if not value:
        return ""
    local = _local(value, zone)
    return f"{_day(local)}, {local:%H:%M}"


def clock(value: datetime | str | None, zone: tzinfo) -> str:
    """The time of day of a moment in the conference's time zone, e.g. '09:30'."""
    if not value:
        return ""
    return f"{_local(value, zone):%H:%M}"


def span(start: datetime | str | None, end: datetime | str | None, zone: tzinfo) -> str:
    """From start to end: 'Tue 8 Dec 2026, 09:30–10:30' within a day, else both moments in full."""
    if not start or not end:
        return when(start or end, zone)
    first, last = _local(start, zone), _local(end, zone)
    if first.date() == last.date():
        return f"{when(first, zone)}–{last:%H:%M}"
    return f"{when(first, zone)} to {when(last, zone)}"


def times(start: datetime | str | None, end: datetime | str | None, zone: tzinfo) -> str:
    """Just the times of a range within a day (the day is shown elsewhere), e.g. '09:30–10:30'."""
    return f"{clock(start, zone)}–{clock(end, zone)}"


def day(value: date | datetime | str | None, zone: tzinfo | None = None) -> str:
    """A day, e.g. 'Tue 8 Dec 2026'; a moment is read in `zone` (the conference's) first."""
    if not value:
        return ""
    if isinstance(value, datetime) or (isinstance(value, str) and len(value) > 10):
        moment = _local(value, zone or DEFAULT_ZONE)
        return _day(moment.date())
    try:
        d = date.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:  # not a day at all (a page's query string, say): nothing rather than an error
        return ""
    return _day(d)


def form_moment(raw: str, zone: ZoneInfo) -> tuple[datetime | None, str | None]:
    """A console form's date and time (an <input type="datetime-local">, read in the conference's zone): the moment,
    or the problem to show on the field; empty is (None, None)."""
    text = raw.strip()
    if not text:
        return None, None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None, "Give a date and time, e.g. 2026-10-31 23:59."
    if moment.tzinfo is not None or not 2000 <= moment.year <= 2100:
        return None, "Give a date and time between the years 2000 and 2100, e.g. 2026-10-31 23:59."
    return moment.replace(tzinfo=zone), None
