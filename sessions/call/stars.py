"""Delegates' stars: the accepted talks each would like to attend, and the demand they add up to.

The scheduler reads `demand()`: per talk its stars and the expected audience, the stars scaled up from the
delegates who starred anything to everyone holding a place (those who never star still come to something).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.db import lock_for_update
from conference.core.models import HOLDING, Registration, Status
from conference.places import get_conference
from sessions.models import STARRABLE, Proposal, Star, StarsIn

# Stars of a cancelled registration no longer count; its rows stay (it may be reinstated by an organiser).
_LIVE_STAR = (
    sa.select(col(Star.proposal_id), sa.func.count().label("n"))
    .join(Registration, col(Registration.id) == Star.registration_id)
    .where(col(Registration.status) != Status.cancelled)
)


async def starrable(db: AsyncSession) -> list[Proposal]:
    conference = await get_conference(db)
    stmt = (
        sa.select(Proposal)
        .where(col(Proposal.conference_id) == conference.id, col(Proposal.status).in_(STARRABLE))
        .order_by(col(Proposal.title))
    )
    return list((await db.execute(stmt)).scalars())


async def stars_of(db: AsyncSession, registration_id: uuid.UUID) -> list[Proposal]:
    stmt = (
        sa.select(Proposal)
        .join(Star, col(Star.proposal_id) == Proposal.id)
        .where(col(Star.registration_id) == registration_id)
        .order_by(col(Proposal.title))
    )
    return list((await db.execute(stmt)).scalars())


def stars_public(proposals: Iterable[Proposal]) -> dict[str, Any]:
    return {
        "stars": [{"proposal_id": str(p.id), "title": p.title, "status": p.status.value} for p in proposals]
    }


async def set_stars(
    db: AsyncSession, *, registration_id: uuid.UUID, data: StarsIn, actor: Actor
) -> list[Proposal]:
    """Replace the delegate's stars with `data.proposal_ids` (accepted or confirmed talks only)."""
    if await db.get(Registration, registration_id) is None:
        raise errors.NotFound("No registration has this id.")
    registration = await lock_for_update(db, Registration, registration_id)  # one delegate's edits in turn
    if registration.status == Status.cancelled:
        raise errors.DomainError("This registration is cancelled; it cannot star talks.")
    allowed = {p.id: p for p in await starrable(db)}
    chosen: list[uuid.UUID] = []
    problems: dict[str, str] = {}
    for i, raw in enumerate(data.proposal_ids):
        try:
            pid = uuid.UUID(raw)
        except ValueError:
            pid = None
        if pid is None or pid not in allowed:
            problems[f"proposal_ids.{i}"] = "No accepted talk has this id; see GET /api/v1/talks."
        elif pid not in chosen:
            chosen.append(pid)
    if problems:
        raise errors.InvalidInput(fields=problems)
    await db.execute(sa.delete(Star).where(col(Star.registration_id) == registration_id))
    db.add_all([Star(registration_id=registration_id, proposal_id=pid) for pid in chosen])
    await audit.record(
        db, "sessions.stars.set", actor=actor, subject=registration.reference, count=len(chosen)
    )
    await db.flush()
    return sorted((allowed[pid] for pid in chosen), key=lambda p: p.title)


async def star_counts(
    db: AsyncSession, proposal_ids: Iterable[uuid.UUID] | None = None
) -> dict[uuid.UUID, int]:
    stmt = _LIVE_STAR
    if proposal_ids is not None:
        stmt = stmt.where(col(Star.proposal_id).in_(list(proposal_ids)))
    return {pid: int(n) for pid, n in (await db.execute(stmt.group_by(col(Star.proposal_id)))).all()}


async def demand(db: AsyncSession) -> dict[str, Any]:
    conference = await get_conference(db)
    registered = int(
        (
            await db.execute(
                sa.select(sa.func.count())
                .select_from(Registration)
                .where(
                    col(Registration.conference_id) == conference.id, col(Registration.status).in_(HOLDING)
                )
            )
        ).scalar_one()
    )
    starring = int(
        (
            await db.execute(
                sa.select(sa.func.count(sa.distinct(col(Star.registration_id))))
                .join(Registration, col(Registration.id) == Star.registration_id)
                .where(col(Registration.status) != Status.cancelled)
            )
        ).scalar_one()
    )
    talks = await starrable(db)
    counts = await star_counts(db, [p.id for p in talks])
    scale = registered / starring if starring else 0.0
    data: list[dict[str, Any]] = [
        {
            "proposal_id": str(p.id),
            "title": p.title,
            "status": p.status.value,
            "format": p.format.value,
            "duration_minutes": p.duration_minutes,
            "themes": p.themes,
            "stars": counts.get(p.id, 0),
            "expected_audience": math.ceil(counts.get(p.id, 0) * scale),
        }
        for p in talks
    ]
    data.sort(key=lambda row: (-int(row["stars"]), str(row["title"])))
    return {"registered": registered, "starring_delegates": starring, "data": data, "count": len(data)}
