"""Pages for speakers, reviewers and delegates: the call's public form, a proposal's private page (view, edit,
withdraw, confirm or decline), the reviewer's pages, and the delegate's talk stars on the manage pages.

They work without JavaScript. Forms carry the CSRF token (conference.pages.form_values checks it) and re-render
with an error summary that links to each field and keeps what was typed.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from conference.core import errors
from conference.core.audit import ANONYMOUS, Actor
from conference.core.models import SECTOR_LABELS
from conference.core.security import REVIEWER
from conference.pages.registration import by_token
from conference.web.forms import FLASH, done_message, done_redirect
from conference.web.request import database, rate_limit, settings, validate
from conference.web.templating import form_values, render
from sessions.call import call as calls
from sessions.call import proposals, review, stars
from sessions.models import (
    CRITERIA,
    CRITERIA_LABELS,
    FORMAT_LABELS,
    AudienceLevel,
    Proposal,
    ProposalCreate,
    ProposalStatus,
    ProposalUpdate,
    ReviewIn,
    StarsIn,
)

MAX_SPEAKERS = 3
SPEAKER_PARTS = {
    "name": "name",
    "email": "email address",
    "organisation": "organisation",
    "unavailable": "times they cannot do",
}
FIELD_ORDER = [
    "title",
    "abstract",
    "format",
    "duration_minutes",
    "themes",
    "audience_level",
    *[f"speaker_{i}_{part}" for i in range(MAX_SPEAKERS) for part in SPEAKER_PARTS],
    "sector",
    "access_needs",
]
FIELD_LABELS = {
    "title": "Title",
    "abstract": "Abstract",
    "format": "Format",
    "duration_minutes": "Length",
    "themes": "Themes",
    "audience_level": "Audience",
    "access_needs": "Access needs",
    "sector": "Your organisation's sector",
    **{
        f"speaker_{i}_{part}": f"Speaker {i + 1}'s {label}"
        for i in range(MAX_SPEAKERS)
        for part, label in SPEAKER_PARTS.items()
    },
}
AUDIENCE_LABELS = {
    AudienceLevel.introductory: "Introductory: new to the subject",
    AudienceLevel.intermediate: "Intermediate: some experience",
    AudienceLevel.advanced: "Advanced: specialists",
}
STATUS_TEXT = {
    ProposalStatus.submitted: "Submitted: reviewers will score it after the call closes",
    ProposalStatus.accepted: "Accepted: please confirm you will give it",
    ProposalStatus.confirmed: "Confirmed: it will be in the programme",
    ProposalStatus.declined: "Declined by the speakers",
    ProposalStatus.rejected: "Not accepted this year",
    ProposalStatus.withdrawn: "Withdrawn",
}
MESSAGES = {
    "saved": "Your changes are saved.",
    "withdrawn": "Your proposal is withdrawn.",
    "confirmed": "Thank you: your talk is confirmed.",
    "declined": "You have declined the talk.",
    "review_saved": "Your review is saved.",
}


def form_field(name: str) -> str:
    """An API field name (speakers.0.email, themes.2) as the form's field (speaker_0_email, themes)."""
    parts = name.split(".")
    if parts[0] == "speakers":
        index = parts[1] if len(parts) > 1 else "0"
        return f"speaker_{index}_{parts[2] if len(parts) > 2 else 'name'}"
    return parts[0]


def _ordered(problems: dict[str, str]) -> dict[str, str]:
    return {
        k: problems[k]
        for k in sorted(problems, key=lambda k: FIELD_ORDER.index(k) if k in FIELD_ORDER else 99)
    }


def _form_errors(exc: errors.InvalidInput) -> dict[str, str]:
    problems: dict[str, str] = {}
    for name, text in (exc.fields or {"title": exc.message}).items():
        problems.setdefault(form_field(name), text)
    return _ordered(problems)


