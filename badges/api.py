"""Badges in the JSON API (paths relative to the /api/v1 Mount): one delegate's badge as a PDF or its QR as a
PNG, the organisers' print run as one PDF, and the public key the scanners verify codes with.

Rendering runs in a worker thread (a thousand badges take seconds), so the event loop keeps serving.
"""

from __future__ import annotations

import uuid

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
from conference.web.request import database, settings

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


async def badges_pdf(request: Request) -> Response:
    """The organisers' print run: filters `ticket_type`, `organisation`, `not_printed`; marks them printed."""
    params = request.query_params
    layout = _layout(request, "a4-8")
    not_printed = params.get("not_printed", "").strip().lower()
    if not_printed not in _TRUE | _FALSE:
        raise errors.InvalidInput(fields={"not_printed": "Use 1 (only badges not yet printed) or 0."})
    async with database(request).read() as db:
        actor = await authenticate(db, request)
        require(actor, "organiser")
        badges = await printing.badge_data(
            db,
            signer_for(settings(request)),
            ticket_type=params.get("ticket_type"),
            organisation=params.get("organisation"),
            not_printed=not_printed in _TRUE,
        )
    if not badges:
        raise printing.NoBadges()
    pdf = await run_in_threadpool(render_badges, badges, layout=layout)
    async with database(request).transaction() as db:
        await printing.mark_printed(db, [b.registration_id for b in badges if b.registration_id], actor=actor)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "content-disposition": f'attachment; filename="badges-{layout}.pdf"',
            "x-badge-count": str(len(badges)),
            **_NO_STORE,
        },
    )


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
    Route("/badges/public-key", public_key, methods=["GET"], name="api-badges-public-key"),
]
