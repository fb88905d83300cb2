"""JSON endpoints for the call for talks, review, decisions and delegates' stars (docs/api.md, "Call for talks")."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conference.core import audit, errors
from conference.core.audit import ANONYMOUS, Actor
from conference.core.security import REVIEWER
from conference.web.auth import require, require_registration_access
from conference.web.request import (
    caller,
    database,
    path_uuid,
    rate_limit,
    read_json,
    settings,
    validate,
)
from sessions.call import call as calls
from sessions.call import proposals, review, stars
from sessions.models import (
    CallUpdate,
    Decision,
    DecisionBulk,
    Proposal,
    ProposalCreate,
    ProposalStatus,
    ProposalUpdate,
    ReviewerInvite,
    ReviewIn,
    StarsIn,
)


async def _reviewer(request: Request) -> tuple[Actor, uuid.UUID]:
    """The calling reviewer, and their reviewer id."""
    actor = await caller(request)
    require(actor, REVIEWER)
    assert actor.scope_id is not None
    return actor, actor.scope_id


def require_speaker(actor: Actor, proposal_id: uuid.UUID, *roles: str) -> None:
    """The holder of this proposal's private link, or one of `roles`."""
    if actor.kind == "speaker" and actor.scope_id == proposal_id:
        return
    if actor.kind == "speaker":
        raise errors.Forbidden("This link gives access to a different proposal.")
    require(actor, *roles)


# --- the call ----------------------------------------------------------------------------------------------


async def _call_body(db: AsyncSession) -> dict[str, Any]:
    conference, call = await calls.get_call(db)
    return calls.call_public(conference, call, await calls.time_options(db, conference))


async def get_call(request: Request) -> Response:
    async with database(request).read() as db:
        return JSONResponse(await _call_body(db))


async def patch_call(request: Request) -> Response:
    actor = await caller(request, "organiser")
    data = validate(CallUpdate, await read_json(request))
    async with database(request).transaction() as db:
        await calls.update_call(db, data=data, actor=actor)
        body = await _call_body(db)
    return JSONResponse(body)


def talk_public(p: Proposal, speakers: list[Any]) -> dict[str, Any]:
    # Speakers are named publicly only once they have confirmed.
    named = p.status == ProposalStatus.confirmed
    return {
        "id": str(p.id),
        "title": p.title,
        "abstract": p.abstract,
        "format": p.format.value,
        "duration_minutes": p.duration_minutes,
        "themes": p.themes,
        "audience_level": p.audience_level.value,
        "status": p.status.value,
        "speakers": [{"name": s.name, "organisation": s.organisation} for s in speakers] if named else [],
    }


async def list_talks(request: Request) -> Response:
    async with database(request).read() as db:
        talks = await stars.starrable(db)
        speakers = await proposals.speakers_of(db, [p.id for p in talks])
    data = [talk_public(p, speakers[p.id]) for p in talks]
    return JSONResponse({"data": data, "count": len(data)})


# --- proposals ---------------------------------------------------------------------------------------------


async def create_proposal(request: Request) -> Response:
    await rate_limit(request).check(request, "proposals")
    data = validate(ProposalCreate, await read_json(request))
    async with database(request).transaction() as db:
        proposal, token = await proposals.submit_proposal(
            db, settings=settings(request), data=data, actor=ANONYMOUS
        )
    return JSONResponse(
        {"id": str(proposal.id), "status": proposal.status.value, "edit_token": token}, status_code=201
    )


async def list_proposals(request: Request) -> Response:
    actor = await caller(request, "organiser")
    status = request.query_params.get("status")
    if status is not None and status not in {s.value for s in ProposalStatus}:
        raise errors.InvalidInput(
            fields={"status": "Use one of: " + ", ".join(s.value for s in ProposalStatus) + "."}
        )
    sort = request.query_params.get("sort", "mean")
    if sort not in review.SORTS:
        raise errors.InvalidInput(fields={"sort": "Use one of: " + ", ".join(review.SORTS) + "."})
    order = request.query_params.get("order", "desc")
    if order not in {"asc", "desc"}:
        raise errors.InvalidInput(fields={"order": "Use asc or desc."})
    async with database(request).read() as db:
        rows = await review.proposals_with_scores(
            db, status=ProposalStatus(status) if status else None, sort=sort, descending=order == "desc"
        )
    async with database(request).transaction() as db:
        await audit.record(db, "sessions.proposals.listed", actor=actor, count=len(rows), status=status or "")
    return JSONResponse({"data": rows, "count": len(rows)})


