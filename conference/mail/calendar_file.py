"""The event as a delegate's emails and e-ticket describe it: its dates in words, its venue, and an iCalendar file
(RFC 5545) with one event (start, end, location) for the confirmation email to carry.

In the mail layer because the emails are its first user; the ticket (badges/ticket.py) words the dates the same.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import icalendar

from conference.core import formats
from conference.core.models import Conference


def _local(conference: Conference, when: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(conference.timezone))


def event_dates(conference: Conference) -> str:
    """ "Tue 8 Dec 2026, 09:00–17:00", or both moments in full when it runs over more than one day."""
    zone = formats.conference_zone(conference)
    return formats.span(
        _local(conference, conference.starts_at), _local(conference, conference.ends_at), zone
    )


def venue_lines(conference: Conference) -> list[str]:
    """The venue's name, then its address a line each (blank lines dropped)."""
    lines = [conference.venue.strip()] if conference.venue.strip() else []
    lines += [line.strip() for line in conference.venue_address.splitlines() if line.strip()]
    return lines


def location(conference: Conference) -> str:
    """The venue and its address on one line, as a calendar's LOCATION shows it."""
    return ", ".join(venue_lines(conference))


def event_uid(conference: Conference, base_url: str) -> str:
    """The same UID in every delegate's file, so re-sent confirmations update one calendar entry."""
    return f"conference-{conference.id}@{base_url.split('://')[-1].split('/')[0] or 'conference.local'}"


def event_ics(conference: Conference, *, base_url: str, description: str = "") -> bytes:
    """A calendar with the event alone (METHOD:PUBLISH: an entry to add, not a meeting invitation to answer)."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//National Conference//Event//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    event = icalendar.Event()
    event.add("uid", event_uid(conference, base_url))
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", _local(conference, conference.starts_at).astimezone(UTC))
    event.add("dtend", _local(conference, conference.ends_at).astimezone(UTC))
    event.add("summary", conference.name)
    where = location(conference)
    if where:
        event.add("location", where)
    if description:
        event.add("description", description)
    event.add("status", "CONFIRMED")
    cal.add_component(event)
    return bytes(cal.to_ical())  # icalendar leaves to_ical() unannotated
