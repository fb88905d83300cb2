"""Feedback pages for delegates (from their manage link) and speakers (from their proposal link).

Delegates: /manage/{token}/feedback lists what they can rate (the sessions they were checked in to, and the
event as a whole) with what they have done; /manage/{token}/feedback/{target} is the form, or their answer
read-only once the week to change it is over. A session they were not at answers a clear 403 page; a refused
form names each field and keeps what was typed, and nothing is stored. Speakers: /proposal/{token}/feedback,
their own sessions' results without names, once at least results.SPEAKER_MIN_ANSWERS people have answered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference.core import errors
from conference.core.models import Conference, Registration, utcnow
from conference.pages.registration import by_token
from conference.places import get_conference
from conference.web.forms import NOT_THE_FORMS_FAULT, done_message, done_redirect
from conference.web.request import database, rate_limit
from conference.web.templating import FormRefused, form_values, render
from sessions.call import proposals
from sessions.feedback import answers, results, window
from sessions.feedback.questions import all_questions, asked_about
from sessions.models.feedback import RATING_MAX, RATING_MIN, FeedbackAnswer, QuestionKind

DONE = {
    "given": "Thank you: your feedback is saved.",
    "changed": "Your feedback is changed.",
}
ANONYMITY = (
    "Your answers are shown to the organisers and to the session's speakers without your name, email or booking "
    "reference. Comments are shown as you write them, so leave out anything that would say who you are."
)
RATING_LABELS = {1: "1 – poor", 2: "2", 3: "3 – fair", 4: "4", 5: "5 – excellent"}


def _state(
    target: answers.Target, answer: FeedbackAnswer | None, conference: Conference, now: datetime
) -> str:
    if answer is not None:
        return "editable" if window.is_editable(answer.created_at, conference.ends_at, now) else "read_only"
    if now < target.opens_at:
        return "not_open"
    return "todo" if window.is_open(target.opens_at, conference.ends_at, now) else "closed"


async def feedback_list(request: Request) -> Response:
    r, conf, _position, _ticket = await by_token(request)
    now = utcnow()
    async with database(request).read() as db:
        rateable = await answers.rateable_targets(db, conf, r.id)
        given = await answers.answers_of(db, r.id)
    rows = [
        {
            "target": t,
            "answer": given.get(t.key),
            "state": _state(t, given.get(t.key), conf, now),
            "until": window.editable_until(given[t.key].created_at, conf.ends_at) if t.key in given else None,
        }
        for t in rateable
    ]
    return render(
        request,
        "sessions/feedback_list.html",
        {
            "r": r,
            "conference": conf,
            "rows": rows,
            "token": request.path_params["token"],
            "closes_at": window.closes_at(conf.ends_at),
            "closed": now >= window.closes_at(conf.ends_at),
            "edit_days": window.EDIT_DAYS,
            "anonymity": ANONYMITY,
            "message": done_message(request, DONE),
        },
    )


def _values_of(answer: FeedbackAnswer) -> dict[str, str]:
    values = {"rating": str(answer.rating), "comment": answer.comment}
    values.update({f"{answers.QUESTION_FIELD}{k}": str(v) for k, v in answer.answers.items()})
    return values


def _refused(request: Request, conf: Conference, exc: errors.DomainError, target_title: str = "") -> Response:
    return render(
        request,
        "sessions/feedback_refused.html",
        {
            "conference": conf,
            "token": request.path_params["token"],
            "problem": exc.message,
            "title": target_title,
            "not_attended": isinstance(exc, answers.NotAttended),
        },
        status_code=exc.status_code,
    )


async def _form(
    request: Request,
    r: Registration,
    conf: Conference,
    *,
    problems: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    notice: str = "",
    status_code: int = 200,
) -> Response:
    now = utcnow()
    assert conf.id is not None
    async with database(request).read() as db:
        try:
            target = await answers.find_target(db, conf, r.id, request.path_params["target"])
        except answers.NotAttended as exc:
            return _refused(request, conf, exc)
        existing = (await answers.answers_of(db, r.id)).get(target.key)
        every = await all_questions(db, conf.id)
    if existing is None:
        try:
            answers.check_open(target, conf, now)
        except answers.FeedbackNotOpen as exc:
            return _refused(request, conf, exc, target.title)
    read_only = existing is not None and not window.is_editable(existing.created_at, conf.ends_at, now)
    asked = asked_about(every, target.key)
    if read_only and existing is not None:
        # What was answered, including questions since deactivated.
        shown = [q for q in every if str(q.id) in existing.answers]
    else:
        shown = asked
    return render(
        request,
        "sessions/feedback_form.html",
        {
            "r": r,
            "conference": conf,
            "target": target,
            "questions": shown,
            "rating_kind": QuestionKind.rating,
            "answer": existing,
            "read_only": read_only,
            "until": window.editable_until(existing.created_at, conf.ends_at) if existing else None,
            "edit_days": window.EDIT_DAYS,
            "values": values if values is not None else (_values_of(existing) if existing else {}),
            "errors": problems or {},
            "labels": {
                "rating": "Your rating",
                "comment": "Comment",
                "form": "The form",
                **{f"{answers.QUESTION_FIELD}{q.id}": q.text for q in shown},
            },
            "ratings": [(str(n), RATING_LABELS[n]) for n in range(RATING_MIN, RATING_MAX + 1)],
            "token": request.path_params["token"],
            "anonymity": ANONYMITY,
            "notice": notice,
            "comment_max": answers.COMMENT_MAX,
            "text_max": answers.TEXT_ANSWER_MAX,
        },
        status_code=status_code,
    )


async def feedback_form(request: Request) -> Response:
    r, conf, _position, _ticket = await by_token(request)
    return await _form(request, r, conf)


async def feedback_submit(request: Request) -> Response:
    r, conf, _position, _ticket = await by_token(request)
    await rate_limit(request).check(request, "feedback")
    values: dict[str, str] = {}
    try:
        try:
            values = await form_values(request)
        except FormRefused as exc:
            values = exc.values
            raise
        async with database(request).transaction() as db:
            _answer, new = await answers.submit_answer(
                db,
                conference=conf,
                registration_id=r.id,
                target=request.path_params["target"],
                values=values,
            )
    except (answers.NotAttended, answers.FeedbackNotOpen) as exc:
        return _refused(request, conf, exc)
    except NOT_THE_FORMS_FAULT:
        raise
    except (answers.AnswerLocked, answers.AlreadyAnswered) as exc:
        return await _form(request, r, conf, notice=exc.message, status_code=exc.status_code)
    except errors.NotFound:
        raise
    except errors.DomainError as exc:
        problems = dict(exc.fields or {"form": exc.message})
        return await _form(request, r, conf, problems=problems, values=values, status_code=exc.status_code)
    return done_redirect(
        request.url_for("feedback", token=request.path_params["token"]), "given" if new else "changed"
    )


# --- speakers -------------------------------------------------------------------------------------------------


async def speaker_feedback(request: Request) -> Response:
    async with database(request).read() as db:
        p = await proposals.find_by_token(db, request.path_params["token"])
        if p is None:
            raise errors.NotFound(
                "This proposal link is not valid. Check you copied all of it from the email."
            )
        conf = await get_conference(db)
        sessions = await results.speaker_sessions(db, p.id)
        found: list[dict[str, Any]] = []
        for info in sessions:
            result = await results.target_result(db, conf, info)
            found.append({"result": result, "shown": result.ratings.count >= results.SPEAKER_MIN_ANSWERS})
    return render(
        request,
        "sessions/feedback_speaker.html",
        {
            "p": p,
            "conference": conf,
            "sessions": found,
            "minimum": results.SPEAKER_MIN_ANSWERS,
            "rating_kind": QuestionKind.rating,
            "token": request.path_params["token"],
        },
    )


routes = [
    Route("/manage/{token}/feedback", feedback_list, methods=["GET"], name="feedback"),
    Route("/manage/{token}/feedback/{target}", feedback_form, methods=["GET"], name="feedback-form"),
    Route("/manage/{token}/feedback/{target}", feedback_submit, methods=["POST"], name="feedback-submit"),
    Route("/proposal/{token}/feedback", speaker_feedback, methods=["GET"], name="proposal-feedback"),
]
