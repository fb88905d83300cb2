"""How money, dates and times read in pages, emails and documents: one format everywhere."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")

_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


def money(pence: int | None, currency: str = "GBP") -> str:
    """£1,234.50; -£5.00; "CHF 12.00" for a currency without a symbol here; nothing for no amount."""
    if pence is None:
        return ""
    sign = "-" if pence < 0 else ""
    pounds, pennies = divmod(abs(pence), 100)
    symbol = _SYMBOLS.get(currency.upper())
    amount = f"{pounds:,}.{pennies:02d}"
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{currency.upper()} {amount}"


def when(value: datetime | str | None) -> str:
    """A moment in UK time, e.g. '8 Dec 2026, 09:00 GMT'."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(UK)
    return f"{local.day} {local:%b %Y, %H:%M %Z}"


def day(value: date | str | None) -> str:
    if not value:
        return ""
    d = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{d.day} {d:%b %Y}"
