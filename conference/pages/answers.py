"""The delegate changes their answers to the registration questions, from their manage link, until the event's
deadline (conference/answers.py). Works without JavaScript: the form again with an error summary linking to each
answer at fault, values kept; nothing is saved unless every answer is right."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from conference import answers
from conference.core import errors
from conference.core.audit import Actor
from conference.core.models import Conference, Registration
from conference.pages.registration import by_token
from conference.questions import all_questions
from conference.web.request import database
from conference.web.templating import FormRefused, form_values, render


async def _page(
    request: Request,
    r: Registration,
    conference: Conference,
    *,
    answer_values: dict[str, Any] | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    async with database(request).read() as db:
        every = await all_questions(db)
    asked = answers.asked_of(every, r.ticket_type_id)
    order = [answers.form_field(q) for q in asked]
    return render(
        request,
        "conference/answers.html",
        {
            "r": r,
            "conference": conference,
            "token": request.path_params["token"],
            "questions": asked,
            "question_notes": {},
            "answer_values": answer_values
            if answer_values is not None
            else answers.stored_state(asked, r.answers),
            "errors": {k: problems[k] for k in [*order, *(problems or {})] if problems and k in problems},
            "labels": {answers.form_field(q): q.label for q in asked} | {"form": "Form"},
            "open": answers.can_change(r, conference),
            "until": answers.editable_until(conference),
        },
        status_code=status_code,
    )


async def answers_form(request: Request) -> Response:
    r, conference, _position, _ticket = await by_token(request)
    return await _page(request, r, conference)


async def save_answers(request: Request) -> Response:
    r, conference, _position, _ticket = await by_token(request)
    try:
        await form_values(request)
    except FormRefused as exc:  # a control character: the form again as typed, saying where
        form = await request.form()
        async with database(request).read() as db:
            every = await all_questions(db)
        problems = {k.replace(".", "_"): v for k, v in (exc.fields or {}).items()}
        state = answers.form_state(answers.asked_of(every, r.ticket_type_id), form)
        return await _page(request, r, conference, answer_values=state, problems=problems, status_code=422)
    form = await request.form()
    async with database(request).read() as db:
        every = await all_questions(db)
    asked = answers.asked_of(every, r.ticket_type_id)
    given = answers.form_answers(asked, form, r.ticket_type_id)
    try:
        async with database(request).transaction() as db:
            await answers.change_answers(
                db, registration_id=r.id, given=given, actor=Actor("attendee", r.reference, r.id)
            )
    except errors.InvalidInput as exc:
        problems = {k.replace(".", "_"): v for k, v in (exc.fields or {}).items()}
        state = answers.form_state(asked, form)
        return await _page(request, r, conference, answer_values=state, problems=problems, status_code=422)
    except answers.AnswersClosed as exc:
        state = answers.form_state(asked, form)
        return await _page(
            request, r, conference, answer_values=state, problems={"form": exc.message}, status_code=409
        )
    back = request.url_for("manage", token=request.path_params["token"]).include_query_params(answers="saved")
    return RedirectResponse(str(back), 303)


routes = [
    Route("/manage/{token}/answers", answers_form, methods=["GET"], name="manage-answers"),
    Route("/manage/{token}/answers", save_answers, methods=["POST"], name="manage-answers-save"),
]
