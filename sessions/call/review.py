"""Review: organisers invite reviewers, reviewers score proposals, organisers see the aggregate and the disagreement.

A reviewer holds a private link (a derived token, like a delegate's manage link) with the role "reviewer": it
reads proposals in the reviewer's shape (sessions.proposals.proposal_for_reviewer) and writes only its own
reviews. A review's score is the mean of its criteria (1-5); a proposal's score is the mean of its reviews'
scores, and the disagreement is their population standard deviation and range (max - min).
"""

from __future__ import annotations

import statistics
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.models import utcnow
from conference.core.security import REVIEWER, derived_token, hash_token
from conference.core.settings import Settings
from conference.mail.outbox import queue_email
from conference.places import get_conference
from sessions.call import call as calls
from sessions.call import stars
from sessions.call.proposals import get_proposal, proposal_for_reviewer, proposal_public, speakers_of
from sessions.models import CRITERIA, Proposal, ProposalStatus, Review, Reviewer, ReviewerInvite, ReviewIn

TOKEN_PREFIX = "r_"


class AlreadyInvited(errors.DomainError):
    code = "already_invited"
    message = "This address is already a reviewer."


def reviewer_token(settings: Settings, reviewer: Reviewer) -> str:
    return derived_token(
        str(settings.secret_key), "reviewer", TOKEN_PREFIX, reviewer.id, reviewer.token_version
    )


def reviewer_url(settings: Settings, reviewer: Reviewer) -> str:
    return f"{settings.base_url}/review/{reviewer_token(settings, reviewer)}"


_BY_DIGEST = sa.select(Reviewer).where(
    col(Reviewer.token_hash) == sa.bindparam("digest"), col(Reviewer.revoked_at).is_(None)
)


async def reviewer_actor(db: AsyncSession, digest: str) -> Actor | None:
    """Bearer-token hook: a reviewer's private token."""
    reviewer = (await db.execute(_BY_DIGEST, {"digest": digest})).scalar_one_or_none()
    return Actor(REVIEWER, str(reviewer.id)[:8], scope_id=reviewer.id) if reviewer is not None else None


async def find_by_token(db: AsyncSession, token: str) -> Reviewer | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    return (await db.execute(_BY_DIGEST, {"digest": hash_token(token)})).scalar_one_or_none()


async def invite_reviewer(
    db: AsyncSession, *, settings: Settings, data: ReviewerInvite, actor: Actor
) -> Reviewer:
    conference = await get_conference(db)
    assert conference.id is not None
    key = str(data.email).lower()
    existing = (
        await db.execute(
            sa.select(Reviewer).where(
                col(Reviewer.conference_id) == conference.id, col(Reviewer.email_key) == key
            )
        )
    ).scalar_one_or_none()
    if existing is not None and existing.revoked_at is None:
        raise AlreadyInvited(fields={"email": AlreadyInvited.message})
    if existing is not None:  # invited again after a revocation: a new link, the old one stays dead
        reviewer = existing
        reviewer.name, reviewer.revoked_at = data.name, None
        reviewer.token_version += 1
    else:
        reviewer = Reviewer(
            id=uuid.uuid4(),
            conference_id=conference.id,
            name=data.name,
            email=str(data.email),
            email_key=key,
            token_hash="",
        )
        db.add(reviewer)
    reviewer.token_hash = hash_token(reviewer_token(settings, reviewer))
    queue_email(db, settings, kind="reviewer_invited", to=reviewer.email, reviewer_id=str(reviewer.id))
    await audit.record(db, "sessions.reviewer.invited", actor=actor, subject=str(reviewer.id))
    await db.flush()
    return reviewer


async def revoke_reviewer(db: AsyncSession, *, reviewer_id: uuid.UUID, actor: Actor) -> Reviewer:
    reviewer = await db.get(Reviewer, reviewer_id)
    if reviewer is None:
        raise errors.NotFound("No reviewer has this id.")
    if reviewer.revoked_at is None:
        reviewer.revoked_at = utcnow()
        await audit.record(db, "sessions.reviewer.revoked", actor=actor, subject=str(reviewer.id))
        await db.flush()
    return reviewer


async def reviewers_with_counts(db: AsyncSession) -> list[tuple[Reviewer, int]]:
    counts = (
        sa.select(col(Review.reviewer_id), sa.func.count().label("n"))
        .group_by(col(Review.reviewer_id))
        .subquery()
    )
    stmt = (
        sa.select(Reviewer, sa.func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.reviewer_id == Reviewer.id)
        .order_by(col(Reviewer.created_at))
    )
    return [(r, int(n)) for r, n in (await db.execute(stmt)).all()]


# Reviewers see every proposal still in the running (not withdrawn), decided or not.
REVIEWABLE = tuple(s for s in ProposalStatus if s != ProposalStatus.withdrawn)


async def save_review(
    db: AsyncSession, *, reviewer_id: uuid.UUID, proposal_id: uuid.UUID, data: ReviewIn, actor: Actor
) -> Review:
    """Create or replace this reviewer's one review of this proposal."""
    proposal = await get_proposal(db, proposal_id)
    if proposal.status not in REVIEWABLE:
        raise errors.DomainError("This proposal was withdrawn; it needs no review.")
    review = (
        await db.execute(
            sa.select(Review).where(
                col(Review.proposal_id) == proposal_id, col(Review.reviewer_id) == reviewer_id
            )
        )
    ).scalar_one_or_none()
    if review is None:
        review = Review(proposal_id=proposal_id, reviewer_id=reviewer_id, **data.model_dump())
        db.add(review)
    else:
        for name, value in data.model_dump().items():
            setattr(review, name, value)
        review.updated_at = utcnow()
    await audit.record(
        db,
        "sessions.review.saved",
        actor=actor,
        subject=str(proposal_id),
        **{c: getattr(data, c) for c in CRITERIA},
    )
    await db.flush()
    return review


