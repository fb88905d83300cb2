"""The published programme as iCalendar (RFC 5545) and as frab-compatible schedule XML (the format Giggity,
ConfClerk and pretalx's schedule.xml speak; valid against c3voc's schedule.xml.xsd)."""

from __future__ import annotations

import math
import re
import unicodedata
import uuid
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta

from sessions.schedule.published import (
    KIND_LABELS,
    Filter,
    Item,
    Snapshot,
    Speaker,
    kept,
    room_name,
    room_names,
    version_label,
)
from sessions.workshops.agenda import new_calendar, session_event

# XML 1.0 forbids most control characters, which free text could carry (a pasted abstract).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _people(speakers: list[Speaker] | tuple[Speaker, ...]) -> str:
    return "; ".join(f"{s.name} ({s.organisation})" if s.organisation else s.name for s in speakers)


def details_text(item: Item) -> str:
    """Speakers, the description and the talks, as plain text for calendars and the XML's description."""
    parts = []
    if item.speakers and not item.talks:
        parts.append(f"Speakers: {_people(item.speakers)}")
    if item.session.description and not item.talks:  # a built workshop's description is its talk list again
        parts.append(item.session.description)
    for n, talk in enumerate(item.talks, 1):
        head = f"{n}. {talk.title}" + (f" ({_people(talk.speakers)})" if talk.speakers else "")
        parts.append(f"{head}\n{talk.abstract}" if talk.abstract else head)
    return "\n\n".join(parts)


# --- iCalendar -----------------------------------------------------------------------------------------------------


def programme_ics(snapshot: Snapshot, chosen: Filter, *, base_url: str) -> bytes:
    """One VEVENT per published session, in the conference's time zone (with its VTIMEZONE). DTSTAMP is the
    session's last change, not the time of the request, so the same programme gives the same bytes (and ETag)."""
    conf = snapshot.conference
    cal = new_calendar(conf, f"{conf.name}: programme")
    for item in kept(snapshot, chosen):
        s = item.session
        event = session_event(
            conf,
            s,
            item.room,
            base_url=base_url,
            stamp=s.updated_at,
            description=details_text(item),
            tz=snapshot.tz,
        )
        categories = [KIND_LABELS[s.kind], *item.themes]
        event.add("categories", categories)
        event.add("url", f"{base_url}/programme#session-{s.id}")
        cal.add_component(event)
    first, last = snapshot.days[0], snapshot.days[-1]
    cal.add_missing_timezones(first_date=date(first.year, 1, 1), last_date=date(last.year + 1, 1, 1))
    return bytes(cal.to_ical())


# --- schedule XML --------------------------------------------------------------------------------------------------


def event_ids(items: list[Item]) -> dict[uuid.UUID, int]:
    """Positive 31-bit ids derived from the session's UUID, so they stay put across calls and versions (frab
    readers store them as integers). A clash, vanishingly rare, moves the later UUID to the next free number."""
    taken: dict[int, uuid.UUID] = {}
    out: dict[uuid.UUID, int] = {}
    for session_id in sorted(i.session.id for i in items):
        n = (session_id.int & 0x7FFF_FFFF) or 1
        while n in taken:
            n = n % 0x7FFF_FFFF + 1
        taken[n] = session_id
        out[session_id] = n
    return out


def acronym(name: str) -> str:
    """'Safer Communities National Conference 2026' → 'scnc2026'."""
    words = re.findall(r"[A-Za-z]+|\d+", name)
    return "".join(w if w.isdigit() else w[0].lower() for w in words) or "conference"


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60].rstrip("-")


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def timeslot_minutes(snapshot: Snapshot) -> int:
    """The grid step readers draw: the greatest common divisor of the slots' start times and lengths."""
    step = 0
    for slot in snapshot.slots:
        local = slot.starts_at.astimezone(snapshot.tz)
        step = math.gcd(step, local.hour * 60 + local.minute, _minutes(slot.ends_at - slot.starts_at))
    return min(max(step, 5), 60) if step else 15


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = _NOT_XML.sub("", text)
    return element


def _local(snapshot: Snapshot, when: datetime) -> datetime:
    return when.astimezone(snapshot.tz)


def programme_xml(snapshot: Snapshot, *, base_url: str) -> bytes:
    conf = snapshot.conference
    short = acronym(conf.name)
    items = kept(snapshot, Filter())
    ids = event_ids(items)
    root = ET.Element("schedule")
    _sub(root, "version", version_label(snapshot))
    head = _sub(root, "conference")
    _sub(head, "title", conf.name)
    _sub(head, "acronym", short)
    _sub(head, "start", snapshot.days[0].isoformat())
    _sub(head, "end", snapshot.days[-1].isoformat())
    _sub(head, "days", str(len(snapshot.days)))
    _sub(head, "timeslot_duration", hhmm(timeslot_minutes(snapshot)))
    # Rooms in the organisers' order; each day lists the rooms the programme uses, so columns line up.
    for index, day in enumerate(snapshot.days, 1):
        todays = [i for i in items if snapshot.day_of(i.session.starts_at) == day]
        slots = [s for s in snapshot.slots if snapshot.day_of(s.starts_at) == day]
        times = [t for s in slots for t in (s.starts_at, s.ends_at)]
        times += [t for i in todays for t in (i.session.starts_at, i.session.ends_at)]
        start = (
            _local(snapshot, min(times)) if times else datetime.combine(day, datetime.min.time(), snapshot.tz)
        )
        end = _local(snapshot, max(times)) if times else start + timedelta(days=1)
        day_el = _sub(
            root, "day", index=str(index), date=day.isoformat(), start=start.isoformat(), end=end.isoformat()
        )
        for name in room_names(snapshot, items):
            room_el = _sub(day_el, "room", name=name)
            for item in todays:
                if room_name(item) == name:
                    _event(room_el, snapshot, item, ids[item.session.id], short, base_url)
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"


def _event(
    parent: ET.Element, snapshot: Snapshot, item: Item, event_id: int, short: str, base_url: str
) -> None:
    s = item.session
    starts = _local(snapshot, s.starts_at)
    event = _sub(parent, "event", id=str(event_id), guid=str(s.id))
    # The schema's order (an xs:all, but readers written against frab's output expect it).
    _sub(event, "room", room_name(item))
    _sub(event, "title", s.title)
    _sub(event, "type", s.kind.value)
    _sub(event, "date", starts.isoformat())
    _sub(event, "start", starts.strftime("%H:%M"))
    _sub(event, "duration", hhmm(_minutes(s.ends_at - s.starts_at)))
    persons = _sub(event, "persons")
    for speaker in item.speakers:
        _sub(persons, "person", speaker.name)
    _sub(event, "language", "en")
    _sub(event, "abstract", s.description or (item.talks[0].abstract if len(item.talks) == 1 else ""))
    _sub(event, "description", details_text(item))
    _sub(event, "slug", f"{short}-{event_id}-{slugify(s.title)}".rstrip("-"))
    _sub(event, "subtitle", ", ".join(t.title for t in item.talks) if len(item.talks) > 1 else "")
    _sub(event, "track", item.themes[0] if item.themes else KIND_LABELS[s.kind])
    links = _sub(event, "links")
    _sub(links, "link", "Programme", href=f"{base_url}/programme#session-{s.id}")
