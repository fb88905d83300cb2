"""Badges in the JSON API (paths relative to the /api/v1 Mount): one delegate's badge as a PDF or its QR as a
PNG, the organisers' print run as one PDF, and the public key the scanners verify codes with.

The print run is two requests: `GET /badges.pdf` renders a run and changes nothing (a signed-in browser sends its
SameSite=Lax cookie on a cross-site link, so a GET must not write); `POST /badges/print` renders it and marks
those badges printed (a console session must send the page's CSRF token, conference/web/auth.py).

Rendering runs in a worker thread (a thousand badges take seconds), so the event loop keeps serving.
"""

from __future__ import annotations

import uuid
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PField
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from badges import printing
from badges.codes import signer_for
from badges.render import LAYOUTS, BadgeData, qr_png, render_badges
from conference.core import audit, errors
from conference.core.audit import Actor
from conference.web.auth import authenticate, require, require_registration_access
from conference.web.request import database, read_json, settings, validate

_NO_STORE = {"cache-control": "private, no-store"}  # a badge code is a credential: keep it out of caches
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"", "0", "false", "no", "off"}


def _uuid(request: Request, name: str) -> uuid.UUID:
    value = request.path_params[name]  # the route's uuid convertor has parsed it
    assert isinstance(value, uuid.UUID)
    return value


def _layout(request: Request, default: str) -> str:
    layout = request.query_params.get("layout", default)
    if layout not in LAYOUTS:
        raise errors.InvalidInput(fields={"layout": f"Use one of: {', '.join(LAYOUTS)}."})
    return layout


async def _attendee_or_organiser(request: Request, registration_id: uuid.UUID) -> tuple[Actor, BadgeData]:
    # Door staff too: a delegate who arrives without a badge gets one printed at the desk.
    async with database(request).read() as db:
        actor = await authenticate(db, request)
        require_registration_access(actor, registration_id, "staff", "organiser")
        badge = await printing.badge_for(db, signer_for(settings(request)), registration_id)
    if actor.kind in {"staff", "organiser"}:
        async with database(request).transaction() as db:
            await audit.record(db, "badges.badge.downloaded", actor=actor, subject=badge.reference)
    return actor, badge


async def badge_pdf(request: Request) -> Response:
    """One badge; A6 by default (`?layout=a4-8` for a business-card insert). Does not count as printed: the
    delegate may print their own, and the organisers' print run should still include them."""
    registration_id = _uuid(request, "registration_id")
    layout = _layout(request, "a6-4")
    _actor, badge = await _attendee_or_organiser(request, registration_id)
    pdf = await run_in_threadpool(render_badges, [badge], layout=layout)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"content-disposition": f'attachment; filename="badge-{badge.reference}.pdf"', **_NO_STORE},
    )


async def badge_png(request: Request) -> Response:
    registration_id = _uuid(request, "registration_id")
    _actor, badge = await _attendee_or_organiser(request, registration_id)
    png = await run_in_threadpool(qr_png, badge.code)
    return Response(
        png,
        media_type="image/png",
        headers={"content-disposition": f'inline; filename="badge-{badge.reference}.png"', **_NO_STORE},
    )


Layout = Literal["a4-8", "a6-4"]  # render.LAYOUTS


class PrintRunIn(BaseModel):
    """Which badges a print run holds (the filters of GET /badges.pdf) and how they are laid out."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    ticket_type: str = PField(default="", max_length=200)  # a ticket type's name (any case) or id
    organisation: str = PField(default="", max_length=200)  # exact but for case and spacing
    not_printed: bool = False  # only badges not printed before
    layout: Layout = "a4-8"


async def _organiser(request: Request) -> Actor:
    async with database(request).read() as db:
        actor = await authenticate(db, request)
    require(actor, "organiser")
    return actor


async def _print_run(request: Request, actor: Actor, run: PrintRunIn, *, mark: bool) -> Response:
    async with database(request).read() as db:
        badges = await printing.badge_data(
            db,
            signer_for(settings(request)),
            ticket_type=run.ticket_type or None,
            organisation=run.organisation or None,
            not_printed=run.not_printed,
        )
    if not badges:
        raise printing.NoBadges()
    pdf = await run_in_threadpool(render_badges, badges, layout=run.layout)
    registration_ids = [b.registration_id for b in badges if b.registration_id]
    async with database(request).transaction() as db:
        if mark:
            await printing.mark_printed(db, registration_ids, actor=actor)
        else:  # a preview marks nothing; the download of badge codes is audited, as a single badge's is
            await audit.record(db, "badges.print_run.downloaded", actor=actor, count=len(badges))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "content-disposition": f'attachment; filename="badges-{run.layout}.pdf"',
            "x-badge-count": str(len(badges)),
            **_NO_STORE,
        },
    )


async def badges_pdf(request: Request) -> Response:
    """A print run to look at or reprint: filters `ticket_type`, `organisation`, `not_printed`. Marks nothing."""
    params = request.query_params
    layout = _layout(request, "a4-8")
    not_printed = params.get("not_printed", "").strip().lower()
    if not_printed not in _TRUE | _FALSE:
        raise errors.InvalidInput(fields={"not_printed": "Use 1 (only badges not yet printed) or 0."})
    actor = await _organiser(request)
    run = PrintRunIn.model_construct(
        ticket_type=params.get("ticket_type", ""),
        organisation=params.get("organisation", ""),
        not_printed=not_printed in _TRUE,
        layout=cast(Layout, layout),  # one of LAYOUTS: _layout checked it
    )
    return await _print_run(request, actor, run, mark=False)


async def print_badges(request: Request) -> Response:
    """The organisers' print run: body `{ticket_type?, organisation?, not_printed?, layout?}` (all optional);
    the PDF, and those badges marked printed (so `not_printed` leaves them out of the next run)."""
    actor = await _organiser(request)
    body = await read_json(request) if await request.body() else {}
    run = validate(PrintRunIn, body)
    return await _print_run(request, actor, run, mark=True)


async def public_key(request: Request) -> Response:
    async with database(request).read() as db:
        actor = await authenticate(db, request)
    require(actor, "staff", "organiser")
    return JSONResponse({"algorithm": "Ed25519", "public_key": signer_for(settings(request)).public_key_b64})


routes = [
    Route(
        "/registrations/{registration_id:uuid}/badge.pdf", badge_pdf, methods=["GET"], name="api-badge-pdf"
    ),
    Route(
        "/registrations/{registration_id:uuid}/badge.png", badge_png, methods=["GET"], name="api-badge-png"
    ),
    Route("/badges.pdf", badges_pdf, methods=["GET"], name="api-badges-pdf"),
    Route("/badges/print", print_badges, methods=["POST"], name="api-badges-print"),
    Route("/badges/public-key", public_key, methods=["GET"], name="api-badges-public-key"),
]
