"""Check-in endpoints under /api/v1 (API.md): scans, offline sync, the door list, search, badge reissue."""

from __future__ import annotations

import gzip
import json
from datetime import datetime

from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from pydantic import Field as PField
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from badges import checkin, door
from badges.checkin_queue import CheckinQueue
from badges.codes import BadgeSigner
from conference.core.text import Line
from conference.web.auth import authenticate, authenticate_cached, require
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


def checkin_queue(request: Request) -> CheckinQueue:
    """This worker's queue of scans waiting for the next shared transaction (badges/checkin_queue.py)."""
    state = request.app.state
    queue: CheckinQueue | None = getattr(state, "checkin_queue", None)
    if queue is None or queue.database is not database(request):
        queue = state.checkin_queue = CheckinQueue(database(request), signer(request))
    return queue


async def create_checkin(request: Request) -> Response:
    body = await read_json(request)
    # Who is asking, from this worker's few-second cache of staff tokens and sessions (web/auth.py); the list,
    # the badge and the admission in the transaction this scan shares with the scans arriving with it.
    actor = await authenticate_cached(database(request), request)
    require(actor, "staff", "organiser")
    data = validate(ScanIn, body)
    scan = checkin.Scan(
        list=data.list,
        code=data.code,
        reference=data.reference,
        device=_device(request, data.device),
        scan_id=data.scan_id,
    )
    result = await checkin_queue(request).check_in(scan, actor=actor)
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
    body = await door.door_list(database(request), signer(request), list_name)
    # 1,000 delegates are ~150 KB of JSON, a few tens of KB gzipped: a phone on the venue's Wi-Fi gets the small one.
    content = json.dumps(body, separators=(",", ":")).encode()
    headers = {"cache-control": "no-store", "vary": "accept-encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        content = gzip.compress(content, compresslevel=6)
        headers["content-encoding"] = "gzip"
    return Response(content, media_type="application/json", headers=headers)


async def search_delegates(request: Request) -> Response:
    await caller(request, "staff", "organiser")
    async with database(request).read() as db:
        list_name = await checkin.resolve_list(db, request.query_params.get("list", checkin.DOOR))
    found = await door.search(database(request), request.query_params.get("q", ""), list_name=list_name)
    return JSONResponse({"data": found}, headers={"cache-control": "no-store"})


async def undo_checkin(request: Request) -> Response:
    """Take back a mistaken admission (the staff member who scanned it, or an organiser; a few minutes)."""
    actor = await caller(request, "staff", "organiser")
    checkin_id = path_uuid(request, "checkin_id")
    return JSONResponse(await checkin.undo_admission(database(request), checkin_id, actor=actor))


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
    Route("/checkins/{checkin_id}/undo", undo_checkin, methods=["POST"], name="api-checkin-undo"),
    Route(
        "/registrations/{registration_id}/badge/reissue",
        reissue_badge,
        methods=["POST"],
        name="api-badge-reissue",
    ),
]
