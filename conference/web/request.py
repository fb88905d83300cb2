"""Helpers the endpoints share: reading JSON bodies, validating them, and reaching app-wide services."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from conference.core import errors
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.settings import Settings
from conference.web.auth import authenticate, require
from conference.web.ratelimit import RateLimit

if TYPE_CHECKING:  # payments imports this module
    from conference.payments.worker import PaymentWorker

M = TypeVar("M", bound=BaseModel)
# No body of the API nests deeper than 4 (a sync's scans, each an object); far deeper is no client's doing, and
# past about 1,000 the JSON decoder itself gives up (RecursionError: a 500, for a 2 KB body, before this limit).
MAX_DEPTH = 32
_TOO_DEEP = f"The body nests arrays or objects more than {MAX_DEPTH} deep."


def database(request: Request) -> Database:
    db: Database = request.app.state.database
    return db


def settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


def payment_gateway(request: Request) -> PaymentWorker:
    worker: PaymentWorker = request.app.state.payments
    return worker


def rate_limit(request: Request) -> RateLimit:
    limit: RateLimit = request.app.state.rate_limit
    return limit


async def read_json(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise errors.MalformedRequest("Send the body as JSON with 'Content-Type: application/json'.")
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise errors.MalformedRequest("The body is not valid JSON.") from None
    except RecursionError:  # nested too deeply for the decoder itself
        raise errors.MalformedRequest(_TOO_DEEP) from None
    if _depth(body) > MAX_DEPTH:
        raise errors.MalformedRequest(_TOO_DEEP)
    if not isinstance(body, dict):
        raise errors.MalformedRequest("The body must be a JSON object.")
    return body


def _depth(value: Any) -> int:
    """How deep arrays and objects nest in `value` (a scalar: 0), without recursion, stopping past MAX_DEPTH."""
    deepest, level = 0, [(value, 1)]
    while level and deepest <= MAX_DEPTH:
        item, depth = level.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            level.extend((child, depth + 1) for child in children)
    return deepest


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise errors.from_validation_error(exc) from None


def path_uuid(request: Request, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params[name])
    except ValueError:
        raise errors.NotFound(f"No {name.removesuffix('_id')} has this id.") from None


async def caller(request: Request, *roles: str) -> Actor:
    """Who is calling, in one short read; given roles, 401/403 unless the caller has one of them."""
    async with database(request).read() as db:
        actor = await authenticate(db, request)
    if roles:
        require(actor, *roles)
    return actor
