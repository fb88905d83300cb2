"""The published library's pages: GET /library (anyone; public items only) and GET /manage/{token}/library (a
delegate's fuller view from their manage link), with their files at /library/files/{id} and
/manage/{token}/library/files/{id}.

Search and filters are GET parameters (`q`, `theme`, `sector`): they work without JavaScript and the address can be
shared. The library stays online after the event. Reads are rate-limited per client (six times the public write
limit: people browse). A file is served only to a viewer who may see it (sessions/library/visibility.py), with
safe headers (sessions/library/storage.py) and, when it is not public, never cached by a shared cache.
"""

from __future__ import annotations

import uuid
from typing import Any

from limits import parse
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from conference.core import errors
from conference.core.models import Registration
from conference.pages.registration import by_token
from conference.places import get_conference
from conference.web.ratelimit import RateLimit
from conference.web.request import database, settings
from conference.web.templating import render
from sessions.library import catalogue, storage
from sessions.library.visibility import ANONYMOUS, NEEDS, Viewer, delegate
from sessions.models import LibraryResource, ResourceKind, Visibility
from sessions.models.library import VISIBILITY_LABELS

READ_FACTOR = 6  # page views per public write allowed: browsing and downloading are many requests
SCOPE = "library"
FORMAT_NAMES = {
    "pdf": "PDF",
    "pptx": "PowerPoint",
    "docx": "Word",
    "odp": "OpenDocument slides",
    "link": "Link",
}


class NoSuchFile(errors.NotFound):
    message = (
        "This library file is not available here. It may have been withdrawn, or be for delegates only: "
        "delegates open those from the link in their booking email."
    )


def _limit(request: Request) -> RateLimit:
    """The library's own limiter (made once per app): READ_FACTOR times the public write limit, off when that is."""
    state = request.app.state
    limit: RateLimit | None = getattr(state, "library_rate_limit", None)
    if limit is None:
        spec = settings(request).rate_limit_registrations.strip()
        limit = RateLimit("")
        if spec:
            item = parse(spec)
            limit.item = type(item)(item.amount * READ_FACTOR, item.multiples)
        state.library_rate_limit = limit
    return limit


def _resource_id(request: Request) -> uuid.UUID:
    try:
        return uuid.UUID(str(request.path_params["resource_id"]))
    except ValueError:
        raise NoSuchFile() from None


def size_label(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


def viewer_note(r: Registration | None, viewer: Viewer) -> str:
    if r is None:
        return ""
    if r.erased_at is not None:
        return "This booking's personal data has been erased, so you see the public items only."
    if not viewer.holds_place:
        return (
            f"This booking is {r.status.value.replace('_', ' ')}, so you see the public items only. "
            "Items for delegates open once a place is confirmed."
        )
    if viewer.public_sector:
        return "As a public-sector delegate you see every item: public, for delegates and for public-sector delegates."
    return "As a delegate you see the public items and those for delegates. Some items are for public-sector delegates only."


async def _library(
    request: Request, *, viewer: Viewer, r: Registration | None, token: str | None
) -> Response:
    q = catalogue.clean_query(request.query_params.get("q", ""))
    theme = request.query_params.get("theme", "").strip()[:100]
    sector = request.query_params.get("sector", "").strip()[:40]
    shared = request.query_params.get("shared", "") == "yes"
    async with database(request).read() as db:
        conference = await get_conference(db)
        entries = await catalogue.library_entries(
            db, conference, viewer=viewer, q=q, theme=theme, sector=sector, shared_only=shared
        )
        options = await catalogue.filter_options(db, conference)
        everything = (
            await catalogue.library_entries(db, conference, viewer=viewer)
            if (q or theme or sector or shared)
            else entries
        )
    base = f"/manage/{token}/library" if token else "/library"
    context: dict[str, Any] = {
        "conference": conference,
        "entries": entries,
        "total": len(everything),
        "items": sum(len(e.resources) for e in entries),
        "q": q,
        "theme": theme,
        "sector": sector,
        "shared": shared,
        "filtered": bool(q or theme or sector or shared),
        "options": options,
        "base": base,
        "file_base": f"{base}/files",
        "token": token,
        "viewer": viewer,
        "viewer_note": viewer_note(r, viewer),
        "needs": NEEDS,
        "visibility_labels": VISIBILITY_LABELS,
        "format_names": FORMAT_NAMES,
        "size_label": size_label,
    }
    return render(request, "sessions/library.html", context)


async def library_page(request: Request) -> Response:
    await _limit(request).check(request, SCOPE)
    return await _library(request, viewer=ANONYMOUS, r=None, token=None)


async def manage_library_page(request: Request) -> Response:
    await _limit(request).check(request, SCOPE)  # before the link is looked up: no guessing at speed
    r, _conf, _position, _ticket = await by_token(request)
    return await _library(request, viewer=delegate(r), r=r, token=request.path_params["token"])


def file_response(request: Request, resource: LibraryResource) -> Response:
    """The stored file with safe headers; restricted items never land in a shared cache."""
    path = storage.open_resource(settings(request), resource.stored_name)
    headers = {k.lower(): v for k, v in storage.safe_file_headers(resource).items()}
    public = resource.visibility == Visibility.public
    headers["cache-control"] = "public, max-age=60" if public else "private, no-store"
    return FileResponse(path, headers=headers)


async def _file(request: Request, viewer: Viewer) -> Response:
    resource_id = _resource_id(request)
    async with database(request).read() as db:
        conference = await get_conference(db)
        resource = await catalogue.visible_resource(db, conference, resource_id=resource_id, viewer=viewer)
    if resource is None or resource.kind != ResourceKind.file:
        raise NoSuchFile()
    return file_response(request, resource)


async def library_file(request: Request) -> Response:
    await _limit(request).check(request, SCOPE)
    return await _file(request, ANONYMOUS)


async def manage_library_file(request: Request) -> Response:
    await _limit(request).check(request, SCOPE)
    r, _conf, _position, _ticket = await by_token(request)
    return await _file(request, delegate(r))


routes = [
    Route("/library", library_page, methods=["GET"], name="library"),
    Route("/library/files/{resource_id}", library_file, methods=["GET"], name="library-file"),
    Route("/manage/{token}/library", manage_library_page, methods=["GET"], name="manage-library"),
    Route(
        "/manage/{token}/library/files/{resource_id}",
        manage_library_file,
        methods=["GET"],
        name="manage-library-file",
    ),
]
