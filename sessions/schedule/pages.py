"""The published programme's endpoints: GET /api/v1/programme (JSON), .ics and .xml, and the public page
/programme. Anyone may read them; the exports are cacheable (ETag, a minute's max-age, 304 on a match)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conference.core import errors
from conference.web.request import database, settings
from conference.web.templating import render
from sessions.schedule.feeds import programme_ics, programme_xml
from sessions.schedule.published import (
    KIND_LABELS,
    Filter,
    Item,
    Snapshot,
    kept,
    load_snapshot,
    parse_filter,
    programme_json,
    room_name,
    room_names,
)

CACHE_CONTROL = "public, max-age=60"


def _query(request: Request) -> dict[str, list[str]]:
    return {key: request.query_params.getlist(key) for key in ("theme", "day")}


def cached(request: Request, body: bytes, media_type: str, **headers: str) -> Response:
    """The body with a strong ETag of its bytes; 304 when the client already holds exactly these bytes."""
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    common = {"etag": etag, "cache-control": CACHE_CONTROL, **headers}
    wanted = {tag.strip().removeprefix("W/") for tag in request.headers.get("if-none-match", "").split(",")}
    if etag in wanted or "*" in wanted:
        return Response(status_code=304, headers=common)
    return Response(body, media_type=media_type, headers=common)


async def _snapshot(request: Request) -> Snapshot:
    async with database(request).read() as db:
        return await load_snapshot(db)


async def programme_api(request: Request) -> Response:
    snapshot = await _snapshot(request)
    body = JSONResponse(programme_json(snapshot, parse_filter(snapshot, _query(request)))).body
    return cached(request, bytes(body), "application/json")


async def programme_ics_api(request: Request) -> Response:
    snapshot = await _snapshot(request)
    body = programme_ics(
        snapshot, parse_filter(snapshot, _query(request)), base_url=settings(request).base_url
    )
    return cached(
        request,
        body,
        "text/calendar; charset=utf-8",
        **{"content-disposition": 'inline; filename="programme.ics"'},
    )


async def programme_xml_api(request: Request) -> Response:
    snapshot = await _snapshot(request)
    body = programme_xml(snapshot, base_url=settings(request).base_url)
    return cached(
        request,
        body,
        "application/xml; charset=utf-8",
        **{"content-disposition": 'inline; filename="schedule.xml"'},
    )


# --- the page ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    item: Item
    rowspan: int


@dataclass(frozen=True)
class Row:
    label: str
    cells: list[
        Cell | bool | None
    ]  # a session starting here, None for an empty room, True where one continues


@dataclass(frozen=True)
class DayGrid:
    day: date
    rooms: list[str]
    rows: list[Row]
    items: list[Item]


def grids(snapshot: Snapshot, chosen: Filter) -> list[DayGrid]:
    """Per day, a table: rows are the day's time slots, columns the rooms in use; a session spanning several
    slots covers them (rowspan)."""
    items = kept(snapshot, chosen)
    out = []
    for day in snapshot.days:
        if chosen.days and day not in chosen.days:
            continue
        todays = [i for i in items if snapshot.day_of(i.session.starts_at) == day]
        slots = [s for s in snapshot.slots if snapshot.day_of(s.starts_at) == day]
        rooms = room_names(snapshot, todays)
        covered: set[tuple[int, str]] = set()
        rows = []
        for n, slot in enumerate(slots):
            cells: list[Cell | bool | None] = []
            for room in rooms:
                here = next(
                    (i for i in todays if i.session.start_slot_id == slot.id and room_name(i) == room), None
                )
                if (n, room) in covered:
                    cells.append(True)
                elif here is None:
                    cells.append(None)
                else:
                    span = sum(1 for s in slots[n:] if s.ends_at <= here.session.ends_at) or 1
                    covered.update((n + k, room) for k in range(1, span))
                    cells.append(Cell(here, span))
            start, end = slot.starts_at.astimezone(snapshot.tz), slot.ends_at.astimezone(snapshot.tz)
            rows.append(Row(f"{start:%H:%M}–{end:%H:%M}", cells))
        out.append(DayGrid(day, rooms, rows, todays))
    return out


async def programme_page(request: Request) -> Response:
    snapshot = await _snapshot(request)
    query = _query(request)
    problems: dict[str, str] = {}
    try:
        chosen = parse_filter(snapshot, query)
    except errors.InvalidInput as exc:
        problems, chosen = exc.fields or {}, Filter()
    in_programme = {t.lower() for i in snapshot.items for t in i.themes}
    base = settings(request).base_url
    ics_path = request.url_for("api-programme-ics").include_query_params(
        **{k: v[0] for k, v in query.items() if v and not problems}
    )
    context: dict[str, Any] = {
        "conference": snapshot.conference,
        "snapshot": snapshot,
        "grids": grids(snapshot, chosen),
        "themes": [t for t in snapshot.themes if t.lower() in in_programme],
        "kinds": KIND_LABELS,
        "theme": (query["theme"] or [""])[0],
        "day": (query["day"] or [""])[0],
        "errors": problems,
        "filtered": bool(chosen.themes or chosen.days),
        "tz": snapshot.tz,
        "ics_url": str(ics_path),
        "webcal_url": "webcal://"
        + base.split("://", 1)[-1]
        + ics_path.path
        + (f"?{ics_path.query}" if ics_path.query else ""),
    }
    return render(request, "sessions/programme.html", context, status_code=400 if problems else 200)


api_routes = [
    Route("/programme", programme_api, methods=["GET"], name="api-programme"),
    Route("/programme.ics", programme_ics_api, methods=["GET"], name="api-programme-ics"),
    Route("/programme.xml", programme_xml_api, methods=["GET"], name="api-programme-xml"),
]
routes = [
    Route("/programme", programme_page, methods=["GET"], name="programme"),
]
