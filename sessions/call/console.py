"""The organisers' pages for the call for talks: its settings, the proposals with their scores (sortable, with
single and bulk decisions), one proposal with its reviews, and the reviewers.

Organisers only (staff get 403, anonymous browsers go to /login). Forms run through conference/web/forms.py's
`act`: a refused change shows the page again with its status code and the problems; a done change redirects
(303) back with `?done=<what>`, whose sentence in DONE the page shows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference.console.login import require_console
from conference.core import errors
from conference.core.audit import Actor
from conference.web.forms import Action, Done, FormPage, act, done_message, show_again
from conference.web.request import database, settings
from conference.web.templating import render
from sessions.call import call as calls
from sessions.call import proposals, review, stars
from sessions.models import (
    CRITERIA_LABELS,
    FORMAT_LABELS,
    CallUpdate,
    Decision,
    ProposalFormat,
    ProposalStatus,
    ReviewerInvite,
)

SORT_LABELS = {
    "mean": "Mean score",
    "reviews": "Reviews",
    "disagreement": "Disagreement (SD)",
    "range": "Range",
    "stars": "Stars",
    "submitted": "Submitted",
    "title": "Title",
}
DONE = {
    "saved": "The call's settings are saved.",
    "accepted": "Proposals accepted: {count}; the speakers are emailed.",
    "rejected": "Proposals rejected: {count}; the speakers are emailed.",
    "proposal_accepted": "Proposal accepted; the speakers are emailed.",
    "proposal_rejected": "Proposal rejected; the speakers are emailed.",
    "invited": "The reviewer is invited; their private review link is on its way.",
    "revoked": "The reviewer's link no longer works; their reviews are kept.",
}


async def _organiser(request: Request) -> Actor:
    return await require_console(request, "organiser")


async def _act(request: Request, action: Action, page: FormPage, back: str) -> Response:
    """Run one form's change; back to the page at `back`, or `page` again with the problems."""
    actor = await require_console(request, "organiser", back=back)
    return await act(request, action, actor=actor, back=back, on_error=show_again(request, page))


# --- the call ----------------------------------------------------------------------------------------------


def _local_input(value: datetime | None, zone: str) -> str:
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M") if value else ""


