"""The organisers' programme pages: rooms, time slots and sessions, with room sheets, in the browser."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ValidationError
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from conference.console.login import require_console
from conference.core import errors
from conference.places import get_conference
from conference.web.request import database, mail, settings
from conference.web.templating import form_values, render
from sessions.models import (
    AllocationRun,
    Kind,
    Room,
    RoomCreate,
    SessionCreate,
    SessionUpdate,
    TimeSlotCreate,
)
from sessions.workshops import choices, programme


async def programme_page(
    request: Request,
    *,
    form_errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    await require_console(request, "organiser")
    async with database(request).read() as db:
        conference = await get_conference(db)
        assert conference.id is not None
        rooms = (
            (await db.execute(sa.select(Room).order_by(col(Room.position), col(Room.name)))).scalars().all()
        )
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
            "errors": form_errors or {},
            "values": values or {},
            "local": programme.LONDON,
            "kinds": [k.value for k in Kind],
            "last_run": last_run,
            "message": request.query_params.get("m", ""),
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


def _local(value: str, field: str) -> datetime:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=programme.LONDON)
    except ValueError:
        raise errors.InvalidInput(fields={field: "Give a date and time, e.g. 2026-12-08 11:00."}) from None


async def _act(request: Request, action: Any, *, own_transactions: bool = False) -> Response:
    """Run one form's change; on a client error show the page again with the error and what was typed.

    The action gets a transaction, or (`own_transactions`) the database, to open its own."""
    actor = await require_console(request, "organiser")
    values = await form_values(request)
    try:
        if own_transactions:
            message = await action(database(request), values, actor)
        else:
            async with database(request).transaction() as db:
                message = await action(db, values, actor)
    except errors.DomainError as exc:
        if isinstance(exc, (errors.Unauthorised, errors.Forbidden)):
            raise
        # Validation errors name each field; a conflict's own sentence says more than its field note.
        problems = dict(exc.fields or {"form": exc.message})
        if not isinstance(exc, errors.InvalidInput):
            problems = {name: exc.message for name in problems}
        return await programme_page(request, form_errors=problems, values=values, status_code=exc.status_code)
    mail(request).wake()
    return RedirectResponse(request.url_for("console-programme").include_query_params(m=message), 303)


async def add_room(request: Request) -> Response:
    async def action(db: Any, v: dict[str, str], actor: Any) -> str:
        data = _parse(
            RoomCreate,
            {
                "name": v.get("room_name", ""),
                "capacity": v.get("room_capacity") or None,
                "accessibility": v.get("room_accessibility", ""),
            },
        )
        room = await programme.create_room(db, data=data, actor=actor)
        return f"Room {room.name} added."

    return await _act(request, action)


async def add_slot(request: Request) -> Response:
    async def action(db: Any, v: dict[str, str], actor: Any) -> str:
        data = TimeSlotCreate(
            starts_at=_local(v.get("slot_start", ""), "slot_start"),
            ends_at=_local(v.get("slot_end", ""), "slot_end"),
            label=v.get("slot_label", "")[:100],
        )
        await programme.create_slot(db, data=data, actor=actor)
        return "Time slot added."

    return await _act(request, action)


async def add_session(request: Request) -> Response:
    async def action(db: Any, v: dict[str, str], actor: Any) -> str:
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
        s = await programme.create_session(db, data=data, actor=actor)
        return f"Session '{s.title}' added."

    return await _act(request, action)


async def cancel_session(request: Request) -> Response:
    async def action(db: Any, v: dict[str, str], actor: Any) -> str:
        try:
            session_id = uuid.UUID(request.path_params["session_id"])
        except ValueError:
            raise errors.NotFound("No session has this id.") from None
        s = await programme.update_session(
            db,
            settings=settings(request),
            session_id=session_id,
            data=SessionUpdate(cancelled=True),
            actor=actor,
        )
        return f"'{s.title}' cancelled; delegates with seats have been emailed."

    return await _act(request, action)


async def set_phase(request: Request) -> Response:
    async def action(db: Any, v: dict[str, str], actor: Any) -> str:
        await choices.set_phase(
            db,
            changes={
                "choices_open": v.get("choices_open") == "yes",
                "booking_open": v.get("booking_open") == "yes",
            },
            actor=actor,
        )
        return "Booking phase saved."

    return await _act(request, action)


async def run_allocation(request: Request) -> Response:
    async def action(db: Any, v: dict[str, str], actor: Any) -> str:  # db: the Database (own transactions)
        from sessions.workshops import allocation_run  # the solver loads only when an organiser runs it

        try:
            seed = int(v.get("seed", "") or 1)
        except ValueError:
            raise errors.InvalidInput(fields={"seed": "Give a whole number, e.g. 1."}) from None
        apply = v.get("action") == "apply"
        report = await allocation_run.run_allocation(
            db, settings=settings(request), seed=seed, apply=apply, time_limit=60.0, actor=actor
        )
        fair, base = report["allocation"], report["first_come_baseline"]
        return (
            f"Allocation {'applied: seats booked and delegates emailed' if apply else 'previewed (nothing booked)'}. "
            f"First choices {fair['first_choice_share']:.0%} (first come would give {base['first_choice_share']:.0%})."
        )

    return await _act(request, action, own_transactions=True)


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
    Route("/console/programme/phase", set_phase, methods=["POST"], name="console-phase"),
    Route("/console/programme/allocation", run_allocation, methods=["POST"], name="console-allocation"),
]