async def get_proposal(request: Request) -> Response:
    proposal_id = path_uuid(request, "proposal_id")
    actor = await caller(request)
    async with database(request).read() as db:
        if actor.kind == REVIEWER:
            p = await proposals.get_proposal(db, proposal_id)
            if p.status not in review.REVIEWABLE:
                raise errors.NotFound("No proposal has this id.")
            _, call = await calls.get_call(db)
            speakers = (await proposals.speakers_of(db, [p.id]))[p.id]
            assert actor.scope_id is not None
            own = (await review.reviews_by(db, actor.scope_id)).get(p.id)
            return JSONResponse(
                {
                    **proposals.proposal_for_reviewer(p, speakers, anonymous=call.anonymous_review),
                    "my_review": review.review_public(own) if own else None,
                }
            )
        require_speaker(actor, proposal_id, "organiser")
        p = await proposals.get_proposal(db, proposal_id)
        body = proposals.proposal_public(p, (await proposals.speakers_of(db, [p.id]))[p.id])
        _, call = await calls.get_call(db)
        body["editable"] = p.status == ProposalStatus.submitted and calls.is_open(call)
        if actor.kind == "organiser":
            reviews = await review.reviews_of(db, p.id)
            body["scores"] = review.aggregate([r for r, _ in reviews]).public()
            body["reviews"] = [
                {**review.review_public(r), "reviewer": {"id": str(who.id), "name": who.name}}
                for r, who in reviews
            ]
            body["stars"] = (await stars.star_counts(db, [p.id])).get(p.id, 0)
    return JSONResponse(body)


async def _own_proposal_body(db: AsyncSession, proposal_id: uuid.UUID) -> dict[str, Any]:
    p = await proposals.get_proposal(db, proposal_id)
    return proposals.proposal_public(p, (await proposals.speakers_of(db, [p.id]))[p.id])


async def patch_proposal(request: Request) -> Response:
    proposal_id = path_uuid(request, "proposal_id")
    actor = await caller(request)
    require_speaker(actor, proposal_id)
    data = validate(ProposalUpdate, await read_json(request))
    async with database(request).transaction() as db:
        await proposals.update_proposal(db, proposal_id=proposal_id, data=data, actor=actor)
        body = await _own_proposal_body(db, proposal_id)
    return JSONResponse(body)


async def _speaker_action(request: Request, action: str) -> Response:
    proposal_id = path_uuid(request, "proposal_id")
    actor = await caller(request)
    require_speaker(actor, proposal_id)
    async with database(request).transaction() as db:
        if action == "withdraw":
            await proposals.withdraw_proposal(db, proposal_id=proposal_id, actor=actor)
        else:
            await proposals.answer_acceptance(
                db, proposal_id=proposal_id, confirm=action == "confirm", actor=actor
            )
        body = await _own_proposal_body(db, proposal_id)
    return JSONResponse(body)


async def withdraw_proposal(request: Request) -> Response:
    return await _speaker_action(request, "withdraw")


async def confirm_proposal(request: Request) -> Response:
    return await _speaker_action(request, "confirm")


async def decline_proposal(request: Request) -> Response:
    return await _speaker_action(request, "decline")


async def _decide(
    request: Request, ids: list[uuid.UUID], decision: Decision, actor: Actor
) -> list[dict[str, Any]]:
    async with database(request).transaction() as db:
        decided = await proposals.decide_proposals(
            db, settings=settings(request), proposal_ids=ids, decision=decision, actor=actor
        )
    return [{"id": str(p.id), "status": p.status.value} for p in decided]


async def _decide_one(request: Request, decision: Decision) -> Response:
    proposal_id = path_uuid(request, "proposal_id")
    actor = await caller(request, "organiser")
    try:
        decided = await _decide(request, [proposal_id], decision, actor)
    except errors.InvalidInput:
        # The bulk form names an unknown id as a field (422); here the id is the address: 404.
        raise errors.NotFound("No proposal has this id.") from None
    return JSONResponse(decided[0])


async def accept_proposal(request: Request) -> Response:
    return await _decide_one(request, Decision.accept)


async def reject_proposal(request: Request) -> Response:
    return await _decide_one(request, Decision.reject)


async def bulk_decision(request: Request) -> Response:
    actor = await caller(request, "organiser")
    data = validate(DecisionBulk, await read_json(request))
    rows = await _decide(request, data.proposal_ids, data.decision, actor)
    return JSONResponse({"data": rows, "count": len(rows)})


# --- review ------------------------------------------------------------------------------------------------


def reviewer_public(r: Any, count: int) -> dict[str, Any]:
    return {
        "id": str(r.id),
        "name": r.name,
        "email": r.email,
        "reviews": count,
        "invited_at": r.created_at.isoformat(),
        "revoked": r.revoked_at is not None,
    }


async def list_reviewers(request: Request) -> Response:
    await caller(request, "organiser")
    async with database(request).read() as db:
        data = [reviewer_public(r, n) for r, n in await review.reviewers_with_counts(db)]
    return JSONResponse({"data": data, "count": len(data)})


async def invite_reviewer(request: Request) -> Response:
    actor = await caller(request, "organiser")
    data = validate(ReviewerInvite, await read_json(request))
    async with database(request).transaction() as db:
        r = await review.invite_reviewer(db, settings=settings(request), data=data, actor=actor)
    return JSONResponse(reviewer_public(r, 0), status_code=201)


