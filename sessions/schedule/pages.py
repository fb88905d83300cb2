"""The published programme's endpoints: GET /api/v1/programme (JSON), .ics and .xml, and the public page
/programme. Anyone may read them; the exports are cacheable (ETag, a minute's max-age, 304 on a match)."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conference.core import errors
from conference.pages.registration import by_token
from conference.web.request import database, settings
from conference.web.templating import render
from sessions.call import stars
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
from sessions.workshops import agenda

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
    # Cancelled sessions with no place in the grid (a live session has their room and time now).
    cancelled: list[Item]
    # The list view for narrow screens: (start, the sessions starting then in room order), in time order.
    by_time: list[tuple[str, list[Item]]] = dataclasses.field(default_factory=list)


def grids(snapshot: Snapshot, chosen: Filter) -> list[DayGrid]:
    """Per day, a table: rows are the day's time slots, columns the rooms in use; a session spanning several
    slots covers them (rowspan). A cancelled session keeps its place, marked, unless a live one now has it."""
    items = kept(snapshot, chosen)
    gone = [i for i in snapshot.cancelled if chosen.keeps(snapshot, i)]
    out = []
    for day in snapshot.days:
        if chosen.days and day not in chosen.days:
            continue
        todays = [i for i in items if snapshot.day_of(i.session.starts_at) == day]
        todays_gone = [i for i in gone if snapshot.day_of(i.session.starts_at) == day]
        slots = [s for s in snapshot.slots if snapshot.day_of(s.starts_at) == day]
        index = {s.id: n for n, s in enumerate(slots)}
        starts: dict[tuple[int, str], Cell] = {}
        covered: set[tuple[int, str]] = set()
        leftover: list[Item] = []
        for item in [*todays, *todays_gone]:  # live sessions first: they win a contested cell
            n, room = index.get(item.session.start_slot_id), room_name(item)
            span = (
                (sum(1 for s in slots[n:] if s.ends_at <= item.session.ends_at) or 1) if n is not None else 1
            )
            taken = {(n + k, room) for k in range(span)} if n is not None else set()
            if n is None or taken & (covered | starts.keys()):
                if item.session.cancelled:
                    leftover.append(item)
                continue
            starts[n, room] = Cell(item, span)
            covered |= taken - {(n, room)}
        placed = [c.item for c in starts.values()]
        rooms = room_names(snapshot, placed)
        rows = []
        for n, slot in enumerate(slots):
            cells: list[Cell | bool | None] = [
                starts.get((n, room)) or ((n, room) in covered or None) for room in rooms
            ]
            start, end = slot.starts_at.astimezone(snapshot.tz), slot.ends_at.astimezone(snapshot.tz)
            rows.append(Row(f"{start:%H:%M}–{end:%H:%M}", cells))
        out.append(
            DayGrid(
                day,
                rows=rows,
                rooms=rooms,
                items=[*todays, *todays_gone],
                cancelled=leftover,
                by_time=by_time(
                    snapshot, [*todays, *(i for i in todays_gone if all(i is not x for x in leftover))]
                ),
            )
        )
    return out


def by_time(snapshot: Snapshot, items: list[Item]) -> list[tuple[str, list[Item]]]:
    """Sessions grouped by when they start ("10:00"; each says when it ends), then by room in the organisers'
    order."""
    order = {r.id: n for n, r in enumerate(snapshot.rooms)}
    groups: dict[Any, list[Item]] = {}
    for item in sorted(
        items,
        key=lambda i: (i.session.starts_at, order.get(i.room.id, len(order)) if i.room else len(order)),
    ):
        groups.setdefault(item.session.starts_at, []).append(item)
    return [(f"{start.astimezone(snapshot.tz):%H:%M}", group) for start, group in groups.items()]


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


# --- a page per session --------------------------------------------------------------------------------------------


def _find(snapshot: Snapshot, session_id: str) -> Item:
    try:
        wanted = uuid.UUID(session_id)
    except ValueError:
        raise errors.NotFound("No session has this id.") from None
    for item in [*snapshot.items, *snapshot.cancelled]:
        if item.session.id == wanted:
            return item
    raise errors.NotFound("No session has this id.")


async def _session_page(request: Request, *, token: str = "") -> Response:
    """One session: when, where, who, what, seats left, add to calendar; with a delegate's link (`token`) also
    their place in it and links to star its talks or book it."""
    context: dict[str, Any] = {"token": token, "place": "", "starred": set()}
    if token:
        r, _conf, _position, _ticket = await by_token(request)
        context["r"] = r
    async with database(request).read() as db:
        snapshot = await load_snapshot(db)
        item = _find(snapshot, request.path_params["session_id"])
        if token:
            context["starred"] = {p.id for p in await stars.stars_of(db, r.id)}
            context["place"] = next(
                (why for s, _room, why in await agenda.agenda(db, r) if s.id == item.session.id), ""
            )
    s = item.session
    context.update(
        {
            "conference": snapshot.conference,
            "item": item,
            "s": s,
            "tz": snapshot.tz,
            "kinds": KIND_LABELS,
            "room": room_name(item),
            "ics_url": request.url_for("session-ics", session_id=str(s.id)),
        }
    )
    return render(request, "sessions/session.html", context)


async def session_page(request: Request) -> Response:
    return await _session_page(request)


async def my_session_page(request: Request) -> Response:
    return await _session_page(request, token=request.path_params["token"])


async def session_ics(request: Request) -> Response:
    """The one session as an iCalendar file (the programme feed's event for it, the same UID)."""
    snapshot = await _snapshot(request)
    item = _find(snapshot, request.path_params["session_id"])
    if item.session.cancelled:
        raise errors.NotFound("This session is cancelled: there is nothing to add to a calendar.")
    body = programme_ics(
        dataclasses.replace(snapshot, items=[item]), Filter(), base_url=settings(request).base_url
    )
    return cached(
        request,
        body,
        "text/calendar; charset=utf-8",
        **{"content-disposition": f'attachment; filename="session-{item.session.id}.ics"'},
    )


api_routes = [
    Route("/programme", programme_api, methods=["GET"], name="api-programme"),
    Route("/programme.ics", programme_ics_api, methods=["GET"], name="api-programme-ics"),
    Route("/programme.xml", programme_xml_api, methods=["GET"], name="api-programme-xml"),
]
routes = [
    Route("/programme", programme_page, methods=["GET"], name="programme"),
    # The .ics first: "{session_id}" alone would match "<id>.ics" too.
    Route("/programme/sessions/{session_id}.ics", session_ics, methods=["GET"], name="session-ics"),
    Route("/programme/sessions/{session_id}", session_page, methods=["GET"], name="session"),
    Route(
        "/manage/{token}/programme/sessions/{session_id}", my_session_page, methods=["GET"], name="my-session"
    ),
]
