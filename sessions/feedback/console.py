"""The organisers' feedback pages: the questions (add, edit, reorder, deactivate), the results per session with
their distributions, one session's results with its comments, and the CSV export. Organisers only. Nothing on them
says who answered: see results.py and export.py.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference.console.login import require_console
from conference.core import errors
from conference.core.audit import Actor
from conference.places import get_conference
from conference.web.forms import Action, act, done_message, show_again
from conference.web.request import database
from conference.web.templating import render
from sessions.feedback import export, questions, results, window
from sessions.models.feedback import AppliesTo, QuestionKind

DONE = {
    "added": "The question is added to the feedback forms.",
    "edited": "The question is saved.",
    "moved": "The questions' order is saved.",
    "deactivated": "The question is no longer asked; its answers stay in the results.",
    "reactivated": "The question is asked again.",
}


async def feedback_page(
    request: Request,
    *,
    problems: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    await require_console(request, "organiser")
    async with database(request).read() as db:
        conference = await get_conference(db)
        assert conference.id is not None
        every = await questions.all_questions(db, conference.id)
        summary = await results.summaries(db, conference)
    return render(
        request,
        "sessions/console_feedback.html",
        {
            "conference": conference,
            "questions": every,
            "summary": summary,
            "kinds": questions.KIND_LABELS,
            "kind_options": [(k.value, label) for k, label in questions.KIND_LABELS.items()],
            "applies": questions.APPLIES_LABELS,
            "values": values or {"kind": QuestionKind.rating.value, "applies_to": AppliesTo.both.value},
            "errors": problems or {},
            "message": done_message(request, DONE),
            "closes_at": window.closes_at(conference.ends_at),
            "edit_days": window.EDIT_DAYS,
            "minimum": results.SPEAKER_MIN_ANSWERS,
        },
        status_code=status_code,
    )


async def _act(request: Request, action: Action) -> Response:
    actor = await require_console(request, "organiser", back="/console/feedback")
    return await act(
        request, action, actor=actor, back="/console/feedback", on_error=show_again(request, feedback_page)
    )


def _question_id(request: Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params["question_id"])
    except ValueError:
        raise errors.NotFound("No feedback question has this id.") from None


async def _conference_id(db: AsyncSession) -> int:
    conference = await get_conference(db)
    assert conference.id is not None
    return conference.id


async def add_question(request: Request) -> Response:
    async def action(db: AsyncSession, v: dict[str, str], actor: Actor) -> str:
        await questions.add_question(
            db,
            conference_id=await _conference_id(db),
            text=v.get("text", ""),
            kind=v.get("kind", ""),
            applies_to=v.get("applies_to", ""),
            actor=actor,
        )
        return "added"

    return await _act(request, action)


async def edit_question(request: Request) -> Response:
    await require_console(request, "organiser", back="/console/feedback")
    question_id = _question_id(request)

    async def action(db: AsyncSession, v: dict[str, str], actor: Actor) -> str:
        # The fields are named after the question (text-<id>), so a refusal stands beside the right question.
        try:
            await questions.edit_question(
                db,
                conference_id=await _conference_id(db),
                question_id=question_id,
                text=v.get(f"text-{question_id}", ""),
                applies_to=v.get(f"applies_to-{question_id}", ""),
                actor=actor,
            )
        except errors.InvalidInput as exc:
            fields = {f"{name}-{question_id}": text for name, text in (exc.fields or {}).items()}
            raise errors.InvalidInput(fields=fields) from None
        return "edited"

    return await _act(request, action)


async def move_question(request: Request) -> Response:
    await require_console(request, "organiser", back="/console/feedback")
    question_id = _question_id(request)

    async def action(db: AsyncSession, v: dict[str, str], actor: Actor) -> str:
        await questions.move_question(
            db,
            conference_id=await _conference_id(db),
            question_id=question_id,
            up=v.get("direction") != "down",
            actor=actor,
        )
        return "moved"

    return await _act(request, action)


async def activate_question(request: Request) -> Response:
    await require_console(request, "organiser", back="/console/feedback")
    question_id = _question_id(request)

    async def action(db: AsyncSession, v: dict[str, str], actor: Actor) -> str:
        active = v.get("active") == "yes"
        await questions.set_active(
            db, conference_id=await _conference_id(db), question_id=question_id, active=active, actor=actor
        )
        return "reactivated" if active else "deactivated"

    return await _act(request, action)


async def target_page(request: Request) -> Response:
    await require_console(request, "organiser")
    async with database(request).read() as db:
        conference = await get_conference(db)
        info = await results.target_info(db, conference, request.path_params["target"])
        if info is None:
            raise errors.NotFound("There is no session with this id.")
        result = await results.target_result(db, conference, info)
    return render(
        request,
        "sessions/console_feedback_target.html",
        {"conference": conference, "result": result, "rating_kind": QuestionKind.rating},
    )


async def feedback_csv(request: Request) -> Response:
    actor = await require_console(request, "organiser")
    async with database(request).transaction() as db:
        conference = await get_conference(db)
        body = await export.feedback_csv(db, conference, actor=actor)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="feedback.csv"', "cache-control": "no-store"},
    )


routes = [
    Route("/console/feedback", feedback_page, methods=["GET"], name="console-feedback"),
    Route("/console/feedback.csv", feedback_csv, methods=["GET"], name="console-feedback-csv"),
    Route("/console/feedback/questions", add_question, methods=["POST"], name="console-feedback-add"),
    Route(
        "/console/feedback/questions/{question_id}",
        edit_question,
        methods=["POST"],
        name="console-feedback-edit",
    ),
    Route(
        "/console/feedback/questions/{question_id}/move",
        move_question,
        methods=["POST"],
        name="console-feedback-move",
    ),
    Route(
        "/console/feedback/questions/{question_id}/active",
        activate_question,
        methods=["POST"],
        name="console-feedback-active",
    ),
    Route("/console/feedback/{target}", target_page, methods=["GET"], name="console-feedback-target"),
]
