"""The organisers' console for delegates: edit a delegate's details, transfer a place to a colleague, send emails
again, decide many registrations awaiting approval from the list, and the spreadsheet exports.

Organisers only (staff get 403, anonymous browsers are sent to /login). Forms run through
conference/web/forms.py's `act`, as on the registration's page (conference/console/registration.py): back (303)
with `?done=<what>`; a form's field errors show next to the fields; another refusal shows on the registration's
page (the list's, for a bulk decision).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference import delegates, exports, places
from conference.console import registration as one
from conference.console import registrations as listing
from conference.console.login import require_console
from conference.core import audit, errors, spreadsheets
from conference.core.audit import Actor
from conference.core.formats import conference_zone
from conference.core.models import REGIONS, SECTOR_LABELS, Registration, Status
from conference.web.forms import Done, act
from conference.web.register import FIELD_LABELS
from conference.web.request import database, settings
from conference.web.templating import render

MODES = {"edit": "console/delegate_edit.html", "substitute": "console/delegate_substitute.html"}


def _current(r: Registration) -> dict[str, str]:
    return {name: r.sector.value if name == "sector" else str(getattr(r, name)) for name in delegates.FIELDS}


async def _details_page(
    request: Request,
    mode: str,
    *,
    values: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    await one.organiser(request)
    async with database(request).read() as db:
        context = await one.registration_context(db, one.registration_id(request))
    r: Registration = context["r"]
    if r.erased_at is not None:
        return await one.show_problem(request, delegates.PersonalDataErased())
    if mode == "substitute" and r.status == Status.cancelled:
        return await one.show_problem(
            request, errors.AlreadyCancelled("A cancelled registration has no place to transfer.")
        )
    if values is None:
        current = _current(r)
        # A colleague usually works at the same organisation, in the same sector and region.
        values = current if mode == "edit" else {k: current[k] for k in ("organisation", "sector", "region")}
    ordered = {k: problems[k] for k in delegates.FIELDS if problems and k in problems}
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
    registration_id = one.registration_id(request)
    s = settings(request)

    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        details = delegates.parse_details(values)
        if mode == "edit":
            changed = await delegates.edit_details(
                db, settings=s, registration_id=registration_id, details=details, actor=actor
            )
            return "edited" if changed else "unchanged"
        await delegates.substitute(
            db, settings=s, registration_id=registration_id, details=details, actor=actor
        )
        return "substituted"

    async def on_error(exc: errors.DomainError, values: dict[str, str]) -> Response:
        if exc.fields and set(exc.fields) <= set(delegates.FIELDS):
            return await _details_page(
                request, mode, values=values, problems=dict(exc.fields), status_code=exc.status_code
            )
        return await one.show_problem(request, exc)

    return await one.act_on_registration(request, action, on_error)


async def edit(request: Request) -> Response:
    return await _save(request, "edit")


async def substitute(request: Request) -> Response:
    return await _save(request, "substitute")


async def resend(request: Request) -> Response:
    registration_id = one.registration_id(request)

    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        what = await delegates.resend(
            db,
            settings=settings(request),
            registration_id=registration_id,
            what=values.get("email", ""),
            actor=actor,
        )
        return f"resent_{what}"

    return await one.act_on_registration(request, action)


# --- many at once, from the list ------------------------------------------------------------------------------


async def decide_many(request: Request) -> Response:
    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> Done:
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
        if problems:
            raise errors.InvalidInput(fields=problems)
        outcome = await delegates.decide_many(
            db, settings=settings(request), registration_ids=ids, approve=decision == "approve", actor=actor
        )
        # Back to the list as it was filtered, with how many were decided and which were not, and why.
        f = listing.list_filters({**values, "page": "1"})
        query = {k: f[k] for k in ("q", "status", "payment") if f[k]} | {"count": str(len(outcome.decided))}
        if outcome.refused:
            query["refused"] = ",".join(f"{ref}:{why}" for ref, why in outcome.refused)
        return Done("approved" if decision == "approve" else "rejected", query)

    async def on_error(exc: errors.DomainError, values: dict[str, str]) -> Response:
        return await listing.registrations_page(request, problem=exc, status_code=exc.status_code)

    back = "/console/registrations?status=awaiting_approval"
    actor = await require_console(request, "organiser", back=back)
    return await act(request, action, actor=actor, back="/console/registrations", on_error=on_error)


# --- exports ---------------------------------------------------------------------------------------------------


async def _export(request: Request, kind: str) -> Response:
    actor = await require_console(request, "organiser")
    fmt = request.path_params["fmt"]
    if fmt not in spreadsheets.FORMATS:
        raise errors.NotFound("Exports come as .csv or .xlsx.")
    f = listing.list_filters(request.query_params)
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        assert conference.id is not None
        if kind == "delegates":
            sheet = await exports.delegates(db, listing.list_where(conference.id, f))
        elif kind == "dietary":
            sheet = await exports.dietary(db)
        else:
            sheet = await exports.attendance(db)
    body = spreadsheets.render(sheet, fmt)
    extra: dict[str, Any] = {}
    if kind == "delegates":
        # Which filters, never what was searched for (a name or an email is personal data).
        extra = {"status": f["status"] or None, "payment": f["payment"] or None, "searched": bool(f["q"])}
    async with database(request).transaction() as db:
        await audit.record(
            db, f"conference.export.{kind}", actor=actor, format=fmt, rows=len(sheet.rows), **extra
        )
    today = datetime.now(conference_zone(conference)).date()
    return Response(
        body,
        media_type=spreadsheets.FORMATS[fmt],
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
