"""One row of the operations table (`Op`), its query parameters (`Q`), and who may call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

# --- who may call -----------------------------------------------------------------------------------------------

PUBLIC: tuple[str, ...] = ()
ORGANISER = ("organiser",)
STAFF = ("staff", "organiser")
ATTENDEE = ("attendee (own registration)", "organiser")
SPEAKER = ("speaker (the proposal's own token)",)
REVIEWER = ("reviewer",)


@dataclass(frozen=True)
class Q:
    """A query parameter the handler reads."""

    name: str
    schema: dict[str, Any]
    description: str = ""


@dataclass(frozen=True)
class Op:
    method: str
    path: str  # under /api/v1, in OpenAPI's {name} form
    summary: str
    roles: tuple[str, ...]  # () = anyone
    ok: dict[str, Any] | str | None = None  # a schema, a RESPONSES/model name, or None for an empty answer
    status: int = 200
    body: type[BaseModel] | dict[str, Any] | None = None
    body_required: bool = True
    query: tuple[Q, ...] = ()
    content: dict[str, Any] | None = None  # a non-JSON answer: {media type: {schema}}
    errors: tuple[int, ...] = ()  # besides those every operation of its kind can give (see `_errors`)
    cached: bool = False  # ETag and If-None-Match: 304
    tag: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
