"""Codes in the console: the list with filters (and its CSV), a code with who used it, revoking it, making one
code, and making codes in bulk (then their CSV, to mail out).

Organisers only (staff get 403, anonymous browsers are sent to /login). Forms post with the CSRF token through
conference/web/forms.py's `act`: back (303) with `?done=<what>`; the form again with every problem by field, as
typed. The rules are in conference/codes.py.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference import codes, places
from conference.console.login import require_console
from conference.core import audit, errors, registration_window, spreadsheets
from conference.core.audit import Actor
from conference.core.code_models import DISCOUNT_LABELS, CodeBulkCreate
from conference.core.formats import conference_zone
from conference.web.downloads import private_file
from conference.web.forms import Done, act, done_message, field_problems
from conference.web.request import database, settings
from conference.web.templating import render

PATH = "/console/codes"
DONE = {
    "created": "The code is made. Send it to whoever it is for: it is case-insensitive.",
    "revoked": "The code is revoked: it cannot be used again. Places already booked with it stay booked, and "
    "what was left of its reserved block is back on general sale.",
    "bulk": "The codes are made. Download them as CSV to mail them out.",
}


def _code_id(request: Request) -> uuid.UUID:
    value = request.path_params["code_id"]  # the route's uuid convertor has parsed it
    assert isinstance(value, uuid.UUID)
    return value


async def _organiser(request: Request, back: str = PATH) -> Actor:
    return await require_console(request, "organiser", back=back)


def _filters(request: Request) -> dict[str, str]:
    q = request.query_params
    filters = {
        "q": q.get("q", "").strip()[:100],
        "state": q.get("state", ""),
        "discount": q.get("discount", ""),
        "ticket_type_id": q.get("ticket_type_id", ""),
    }
    problems = codes.check_filters(
        state=filters["state"], discount=filters["discount"], ticket_type_id=filters["ticket_type_id"]
    )
    if problems:
        raise errors.InvalidInput(fields=problems)
    return filters


# --- the list -----------------------------------------------------------------------------------------------


async def list_page(request: Request) -> Response:
    actor = await _organiser(request)
    filters = _filters(request)
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        rows = await codes.list_codes(
            db,
            search=filters["q"],
            state=filters["state"],
            discount=filters["discount"],
            ticket_type_id=filters["ticket_type_id"],
        )
        names = await codes.ticket_names(db, conference)
        seen = await places.availability(db, conference)
    if request.query_params.get("format") == "csv":
        async with database(request).transaction() as db:
            await audit.record(db, "conference.code.exported", actor=actor, subject="codes", count=len(rows))
        sheet = codes.codes_sheet(rows, conference=conference, names=names)
        return private_file(spreadsheets.to_csv(sheet), "codes.csv", spreadsheets.FORMATS["csv"])
    query = "&".join(f"{k}={v}" for k, v in filters.items() if v)
    return render(
        request,
        "console/codes.html",
        {
            "conference": conference,
            "rows": rows,
            "names": names,
            "filters": filters,
            "export_query": query,
            "now": registration_window.clock(),
            "states": codes.STATE_LABELS,
            "discounts": DISCOUNT_LABELS,
            "describe": codes.describe_discount,
            "reserved": seen.reserved,
            "message": done_message(request, DONE),
        },
    )


# --- one code -------------------------------------------------------------------------------------------------


async def code_page(
    request: Request, *, problem: errors.DomainError | None = None, status_code: int = 200
) -> Response:
    this = _code_id(request)
    await _organiser(request, f"{PATH}/{this}")
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        row = await codes.code_row(db, this)
        uses = await codes.code_uses(db, this)
        names = await codes.ticket_names(db, conference)
    return render(
        request,
        "console/code.html",
        {
            "conference": conference,
            "row": row,
            "code": row.code,
            "uses": uses,
            "names": names,
            "now": registration_window.clock(),
            "states": codes.STATE_LABELS,
            "describe": codes.describe_discount,
            "message": "" if problem else done_message(request, DONE),
            "problem": problem,
        },
        status_code=status_code,
    )


async def show_code(request: Request) -> Response:
    return await code_page(request)


async def revoke(request: Request) -> Response:
    this = _code_id(request)
    back = f"{PATH}/{this}"

    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        await codes.revoke_code(db, settings=settings(request), code_id=this, actor=actor)
        return "revoked"

    async def on_error(exc: errors.DomainError, values: dict[str, str]) -> Response:
        if isinstance(exc, errors.NotFound):
            raise exc
        return await code_page(request, problem=exc, status_code=exc.status_code)

    return await act(request, action, actor=await _organiser(request, back), back=back, on_error=on_error)


# --- making codes -------------------------------------------------------------------------------------------


async def _form_page(
    request: Request,
    *,
    bulk: bool,
    values: dict[str, Any] | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        names = await codes.ticket_names(db, conference)
        seen = await places.availability(db, conference)
    return render(
        request,
        "console/codes_form.html",
        {
            "conference": conference,
            "bulk": bulk,
            "names": names,
            "free": seen.remaining,
            "values": values if values is not None else {"discount": "none", "max_uses": "1", "count": "10"},
            "errors": problems or {},
            "labels": codes.FORM_LABELS,
            "discounts": DISCOUNT_LABELS,
        },
        status_code=status_code,
    )


async def new_form(request: Request) -> Response:
    await _organiser(request, PATH + "/new")
    return await _form_page(request, bulk=False)


async def bulk_form(request: Request) -> Response:
    await _organiser(request, PATH + "/bulk")
    return await _form_page(request, bulk=True)


async def _make(request: Request, *, bulk: bool) -> Response:
    actor = await _organiser(request, PATH + ("/bulk" if bulk else "/new"))
    form = await request.form()
    chosen = [v for v in form.getlist("ticket_type_ids") if isinstance(v, str)]
    made: list[uuid.UUID] = []

    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str | Done:
        conference = await places.get_conference(db)
        data = codes.parse_form(values, ticket_type_ids=chosen, zone=conference_zone(conference), bulk=bulk)
        if isinstance(data, CodeBulkCreate):
            made.extend(c.id for c in await codes.create_codes(db, data=data, actor=actor))
            return "bulk"
        made.append((await codes.create_code(db, data=data, actor=actor)).id)
        return "created"

    async def on_error(exc: errors.DomainError, values: dict[str, str]) -> Response:
        return await _form_page(
            request,
            bulk=bulk,
            values={**values, "ticket_type_ids": chosen},
            problems=field_problems(exc),
            status_code=exc.status_code,
        )

    response = await act(request, action, actor=actor, back=PATH, on_error=on_error)
    if made and response.status_code == 303:
        # Straight to what was made: the code itself, or the batch with its CSV.
        where = f"{PATH}/batch/{made[0]}?done=bulk" if bulk else f"{PATH}/{made[0]}?done=created"
        response.headers["location"] = where
    return response


async def create(request: Request) -> Response:
    return await _make(request, bulk=False)


async def create_bulk(request: Request) -> Response:
    return await _make(request, bulk=True)


async def batch_page(request: Request) -> Response:
    this = _code_id(request)
    actor = await _organiser(request, f"{PATH}/batch/{this}")
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        rows = await codes.batch_of(db, this)
        names = await codes.ticket_names(db, conference)
    if request.query_params.get("format") == "csv":
        async with database(request).transaction() as db:
            await audit.record(
                db, "conference.code.exported", actor=actor, subject=str(this), count=len(rows)
            )
        sheet = codes.codes_sheet(rows, conference=conference, names=names)
        return private_file(spreadsheets.to_csv(sheet), "codes-batch.csv", spreadsheets.FORMATS["csv"])
    return render(
        request,
        "console/codes_batch.html",
        {
            "conference": conference,
            "rows": rows,
            "first": this,
            "names": names,
            "describe": codes.describe_discount,
            "message": done_message(request, DONE),
        },
    )


_ONE = PATH + "/{code_id:uuid}"

routes = [
    Route(PATH, list_page, methods=["GET"], name="console-codes"),
    Route(PATH, create, methods=["POST"], name="console-code-create"),
    Route(PATH + "/new", new_form, methods=["GET"], name="console-code-new"),
    Route(PATH + "/bulk", bulk_form, methods=["GET"], name="console-codes-bulk"),
    Route(PATH + "/bulk", create_bulk, methods=["POST"], name="console-codes-bulk-create"),
    Route(PATH + "/batch/{code_id:uuid}", batch_page, methods=["GET"], name="console-codes-batch"),
    Route(_ONE, show_code, methods=["GET"], name="console-code"),
    Route(_ONE + "/revoke", revoke, methods=["POST"], name="console-code-revoke"),
]
