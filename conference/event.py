"""The event's settings: a change to the conference (name, dates, venue, time zone, capacity, the registration switch
and window, the refund deadline, the public texts, the contact address), from the console or `PATCH
/api/v1/conference`.

A change is checked as a whole before any of it is applied: every problem at once, by field, and nothing saved when
there is one. Only what differs from the stored value counts as changed: a form that posts every field unchanged
saves nothing and is not audited, and a date already past (the event running, or over) never blocks a change to
something else. The checks that compare with the clock apply to a new value only; they read the clock the
registration window reads (core/registration_window.py), so a test that moves one moves both.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from conference import places
from conference.core import audit, errors, formats, registration_window
from conference.core.audit import Actor
from conference.core.db import lock_for_update
from conference.core.models import Conference
from conference.core.settings import Settings

# May be set to null (the API) or left empty (the console): no limit, no deadline, no address.
NULLABLE = frozenset(
    {
        "refund_full_until",
        "retention_days",
        "registration_opens_at",
        "registration_closes_at",
        "contact_email",
    }
)
# Named in the audit entry with their old and new values; the texts (and the contact address) only by name.
SHOWN = frozenset(
    {
        "capacity",
        "registration_open",
        "timezone",
        "starts_at",
        "ends_at",
        "registration_opens_at",
        "registration_closes_at",
        "refund_full_until",
        "retention_days",
    }
)
ACTION = "conference.conference.updated"
CREATED = "conference.conference.created"


async def find_conference(db: AsyncSession) -> Conference | None:
    """The deployment's conference, or None before an organiser has set it up (an empty database)."""
    return (await db.execute(sa.select(Conference).order_by(Conference.id).limit(1))).scalar_one_or_none()  # type: ignore[arg-type]


def blank_conference(*, now: datetime | None = None) -> Conference:
    """A conference not yet saved: what the set-up form starts from on an empty database. Registration is off
    until the organisers turn it on (after adding ticket types); its dates are placeholders a year ahead that the
    form asks for (they are required), never stored as they are."""
    ahead = (now or registration_window.clock()) + timedelta(days=365)
    return Conference(
        name="",
        starts_at=ahead,
        ends_at=ahead,
        timezone=formats.DEFAULT_ZONE.key,
        capacity=1000,
        registration_open=False,
    )


async def create_conference(
    db: AsyncSession,
    *,
    changes: dict[str, Any],
    actor: Actor,
    now: datetime | None = None,
) -> Conference:
    """The first set-up, from the console on an empty database: every required field given and every rule
    `check` applies to a change, or nothing is made (InvalidInput). A second conference is refused: there is
    one per deployment."""
    if await find_conference(db) is not None:
        raise errors.DomainError("The event is already set up: reload the page to change its settings.")
    blank = blank_conference(now=now)
    needed = {
        "name": "Enter the event's name: it heads every page, email and badge.",
        "starts_at": "Enter when the event starts: registration and the programme are planned around it.",
        "ends_at": "Enter when the event ends: registration must close by then.",
    }
    missing = {name: why for name, why in needed.items() if changes.get(name) in (None, "")}
    problems = {**check(blank, changes, now=now or registration_window.clock(), held=0), **missing}
    if problems:
        raise errors.InvalidInput(fields=problems)
    conference = blank
    for name, value in changes.items():
        setattr(conference, name, value)
    db.add(conference)
    await db.flush()
    await audit.record(
        db,
        CREATED,
        actor=actor,
        subject=str(conference.id),
        fields=sorted(changes),
        changes={name: {"to": _plain(value)} for name, value in sorted(changes.items()) if name in SHOWN},
    )
    return conference


def changed_fields(conference: Conference, changes: dict[str, Any]) -> dict[str, Any]:
    """The changes that differ from what is stored (times compare as instants, whatever their offset)."""
    return {name: value for name, value in changes.items() if getattr(conference, name) != value}


def _held_problem(held: int) -> str:
    return (
        f"{held} places are held (confirmed, or awaiting payment, approval or email confirmation), so the "
        f"capacity cannot be less than {held}. Cancel registrations first to make it smaller."
    )


