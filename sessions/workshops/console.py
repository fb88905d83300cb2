"""The organisers' programme pages: rooms, time slots and sessions, with room sheets, in the browser.

Forms run through conference/web/forms.py's `act`: back (303) with `?done=<what>`, or the page again with the
problems and what was typed. Times are typed and shown in the conference's own time zone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference.console.login import require_console
from conference.core import errors
from conference.core.audit import Actor
from conference.core.formats import conference_zone
from conference.places import get_conference
from conference.web.forms import Action, Done, act, act_alone, done_message, show_again
from conference.web.request import database, settings
from conference.web.templating import render
from sessions.models import (
    AllocationRun,
    Kind,
    RoomCreate,
    SessionCreate,
    SessionUpdate,
    TimeSlotCreate,
)
from sessions.workshops import capacity, choices, console_session, programme

DONE = {
    "room_added": "The room is added.",
    "slot_added": "The time slot is added.",
    "session_added": "The session is added.",
    "session_cancelled": "The session is cancelled; delegates with seats have been emailed.",
    "session_cancelled_told": "The session is cancelled; {count} delegate(s) with seats have been emailed.",
    "session_saved": "The session is saved; delegates with seats have been emailed if it moved.",
    "session_restored": "The session is restored; {count} seat(s) given back and their delegates emailed.",
    "phase_saved": "Booking phase saved.",
    "allocation_applied": "Allocation applied: seats booked and delegates emailed. Its figures are below.",
    "allocation_previewed": "Allocation previewed (nothing booked). Its figures are below.",
}


async def programme_page(
    request: Request,
    *,
    problems: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    await require_console(request, "organiser")
    async with database(request).read() as db:
        conference = await get_conference(db)
        assert conference.id is not None
        rooms = await programme.ordered_rooms(db, conference.id)
        slots = await programme.ordered_slots(db, conference.id)
        sessions = await programme.sessions_public(db, include_cancelled=True)
        phase = await choices.phase(db)
        last_run = (
            await db.execute(sa.select(AllocationRun).order_by(col(AllocationRun.id).desc()).limit(1))
        ).scalar_one_or_none()
    return render(
        request,
        "sessions/console_programme.html",
        {
            "conference": conference,
            "rooms": rooms,
            "slots": slots,
            "sessions": sessions,
            "phase": phase,
            "errors": problems or {},
            "values": values or {},
            "local": conference_zone(conference),
            "kinds": [k.value for k in Kind],
            "last_run": last_run,
            "message": done_message(request, DONE),
        },
        status_code=status_code,
    )


async def show(request: Request) -> Response:
    return await programme_page(request)


def _parse(model: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise errors.from_validation_error(exc) from None


def _local(value: str, field: str, zone: ZoneInfo) -> datetime:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=zone)
    except ValueError:
        raise errors.InvalidInput(fields={field: "Give a date and time, e.g. 2026-12-08 11:00."}) from None


async def _organiser(request: Request) -> Actor:
    return await require_console(request, "organiser", back="/console/programme")


async def _act(request: Request, action: Action) -> Response:
    return await act(
        request,
        action,
        actor=await _organiser(request),
        back=request.url_for("console-programme"),
        on_error=show_again(request, programme_page),
    )


async def add_room(request: Request) -> Response:
    async def action(db: AsyncSession, v: dict[str, str], actor: Actor) -> str:
        data = _parse(
            RoomCreate,
            {
                "name": v.get("room_name", ""),
                "capacity": v.get("room_capacity") or None,
                "accessibility": v.get("room_accessibility", ""),
            },
        )
        await programme.create_room(db, data=data, actor=actor)
        return "room_added"

    return await _act(request, action)


async def add_slot(request: Request) -> Response:
    async def action(db: AsyncSession, v: dict[str, str], actor: Actor) -> str:
        zone = conference_zone(await get_conference(db))
        data = _parse(
            TimeSlotCreate,
            {
                "starts_at": _local(v.get("slot_start", ""), "slot_start", zone),
                "ends_at": _local(v.get("slot_end", ""), "slot_end", zone),
                "label": v.get("slot_label", "")[:100],
            },
        )
        await programme.create_slot(db, data=data, actor=actor)
        return "slot_added"

    return await _act(request, action)


async def add_session(request: Request) -> Response:
    async def action(db: AsyncSession, v: dict[str, str], actor: Actor) -> str:
        data = _parse(
            SessionCreate,
            {
                "title": v.get("title", ""),
                "kind": v.get("kind", ""),
                "room_id": v.get("room_id") or None,
                "start_slot_id": v.get("start_slot_id", ""),
                "slot_count": v.get("slot_count") or 1,
                "capacity": v.get("capacity") or None,
                "theme": v.get("theme", ""),
                "speakers": v.get("speakers", ""),
            },
        )
        await programme.create_session(db, data=data, actor=actor)
        return "session_added"

    return await _act(request, action)


async def cancel_session(request: Request) -> Response:
    async def action(db: AsyncSession, v: dict[str, str], actor: Actor) -> Done:
        session_id = console_session.session_id_in(request)
        told = await capacity.booked_count(db, session_id)
        await programme.update_session(
            db,
            settings=settings(request),
            session_id=session_id,
            data=SessionUpdate(cancelled=True),
            actor=actor,
        )
        return Done("session_cancelled_told", {"count": str(told)})

    return await _act(request, action)


async def set_phase(request: Request) -> Response:
    async def action(db: AsyncSession, v: dict[str, str], actor: Actor) -> str:
        await choices.set_phase(
            db,
            changes={
                "choices_open": v.get("choices_open") == "yes",
                "booking_open": v.get("booking_open") == "yes",
            },
            actor=actor,
        )
        return "phase_saved"

    return await _act(request, action)


async def run_allocation(request: Request) -> Response:
    async def change(v: dict[str, str], actor: Actor) -> str:  # the run opens its own transactions
        from sessions.workshops import allocation_run  # the solver loads only when an organiser runs it

        try:
            seed = int(v.get("seed", "") or 1)
        except ValueError:
            raise errors.InvalidInput(fields={"seed": "Give a whole number, e.g. 1."}) from None
        apply = v.get("action") == "apply"
        await allocation_run.run_allocation(
            database(request),
            settings=settings(request),
            seed=seed,
            apply=apply,
            time_limit=60.0,
            actor=actor,
        )
        return "allocation_applied" if apply else "allocation_previewed"

    return await act_alone(
        request,
        change,
        actor=await _organiser(request),
        back=request.url_for("console-programme"),
        on_error=show_again(request, programme_page),
    )


routes = [
    Route("/console/programme", show, methods=["GET"], name="console-programme"),
    Route("/console/programme/rooms", add_room, methods=["POST"], name="console-room-add"),
    Route("/console/programme/slots", add_slot, methods=["POST"], name="console-slot-add"),
    Route("/console/programme/sessions", add_session, methods=["POST"], name="console-session-add"),
    Route(
        "/console/programme/sessions/{session_id}/cancel",
        cancel_session,
        methods=["POST"],
        name="console-session-cancel",
    ),
    *console_session.routes,
    Route("/console/programme/phase", set_phase, methods=["POST"], name="console-phase"),
    Route("/console/programme/allocation", run_allocation, methods=["POST"], name="console-allocation"),
]