def proposal_data(form: FormData) -> dict[str, Any]:
    """The form's fields as the API's body (a speaker counts when any of their fields is filled in)."""
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    data: dict[str, Any] = {
        k: values.get(k, "").strip() for k in ("title", "abstract", "format", "access_needs")
    }
    data["duration_minutes"] = values.get("duration_minutes", "").strip() or None
    data["audience_level"] = values.get("audience_level") or AudienceLevel.intermediate.value
    data["sector"] = values.get("sector", "").strip() or None  # optional: "" is "not given"
    data["themes"] = [t for t in form.getlist("themes") if isinstance(t, str)]
    speakers = []
    for i in range(MAX_SPEAKERS):
        fields = {
            part: values.get(f"speaker_{i}_{part}", "").strip() for part in ("name", "email", "organisation")
        }
        if i == 0 or any(fields.values()):
            speakers.append(
                {
                    **fields,
                    "unavailable": [
                        u for u in form.getlist(f"speaker_{i}_unavailable") if isinstance(u, str)
                    ],
                }
            )
    data["speakers"] = speakers
    return data


def form_values_of(form: FormData) -> dict[str, Any]:
    """What to put back in the form: single values as text, the checkbox groups as lists."""
    values: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    values["themes"] = form.getlist("themes")
    for i in range(MAX_SPEAKERS):
        values[f"speaker_{i}_unavailable"] = form.getlist(f"speaker_{i}_unavailable")
    return values


def values_of(p: Proposal, speakers: list[Any]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": p.title,
        "abstract": p.abstract,
        "format": p.format.value,
        "duration_minutes": str(p.duration_minutes),
        "themes": p.themes,
        "audience_level": p.audience_level.value,
        "access_needs": p.access_needs,
        "sector": p.sector.value if p.sector else "",
    }
    for s in speakers:
        values.update(
            {
                f"speaker_{s.position}_name": s.name,
                f"speaker_{s.position}_email": s.email,
                f"speaker_{s.position}_organisation": s.organisation,
                f"speaker_{s.position}_unavailable": s.unavailable_slots + s.unavailable_days,
            }
        )
    return values


async def _form_context(request: Request) -> dict[str, Any]:
    async with database(request).read() as db:
        conference, call = await calls.get_call(db)
        options = await calls.time_options(db, conference)
    days: dict[str, list[calls.TimeOption]] = {}
    for o in options:
        days.setdefault(o.day, []).append(o)
    durations = sorted({d for v in call.formats.values() for d in v})
    return {
        "conference": conference,
        "call": call,
        "open": calls.is_open(call),
        "days": days,
        "formats": {k: FORMAT_LABELS[k] for k in FORMAT_LABELS if k.value in call.formats},
        "durations": durations,
        "audiences": AUDIENCE_LABELS,
        "sectors": SECTOR_LABELS,
        "labels": FIELD_LABELS,
        "max_speakers": MAX_SPEAKERS,
    }


async def _render_form(
    request: Request,
    *,
    values: dict[str, Any],
    problems: dict[str, str],
    action: str,
    status_code: int = 200,
    editing: bool = False,
) -> Response:
    context = await _form_context(request)
    return render(
        request,
        "sessions/proposal_form.html",
        {**context, "values": values, "errors": problems, "action": action, "editing": editing},
        status_code=status_code,
    )


# --- the public form ---------------------------------------------------------------------------------------


async def call_page(request: Request) -> Response:
    return await _render_form(request, values={}, problems={}, action=str(request.url_for("call-submit")))


async def call_submit(request: Request) -> Response:
    await rate_limit(request).check(request, "proposals")
    await form_values(request)
    form = await request.form()
    action = str(request.url_for("call-submit"))
    try:
        data = ProposalCreate.model_validate(proposal_data(form))
        async with database(request).transaction() as db:
            _proposal, token = await proposals.submit_proposal(
                db, settings=settings(request), data=data, actor=ANONYMOUS
            )
    except ValidationError as exc:
        problems = _form_errors(errors.from_validation_error(exc))
        return await _render_form(
            request, values=form_values_of(form), problems=problems, action=action, status_code=422
        )
    except errors.InvalidInput as exc:
        return await _render_form(
            request, values=form_values_of(form), problems=_form_errors(exc), action=action, status_code=422
        )
    return RedirectResponse(request.url_for("proposal", token=token).include_query_params(new="1"), 303)


# --- the submitter's private page --------------------------------------------------------------------------


async def _by_token(request: Request) -> tuple[Proposal, Actor]:
    async with database(request).read() as db:
        p = await proposals.find_by_token(db, request.path_params["token"])
    if p is None:
        raise errors.NotFound("This proposal link is not valid. Check you copied all of it from the email.")
    return p, Actor("speaker", str(p.id)[:8], scope_id=p.id)


