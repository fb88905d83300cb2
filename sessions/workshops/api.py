"""JSON endpoints for rooms, time slots, sessions, seat booking, ranked choices and room sheets."""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conference.core import audit, errors, spreadsheets
from conference.core.formats import conference_zone
from conference.core.schemas import MAX_INT
from conference.places import get_conference
from conference.web.auth import require_registration_access
from conference.web.request import caller, database, path_uuid, read_json, settings, validate
from sessions.models import (
    BookingPhaseUpdate,
    ChoiceRanking,
    ProgrammeSession,
    Room,
    RoomCreate,
    RoomUpdate,
    SeatRequest,
    SessionCreate,
    SessionUpdate,
    TimeSlot,
    TimeSlotCreate,
)
from sessions.workshops import agenda, capacity, choices, programme
from sessions.workshops.roomsheet import room_sheet_pdf


def room_public(r: Room) -> dict[str, Any]:
    return {
        "id": str(r.id),
        "name": r.name,
        "capacity": r.capacity,
        "accessibility": r.accessibility,
        "position": r.position,
    }


def slot_public(s: TimeSlot, zone: ZoneInfo) -> dict[str, Any]:
    """A time slot, its times in `zone` (the conference's)."""
    return {
        "id": str(s.id),
        "starts_at": s.starts_at.astimezone(zone).isoformat(),
        "ends_at": s.ends_at.astimezone(zone).isoformat(),
        "label": s.label,
    }


# --- rooms and slots ---------------------------------------------------------------------------------------


async def list_rooms(request: Request) -> Response:
    async with database(request).read() as db:
        rooms = (await db.execute(sa.select(Room).order_by(col(Room.position), col(Room.name)))).scalars()
        return JSONResponse([room_public(r) for r in rooms])


async def create_room(request: Request) -> Response:
    actor = await caller(request, "organiser")
    data = validate(RoomCreate, await read_json(request))
    async with database(request).transaction() as db:
        room = await programme.create_room(db, data=data, actor=actor)
    return JSONResponse(room_public(room), status_code=201)


async def update_room(request: Request) -> Response:
    actor = await caller(request, "organiser")
    room_id = path_uuid(request, "room_id")
    data = validate(RoomUpdate, await read_json(request))
    async with database(request).transaction() as db:
        room = await programme.update_room(
            db, settings=settings(request), room_id=room_id, data=data, actor=actor
        )
    return JSONResponse(room_public(room))


async def delete_room(request: Request) -> Response:
    actor = await caller(request, "organiser")
    room_id = path_uuid(request, "room_id")
    async with database(request).transaction() as db:
        await programme.delete_room(db, room_id=room_id, actor=actor)
    return Response(status_code=204)


async def list_slots(request: Request) -> Response:
    async with database(request).read() as db:
        conference = await get_conference(db)
        assert conference.id is not None
        zone = conference_zone(conference)
        return JSONResponse([slot_public(s, zone) for s in await programme.ordered_slots(db, conference.id)])


async def create_slot(request: Request) -> Response:
    actor = await caller(request, "organiser")
    data = validate(TimeSlotCreate, await read_json(request))
    async with database(request).transaction() as db:
        slot = await programme.create_slot(db, data=data, actor=actor)
        zone = conference_zone(await get_conference(db))
    return JSONResponse(slot_public(slot, zone), status_code=201)


async def delete_slot(request: Request) -> Response:
    actor = await caller(request, "organiser")
    slot_id = path_uuid(request, "slot_id")
    async with database(request).transaction() as db:
        await programme.delete_slot(db, slot_id=slot_id, actor=actor)
    return Response(status_code=204)


# --- sessions ----------------------------------------------------------------------------------------------


async def list_sessions(request: Request) -> Response:
    async with database(request).read() as db:
        return JSONResponse(await programme.sessions_public(db))


async def _one_session(db: Any, session_id: uuid.UUID) -> dict[str, Any]:
    s = await db.get(ProgrammeSession, session_id)
    room = await db.get(Room, s.room_id) if s.room_id else None
    counts = await capacity.seat_counts(db, [s.id])
    return programme.session_public(s, room, counts.get(s.id, {}), conference_zone(await get_conference(db)))


async def get_session(request: Request) -> Response:
    session_id = path_uuid(request, "session_id")
    async with database(request).read() as db:
        if await db.get(ProgrammeSession, session_id) is None:
            raise errors.NotFound("No session has this id.")
        return JSONResponse(await _one_session(db, session_id))


