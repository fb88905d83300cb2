"""Delegates' workshop pages: their agenda, booking and giving up seats, ranking choices, the calendar feed."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference.core import errors
from conference.core.audit import Actor
from conference.core.formats import conference_zone
from conference.pages.registration import by_token
from conference.places import get_conference
from conference.web.forms import done_message, done_redirect
from conference.web.request import database, settings
from conference.web.templating import form_values, render
from sessions.models import ChoiceItem, ChoiceRanking, SessionChoice
from sessions.workshops import agenda, capacity, choices, programme

DONE = {
    "booked": "Your seat is booked.",
    "waitlisted": "The workshop is full: you are on its waiting list and will be emailed if a seat comes up.",
    "released": "You have given up your seat.",
    "ranked": "Your choices are saved.",
}


def _actor(r: Any) -> Actor:
    return Actor("attendee", r.reference, r.id)


async def agenda_page(request: Request) -> Response:
    r, conf, _position, _ticket = await by_token(request)
    async with database(request).read() as db:
        rows = await agenda.agenda(db, r)
        sessions = await programme.sessions_public(db)
        phase = await choices.phase(db)
        ranked = {
            c.session_id: c.rank
            for c in (
                await db.execute(sa.select(SessionChoice).where(col(SessionChoice.registration_id) == r.id))
            ).scalars()
        }
    mine = {str(s.id): why for s, _room, why in rows}
    by_time: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in sessions:
        if s["bookable"]:
            by_time[s["starts_at"]].append(s)
    return render(
        request,
        "sessions/agenda.html",
        {
            "r": r,
            "conference": conf,
            "rows": rows,
            "workshops_by_time": sorted(by_time.items()),
            "mine": mine,
            "phase": phase,
            "ranked": {str(k): v for k, v in ranked.items()},
            "token": request.path_params["token"],
            "message": done_message(request, DONE),
            "local": conference_zone(conf),
        },
    )


def _back(request: Request, done: str) -> Response:
    return done_redirect(request.url_for("agenda", token=request.path_params["token"]), done)


async def book_form(request: Request) -> Response:
    r, _conf, _p, _t = await by_token(request)
    values = await form_values(request)
    try:
        session_id = uuid.UUID(values.get("session_id", ""))
    except ValueError:
        raise errors.InvalidInput(fields={"session_id": "Choose a workshop."}) from None
    async with database(request).transaction() as db:
        seat = await capacity.book_seat(
            db, settings=settings(request), registration_id=r.id, session_id=session_id, actor=_actor(r)
        )
    return _back(request, seat.status.value)


async def release_form(request: Request) -> Response:
    r, _conf, _p, _t = await by_token(request)
    await form_values(request)
    try:
        session_id = uuid.UUID(request.path_params["session_id"])
    except ValueError:
        raise errors.NotFound("No session has this id.") from None
    async with database(request).transaction() as db:
        await capacity.give_up_seat(
            db, settings=settings(request), registration_id=r.id, session_id=session_id, actor=_actor(r)
        )
    return _back(request, "released")


async def rank_form(request: Request) -> Response:
    r, _conf, _p, _t = await by_token(request)
    form = await request.form()
    await form_values(request)
    items = []
    for key, value in form.multi_items():
        if key.startswith("rank-") and isinstance(value, str) and value.strip():
            try:
                items.append(ChoiceItem(session_id=uuid.UUID(key[5:]), rank=int(value)))
            except ValueError:
                raise errors.InvalidInput(
                    fields={"choices": "Choose a rank from the list for each workshop."}
                ) from None
    async with database(request).transaction() as db:
        await choices.set_choices(
            db, registration_id=r.id, ranking=ChoiceRanking(choices=items), actor=_actor(r)
        )
    return _back(request, "ranked")


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
    Route("/manage/{token}/choices", rank_form, methods=["POST"], name="agenda-rank"),
]