async def proposal_page(request: Request) -> Response:
    p, _actor = await _by_token(request)
    async with database(request).read() as db:
        speakers = (await proposals.speakers_of(db, [p.id]))[p.id]
        conference, call = await calls.get_call(db)
        options = {o.id: o.label for o in await calls.time_options(db, conference)}
    return render(
        request,
        "sessions/proposal.html",
        {
            "p": p,
            "speakers": speakers,
            "conference": conference,
            "call": call,
            "open": calls.is_open(call),
            "status_text": STATUS_TEXT[p.status],
            "formats": FORMAT_LABELS,
            "audiences": AUDIENCE_LABELS,
            "options": options,
            "token": request.path_params["token"],
            "new": request.query_params.get("new") == "1",
            "message": done_message(request, MESSAGES),
        },
    )


async def edit_page(request: Request) -> Response:
    p, _actor = await _by_token(request)
    async with database(request).read() as db:
        speakers = (await proposals.speakers_of(db, [p.id]))[p.id]
    return await _render_form(
        request,
        values=values_of(p, speakers),
        problems={},
        editing=True,
        action=str(request.url_for("proposal-edit", token=request.path_params["token"])),
    )


async def edit_submit(request: Request) -> Response:
    p, actor = await _by_token(request)
    await form_values(request)
    form = await request.form()
    token = request.path_params["token"]
    action = str(request.url_for("proposal-edit", token=token))
    try:
        data = ProposalUpdate.model_validate(proposal_data(form))
        async with database(request).transaction() as db:
            await proposals.update_proposal(db, proposal_id=p.id, data=data, actor=actor)
    except ValidationError as exc:
        problems = _form_errors(errors.from_validation_error(exc))
        return await _render_form(
            request,
            values=form_values_of(form),
            problems=problems,
            action=action,
            status_code=422,
            editing=True,
        )
    except errors.InvalidInput as exc:
        return await _render_form(
            request,
            values=form_values_of(form),
            problems=_form_errors(exc),
            action=action,
            status_code=422,
            editing=True,
        )
    return done_redirect(request.url_for("proposal", token=token), "saved")


async def _speaker_form(request: Request, what: str) -> Response:
    p, actor = await _by_token(request)
    await form_values(request)
    async with database(request).transaction() as db:
        if what == "withdrawn":
            await proposals.withdraw_proposal(db, proposal_id=p.id, actor=actor)
        else:
            await proposals.answer_acceptance(db, proposal_id=p.id, confirm=what == "confirmed", actor=actor)
    return done_redirect(request.url_for("proposal", token=request.path_params["token"]), what)


async def withdraw_form(request: Request) -> Response:
    return await _speaker_form(request, "withdrawn")


async def confirm_form(request: Request) -> Response:
    return await _speaker_form(request, "confirmed")


async def decline_form(request: Request) -> Response:
    return await _speaker_form(request, "declined")


# --- reviewers ---------------------------------------------------------------------------------------------


async def _reviewer(request: Request) -> tuple[Actor, uuid.UUID]:
    async with database(request).read() as db:
        r = await review.find_by_token(db, request.path_params["token"])
    if r is None:
        raise errors.NotFound("This review link is not valid, or the organisers have withdrawn it.")
    return Actor(REVIEWER, str(r.id)[:8], scope_id=r.id), r.id


async def review_home(request: Request) -> Response:
    _actor, reviewer_id = await _reviewer(request)
    async with database(request).read() as db:
        queue = await review.reviewer_queue(db, reviewer_id)
        conference, _call = await calls.get_call(db)
    return render(
        request,
        "sessions/review_list.html",
        {
            "conference": conference,
            "queue": queue,
            "token": request.path_params["token"],
            "formats": FORMAT_LABELS,
            "message": done_message(request, MESSAGES),
        },
    )


def _proposal_id(request: Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params["proposal_id"])
    except ValueError:
        raise errors.NotFound("No proposal has this id.") from None