async def create_session(request: Request) -> Response:
    actor = await caller(request, "organiser")
    data = validate(SessionCreate, await read_json(request))
    async with database(request).transaction() as db:
        s = await programme.create_session(db, data=data, actor=actor)
        body = await _one_session(db, s.id)
    return JSONResponse(body, status_code=201)


async def update_session(request: Request) -> Response:
    actor = await caller(request, "organiser")
    session_id = path_uuid(request, "session_id")
    data = validate(SessionUpdate, await read_json(request))
    async with database(request).transaction() as db:
        s = await programme.update_session(
            db, settings=settings(request), session_id=session_id, data=data, actor=actor
        )
        body = await _one_session(db, s.id)
    return JSONResponse(body)


async def delete_session(request: Request) -> Response:
    actor = await caller(request, "organiser")
    session_id = path_uuid(request, "session_id")
    async with database(request).transaction() as db:
        await programme.delete_session(db, session_id=session_id, actor=actor)
    return Response(status_code=204)


# --- seats -------------------------------------------------------------------------------------------------


async def book_seat(request: Request) -> Response:
    registration_id = path_uuid(request, "registration_id")
    actor = await caller(request)
    require_registration_access(actor, registration_id, "organiser")
    data = validate(SeatRequest, await read_json(request))
    async with database(request).transaction() as db:
        seat = await capacity.book_seat(
            db,
            settings=settings(request),
            registration_id=registration_id,
            session_id=data.session_id,
            actor=actor,
            source="organiser" if actor.kind == "organiser" else "booking",
        )
        position = await capacity.waitlist_position(db, seat)
    return JSONResponse(
        {"status": seat.status.value, "session_id": str(seat.session_id), "waitlist_position": position},
        status_code=201,
    )


async def give_up_seat(request: Request) -> Response:
    registration_id = path_uuid(request, "registration_id")
    session_id = path_uuid(request, "session_id")
    actor = await caller(request)
    require_registration_access(actor, registration_id, "organiser")
    async with database(request).transaction() as db:
        await capacity.give_up_seat(
            db,
            settings=settings(request),
            registration_id=registration_id,
            session_id=session_id,
            actor=actor,
        )
    return JSONResponse({"status": "cancelled", "session_id": str(session_id)})


# --- ranked choices and the allocation ---------------------------------------------------------------------


async def get_choices(request: Request) -> Response:
    registration_id = path_uuid(request, "registration_id")
    actor = await caller(request)
    require_registration_access(actor, registration_id, "organiser")
    async with database(request).read() as db:
        return JSONResponse({"choices": await choices.choices_public(db, registration_id)})


async def put_choices(request: Request) -> Response:
    registration_id = path_uuid(request, "registration_id")
    actor = await caller(request)
    require_registration_access(actor, registration_id, "organiser")
    data = validate(ChoiceRanking, await read_json(request))
    async with database(request).transaction() as db:
        await choices.set_choices(db, registration_id=registration_id, ranking=data, actor=actor)
        body = await choices.choices_public(db, registration_id)
    return JSONResponse({"choices": body})


def phase_public(p: Any) -> dict[str, Any]:
    return {"choices_open": p.choices_open, "booking_open": p.booking_open}


async def get_phase(request: Request) -> Response:
    async with database(request).read() as db:
        return JSONResponse(phase_public(await choices.phase(db)))


async def patch_phase(request: Request) -> Response:
    actor = await caller(request, "organiser")
    changes = validate(BookingPhaseUpdate, await read_json(request)).model_dump(exclude_unset=True)
    async with database(request).transaction() as db:
        current = await choices.set_phase(db, changes=changes, actor=actor)
    return JSONResponse(phase_public(current))


async def run_allocation(request: Request) -> Response:
    actor = await caller(request, "organiser")
    body = await read_json(request)
    seed = body.get("seed", 1)
    apply = body.get("apply", False)
    time_limit = body.get("time_limit_seconds", 20)
    problems = {}
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_INT:
        problems["seed"] = f"Give a whole number from 0 to {MAX_INT}."
    if not isinstance(apply, bool):
        problems["apply"] = "Give true or false."
    if not isinstance(time_limit, (int, float)) or isinstance(time_limit, bool) or not 1 <= time_limit <= 120:
        problems["time_limit_seconds"] = "Give a number of seconds from 1 to 120."
    if unknown := set(body) - {"seed", "apply", "time_limit_seconds"}:
        problems.update({k: "This field is not accepted; remove it." for k in unknown})
    if problems:
        raise errors.InvalidInput(fields=problems)
    from sessions.workshops import allocation_run  # imports the solver: only when an organiser runs it

    figures = await allocation_run.run_allocation(
        database(request),
        settings=settings(request),
        seed=seed,
        apply=apply,
        time_limit=float(time_limit),
        actor=actor,
    )
    return JSONResponse(figures)


