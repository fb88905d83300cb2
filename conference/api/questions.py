"""GET /api/v1/questions: the registration questions a registration answers in `answers`, keyed by their `id`
(docs/api.md). Anyone may read them, as anyone may read the ticket types: they are what the public form asks."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conference.core.question_models import Question
from conference.questions import all_questions
from conference.web.request import database


def question_public(q: Question) -> dict[str, Any]:
    return {
        "id": str(q.id),
        "label": q.label,
        "kind": q.kind.value,
        "required": q.required,
        "help_text": q.help_text,
        "options": list(q.options),
        "ticket_type_ids": list(q.ticket_type_ids),  # empty: asked of every ticket type
        "position": q.position,
        "on_badge": q.on_badge,
    }


async def list_questions(request: Request) -> Response:
    async with database(request).read() as db:
        asked = await all_questions(db, include_hidden=False)
    return JSONResponse([question_public(q) for q in asked])


routes = [Route("/questions", list_questions, methods=["GET"], name="api-questions")]
