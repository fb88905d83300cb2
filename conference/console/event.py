"""Console: the event's settings. Two pages, organisers only:

- `/console/event`: name, dates (in the event's time zone), time zone, venue (name, address, travel and
  accessibility notes), capacity, taking registrations (the organisers' switch) and the window it opens and closes
  by itself, the full-refund deadline, the contact email;
- `/console/event/notices`: the privacy notice and the accessibility statement (the public pages /privacy and
  /accessibility, linked from the registration form's consent box and every page's footer), a form each.

Forms post with the CSRF token through conference/web/forms.py's `act`: the change runs in one transaction through
conference/event.py (the same service and rules as `PATCH /api/v1/conference`), every problem at once in the error
summary linked to its field, what was typed kept, nothing saved when anything is refused; back with `?done=...`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference import event, places, self_service
from conference.console.login import require_console
from conference.core import errors, registration_window
from conference.core.audit import Actor
from conference.core.models import Conference
from conference.core.schemas import MAX_YEAR, MIN_YEAR, NOTICE_MAX, ConferenceUpdate, iana_zones
from conference.web.forms import act, done_message, show_again
from conference.web.request import database, settings
from conference.web.templating import render

PATH = "/console/event"
NOTICES_PATH = "/console/event/notices"

# The details form's fields, in the order they appear (the error summary follows it).
LABELS = {
    "name": "Event name",
    "starts_at": "Starts",
    "ends_at": "Ends",
    "timezone": "Time zone",
    "venue": "Venue",
    "venue_address": "Venue address",
    "travel_notes": "Travel notes",
    "accessibility_notes": "Accessibility at the venue",
    "capacity": "Capacity",
    "registration_open": "Take registrations",
    "registration_opens_at": "Registration opens",
    "registration_closes_at": "Registration closes",
    "refund_full_until": "Full refund until",
    "contact_email": "Contact email",
    "transfer_any_domain": "Delegates may transfer their place to any email address",
}
NOTICE_LABELS = {"privacy_notice": "Privacy notice", "accessibility_statement": "Accessibility statement"}
TIMES = ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at", "refund_full_until")
REQUIRED_TIMES = {
    "starts_at": "Give the date and time the conference starts.",
    "ends_at": "Give the date and time the conference ends.",
}
TEXTS = ("name", "venue", "venue_address", "travel_notes", "accessibility_notes")
DONE = {
    "saved": "The event's settings are saved.",
    "created": "The event is set up. Next: add its ticket types, then turn on “Take registrations”.",
    "unchanged": "Nothing to save: the settings were already so.",
    "privacy_saved": "The privacy notice is saved.",
    "accessibility_saved": "The accessibility statement is saved.",
}
STATE_TEXT = {
    registration_window.RegistrationState.open: "open",
    registration_window.RegistrationState.not_yet_open: "not open yet",
    registration_window.RegistrationState.closed: "closed (the closing time has passed)",
    registration_window.RegistrationState.switched_off: "closed (taking registrations is turned off)",
}


async def _organiser(request: Request, back: str) -> Actor:
    return await require_console(request, "organiser", back=back)


# --- reading the form --------------------------------------------------------------------------------------------


def local_input(value: datetime | None, zone: str) -> str:
    """A stored moment as a datetime-local field shows it, in the event's time zone."""
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M") if value else ""


def parse_local(raw: str, zone: ZoneInfo) -> datetime:
    """A datetime-local value (2026-12-08T09:00, or with a space) as a moment in `zone`; ValueError with the
    reason when it is not one (unreadable, or a time the clocks skip)."""
    try:
        naive = datetime.fromisoformat(raw.strip().replace(" ", "T", 1))
    except ValueError:
        raise ValueError("Give a date and time, e.g. 2027-03-01 09:00.") from None
    if naive.tzinfo is not None:
        raise ValueError("Give the date and time without an offset: they are read in the event's time zone.")
    if not MIN_YEAR <= naive.year <= MAX_YEAR:  # (nor can year 1 be moved to UTC: an overflow, not a 500)
        raise ValueError(f"Give a time between the years {MIN_YEAR} and {MAX_YEAR}.")
    moment = naive.replace(tzinfo=zone)
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise ValueError("This time does not exist there: the clocks go forward then. Give another time.")
    return moment


def _pydantic_problems(exc: ValidationError) -> dict[str, str]:
    fields = errors.from_validation_error(exc).fields or {}
    return {name.split(".")[0]: text for name, text in fields.items()}


def parse_details(values: dict[str, str], conference: Conference) -> tuple[dict[str, Any], dict[str, str]]:
    """The details form as changes for conference/event.py, and the problems found reading it (by field).

    Each field is read on its own, so one unreadable field never hides another's problem: the changes hold only
    the fields that were read."""
    problems: dict[str, str] = {}
    raw: dict[str, Any] = {name: values.get(name, "") for name in TEXTS}
    raw["timezone"] = values.get("timezone", "").strip()
    # Times are read in the time zone the form names, when it is a real one (the form may change both at once).
    zone = ZoneInfo(raw["timezone"] if raw["timezone"] in iana_zones() else conference.timezone)
    for name in TIMES:
        text = values.get(name, "").strip()
        if not text:
            if name in REQUIRED_TIMES:
                problems[name] = REQUIRED_TIMES[name]
            else:
                raw[name] = None
            continue
        try:
            raw[name] = parse_local(text, zone)
        except ValueError as exc:
            problems[name] = str(exc)
    capacity = values.get("capacity", "").strip().replace(",", "")
    if capacity.isascii() and capacity.isdigit() and len(capacity) <= 9:
        raw["capacity"] = int(capacity)
    else:
        problems["capacity"] = "Give the number of places as a whole number, e.g. 1000."
    raw["registration_open"] = values.get("registration_open") == "yes"
    raw["transfer_any_domain"] = values.get("transfer_any_domain") == "yes"
    raw["contact_email"] = values.get("contact_email", "").strip() or None
    changes: dict[str, Any] = {}
    for name, value in raw.items():  # one at a time: the model names each field's own problem
        try:
            data = ConferenceUpdate.model_validate({name: value})
        except ValidationError as exc:
            problems.update(_pydantic_problems(exc))
        else:
            changes[name] = getattr(data, name)
    return changes, problems


