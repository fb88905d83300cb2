"""Delegates' workshop pages: their agenda, booking, swapping and giving up seats, ranking choices, the calendar
feed.

A refusal (a full workshop, a clash, two workshops ranked "choice 1" at the same time) changes nothing and shows
the agenda again with the problem beside the workshop concerned and what the delegate chose kept: never a bare
error page. Problems are keyed `rank-{session id}` (the ranking form's select), `workshop-{session id}` (its row in
the booking list) or `choices` / `form` (the form as a whole).
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference.core import errors
from conference.core.audit import Actor
from conference.core.formats import conference_zone, when
from conference.pages.registration import by_token
from conference.places import get_conference
from conference.web.forms import NOT_THE_FORMS_FAULT, done_message, done_redirect
from conference.web.request import database, settings
from conference.web.templating import FormRefused, form_values, render
from sessions.models import ChoiceItem, ChoiceRanking, SessionChoice
from sessions.workshops import agenda, capacity, choices, programme

DONE = {
    "booked": "Your seat is booked.",
    "waitlisted": "The workshop is full: you are on its waiting list and will be emailed if a seat comes up.",
    "released": "You have given up your seat.",
    "swapped": "Your seat is swapped: you gave up your old seat and booked the new one.",
    "ranked": "Your choices are saved.",
}
CHOICE_FIELD = re.compile(r"^choices\.(\d+)\.")  # choices.set_choices names a choice's problem by its index


def _actor(r: Any) -> Actor:
    return Actor("attendee", r.reference, r.id)


async def agenda_page(request: Request) -> Response:
    return await show_agenda(request)


async def show_agenda(
    request: Request,
    *,
    problems: dict[str, str] | None = None,
    ranks: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The agenda page; with `problems` (by field, see the module's docstring) and the `ranks` the delegate had
    chosen (by session id) when a change was refused."""
    r, conf, _position, _ticket = await by_token(request)
    async with database(request).read() as db:
        rows = await agenda.agenda(db, r)
        sessions = await programme.sessions_public(db)
        phase = await choices.phase(db)
        saved = {
            str(c.session_id): str(c.rank)
            for c in (
                await db.execute(sa.select(SessionChoice).where(col(SessionChoice.registration_id) == r.id))
            ).scalars()
        }
    mine = {str(s.id): why for s, _room, why in rows}
    by_time: dict[str, list[dict[str, Any]]] = defaultdict(list)
    workshops = [s for s in sessions if s["bookable"]]
    for s in workshops:
        by_time[s["starts_at"]].append(s)
    problems = problems or {}
    titles = {s["id"]: s["title"] for s in workshops}
    return render(
        request,
        "sessions/agenda.html",
        {
            "r": r,
            "conference": conf,
            "rows": rows,
            "workshops_by_time": [
                (when(starts, conference_zone(conf)), group) for starts, group in sorted(by_time.items())
            ],
            "mine": mine,
            "swaps": agenda.seats_to_swap(rows, workshops),
            "phase": phase,
            "ranked": saved if ranks is None else ranks,
            "token": request.path_params["token"],
            "message": "" if problems else done_message(request, DONE),
            "local": conference_zone(conf),
            "errors": problems,
            "summary": [(name, _label(name, titles), text) for name, text in problems.items()],
        },
        status_code=status_code,
    )


def _label(name: str, titles: dict[str, str]) -> str:
    """What the error summary names a problem after: the workshop's title, or the form."""
    _kind, _sep, session_id = name.partition("-")
    if session_id in titles:
        return titles[session_id]
    return "Your choices" if name == "choices" else "Your workshops"


def _back(request: Request, done: str) -> Response:
    return done_redirect(request.url_for("agenda", token=request.path_params["token"]), done)


def _session_problem(exc: errors.DomainError, session_id: str) -> dict[str, str]:
    """A refused booking, swap or release, beside the workshop it was about."""
    message = exc.message
    if isinstance(exc, errors.InvalidInput) and exc.fields:
        message = " ".join(dict.fromkeys(exc.fields.values()))
    return {f"workshop-{session_id}" if session_id else "form": message}