async def revoke_reviewer(request: Request) -> Response:
    reviewer_id = path_uuid(request, "reviewer_id")
    actor = await caller(request, "organiser")
    async with database(request).transaction() as db:
        await review.revoke_reviewer(db, reviewer_id=reviewer_id, actor=actor)
    return Response(status_code=204)


async def review_queue(request: Request) -> Response:
    _actor, reviewer_id = await _reviewer(request)
    async with database(request).read() as db:
        body = await review.reviewer_queue(db, reviewer_id)
    return JSONResponse(body)


async def get_my_review(request: Request) -> Response:
    proposal_id = path_uuid(request, "proposal_id")
    _actor, reviewer_id = await _reviewer(request)
    async with database(request).read() as db:
        await proposals.get_proposal(db, proposal_id)
        own = (await review.reviews_by(db, reviewer_id)).get(proposal_id)
    if own is None:
        raise errors.NotFound("You have not reviewed this proposal yet.")
    return JSONResponse(review.review_public(own))


async def put_my_review(request: Request) -> Response:
    proposal_id = path_uuid(request, "proposal_id")
    actor, reviewer_id = await _reviewer(request)
    data = validate(ReviewIn, await read_json(request))
    async with database(request).transaction() as db:
        saved = await review.save_review(
            db,
            reviewer_id=reviewer_id,
            proposal_id=proposal_id,
            data=data,
            actor=actor,
        )
        body = review.review_public(saved)
    return JSONResponse(body)


# --- stars -------------------------------------------------------------------------------------------------


async def get_stars(request: Request) -> Response:
    registration_id = path_uuid(request, "registration_id")
    actor = await caller(request)
    require_registration_access(actor, registration_id, "organiser")
    async with database(request).read() as db:
        return JSONResponse(stars.stars_public(await stars.stars_of(db, registration_id)))


async def put_stars(request: Request) -> Response:
    registration_id = path_uuid(request, "registration_id")
    actor = await caller(request)
    require_registration_access(actor, registration_id, "organiser")
    data = validate(StarsIn, await read_json(request))
    async with database(request).transaction() as db:
        chosen = await stars.set_stars(db, registration_id=registration_id, data=data, actor=actor)
    return JSONResponse(stars.stars_public(chosen))


async def get_demand(request: Request) -> Response:
    await caller(request, "organiser")
    async with database(request).read() as db:
        return JSONResponse(await stars.demand(db))


routes = [
    Route("/call", get_call, methods=["GET"], name="api-call"),
    Route("/call", patch_call, methods=["PATCH"], name="api-call-update"),
    Route("/talks", list_talks, methods=["GET"], name="api-talks"),
    Route("/proposals", create_proposal, methods=["POST"], name="api-proposal-create"),
    Route("/proposals", list_proposals, methods=["GET"], name="api-proposals"),
    # Fixed paths before /proposals/{proposal_id}, which would otherwise take them.
    Route("/proposals/stars", get_demand, methods=["GET"], name="api-proposal-stars"),
    Route("/proposals/decisions", bulk_decision, methods=["POST"], name="api-proposal-decisions"),
    Route("/proposals/{proposal_id}", get_proposal, methods=["GET"], name="api-proposal"),
    Route("/proposals/{proposal_id}", patch_proposal, methods=["PATCH"], name="api-proposal-update"),
    Route(
        "/proposals/{proposal_id}/withdraw", withdraw_proposal, methods=["POST"], name="api-proposal-withdraw"
    ),
    Route(
        "/proposals/{proposal_id}/confirm", confirm_proposal, methods=["POST"], name="api-proposal-confirm"
    ),
    Route(
        "/proposals/{proposal_id}/decline", decline_proposal, methods=["POST"], name="api-proposal-decline"
    ),
    Route("/proposals/{proposal_id}/accept", accept_proposal, methods=["POST"], name="api-proposal-accept"),
    Route("/proposals/{proposal_id}/reject", reject_proposal, methods=["POST"], name="api-proposal-reject"),
    Route("/proposals/{proposal_id}/review", get_my_review, methods=["GET"], name="api-review"),
    Route("/proposals/{proposal_id}/review", put_my_review, methods=["PUT"], name="api-review-save"),
    Route("/reviewers", list_reviewers, methods=["GET"], name="api-reviewers"),
    Route("/reviewers", invite_reviewer, methods=["POST"], name="api-reviewer-invite"),
    Route("/reviewers/{reviewer_id}", revoke_reviewer, methods=["DELETE"], name="api-reviewer-revoke"),
    Route("/review/proposals", review_queue, methods=["GET"], name="api-review-queue"),
    Route("/registrations/{registration_id}/stars", get_stars, methods=["GET"], name="api-stars"),
    Route("/registrations/{registration_id}/stars", put_stars, methods=["PUT"], name="api-stars-set"),
]
