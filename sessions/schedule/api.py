"""JSON endpoints for building, reviewing and publishing the workshop programme (organisers only).

POST  /schedule/build                          {time_limit?, stability?, pins?} → 201 the draft with its figures
GET   /schedule/drafts/{id}                    a draft (or version): figures, workshops placed, warnings
PATCH /schedule/drafts/{id}/workshops/{key}    {room_id, slot_id}: move one workshop by hand → its warnings
POST  /schedule/publish                        {draft_id} → the new numbered version with its change list
GET   /schedule/versions                       every draft and version, newest first, with change lists
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PField
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conference.core import errors
from conference.core.schemas import MAX_INT
from conference.web.request import caller, database, read_json, settings, validate
from sessions.schedule import build as schedule_build
from sessions.schedule import context as schedule_context
from sessions.schedule import publish as schedule_publish
from sessions.schedule import versions as schedule_versions
from sessions.schedule.build import MAX_TIME_LIMIT, Pin

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)


# An organiser's pin: this talk in that slot and/or room
class PinIn(BaseModel):
    model_config = _STRICT
    talk_id: uuid.UUID
    slot_id: uuid.UUID | None = None
    room_id: uuid.UUID | None = None


# Properties to receive on a build
class ScheduleBuild(BaseModel):
    model_config = _STRICT
    time_limit: float = PField(default=schedule_build.DEFAULT_TIME_LIMIT, ge=1, le=MAX_TIME_LIMIT)
    # Keep the published programme as it is where possible (fewest moves); false rebuilds from scratch.
    stability: bool = True
    pins: list[PinIn] = PField(default_factory=list, max_length=200)


# Properties to receive on a hand move
class WorkshopMove(BaseModel):
    model_config = _STRICT
    room_id: uuid.UUID
    slot_id: uuid.UUID


# Properties to receive on publication
class SchedulePublish(BaseModel):
    model_config = _STRICT
    draft_id: int = PField(ge=1, le=MAX_INT)


def _version_id(request: Request) -> int:
    raw = request.path_params["version_id"]
    if not raw.isdigit() or int(raw) > MAX_INT:
        raise errors.NotFound("No draft or version has this id; see GET /api/v1/schedule/versions.")
    return int(raw)


async def build(request: Request) -> Response:
    actor = await caller(request, "organiser")
    data = validate(ScheduleBuild, await read_json(request))
    pins = [Pin(p.talk_id, p.slot_id, p.room_id) for p in data.pins]
    draft = await schedule_build.build_draft(
        database(request), time_limit=data.time_limit, stability=data.stability, pins=pins, actor=actor
    )
    async with database(request).read() as db:
        body = schedule_versions.version_public(draft, await schedule_context.load_context(db))
    return JSONResponse(body, status_code=201)


async def get_draft(request: Request) -> Response:
    await caller(request, "organiser")
    async with database(request).read() as db:
        version = await schedule_versions.get_version(db, _version_id(request))
        return JSONResponse(
            schedule_versions.version_public(version, await schedule_context.load_context(db))
        )


async def move(request: Request) -> Response:
    actor = await caller(request, "organiser")
    data = validate(WorkshopMove, await read_json(request))
    async with database(request).transaction() as db:
        draft, warnings = await schedule_versions.move_workshop(
            db,
            draft_id=_version_id(request),
            key=request.path_params["key"],
            room_id=data.room_id,
            slot_id=data.slot_id,
            actor=actor,
        )
        body = schedule_versions.version_public(draft, await schedule_context.load_context(db))
    workshop = next(w for w in body["workshops"] if w["key"] == request.path_params["key"])
    return JSONResponse(
        {"workshop": workshop, "warnings": warnings, "figures": body["figures"], "draft": body}
    )


async def publish(request: Request) -> Response:
    actor = await caller(request, "organiser")
    data = validate(SchedulePublish, await read_json(request))
    async with database(request).transaction() as db:
        version = await schedule_publish.publish(
            db, settings=settings(request), draft_id=data.draft_id, actor=actor
        )
    async with database(request).read() as db:
        body = schedule_versions.version_public(
            version, await schedule_context.load_context(db), detail=False
        )
    return JSONResponse(body)


async def versions(request: Request) -> Response:
    await caller(request, "organiser")
    async with database(request).read() as db:
        ctx = await schedule_context.load_context(db)
        data = [
            schedule_versions.version_public(v, ctx, detail=False)
            for v in await schedule_versions.list_versions(db)
        ]
    return JSONResponse({"data": data, "count": len(data)})


routes = [
    Route("/schedule/build", build, methods=["POST"], name="api-schedule-build"),
    Route("/schedule/publish", publish, methods=["POST"], name="api-schedule-publish"),
    Route("/schedule/versions", versions, methods=["GET"], name="api-schedule-versions"),
    Route("/schedule/drafts/{version_id}", get_draft, methods=["GET"], name="api-schedule-draft"),
    Route("/schedule/drafts/{version_id}/workshops/{key}", move, methods=["PATCH"], name="api-schedule-move"),
]
