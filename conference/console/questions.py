"""The registration questions in the console: list them in order, add and edit one, move it up or down, stop or
start asking it, and set until when delegates may change their answers.

Organisers only (staff get 403, anonymous browsers are sent to /login). Forms run through conference/web/forms.py's
`act`: back (303) with `?done=<what>`; a form's problems show next to its fields, all at once, with what was
typed (conference/questions.py checks them). The rules are in conference/questions.py and conference/answers.py.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference import answers, questions
from conference.console.login import require_console
from conference.core import errors
from conference.core.audit import Actor
from conference.core.formats import conference_zone
from conference.core.question_models import KIND_LABELS, Question, QuestionKind
from conference.web.forms import act, done_message, field_problems
from conference.web.request import database
from conference.web.templating import render

PATH = "/console/questions"
LABELS = {
    "label": "Question",
    "kind": "Kind of answer",
    "help_text": "Help text",
    "options": "Options",
    "ticket_type_ids": "Ticket types",
    "required": "Required",
    "on_badge": "Show on the badge",
    "answers_editable_until": "Delegates may change their answers until",
    "direction": "Move",
    "form": "Form",
}
DONE = {
    "created": "The question is added. It is asked on the registration form from now on.",
    "saved": "The question is saved. Answers already given keep the question as it was asked.",
    "unchanged": "Nothing was changed: the question was already as given.",
    "moved": "The question is moved.",
    "not_moved": "The question is already at that end of the list.",
    "hidden": "The question is no longer asked. Its answers are kept, and stay in the exports.",
    "shown": "The question is asked again.",
    "deadline": "The deadline for changing answers is saved.",
}


async def _organiser(request: Request, back: str = PATH) -> Actor:
    return await require_console(request, "organiser", back=back)


def _question_id(request: Request) -> uuid.UUID:
    value = request.path_params["question_id"]  # the route's uuid convertor has parsed it
    assert isinstance(value, uuid.UUID)
    return value


def _local_input(value: datetime | None, zone: Any) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if value else ""


# --- the list ----------------------------------------------------------------------------------------------


async def _list_page(
    request: Request,
    *,
    values: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    async with database(request).read() as db:
        conference = await questions.the_conference(db)
        every = await questions.all_questions(db)
        counts = await questions.answer_counts(db)
        names = await questions.ticket_type_names(db)
    zone = conference_zone(conference)
    return render(
        request,
        "console/questions.html",
        {
            "conference": conference,
            "questions": every,
            "counts": counts,
            "names": names,
            "kinds": KIND_LABELS,
            "editable_until": answers.editable_until(conference),
            "values": values
            if values is not None
            else {"answers_editable_until": _local_input(conference.answers_editable_until, zone)},
            "errors": problems or {},
            "labels": LABELS,
            "message": "" if problems else done_message(request, DONE),
        },
        status_code=status_code,
    )


async def list_page(request: Request) -> Response:
    await _organiser(request)
    return await _list_page(request)


async def save_deadline(request: Request) -> Response:
    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        conference = await questions.the_conference(db)
        raw = values.get("answers_editable_until", "").strip()
        until = None
        if raw:
            try:
                until = datetime.fromisoformat(raw).replace(tzinfo=conference_zone(conference))
            except ValueError:
                raise errors.InvalidInput(
                    fields={
                        "answers_editable_until": "Give a date and time, e.g. 2026-12-01 17:00, or leave it empty."
                    }
                ) from None
        await questions.set_answers_deadline(db, until=until, actor=actor)
        return "deadline"

    async def on_error(exc: errors.DomainError, values: dict[str, str]) -> Response:
        return await _list_page(
            request, values=values, problems=field_problems(exc), status_code=exc.status_code
        )

    return await act(request, action, actor=await _organiser(request), back=PATH, on_error=on_error)


async def move(request: Request) -> Response:
    question_id = _question_id(request)

    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        moved = await questions.move_question(
            db, question_id=question_id, direction=values.get("direction", ""), actor=actor
        )
        return "moved" if moved else "not_moved"

    return await _act_on_list(request, action)


async def visibility(request: Request) -> Response:
    question_id = _question_id(request)

    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        hide = values.get("hidden") == "yes"
        changed = await questions.set_hidden(db, question_id=question_id, hidden=hide, actor=actor)
        return ("hidden" if hide else "shown") if changed else "unchanged"

    return await _act_on_list(request, action)


async def _act_on_list(request: Request, action: Any) -> Response:
    async def on_error(exc: errors.DomainError, values: dict[str, str]) -> Response:
        if isinstance(exc, errors.NotFound):
            raise exc
        return await _list_page(request, problems=field_problems(exc), status_code=exc.status_code)

    return await act(request, action, actor=await _organiser(request), back=PATH, on_error=on_error)


# --- one question ------------------------------------------------------------------------------------------


def _current(q: Question) -> dict[str, Any]:
    return {
        "label": q.label,
        "kind": q.kind.value,
        "help_text": q.help_text,
        "options": "\n".join(q.options),
        "ticket_type_ids": list(q.ticket_type_ids),
        "required": "yes" if q.required else "",
        "on_badge": "yes" if q.on_badge else "",
    }


async def _form_page(
    request: Request,
    question_id: uuid.UUID | None,
    *,
    values: dict[str, Any] | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    async with database(request).read() as db:
        conference = await questions.the_conference(db)
        question = await questions.get_question(db, question_id) if question_id else None
        names = await questions.ticket_type_names(db)
        counts = await questions.answer_counts(db) if question else {}
    if values is None:
        values = _current(question) if question else {"kind": QuestionKind.text.value, "ticket_type_ids": []}
    return render(
        request,
        "console/question_form.html",
        {
            "conference": conference,
            "question": question,
            "answered": counts.get(str(question.id), 0) if question else 0,
            "names": names,
            "kinds": KIND_LABELS,
            "values": values,
            "errors": {k: problems[k] for k in LABELS if problems and k in problems},
            "labels": LABELS,
        },
        status_code=status_code,
    )


async def new_form(request: Request) -> Response:
    await _organiser(request, back=PATH + "/new")
    return await _form_page(request, None)


async def edit_form(request: Request) -> Response:
    question_id = _question_id(request)
    await _organiser(request, back=f"{PATH}/{question_id}")
    return await _form_page(request, question_id)


async def _save(request: Request, question_id: uuid.UUID | None) -> Response:
    back = PATH + "/new" if question_id is None else f"{PATH}/{question_id}"
    actor = await _organiser(request, back=back)
    form = await request.form()
    chosen = [v for v in form.getlist("ticket_type_ids") if isinstance(v, str)]

    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        data = questions.check_question(
            {**values, "ticket_type_ids": chosen},
            ticket_types=await questions.ticket_type_names(db),
            other_labels=await questions.other_labels(db, but=question_id),
        )
        if question_id is None:
            await questions.create_question(db, data=data, actor=actor)
            return "created"
        changed = await questions.update_question(db, question_id=question_id, data=data, actor=actor)
        return "saved" if changed else "unchanged"

    async def on_error(exc: errors.DomainError, values: dict[str, str]) -> Response:
        if isinstance(exc, errors.NotFound):
            raise exc
        return await _form_page(
            request,
            question_id,
            values={**values, "ticket_type_ids": chosen},
            problems=field_problems(exc),
            status_code=exc.status_code,
        )

    return await act(request, action, actor=actor, back=PATH, on_error=on_error)


async def create(request: Request) -> Response:
    return await _save(request, None)


async def save(request: Request) -> Response:
    return await _save(request, _question_id(request))


_ONE = PATH + "/{question_id:uuid}"

routes = [
    Route(PATH, list_page, methods=["GET"], name="console-questions"),
    Route(PATH, create, methods=["POST"], name="console-question-create"),
    Route(PATH + "/new", new_form, methods=["GET"], name="console-question-new"),
    Route(PATH + "/deadline", save_deadline, methods=["POST"], name="console-questions-deadline"),
    Route(_ONE, edit_form, methods=["GET"], name="console-question"),
    Route(_ONE, save, methods=["POST"], name="console-question-save"),
    Route(_ONE + "/move", move, methods=["POST"], name="console-question-move"),
    Route(_ONE + "/visibility", visibility, methods=["POST"], name="console-question-visibility"),
]