# --- room sheets -------------------------------------------------------------------------------------------


def _surname_key(name: str) -> tuple[str, str]:
    parts = name.strip().split()
    return (parts[-1].lower() if parts else "", name.lower())


async def room_sheet(request: Request) -> Response:
    actor = await caller(request, "organiser")
    session_id = path_uuid(request, "session_id")
    fmt = request.path_params["fmt"]
    if fmt not in {"csv", "pdf"}:
        raise errors.NotFound("Room sheets come as delegates.csv or delegates.pdf.")
    async with database(request).read() as db:
        session = await db.get(ProgrammeSession, session_id)
        if session is None:
            raise errors.NotFound("No session has this id.")
        room = await db.get(Room, session.room_id) if session.room_id else None
        conference = await get_conference(db)
        rows = sorted(await agenda.session_delegates(db, session_id), key=lambda r: _surname_key(r[1].name))
    async with database(request).transaction() as db:
        await audit.record(
            db,
            "sessions.room_sheet.exported",
            actor=actor,
            subject=str(session_id),
            format=fmt,
            count=len(rows),
        )
    delegates = [r for _seat, r in rows]
    filename = f"room-sheet-{session.starts_at.strftime('%Y%m%d-%H%M')}-{str(session.id)[:8]}"
    if fmt == "csv":
        sheet = spreadsheets.Sheet(
            "Room sheet",
            ["reference", "name", "organisation", "sector", "access_needs", "signature"],
            [[r.reference, r.name, r.organisation, r.sector.value, r.access_needs, ""] for r in delegates],
        )
        return Response(
            spreadsheets.to_csv(sheet, bom=False),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{filename}.csv"'},
        )
    pdf = room_sheet_pdf(conference, session, room, delegates)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"content-disposition": f'attachment; filename="{filename}.pdf"'},
    )


routes = [
    Route("/rooms", list_rooms, methods=["GET"], name="api-rooms"),
    Route("/rooms", create_room, methods=["POST"], name="api-room-create"),
    Route("/rooms/{room_id}", update_room, methods=["PATCH"], name="api-room-update"),
    Route("/rooms/{room_id}", delete_room, methods=["DELETE"], name="api-room-delete"),
    Route("/slots", list_slots, methods=["GET"], name="api-slots"),
    Route("/slots", create_slot, methods=["POST"], name="api-slot-create"),
    Route("/slots/{slot_id}", delete_slot, methods=["DELETE"], name="api-slot-delete"),
    Route("/sessions", list_sessions, methods=["GET"], name="api-sessions"),
    Route("/sessions", create_session, methods=["POST"], name="api-session-create"),
    Route("/sessions/{session_id}", get_session, methods=["GET"], name="api-session"),
    Route("/sessions/{session_id}", update_session, methods=["PATCH"], name="api-session-update"),
    Route("/sessions/{session_id}", delete_session, methods=["DELETE"], name="api-session-delete"),
    Route("/sessions/{session_id}/delegates.{fmt:str}", room_sheet, methods=["GET"], name="api-room-sheet"),
    Route("/registrations/{registration_id}/sessions", book_seat, methods=["POST"], name="api-seat-book"),
    Route(
        "/registrations/{registration_id}/sessions/{session_id}",
        give_up_seat,
        methods=["DELETE"],
        name="api-seat-release",
    ),
    Route("/registrations/{registration_id}/choices", get_choices, methods=["GET"], name="api-choices"),
    Route("/registrations/{registration_id}/choices", put_choices, methods=["PUT"], name="api-choices-set"),
    Route("/seat-booking", get_phase, methods=["GET"], name="api-seat-booking"),
    Route("/seat-booking", patch_phase, methods=["PATCH"], name="api-seat-booking-update"),
    Route("/allocation", run_allocation, methods=["POST"], name="api-allocation"),
]