def check(
    conference: Conference,
    changed: dict[str, Any],
    *,
    now: datetime,
    held: int | None = None,
    unknown: frozenset[str] = frozenset(),
) -> dict[str, str]:
    """The problems with applying `changed` (already differing from `conference`), by field.

    `held`: the places held now, when the capacity changes. `unknown`: fields the caller could not read (a form's
    unparseable date); a rule that compares one of them with another field is left until it can be read."""
    after = {
        name: changed.get(name, getattr(conference, name))
        for name in (
            "starts_at",
            "ends_at",
            "registration_opens_at",
            "registration_closes_at",
            "refund_full_until",
        )
    }
    try:
        zone = ZoneInfo(changed.get("timezone", conference.timezone))
    except (ZoneInfoNotFoundError, ValueError):
        zone = formats.DEFAULT_ZONE
    problems: dict[str, str] = {}

    def rule(fields: tuple[str, ...], broken: bool, field: str, message: str) -> None:
        # A rule speaks when one of its fields changed and none of them is unreadable.
        if broken and any(f in changed for f in fields) and not any(f in unknown for f in fields):
            problems.setdefault(field, message)

    starts, ends = after["starts_at"], after["ends_at"]
    opens, closes = after["registration_opens_at"], after["registration_closes_at"]
    refund = after["refund_full_until"]
    rule(
        ("starts_at",), starts < now, "starts_at", "This is in the past: give a date and time still to come."
    )
    rule(("ends_at",), ends < now, "ends_at", "This is in the past: give a date and time still to come.")
    rule(("starts_at", "ends_at"), ends <= starts, "ends_at", "The conference must end after it starts.")
    rule(
        ("registration_closes_at",),
        closes is not None and closes <= now,
        "registration_closes_at",
        "This is in the past. To close registration now, turn off “Take registrations”.",
    )
    rule(
        ("registration_opens_at", "registration_closes_at"),
        opens is not None and closes is not None and closes <= opens,
        "registration_closes_at",
        "Registration must close after it opens.",
    )
    rule(
        ("registration_closes_at", "ends_at"),
        closes is not None and closes > ends,
        "registration_closes_at",
        f"Registration must close by the end of the conference ({formats.when(ends, zone)}).",
    )
    rule(
        ("registration_opens_at", "ends_at"),
        opens is not None and opens >= ends,
        "registration_opens_at",
        f"Registration must open before the conference ends ({formats.when(ends, zone)}).",
    )
    rule(
        ("refund_full_until",),
        refund is not None and refund < now,
        "refund_full_until",
        "This is in the past, which would take back a full refund already promised: give a date and time "
        "still to come, or leave it empty to refund in full whenever a delegate cancels.",
    )
    rule(
        ("refund_full_until", "ends_at"),
        refund is not None and refund > ends,
        "refund_full_until",
        f"The full refund must end by the end of the conference ({formats.when(ends, zone)}).",
    )
    if "capacity" in changed and held is not None and changed["capacity"] < held:
        problems["capacity"] = _held_problem(held)
    return problems


async def problems_with(
    db: AsyncSession,
    *,
    conference: Conference,
    changes: dict[str, Any],
    unknown: frozenset[str] = frozenset(),
    now: datetime | None = None,
) -> dict[str, str]:
    """`check` with the places held read from the database (for a form that shows every problem at once)."""
    changed = changed_fields(conference, changes)
    held = (await places.availability(db, conference)).registered if "capacity" in changed else None
    return check(conference, changed, now=now or registration_window.clock(), held=held, unknown=unknown)


async def update_conference(
    db: AsyncSession,
    *,
    settings: Settings,
    changes: dict[str, Any],
    actor: Actor,
    now: datetime | None = None,
) -> Conference:
    """Apply `changes` (validated by ConferenceUpdate) under the capacity lock, or refuse them all (InvalidInput)."""
    conference = await places.get_conference(db)
    conference = await lock_for_update(db, Conference, conference.id)
    nulls = {
        name: "This field cannot be null."
        for name, v in changes.items()
        if v is None and name not in NULLABLE
    }
    if nulls:
        raise errors.InvalidInput(fields=nulls)
    changed = changed_fields(conference, changes)
    # Under the lock: no registration can take a place between this count and the new capacity.
    problems = await problems_with(db, conference=conference, changes=changed, now=now)
    if problems:
        raise errors.InvalidInput(fields=problems)
    if not changed:
        return conference
    before = {name: getattr(conference, name) for name in changed}
    for name, value in changed.items():
        setattr(conference, name, value)
    await audit.record(
        db,
        ACTION,
        actor=actor,
        subject=str(conference.id),
        fields=sorted(changed),
        changes={
            name: {"from": _plain(before[name]), "to": _plain(value)}
            for name, value in sorted(changed.items())
            if name in SHOWN
        },
    )
    await db.flush()
    # A larger capacity (or reopening) lets the waiting list move up at once.
    await places.promote_waitlist(db, settings=settings, conference=conference)
    return conference


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