async def reviews_by(db: AsyncSession, reviewer_id: uuid.UUID) -> dict[uuid.UUID, Review]:
    rows = (await db.execute(sa.select(Review).where(col(Review.reviewer_id) == reviewer_id))).scalars()
    return {r.proposal_id: r for r in rows}


def review_score(r: Review) -> float:
    return sum(int(getattr(r, c)) for c in CRITERIA) / len(CRITERIA)


def review_public(r: Review) -> dict[str, Any]:
    return {
        "proposal_id": str(r.proposal_id),
        **{c: getattr(r, c) for c in CRITERIA},
        "comment": r.comment,
        "score": round(review_score(r), 2),
        "updated_at": r.updated_at.isoformat(),
    }


@dataclass(frozen=True)
class Scores:
    reviews: int
    mean: float | None
    stdev: float | None  # population standard deviation of the reviews' scores
    range: float | None  # highest minus lowest review score
    criteria: dict[str, float | None]

    def public(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 2)

        return {
            "reviews": self.reviews,
            "mean": r(self.mean),
            "stdev": r(self.stdev),
            "range": r(self.range),
            "criteria": {k: r(v) for k, v in self.criteria.items()},
        }


def aggregate(reviews: Sequence[Review]) -> Scores:
    if not reviews:
        return Scores(0, None, None, None, {c: None for c in CRITERIA})
    scores = [review_score(r) for r in reviews]
    return Scores(
        reviews=len(reviews),
        mean=statistics.fmean(scores),
        stdev=statistics.pstdev(scores),
        range=max(scores) - min(scores),
        criteria={c: statistics.fmean(getattr(r, c) for r in reviews) for c in CRITERIA},
    )


SORTS = ("mean", "reviews", "disagreement", "range", "stars", "submitted", "title")


async def proposals_with_scores(
    db: AsyncSession, *, status: ProposalStatus | None = None, sort: str = "mean", descending: bool = True
) -> list[dict[str, Any]]:
    """The organisers' list: each proposal in full with its scores, reviews and stars, sorted (unscored last)."""
    conference = await get_conference(db)
    stmt = sa.select(Proposal).where(col(Proposal.conference_id) == conference.id)
    if status is not None:
        stmt = stmt.where(col(Proposal.status) == status)
    proposals = list((await db.execute(stmt.order_by(col(Proposal.created_at)))).scalars())
    ids = [p.id for p in proposals]
    speakers = await speakers_of(db, ids)
    by_proposal: dict[uuid.UUID, list[Review]] = defaultdict(list)
    if ids:
        for r in (await db.execute(sa.select(Review).where(col(Review.proposal_id).in_(ids)))).scalars():
            by_proposal[r.proposal_id].append(r)
    counts = await stars.star_counts(db, ids)
    rows = []
    for p in proposals:
        scores = aggregate(by_proposal[p.id])
        rows.append(
            (
                p,
                scores,
                {
                    **proposal_public(p, speakers[p.id]),
                    "scores": scores.public(),
                    "stars": counts.get(p.id, 0),
                },
            )
        )
    keys: dict[str, Callable[[Scores, Proposal], Any]] = {
        "mean": lambda s, p: s.mean,
        "reviews": lambda s, p: s.reviews,
        "disagreement": lambda s, p: s.stdev,
        "range": lambda s, p: s.range,
        "stars": lambda s, p: counts.get(p.id, 0),
        "submitted": lambda s, p: p.created_at.timestamp(),
        "title": lambda s, p: p.title.lower(),
    }
    key = keys[sort]
    present = [row for row in rows if key(row[1], row[0]) is not None]
    absent = [row for row in rows if key(row[1], row[0]) is None]
    present.sort(
        key=lambda row: key(row[1], row[0]), reverse=descending
    )  # stable: ties keep submission order
    return [body for _p, _s, body in present + absent]


async def reviews_of(db: AsyncSession, proposal_id: uuid.UUID) -> list[tuple[Review, Reviewer]]:
    stmt = (
        sa.select(Review, Reviewer)
        .join(Reviewer, col(Reviewer.id) == Review.reviewer_id)
        .where(col(Review.proposal_id) == proposal_id)
        .order_by(col(Review.created_at))
    )
    return [(r, who) for r, who in (await db.execute(stmt)).all()]


async def review_candidates(db: AsyncSession, conference_id: int) -> list[Proposal]:
    stmt = (
        sa.select(Proposal)
        .where(col(Proposal.conference_id) == conference_id, col(Proposal.status).in_(REVIEWABLE))
        .order_by(col(Proposal.created_at))
    )
    return list((await db.execute(stmt)).scalars())


async def reviewer_queue(db: AsyncSession, reviewer_id: uuid.UUID) -> dict[str, Any]:
    """Every proposal still in the running, in the reviewer's shape, with the reviewer's own review if any."""
    conference, call = await calls.get_call(db)
    assert conference.id is not None
    rows = await review_candidates(db, conference.id)
    speakers = await speakers_of(db, [p.id for p in rows])
    mine = await reviews_by(db, reviewer_id)
    data = [
        {
            **proposal_for_reviewer(p, speakers[p.id], anonymous=call.anonymous_review),
            "my_review": review_public(mine[p.id]) if p.id in mine else None,
        }
        for p in rows
    ]
    return {
        "anonymous_review": call.anonymous_review,
        "data": data,
        "count": len(data),
        "reviewed": sum(1 for p in rows if p.id in mine),
    }