async def _review_page(
    request: Request,
    reviewer_id: uuid.UUID,
    *,
    values: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    proposal_id = _proposal_id(request)
    async with database(request).read() as db:
        p = await proposals.get_proposal(db, proposal_id)
        if p.status not in review.REVIEWABLE:
            raise errors.NotFound("No proposal has this id.")
        conference, call = await calls.get_call(db)
        speakers = (await proposals.speakers_of(db, [p.id]))[p.id]
        own = (await review.reviews_by(db, reviewer_id)).get(p.id)
    shown = proposals.proposal_for_reviewer(p, speakers, anonymous=call.anonymous_review)
    if values is None:
        values = {c: str(getattr(own, c)) for c in CRITERIA} | {"comment": own.comment} if own else {}
    return render(
        request,
        "sessions/review_proposal.html",
        {
            "conference": conference,
            "p": shown,
            "token": request.path_params["token"],
            "values": values,
            "errors": problems or {},
            "criteria": CRITERIA_LABELS,
            "formats": FORMAT_LABELS,
            "reviewed": own is not None,
            "labels": {**CRITERIA_LABELS, "comment": "Comment"},
        },
        status_code=status_code,
    )


async def review_page(request: Request) -> Response:
    _actor, reviewer_id = await _reviewer(request)
    return await _review_page(request, reviewer_id)


async def review_submit(request: Request) -> Response:
    actor, reviewer_id = await _reviewer(request)
    values = await form_values(request)
    try:
        data = ReviewIn.model_validate(
            {**{c: values.get(c) or None for c in CRITERIA}, "comment": values.get("comment", "")}
        )
        async with database(request).transaction() as db:
            await review.save_review(
                db,
                reviewer_id=reviewer_id,
                proposal_id=_proposal_id(request),
                data=data,
                actor=actor,
            )
    except ValidationError as exc:
        fields = errors.from_validation_error(exc).fields or {}
        problems = {k: ("Choose a score from 1 to 5." if k in CRITERIA else v) for k, v in fields.items()}
        return await _review_page(request, reviewer_id, values=values, problems=problems, status_code=422)
    return done_redirect(request.url_for("review-home", token=request.path_params["token"]), "review_saved")


# --- delegates' stars --------------------------------------------------------------------------------------


async def talks_page(request: Request) -> Response:
    r, conf, _position, _ticket = await by_token(request)
    async with database(request).read() as db:
        talks = await stars.starrable(db)
        mine = {p.id for p in await stars.stars_of(db, r.id)}
        speakers = await proposals.speakers_of(db, [p.id for p in talks])
    return render(
        request,
        "sessions/talks.html",
        {
            "r": r,
            "conference": conf,
            "talks": talks,
            "mine": mine,
            "speakers": speakers,
            "formats": FORMAT_LABELS,
            "token": request.path_params["token"],
            "saved": request.query_params.get(FLASH) == "saved",
        },
    )


async def talks_submit(request: Request) -> Response:
    r, _conf, _position, _ticket = await by_token(request)
    await form_values(request)
    form = await request.form()
    chosen = [v for v in form.getlist("proposal_id") if isinstance(v, str)]
    async with database(request).transaction() as db:
        await stars.set_stars(
            db,
            registration_id=r.id,
            data=validate(StarsIn, {"proposal_ids": chosen}),  # 422 for a value no checkbox has
            actor=Actor("attendee", r.reference, r.id),
        )
    return done_redirect(request.url_for("talks", token=request.path_params["token"]), "saved")


routes = [
    Route("/call", call_page, methods=["GET"], name="call"),
    Route("/call", call_submit, methods=["POST"], name="call-submit"),
    Route("/proposal/{token}", proposal_page, methods=["GET"], name="proposal"),
    Route("/proposal/{token}/edit", edit_page, methods=["GET"], name="proposal-edit-form"),
    Route("/proposal/{token}/edit", edit_submit, methods=["POST"], name="proposal-edit"),
    Route("/proposal/{token}/withdraw", withdraw_form, methods=["POST"], name="proposal-withdraw"),
    Route("/proposal/{token}/confirm", confirm_form, methods=["POST"], name="proposal-confirm"),
    Route("/proposal/{token}/decline", decline_form, methods=["POST"], name="proposal-decline"),
    Route("/review/{token}", review_home, methods=["GET"], name="review-home"),
    Route("/review/{token}/proposals/{proposal_id}", review_page, methods=["GET"], name="review-proposal"),
    Route("/review/{token}/proposals/{proposal_id}", review_submit, methods=["POST"], name="review-submit"),
    Route("/manage/{token}/talks", talks_page, methods=["GET"], name="talks"),
    Route("/manage/{token}/talks", talks_submit, methods=["POST"], name="talks-submit"),
]
