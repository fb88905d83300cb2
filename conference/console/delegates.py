"""The organisers' console for delegates: edit a delegate's details, transfer a place to a colleague, send emails
again, decide many registrations awaiting approval from the list, and the spreadsheet exports.

Organisers only (staff get 403, anonymous browsers are sent to /login), as in console_registrations.py: forms
post with the CSRF token and redirect (303) back with `?done=<what>`; a form's field errors show next to the
fields; another refusal shows on the registration's page. Mount `routes` next to console_registrations.routes.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from conference import delegates, exports, places
from conference.console import registrations as console
from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.models import REGIONS, SECTOR_LABELS, Registration, Status
from conference.web.register import FIELD_LABELS
from conference.web.request import database, mail, settings
from conference.web.templating import form_values, render

MODES = {"edit": "console/delegate_edit.html", "substitute": "console/delegate_substitute.html"}


def _current(r: Registration) -> dict[str, str]:
    return {name: r.sector.value if name == "sector" else str(getattr(r, name)) for name in delegates.FIELDS}


async def _details_page(
    request: Request,
    mode: str,
    *,
    values: dict[str, str] | None = None,
    form_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    registration_id = console._registration_id(request)
    await console._organiser(request, console._detail_path(registration_id))
    async with database(request).read() as db:
        context = await console._registration_context(db, registration_id)
    r: Registration = context["r"]
    if r.erased_at is not None:
        refusal: errors.DomainError = delegates.PersonalDataErased()
        return await console.registration_page(request, problem=refusal, status_code=refusal.status_code)
    if mode == "substitute" and r.status == Status.cancelled:
        refusal = errors.AlreadyCancelled("A cancelled registration has no place to transfer.")
        return await console.registration_page(request, problem=refusal, status_code=refusal.status_code)
    if values is None:
        current = _current(r)
        # A colleague usually works at the same organisation, in the same sector and region.
        values = current if mode == "edit" else {k: current[k] for k in ("organisation", "sector", "region")}
    ordered = {k: form_errors[k] for k in delegates.FIELDS if form_errors and k in form_errors}
    return render(
        request,
        MODES[mode],
        {
            **context,
            "values": values,
            "errors": ordered,
            "sectors": SECTOR_LABELS,
            "regions": REGIONS,
            "labels": FIELD_LABELS,
        },
        status_code=status_code,
    )


async def edit_form(request: Request) -> Response:
    return await _details_page(request, "edit")


async def substitute_form(request: Request) -> Response:
    return await _details_page(request, "substitute")


async def _save(request: Request, mode: str) -> Response:
    registration_id = console._registration_id(request)
    s = settings(request)

    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        details = delegates.parse_details(values)
        if mode == "edit":
            changed = await delegates.edit_details(
                db, registration_id=registration_id, details=details, actor=actor
            )
            return "edited" if changed else "unchanged"
        await delegates.substitute(
            db, settings=s, registration_id=registration_id, details=details, actor=actor
        )
        return "substituted"

    async def on_error(exc: errors.DomainError, values: dict[str, str]) -> Response:
        if exc.fields and set(exc.fields) <= set(delegates.FIELDS):
            return await _details_page(
                request, mode, values=values, form_errors=dict(exc.fields), status_code=exc.status_code
            )
        return await console.registration_page(request, problem=exc, status_code=exc.status_code)

    return await console._act(request, action, on_error)


async def edit(request: Request) -> Response:
    return await _save(request, "edit")


async def substitute(request: Request) -> Response:
    return await _save(request, "substitute")


async def resend(request: Request) -> Response:
    registration_id = console._registration_id(request)

    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        what = await delegates.resend(
            db,
            settings=settings(request),
            registration_id=registration_id,
            what=values.get("email", ""),
            actor=actor,
        )
        return f"resent_{what}"

    return await console._act(request, action)


# --- many at once, from the list ------------------------------------------------------------------------------


def _list_filters(values: dict[str, str]) -> dict[str, Any]:
    """The list's filters, as the bulk form carries them back (checked like the list's own)."""
    return {
        "status": values.get("status", "") if values.get("status", "") in console.STATUS_LABELS else "",
        "payment": values.get("payment", "") if values.get("payment", "") in console.PAYMENT_STATES else "",
        "q": values.get("q", "").strip()[: console.MAX_QUERY],
        "page": 1,
    }


async def decide_many(request: Request) -> Response:
    actor = await console._organiser(request, "/console/registrations?status=awaiting_approval")
    values = await form_values(request)
    chosen = [v for v in (await request.form()).getlist("registration") if isinstance(v, str)]
    problems: dict[str, str] = {}
    decision = values.get("decision", "")
    if decision not in ("approve", "reject"):
        problems["decision"] = "Choose approve or reject."
    ids: list[uuid.UUID] = []
    try:
        ids = [uuid.UUID(v) for v in chosen]
    except ValueError:
        problems["registration"] = (
            "One of the ticked registrations is not a registration's id; reload the list."
        )
    if not chosen:
        problems["registration"] = "Tick at least one registration awaiting approval."
    try:
        if problems:
            raise errors.InvalidInput(fields=problems)
        async with database(request).transaction() as db:
            outcome = await delegates.decide_many(
                db,
                settings=settings(request),
                registration_ids=ids,
                approve=decision == "approve",
                actor=actor,
            )
    except errors.DomainError as exc:
        if isinstance(
            exc, (errors.Unauthorised, errors.Forbidden, errors.RateLimited, errors.ServiceUnavailable)
        ):
            raise
        return await console.registrations_page(request, problem=exc, status_code=exc.status_code)
    mail(request).wake()
    f = _list_filters(values)
    query = {k: f[k] for k in ("q", "status", "payment") if f[k]}
    query.update(
        {"decided": "approved" if decision == "approve" else "rejected", "count": str(len(outcome.decided))}
    )
    if outcome.refused:
        query["refused"] = ",".join(f"{ref}:{why}" for ref, why in outcome.refused)
    return RedirectResponse("/console/registrations?" + urlencode(query), 303)


# --- exports ---------------------------------------------------------------------------------------------------


async def _export(request: Request, kind: str) -> Response:
    actor = await console._organiser(request)
    fmt = request.path_params["fmt"]
    if fmt not in exports.FORMATS:
        raise errors.NotFound("Exports come as .csv or .xlsx.")
    f = console._filters(request)
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        assert conference.id is not None
        if kind == "delegates":
            sheet = await exports.delegates(db, console._where(conference.id, f))
        elif kind == "dietary":
            sheet = await exports.dietary(db)
        else:
            sheet = await exports.attendance(db)
    body = exports.render(sheet, fmt)
    extra: dict[str, Any] = {}
    if kind == "delegates":
        # Which filters, never what was searched for (a name or an email is personal data).
        extra = {"status": f["status"] or None, "payment": f["payment"] or None, "searched": bool(f["q"])}
    async with database(request).transaction() as db:
        await audit.record(
            db, f"conference.export.{kind}", actor=actor, format=fmt, rows=len(sheet.rows), **extra
        )
    today = datetime.now(ZoneInfo(conference.timezone)).date()
    return Response(
        body,
        media_type=exports.FORMATS[fmt],
        headers={
            "content-disposition": f'attachment; filename="{exports.filename(kind, fmt, today)}"',
            "cache-control": "private, no-store",
        },
    )


async def export_delegates(request: Request) -> Response:
    return await _export(request, "delegates")


async def export_dietary(request: Request) -> Response:
    return await _export(request, "dietary")


async def export_attendance(request: Request) -> Response:
    return await _export(request, "attendance")


_ONE = "/console/registrations/{registration_id:uuid}"

routes = [
    Route(
        "/console/registrations/decisions", decide_many, methods=["POST"], name="console-registrations-decide"
    ),
    Route(_ONE + "/edit", edit_form, methods=["GET"], name="console-delegate-edit-form"),
    Route(_ONE + "/edit", edit, methods=["POST"], name="console-delegate-edit"),
    Route(_ONE + "/substitute", substitute_form, methods=["GET"], name="console-delegate-substitute-form"),
    Route(_ONE + "/substitute", substitute, methods=["POST"], name="console-delegate-substitute"),
    Route(_ONE + "/resend", resend, methods=["POST"], name="console-delegate-resend"),
    Route(
        "/console/exports/delegates.{fmt:str}",
        export_delegates,
        methods=["GET"],
        name="console-export-delegates",
    ),
    Route(
        "/console/exports/dietary.{fmt:str}", export_dietary, methods=["GET"], name="console-export-dietary"
    ),
    Route(
        "/console/exports/attendance.{fmt:str}",
        export_attendance,
        methods=["GET"],
        name="console-export-attendance",
    ),
]