async def call_page(
    request: Request,
    *,
    problems: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    await _organiser(request)
    async with database(request).read() as db:
        conference, call = await calls.get_call(db)
    if values is None:
        values = {
            "opens_at": _local_input(call.opens_at, conference.timezone),
            "closes_at": _local_input(call.closes_at, conference.timezone),
            "themes": "\n".join(call.themes),
            "anonymous_review": "yes" if call.anonymous_review else "",
            **{
                f"durations_{f.value}": ", ".join(str(d) for d in call.formats.get(f.value, []))
                for f in ProposalFormat
            },
        }
    return render(
        request,
        "sessions/console_call.html",
        {
            "conference": conference,
            "call": call,
            "open": calls.is_open(call),
            "values": values,
            "errors": problems or {},
            "formats": FORMAT_LABELS,
            "message": done_message(request, DONE),
        },
        status_code=status_code,
    )


def _parse_call_form(v: dict[str, str], zone: str) -> CallUpdate:
    problems: dict[str, str] = {}
    moments: dict[str, datetime | None] = {}
    for name in ("opens_at", "closes_at"):
        raw = v.get(name, "").strip()
        try:
            moments[name] = datetime.fromisoformat(raw).replace(tzinfo=ZoneInfo(zone)) if raw else None
        except ValueError:
            problems[name] = "Give a date and time, e.g. 2026-09-01 09:00."
    formats: dict[str, list[int]] = {}
    for f in ProposalFormat:
        raw = v.get(f"durations_{f.value}", "").strip()
        if raw:
            try:
                formats[f.value] = [int(x) for x in raw.replace(" ", "").split(",") if x]
            except ValueError:
                problems[f"durations_{f.value}"] = (
                    "Give minutes as whole numbers separated by commas, e.g. 20, 30."
                )
    if problems:
        raise errors.InvalidInput(fields=problems)
    themes = [t.strip() for t in v.get("themes", "").splitlines() if t.strip()]
    try:
        return CallUpdate.model_validate(
            {
                **moments,
                "themes": themes,
                "formats": formats,
                "anonymous_review": v.get("anonymous_review") == "yes",
            }
        )
    except ValidationError as exc:
        fields = errors.from_validation_error(exc).fields or {}
        raise errors.InvalidInput(
            fields={
                ("durations_talk" if k.startswith("formats") else k.split(".")[0]): text
                for k, text in fields.items()
            }
        ) from None


async def save_call(request: Request) -> Response:
    async def action(db: AsyncSession, v: dict[str, str], actor: Actor) -> str:
        conference, _call = await calls.get_call(db)
        await calls.update_call(db, data=_parse_call_form(v, conference.timezone), actor=actor)
        return "saved"

    return await _act(request, action, call_page, "/console/call")


# --- proposals ---------------------------------------------------------------------------------------------


async def proposals_page(
    request: Request,
    *,
    problems: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    await _organiser(request)
    status = request.query_params.get("status", "")
    if status and status not in {s.value for s in ProposalStatus}:
        status = ""
    sort = request.query_params.get("sort", "mean")
    sort = sort if sort in review.SORTS else "mean"
    order = "asc" if request.query_params.get("order") == "asc" else "desc"
    async with database(request).read() as db:
        conference, call = await calls.get_call(db)
        rows = await review.proposals_with_scores(
            db, status=ProposalStatus(status) if status else None, sort=sort, descending=order == "desc"
        )

    def sort_url(key: str) -> str:
        flip = "asc" if key == sort and order == "desc" else "desc"
        return "/console/proposals?" + urlencode(
            {k: v for k, v in (("status", status), ("sort", key), ("order", flip)) if v}
        )

    return render(
        request,
        "sessions/console_proposals.html",
        {
            "conference": conference,
            "call": call,
            "open": calls.is_open(call),
            "rows": rows,
            "status": status,
            "sort": sort,
            "order": order,
            "sort_url": sort_url,
            "sorts": SORT_LABELS,
            "statuses": [s.value for s in ProposalStatus],
            "errors": problems or {},
            "formats": {k.value: v for k, v in FORMAT_LABELS.items()},
            "message": done_message(request, DONE),
        },
        status_code=status_code,
    )


def _ids(values: list[str]) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(v) for v in values]
    except ValueError:
        raise errors.InvalidInput(fields={"proposal_ids": "Choose proposals from the list."}) from None


async def bulk_decision(request: Request) -> Response:
    async def action(db: AsyncSession, v: dict[str, str], actor: Actor) -> Done:
        chosen = [v for v in (await request.form()).getlist("proposal_id") if isinstance(v, str)]
        if not chosen:
            raise errors.InvalidInput(fields={"proposal_ids": "Tick at least one proposal."})
        decision = Decision(v["decision"]) if v.get("decision") in {"accept", "reject"} else None
        if decision is None:
            raise errors.InvalidInput(fields={"decision": "Choose accept or reject."})
        done = await proposals.decide_proposals(
            db, settings=settings(request), proposal_ids=_ids(chosen), decision=decision, actor=actor
        )
        return Done(f"{decision.value}ed", {"count": str(len(done))})

    return await _act(request, action, proposals_page, "/console/proposals")


async def proposal_page(
    request: Request,
    *,
    problems: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    await _organiser(request)
    proposal_id = request.path_params["proposal_id"]
    async with database(request).read() as db:
        p = await proposals.get_proposal(db, proposal_id)
        speakers = (await proposals.speakers_of(db, [p.id]))[p.id]
        conference, _call = await calls.get_call(db)
        options = {o.id: o.label for o in await calls.time_options(db, conference)}
        reviews = await review.reviews_of(db, p.id)
        starred = (await stars.star_counts(db, [p.id])).get(p.id, 0)
    return render(
        request,
        "sessions/console_proposal.html",
        {
            "conference": conference,
            "p": p,
            "speakers": speakers,
            "options": options,
            "reviews": reviews,
            "scores": review.aggregate([r for r, _ in reviews]).public(),
            "criteria": CRITERIA_LABELS,
            "score_of": review.review_score,
            "stars": starred,
            "formats": FORMAT_LABELS,
            "errors": problems or {},
            "message": done_message(request, DONE),
        },
        status_code=status_code,
    )


async def decide_one(request: Request) -> Response:
    proposal_id = request.path_params["proposal_id"]

    async def action(db: AsyncSession, v: dict[str, str], actor: Actor) -> str:
        if v.get("decision") not in {"accept", "reject"}:
            raise errors.InvalidInput(fields={"decision": "Choose accept or reject."})
        decision = Decision(v["decision"])
        await proposals.decide_proposals(
            db, settings=settings(request), proposal_ids=[proposal_id], decision=decision, actor=actor
        )
        return f"proposal_{decision.value}ed"

    return await _act(request, action, proposal_page, f"/console/proposals/{proposal_id}")


# --- reviewers ---------------------------------------------------------------------------------------------


async def reviewers_page(
    request: Request,
    *,
    problems: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    await _organiser(request)
    async with database(request).read() as db:
        conference, call = await calls.get_call(db)
        rows = await review.reviewers_with_counts(db)
    return render(
        request,
        "sessions/console_reviewers.html",
        {
            "conference": conference,
            "call": call,
            "rows": rows,
            "values": values or {},
            "errors": problems or {},
            "message": done_message(request, DONE),
        },
        status_code=status_code,
    )


async def invite_reviewer(request: Request) -> Response:
    async def action(db: AsyncSession, v: dict[str, str], actor: Actor) -> str:
        try:
            data = ReviewerInvite.model_validate({"name": v.get("name", ""), "email": v.get("email", "")})
        except ValidationError as exc:
            raise errors.from_validation_error(exc) from None
        await review.invite_reviewer(db, settings=settings(request), data=data, actor=actor)
        return "invited"

    return await _act(request, action, reviewers_page, "/console/reviewers")


async def revoke_reviewer(request: Request) -> Response:
    reviewer_id = request.path_params["reviewer_id"]

    async def action(db: AsyncSession, v: dict[str, str], actor: Actor) -> str:
        await review.revoke_reviewer(db, reviewer_id=reviewer_id, actor=actor)
        return "revoked"

    return await _act(request, action, reviewers_page, "/console/reviewers")


routes = [
    Route("/console/call", call_page, methods=["GET"], name="console-call"),
    Route("/console/call", save_call, methods=["POST"], name="console-call-save"),
    Route("/console/proposals", proposals_page, methods=["GET"], name="console-proposals"),
    Route("/console/proposals/decisions", bulk_decision, methods=["POST"], name="console-proposals-decide"),
    Route("/console/proposals/{proposal_id:uuid}", proposal_page, methods=["GET"], name="console-proposal"),
    Route(
        "/console/proposals/{proposal_id:uuid}/decision",
        decide_one,
        methods=["POST"],
        name="console-proposal-decide",
    ),
    Route("/console/reviewers", reviewers_page, methods=["GET"], name="console-reviewers"),
    Route("/console/reviewers", invite_reviewer, methods=["POST"], name="console-reviewer-invite"),
    Route(
        "/console/reviewers/{reviewer_id:uuid}/revoke",
        revoke_reviewer,
        methods=["POST"],
        name="console-reviewer-revoke",
    ),
]
