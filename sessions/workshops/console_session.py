"""One session in the organisers' console: edit every field; cancel it, after a page saying how many delegates
will be told; restore a cancelled one until the event starts, after a page saying whose seats come back.

Every change runs programme.update_session, as PATCH /api/v1/sessions/{id} does: the same rules and the same
emails. An edit shows every problem at once: the fields the form can't read, and what the service refuses of the
rest (that attempt is rolled back with the transaction, so nothing is half-saved). The cancel itself is posted to
console.py's cancel_session.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference.console.login import require_console
from conference.core import errors
from conference.core.audit import Actor
from conference.core.formats import conference_zone
from conference.places import get_conference
from conference.web.forms import Action, Done, FormPage, act, field_problems, show_again
from conference.web.request import database, settings
from conference.web.templating import render
from sessions.models import ProgrammeSession, Room, SessionUpdate
from sessions.workshops import cancellation, capacity, programme

FIELDS = ("title", "description", "speakers", "room_id", "start_slot_id", "slot_count", "capacity", "theme")
LABELS = {
    "title": "Title",
    "description": "Description",
    "speakers": "Speakers",
    "room_id": "Room",
    "start_slot_id": "Starts in slot",
    "slot_count": "Number of slots",
    "capacity": "Seats",
    "theme": "Theme",
    "restore": "Restore",
    "form": "The form",
}


def session_id_in(request: Request) -> uuid.UUID:
    """The session a console path names (console.py's cancel uses it too)."""
    try:
        return uuid.UUID(request.path_params["session_id"])
    except ValueError:
        raise errors.NotFound("No session has this id.") from None


def _values(s: ProgrammeSession) -> dict[str, str]:
    """The form's fields as the session has them now."""
    return {
        "title": s.title,
        "description": s.description,
        "speakers": s.speakers,
        "room_id": str(s.room_id) if s.room_id else "",
        "start_slot_id": str(s.start_slot_id),
        "slot_count": str(s.slot_count),
        "capacity": "" if s.capacity_limit is None else str(s.capacity_limit),
        "theme": s.theme,
    }


async def _context(db: AsyncSession, session_id: uuid.UUID) -> dict[str, Any]:
    """What every page about one session shows: the session as the API has it, its room and the venue."""
    session = await db.get(ProgrammeSession, session_id)
    if session is None:
        raise errors.NotFound("No session has this id.")
    conference = await get_conference(db)
    assert conference.id is not None
    room = await db.get(Room, session.room_id) if session.room_id else None
    zone = conference_zone(conference)
    counts = await capacity.seat_counts(db, [session.id])
    return {
        "conference": conference,
        "session": session,
        "room": room,
        "s": programme.session_public(session, room, counts.get(session.id, {}), zone),
        "local": zone,
        "labels": LABELS,
    }


async def edit_page(
    request: Request,
    *,
    problems: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    await require_console(request, "organiser")
    async with database(request).read() as db:
        context = await _context(db, session_id_in(request))
        conference = context["conference"]
        context["rooms"] = await programme.ordered_rooms(db, conference.id)
        context["slots"] = await programme.ordered_slots(db, conference.id)
    context.update(
        {
            "errors": problems or {},
            "values": values if values is not None else _values(context["session"]),
        }
    )
    return render(request, "sessions/console_session.html", context, status_code=status_code)


async def show(request: Request) -> Response:
    return await edit_page(request)


async def _act(request: Request, action: Action, page: FormPage) -> Response:
    """Run the page's form change: back to the programme, or `page` again with the problems."""
    return await act(
        request,
        action,
        actor=await require_console(request, "organiser", back=str(request.url.path)),
        back=request.url_for("console-programme"),
        on_error=show_again(request, page),
    )


async def save(request: Request) -> Response:
    async def action(db: AsyncSession, v: dict[str, str], actor: Actor) -> str:
        body: dict[str, Any] = {name: v.get(name, "") for name in FIELDS}
        body["room_id"] = body["room_id"] or None  # no room
        body["capacity"] = body["capacity"] or None  # the room's seats
        problems: dict[str, str] = {}
        try:
            data = SessionUpdate.model_validate(body)
        except ValidationError as exc:
            problems = errors.from_validation_error(exc).fields or {}
            if "title" in problems and not body["title"].strip():
                problems["title"] = "Enter the session's title."
            # The rest still goes to the service, so its refusals are shown now too, not after a second try.
            data = SessionUpdate.model_validate({k: x for k, x in body.items() if k not in problems})
        try:
            await programme.update_session(
                db, settings=settings(request), session_id=session_id_in(request), data=data, actor=actor
            )
        except errors.NotFound:
            raise
        except errors.DomainError as exc:
            if not problems:
                raise
            problems = {**field_problems(exc), **problems}
        if problems:
            raise errors.InvalidInput(fields=problems)  # rolls back whatever the service did
        return "session_saved"

    return await _act(request, action, edit_page)


async def cancel_page(request: Request) -> Response:
    await require_console(request, "organiser")
    async with database(request).read() as db:
        context = await _context(db, session_id_in(request))
    return render(request, "sessions/console_session_cancel.html", context)


async def restore_page(
    request: Request,
    *,
    problems: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    await require_console(request, "organiser")
    async with database(request).read() as db:
        context = await _context(db, session_id_in(request))
        plan = await cancellation.plan(db, context["session"], context["room"])
    try:
        cancellation.check_in_time(context["conference"])
        too_late = False
    except cancellation.TooLateToRestore:
        too_late = True
    context.update(
        {
            "plan": [r for r in plan if r.held == cancellation.GIVEN_BACK],
            "counts": cancellation.counts(plan),
            "too_late": too_late,
            # The page has one thing to point at: the restore itself (a room now taken, talks moved on, too late).
            "errors": {"restore": next(iter(problems.values()))} if problems else {},
            "values": values or {},
        }
    )
    return render(request, "sessions/console_session_restore.html", context, status_code=status_code)


async def restore(request: Request) -> Response:
    async def action(db: AsyncSession, v: dict[str, str], actor: Actor) -> Done:
        session_id = session_id_in(request)
        await programme.update_session(
            db,
            settings=settings(request),
            session_id=session_id,
            data=SessionUpdate(cancelled=False),
            actor=actor,
        )
        booked = await capacity.booked_count(db, session_id)
        return Done("session_restored", {"count": str(booked)})

    return await _act(request, action, restore_page)


routes = [
    Route("/console/programme/sessions/{session_id}", show, methods=["GET"], name="console-session"),
    Route("/console/programme/sessions/{session_id}", save, methods=["POST"], name="console-session-save"),
    Route(
        "/console/programme/sessions/{session_id}/cancel",
        cancel_page,
        methods=["GET"],
        name="console-session-cancel-confirm",
    ),
    Route(
        "/console/programme/sessions/{session_id}/restore",
        restore_page,
        methods=["GET"],
        name="console-session-restore-confirm",
    ),
    Route(
        "/console/programme/sessions/{session_id}/restore",
        restore,
        methods=["POST"],
        name="console-session-restore",
    ),
]