async def _change_seat(request: Request, session_id: str, change: str) -> Response:
    """Book, swap or give up a seat in one transaction; a refusal shows the agenda with the problem."""
    r, _conf, _p, _t = await by_token(request)
    try:
        await form_values(request)
        try:
            sid = uuid.UUID(session_id)
        except ValueError:
            raise errors.InvalidInput(fields={"session_id": "Choose a workshop from the list."}) from None
        async with database(request).transaction() as db:
            kwargs: dict[str, Any] = {
                "settings": settings(request),
                "registration_id": r.id,
                "session_id": sid,
                "actor": _actor(r),
            }
            if change == "release":
                await capacity.give_up_seat(db, **kwargs)
                done = "released"
            elif change == "swap":
                seat = await capacity.swap_seat(db, **kwargs)
                done = "swapped" if seat.status.value == "booked" else seat.status.value
            else:
                done = (await capacity.book_seat(db, **kwargs)).status.value
    except NOT_THE_FORMS_FAULT:
        raise
    except errors.DomainError as exc:
        known = session_id if _is_uuid(session_id) else ""
        return await show_agenda(request, problems=_session_problem(exc, known), status_code=exc.status_code)
    return _back(request, done)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def _posted_session(request: Request) -> str:
    form = await request.form()
    value = form.get("session_id", "")
    return value if isinstance(value, str) else ""


async def book_form(request: Request) -> Response:
    return await _change_seat(request, await _posted_session(request), "book")


async def swap_form(request: Request) -> Response:
    return await _by_path(request, "swap")


async def release_form(request: Request) -> Response:
    return await _by_path(request, "release")


async def _by_path(request: Request, change: str) -> Response:
    session_id = request.path_params["session_id"]
    if not _is_uuid(session_id):
        await by_token(request)
        raise errors.NotFound("No session has this id.")
    return await _change_seat(request, session_id, change)


async def rank_form(request: Request) -> Response:
    r, _conf, _p, _t = await by_token(request)
    form = await request.form()
    ranks = {
        key[5:]: value.strip()
        for key, value in form.multi_items()
        if key.startswith("rank-") and isinstance(value, str)
    }
    items: list[ChoiceItem] = []
    problems: dict[str, str] = {}
    try:
        await form_values(request)
        for session_id, value in ranks.items():
            if not value:
                continue
            try:
                items.append(ChoiceItem(session_id=uuid.UUID(session_id), rank=int(value)))
            except (ValueError, ValidationError):
                problems[f"rank-{session_id}"] = "Choose a rank from the list for this workshop."
        if problems:
            raise errors.InvalidInput(fields=problems)
        async with database(request).transaction() as db:
            await choices.set_choices(
                db, registration_id=r.id, ranking=ChoiceRanking(choices=items), actor=_actor(r)
            )
    except NOT_THE_FORMS_FAULT:
        raise
    except errors.DomainError as exc:
        return await show_agenda(
            request,
            problems=problems or _choice_problems(exc, items),
            ranks={k: v for k, v in ranks.items() if v},
            status_code=exc.status_code,
        )
    return _back(request, "ranked")


def _choice_problems(exc: errors.DomainError, items: list[ChoiceItem]) -> dict[str, str]:
    """set_choices' problems by choice index, turned into the workshops' own fields on this page."""
    out: dict[str, str] = {}
    for name, text in (exc.fields or {"choices": exc.message}).items():
        found = CHOICE_FIELD.match(name)
        if found and int(found.group(1)) < len(items):
            out[f"rank-{items[int(found.group(1))].session_id}"] = text
        elif name.startswith("rank-") and isinstance(exc, FormRefused):
            out[name] = "Choose a rank from the list for this workshop."
        else:
            out["choices"] = text
    return out


async def agenda_ics(request: Request) -> Response:
    r, _conf, _p, _t = await by_token(request)
    async with database(request).read() as db:
        rows = await agenda.agenda(db, r)
        conference = await get_conference(db)
    body = agenda.agenda_ics(conference, r, rows, base_url=settings(request).base_url)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="agenda.ics"', "cache-control": "no-store"},
    )


routes = [
    Route("/manage/{token}/agenda", agenda_page, methods=["GET"], name="agenda"),
    Route("/manage/{token}/agenda.ics", agenda_ics, methods=["GET"], name="agenda-ics"),
    Route("/manage/{token}/sessions", book_form, methods=["POST"], name="agenda-book"),
    Route(
        "/manage/{token}/sessions/{session_id}/release", release_form, methods=["POST"], name="agenda-release"
    ),
    Route("/manage/{token}/sessions/{session_id}/swap", swap_form, methods=["POST"], name="agenda-swap"),
    Route("/manage/{token}/choices", rank_form, methods=["POST"], name="agenda-rank"),
]
