"""Builds the OpenAPI document from the operations table and serves it at GET /api/v1/openapi.json."""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference.core.schemas import MAX_INT
from conference.server.openapi import checkin_ops, code_ops, group_ops, programme_ops, registration_ops
from conference.server.openapi.operation import Op
from conference.server.openapi.schemas import RESPONSE_MODELS, RESPONSES, TEXT, UUID, ref
from sessions.schedule.pages import cached

PREFIX = "/api/v1"

# The table: one row per (method, path), in the document's order.
OPERATIONS: tuple[Op, ...] = (
    *registration_ops.OPERATIONS,
    *code_ops.OPERATIONS,
    *group_ops.OPERATIONS,
    *programme_ops.OPERATIONS,
    *checkin_ops.OPERATIONS,
)

# Path parameters: what each one is.
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "registration_id": UUID,
    "invoice_id": UUID,
    "code_id": UUID,
    "group_id": UUID,
    "token": {"type": "string", "minLength": 1},  # a private link (a group lead's "g_...")
    "room_id": UUID,
    "slot_id": UUID,
    "session_id": UUID,
    "proposal_id": UUID,
    "reviewer_id": UUID,
    "checkin_id": UUID,  # a scan's record (undo)
    "version_id": {"type": "integer", "minimum": 1, "maximum": MAX_INT},
    "key": {"type": "string", "minLength": 1},
    "fmt": {"enum": ["csv", "pdf"]},
}

ERROR_TEXT = {
    400: "Malformed request (not JSON, not an object, wrong content type, an unknown filter)",
    401: "No valid credentials",
    403: "This role may not do this",
    404: "Nothing with this id",
    409: "Conflicts with the current state",
    413: "The body is too large",
    422: "Validation error: `fields` names each wrong field",
    429: "Rate limited (Retry-After)",
    503: "Briefly unavailable (the database, or a payment gateway): retry",
}


def _errors(op: Op) -> list[int]:
    codes = {503, *op.errors}
    if op.roles:
        codes |= {401, 403}
    if "{" in op.path:
        codes.add(404)
    if op.body is not None:
        codes |= {400, 413, 422}
    if op.query:
        codes |= {400, 422}
    return sorted(codes)


def _schema(value: dict[str, Any] | str) -> dict[str, Any]:
    if isinstance(value, str):
        return ref(value)
    if value.get("type") == "array" and isinstance(value.get("items"), str):
        return {**value, "items": ref(value["items"])}
    return value


def _operation(op: Op, components: dict[str, Any]) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": PATH_PARAMETERS[name]}
        for name in re.findall(r"\{(\w+)\}", op.path)
    ]
    parameters += [
        {
            "name": q.name,
            "in": "query",
            "required": False,
            "schema": q.schema,
            **({"description": q.description} if q.description else {}),
            **({"style": "form", "explode": True} if q.schema.get("type") == "array" else {}),
        }
        for q in op.query
    ]
    if op.cached:
        parameters.append({"name": "If-None-Match", "in": "header", "required": False, "schema": TEXT})
    parameters += op.extra.get("parameters", [])
    success: dict[str, Any] = {"description": op.summary}
    content: dict[str, Any] = {}
    if op.ok is not None:
        content["application/json"] = {"schema": _schema(op.ok)}
    content.update(op.content or {})
    if content:
        success["content"] = content
    if op.cached:
        success["headers"] = {"ETag": {"schema": TEXT}, "Cache-Control": {"schema": TEXT}}
    responses: dict[str, Any] = {str(op.status): success}
    if op.cached:
        responses["304"] = {"description": "Not modified: If-None-Match holds this ETag"}
    for code in _errors(op):
        responses[str(code)] = {"$ref": f"#/components/responses/E{code}"}
    out: dict[str, Any] = {
        "operationId": f"{op.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', op.path.lower()).strip('_')}",
        "summary": op.summary,
        "tags": [op.tag] if op.tag else [],
        "security": [{"bearer": []}] if op.roles else [],
        "responses": responses,
    }
    if op.roles:
        out["description"] = "Who: " + ", ".join(op.roles) + "."
    if "description" in op.extra:
        out["description"] = (out.get("description", "") + " " + op.extra["description"]).strip()
    if parameters:
        out["parameters"] = parameters
    if op.body is not None:
        schema = op.body if isinstance(op.body, dict) else _model_schema(op.body, components)
        out["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": schema}},
        }
    return out


def _model_schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components.setdefault(model.__name__, schema)
    return ref(model.__name__)


@cache
def document() -> dict[str, Any]:
    schemas: dict[str, Any] = dict(copy.deepcopy(RESPONSES))
    for model in RESPONSE_MODELS:
        _model_schema(model, schemas)
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(PREFIX + op.path, {})[op.method.lower()] = _operation(op, schemas)
    error = {"application/json": {"schema": ref("Error")}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Conference registration and programme API",
            "version": "1",
            "description": "JSON everywhere; times ISO 8601 with offset; money in integer pence. "
            'Errors are `{"error": {"code", "message", "fields"?}}`. See docs/api.md.',
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                f"E{code}": {"description": text, "content": error} for code, text in ERROR_TEXT.items()
            },
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token (staff, organiser), a delegate's manage token, a proposal's edit token "
                    "or a reviewer's link token.",
                }
            },
        },
    }


@cache
def _body() -> bytes:
    return json.dumps(document(), separators=(",", ":"), sort_keys=True).encode()


async def openapi_json(request: Request) -> Response:
    return cached(request, _body(), "application/json")  # public, max-age=60, a strong ETag; 304 on a match


routes = [
    Route("/openapi.json", openapi_json, methods=["GET"], name="api-openapi")
]  # inside the /api/v1 Mount
