"""Check-in endpoints under /api/v1 (API.md): scans, offline sync, the door list, search, badge reissue."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from pydantic import Field as PField
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from badges import checkin
from badges.codes import BadgeSigner
from conference.core.audit import Actor
from conference.core.text import Line
from conference.web.auth import authenticate, require
from conference.web.request import caller, database, path_uuid, read_json, settings, validate

MAX_SYNC = 500


def signer(request: Request) -> BadgeSigner:
    state = request.app.state
    if getattr(state, "badge_signer", None) is None:
        state.badge_signer = BadgeSigner.from_settings(settings(request))
    result: BadgeSigner = state.badge_signer
    return result


class ScanIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    # Anything up to 2,000 characters is a scan (recorded, answered `invalid` if it is not a badge); a longer
    # body is not a badge scanner's doing and is refused outright.
    # The code is the scanner's raw text, never stored or searched: whatever a camera read (a stranger's barcode,
    # GS1 separators and all) is answered `invalid`, not refused, so a device's offline queue is never stuck on it.
    code: str = PField(default="", max_length=2000)
    reference: Line = PField(default="", max_length=16)
    list: Line = PField(min_length=1, max_length=64)
    device: Line = PField(default="", max_length=100)
    # The scanner's id for this scan (e.g. a UUID), so a retry or the offline copy of a scan whose answer was
    # lost is answered from the first record instead of being counted again.
    scan_id: str = PField(default="", max_length=64, pattern=r"^[A-Za-z0-9_-]*$")

    @model_validator(mode="after")
    def _code_or_reference(self) -> ScanIn:
        if not self.code and not self.reference:
            raise ValueError("Send the badge's `code`, or a `reference` found by search.")
        return self


class OfflineScan(ScanIn):
    scanned_at: datetime
    shown: Line = PField(default="", max_length=24)

    @field_validator("scanned_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("Give the time with its offset, e.g. 2026-12-08T08:59:12+00:00.")
        return value


class SyncIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    device: Line = PField(default="", max_length=100)
    scans: list[OfflineScan] = PField(max_length=MAX_SYNC)


def _device(request: Request, given: str) -> str:
    return (given or request.headers.get("x-device-id", ""))[:100]


async def create_checkin(request: Request) -> Response:
    body = await read_json(request)

    async def scan(db: AsyncSession) -> tuple[checkin.Scan, Actor]:
        actor = await authenticate(db, request)
        require(actor, "staff", "organiser")
        data = validate(ScanIn, body)
        made = checkin.Scan(
            list=await checkin.resolve_list(db, data.list),
            code=data.code,
            reference=data.reference,
            device=_device(request, data.device),
            scan_id=data.scan_id,
        )
        return made, actor

    # Who is asking, which list, what the badge says and the admission: one short transaction (the door's
    # queue is as fast as this), retried once when the same scan id arrived twice at once.
    result = await checkin.check_in(database(request), signer(request), scan)
    return JSONResponse(result.public())


async def sync_checkins(request: Request) -> Response:
    actor = await caller(request, "staff", "organiser")
    data = validate(SyncIn, await read_json(request))
    lists: dict[str, str] = {}
    scans = []
    for item in data.scans:
        if item.list not in lists:
            async with database(request).read() as db:
                lists[item.list] = await checkin.resolve_list(db, item.list)
        scans.append(
            checkin.Scan(
                list=lists[item.list],
                code=item.code,
                reference=item.reference,
                device=_device(request, item.device or data.device),
                scanned_at=item.scanned_at,
                offline=True,
                shown=item.shown,
                scan_id=item.scan_id,
            )
        )
    results = await checkin.sync(database(request), signer(request), scans, actor=actor)
    return JSONResponse(
        {"results": [r.public() for r in results], "conflicts": sum(1 for r in results if r.conflict)}
    )


async def get_door_list(request: Request) -> Response:
    await caller(request, "staff", "organiser")
    async with database(request).read() as db:
        list_name = await checkin.resolve_list(db, request.query_params.get("list", checkin.DOOR))
    body = await checkin.door_list(database(request), signer(request), list_name)
    return JSONResponse(body, headers={"cache-control": "no-store"})


async def search_delegates(request: Request) -> Response:
    await caller(request, "staff", "organiser")
    found = await checkin.search(database(request), request.query_params.get("q", ""))
    return JSONResponse({"data": found}, headers={"cache-control": "no-store"})


async def reissue_badge(request: Request) -> Response:
    registration_id = path_uuid(request, "registration_id")
    async with database(request).read() as db:
        actor = await authenticate(db, request)
    require(actor, "organiser")
    version = await checkin.reissue(database(request), registration_id, actor=actor)
    return JSONResponse({"badge_version": version})


routes = [
    Route("/checkins", create_checkin, methods=["POST"], name="api-checkin"),
    Route("/checkins/sync", sync_checkins, methods=["POST"], name="api-checkin-sync"),
    Route("/checkins/door-list", get_door_list, methods=["GET"], name="api-checkin-door-list"),
    Route("/checkins/search", search_delegates, methods=["GET"], name="api-checkin-search"),
    Route(
        "/registrations/{registration_id}/badge/reissue",
        reissue_badge,
        methods=["POST"],
        name="api-badge-reissue",
    ),
]