def _in_form_order(problems: dict[str, str], labels: dict[str, str]) -> dict[str, str]:
    order = list(labels)
    return {k: problems[k] for k in sorted(problems, key=lambda k: order.index(k) if k in order else 99)}


# --- the details page --------------------------------------------------------------------------------------------


def _values(conference: Conference, *, blank: bool = False) -> dict[str, str]:
    zone = conference.timezone
    return {
        **{name: getattr(conference, name) for name in TEXTS},
        # A blank conference's dates are placeholders: the set-up form asks for them.
        **{name: "" if blank else local_input(getattr(conference, name), zone) for name in TIMES},
        "timezone": zone,
        "capacity": str(conference.capacity),
        "registration_open": "yes" if conference.registration_open else "",
        "contact_email": conference.contact_email or "",
        "transfer_any_domain": "yes" if conference.transfer_any_domain else "",
    }


async def event_page(
    request: Request,
    *,
    problems: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    await _organiser(request, PATH)
    async with database(request).read() as db:
        stored = await event.find_conference(db)
        # An empty database: the same form sets the event up (conference/event.py's create_conference).
        conference = stored or event.blank_conference()
        seen = (
            await places.availability(db, stored)
            if stored
            else places.Availability(capacity=conference.capacity, registered=0, waitlisted=0)
        )
    state = registration_window.state_of(conference)
    return render(
        request,
        "console/event.html",
        {
            "conference": conference,
            "seen": seen,
            "state": state.value,
            "state_text": STATE_TEXT[state],
            "values": values if values is not None else _values(conference, blank=stored is None),
            "setting_up": stored is None,
            "errors": _in_form_order(problems or {}, LABELS),
            "labels": LABELS,
            "zones": sorted(iana_zones()),
            # Delegates change their booking themselves until the deadline set on the questions page.
            "changes_until": self_service.editable_until(conference),
            "message": "" if problems else done_message(request, DONE),
        },
        status_code=status_code,
    )


async def save_event(request: Request) -> Response:
    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        stored = await event.find_conference(db)
        conference = stored or event.blank_conference()
        changes, problems = parse_details(values, conference)
        if stored is None:  # the first set-up, on an empty database
            if problems:
                more = event.check(
                    conference, changes, now=registration_window.clock(), held=0, unknown=frozenset(problems)
                )
                raise errors.InvalidInput(fields={**more, **problems})
            await event.create_conference(db, changes=changes, actor=actor)
            return "created"
        if problems:
            # Every problem at once: the rules between fields and with the clock, for the fields that were read.
            more = await event.problems_with(
                db, conference=conference, changes=changes, unknown=frozenset(problems)
            )
            raise errors.InvalidInput(fields={**more, **problems})
        if not event.changed_fields(conference, changes):
            return "unchanged"
        await event.update_conference(db, settings=settings(request), changes=changes, actor=actor)
        return "saved"

    return await act(
        request,
        action,
        actor=await _organiser(request, PATH),
        back=request.url_for("console-event"),
        on_error=show_again(request, event_page),
    )


# --- the privacy notice and the accessibility statement ---------------------------------------------------------


async def notices_page(
    request: Request,
    *,
    problems: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    await _organiser(request, NOTICES_PATH)
    async with database(request).read() as db:
        conference = await places.get_conference(db)
    stored = {name: getattr(conference, name) for name in NOTICE_LABELS}
    return render(
        request,
        "console/event_notices.html",
        {
            "conference": conference,
            # A refused form shows what was typed in it; the other form shows what is stored.
            "values": {**stored, **(values or {})},
            "errors": _in_form_order(problems or {}, NOTICE_LABELS),
            "labels": NOTICE_LABELS,
            "notice_max": NOTICE_MAX,
            "message": "" if problems else done_message(request, DONE),
        },
        status_code=status_code,
    )


async def save_notice(request: Request) -> Response:
    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        names = [name for name in NOTICE_LABELS if name in values]
        if len(names) != 1:
            raise errors.InvalidInput(fields={"form": "This form has lost its text field; reload the page."})
        name = names[0]
        try:
            data = ConferenceUpdate.model_validate({name: values[name]})
        except ValidationError as exc:
            raise errors.InvalidInput(fields=_pydantic_problems(exc)) from None
        await event.update_conference(
            db, settings=settings(request), changes={name: getattr(data, name)}, actor=actor
        )
        return "privacy_saved" if name == "privacy_notice" else "accessibility_saved"

    async def on_error(exc: errors.DomainError, values: dict[str, str]) -> Response:
        kept = {name: values[name] for name in NOTICE_LABELS if name in values}
        problems = dict(exc.fields or {"form": exc.message})
        return await notices_page(request, problems=problems, values=kept, status_code=exc.status_code)

    return await act(
        request,
        action,
        actor=await _organiser(request, NOTICES_PATH),
        back=request.url_for("console-event-notices"),
        on_error=on_error,
    )


routes = [
    Route(PATH, event_page, methods=["GET"], name="console-event"),
    Route(PATH, save_event, methods=["POST"], name="console-event-save"),
    Route(NOTICES_PATH, notices_page, methods=["GET"], name="console-event-notices"),
    Route(NOTICES_PATH, save_notice, methods=["POST"], name="console-event-notices-save"),
]
