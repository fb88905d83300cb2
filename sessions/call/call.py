"""The call for talks: when it is open, the themes and formats on offer, and the times speakers may rule out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from conference.core import audit, errors, formats
from conference.core.audit import Actor
from conference.core.models import Conference, utcnow
from conference.places import get_conference
from sessions.models import FORMAT_LABELS, CallForTalks, CallUpdate, ProposalFormat
from sessions.workshops import programme

DEFAULT_THEMES = [
    "information sharing",
    "partnership working",
    "community engagement",
    "education",
    "online safety",
    "evaluation",
]
# Minutes: short talks are grouped into a slot by the scheduler; panels and workshops stand alone.
DEFAULT_FORMATS = {
    ProposalFormat.talk.value: [15, 20, 30],
    ProposalFormat.panel.value: [60],
    ProposalFormat.workshop.value: [60, 120],
}


class CallClosed(errors.DomainError):
    code = "call_closed"
    message = "The call for talks is closed: proposals can no longer be submitted, edited or withdrawn."


@dataclass(frozen=True)
class TimeOption:
    """Something a speaker can say they cannot do: a time slot (id is the slot's id) or a whole day (an ISO date)."""

    id: str
    day: str
    label: str


async def get_call(db: AsyncSession) -> tuple[Conference, CallForTalks]:
    conference = await get_conference(db)
    assert conference.id is not None
    call = await db.get(CallForTalks, conference.id)
    if call is None:  # not configured yet: closed, with the defaults an organiser starts from
        call = CallForTalks(
            conference_id=conference.id,
            themes=list(DEFAULT_THEMES),
            formats={k: list(v) for k, v in DEFAULT_FORMATS.items()},
        )
    return conference, call


def is_open(call: CallForTalks, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return call.opens_at is not None and call.closes_at is not None and call.opens_at <= now < call.closes_at


async def require_open(db: AsyncSession) -> tuple[Conference, CallForTalks]:
    conference, call = await get_call(db)
    if not is_open(call):
        raise CallClosed()
    return conference, call


async def update_call(db: AsyncSession, *, data: CallUpdate, actor: Actor) -> CallForTalks:
    conference = await get_conference(db)
    call = await db.get(CallForTalks, conference.id)
    if call is None:
        _, call = await get_call(db)
        db.add(call)
    changes = data.model_dump(exclude_unset=True)
    for name in ("themes", "formats", "anonymous_review"):
        if name in changes and changes[name] is None:
            raise errors.InvalidInput(fields={name: "This field cannot be null."})
    if "formats" in changes:
        changes["formats"] = {ProposalFormat(k).value: v for k, v in changes["formats"].items()}
    for name, value in changes.items():
        setattr(call, name, value)
    if call.opens_at and call.closes_at and call.closes_at <= call.opens_at:
        raise errors.InvalidInput(fields={"closes_at": "The call must close after it opens."})
    call.updated_at = utcnow()
    await audit.record(
        db, "sessions.call.updated", actor=actor, subject=str(conference.id), fields=sorted(changes)
    )
    await db.flush()
    return call


def conference_days(conference: Conference) -> list[date]:
    local = ZoneInfo(conference.timezone)
    first, last = conference.starts_at.astimezone(local).date(), conference.ends_at.astimezone(local).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


async def time_options(db: AsyncSession, conference: Conference) -> list[TimeOption]:
    """The event's time slots if it has any, else its days: what the form offers to rule out."""
    assert conference.id is not None
    local = ZoneInfo(conference.timezone)
    slots = await programme.ordered_slots(db, conference.id)
    if slots:
        return [
            TimeOption(
                str(s.id),
                s.starts_at.astimezone(local).date().isoformat(),
                formats.span(s.starts_at, s.ends_at, local),
            )
            for s in slots
        ]
    return [
        TimeOption(d.isoformat(), d.isoformat(), f"{formats.day(d)} (all day)")
        for d in conference_days(conference)
    ]


def call_public(conference: Conference, call: CallForTalks, options: list[TimeOption]) -> dict[str, Any]:
    local = ZoneInfo(conference.timezone)
    return {
        "open": is_open(call),
        "opens_at": call.opens_at.astimezone(local).isoformat() if call.opens_at else None,
        "closes_at": call.closes_at.astimezone(local).isoformat() if call.closes_at else None,
        "themes": call.themes,
        "formats": [
            {"format": k, "label": FORMAT_LABELS[ProposalFormat(k)], "durations": v}
            for k, v in call.formats.items()
        ],
        "audience_levels": ["introductory", "intermediate", "advanced"],
        "anonymous_review": call.anonymous_review,
        "days": [d.isoformat() for d in conference_days(conference)],
        "time_slots": [{"id": o.id, "day": o.day, "label": o.label} for o in options if o.id != o.day],
    }
