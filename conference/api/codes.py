"""Codes in the JSON API (organisers): create one or a bulk, list with filters, one with its uses, revoke.

Mounted under /api/v1 (docs/api.md). Delegates never list codes: they type one into `code` on a registration.
"""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conference import codes
from conference.core import errors
from conference.core.code_models import CodeBulkCreate, CodeCreate
from conference.web.request import caller, database, read_json, settings, validate


def _code_id(request: Request) -> uuid.UUID:
    value = request.path_params["code_id"]  # the route's uuid convertor has parsed it
    assert isinstance(value, uuid.UUID)
    return value


async def create_code(request: Request) -> Response:
    actor = await caller(request, "organiser")
    data = validate(CodeCreate, await read_json(request))
    async with database(request).transaction() as db:
        code = await codes.create_code(db, data=data, actor=actor)
        row = await codes.code_row(db, code.id)
    return JSONResponse(codes.code_public(row), status_code=201)


async def create_codes(request: Request) -> Response:
    actor = await caller(request, "organiser")
    data = validate(CodeBulkCreate, await read_json(request))
    async with database(request).transaction() as db:
        made = await codes.create_codes(db, data=data, actor=actor)
        public = [codes.code_public(codes.CodeRow(c, 0, 0)) for c in made]
    return JSONResponse({"data": public, "count": len(public)}, status_code=201)


async def list_codes(request: Request) -> Response:
    await caller(request, "organiser")
    q = request.query_params
    search, state = q.get("q", "").strip()[:100], q.get("state", "")
    discount, ticket_type_id = q.get("discount", ""), q.get("ticket_type_id", "")
    problems = codes.check_filters(state=state, discount=discount, ticket_type_id=ticket_type_id)
    if problems:
        raise errors.InvalidInput(fields=problems)
    async with database(request).read() as db:
        rows = await codes.list_codes(
            db, search=search, state=state, discount=discount, ticket_type_id=ticket_type_id
        )
    data = [codes.code_public(r) for r in rows]
    return JSONResponse({"data": data, "count": len(data)})


async def get_code(request: Request) -> Response:
    await caller(request, "organiser")
    async with database(request).read() as db:
        row = await codes.code_row(db, _code_id(request))
        uses = await codes.code_uses(db, row.code.id)
    return JSONResponse({**codes.code_public(row), "used_by": [codes.use_public(r) for r in uses]})


async def revoke_code(request: Request) -> Response:
    actor = await caller(request, "organiser")
    async with database(request).transaction() as db:
        code = await codes.revoke_code(db, settings=settings(request), code_id=_code_id(request), actor=actor)
        row = await codes.code_row(db, code.id)
    return JSONResponse(codes.code_public(row))


routes = [
    Route("/codes", list_codes, methods=["GET"], name="api-codes"),
    Route("/codes", create_code, methods=["POST"], name="api-code-create"),
    Route("/codes/bulk", create_codes, methods=["POST"], name="api-codes-bulk"),
    Route("/codes/{code_id:uuid}", get_code, methods=["GET"], name="api-code"),
    Route("/codes/{code_id:uuid}/revoke", revoke_code, methods=["POST"], name="api-code-revoke"),
]
