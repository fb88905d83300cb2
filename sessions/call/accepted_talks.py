"""What the call hands the scheduler, as plain data: the accepted talks, who speaks in them, the slots each speaker
cannot do (whole days expanded to that day's slots), and every delegate's set of starred talks.

Speakers are identified across talks by their lower-cased email (one person in two talks is one speaker).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core.models import Registration, Status
from conference.places import get_conference
from sessions.call.stars import demand
from sessions.models import STARRABLE, Proposal, ProposalFormat, ProposalSpeaker, ProposalStatus, Star
from sessions.workshops import programme


@dataclass(frozen=True)
class AcceptedTalk:
    id: uuid.UUID
    title: str
    format: ProposalFormat
    duration_minutes: int
    themes: tuple[str, ...]
    status: ProposalStatus  # accepted (speakers not yet answered) or confirmed
    speakers: tuple[str, ...]  # email keys
    stars: int
    expected_audience: int


async def accepted_talks(db: AsyncSession, *, confirmed_only: bool = False) -> list[AcceptedTalk]:
    wanted = (ProposalStatus.confirmed,) if confirmed_only else STARRABLE
    figures = {row["proposal_id"]: row for row in (await demand(db))["data"]}
    rows = (
        await db.execute(
            sa.select(Proposal, col(ProposalSpeaker.email_key))
            .join(ProposalSpeaker, col(ProposalSpeaker.proposal_id) == Proposal.id)
            .where(col(Proposal.status).in_(wanted))
            .order_by(col(Proposal.created_at), col(ProposalSpeaker.position))
        )
    ).all()
    talks: dict[uuid.UUID, tuple[Proposal, list[str]]] = {}
    for p, email_key in rows:
        talks.setdefault(p.id, (p, []))[1].append(email_key)
    return [
        AcceptedTalk(
            id=p.id,
            title=p.title,
            format=p.format,
            duration_minutes=p.duration_minutes,
            themes=tuple(p.themes),
            status=p.status,
            speakers=tuple(keys),
            stars=int(figures[str(p.id)]["stars"]),
            expected_audience=int(figures[str(p.id)]["expected_audience"]),
        )
        for p, keys in talks.values()
    ]


async def speaker_unavailability(db: AsyncSession) -> dict[str, frozenset[uuid.UUID]]:
    """Email key → the time slots that speaker cannot do, over all their accepted talks."""
    conference = await get_conference(db)
    assert conference.id is not None
    local = ZoneInfo(conference.timezone)
    slots = await programme.ordered_slots(db, conference.id)
    by_day: dict[str, list[uuid.UUID]] = defaultdict(list)
    for s in slots:
        by_day[s.starts_at.astimezone(local).date().isoformat()].append(s.id)
    known = {s.id for s in slots}
    stmt = (
        sa.select(ProposalSpeaker)
        .join(Proposal, col(Proposal.id) == ProposalSpeaker.proposal_id)
        .where(col(Proposal.status).in_(STARRABLE))
    )
    out: dict[str, set[uuid.UUID]] = defaultdict(set)
    for speaker in (await db.execute(stmt)).scalars():
        out[speaker.email_key] |= {uuid.UUID(x) for x in speaker.unavailable_slots} & known
        for day in speaker.unavailable_days:
            out[speaker.email_key].update(by_day.get(day, ()))
    return {k: frozenset(v) for k, v in out.items()}


async def star_sets(db: AsyncSession) -> list[frozenset[uuid.UUID]]:
    """Each live delegate's starred talks (those still accepted or confirmed), one set per delegate who starred."""
    stmt = (
        sa.select(col(Star.registration_id), col(Star.proposal_id))
        .join(Registration, col(Registration.id) == Star.registration_id)
        .join(Proposal, col(Proposal.id) == Star.proposal_id)
        .where(col(Registration.status) != Status.cancelled, col(Proposal.status).in_(STARRABLE))
        .order_by(col(Star.registration_id))
    )
    sets: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for registration_id, proposal_id in (await db.execute(stmt)).all():
        sets[registration_id].add(proposal_id)
    return [frozenset(s) for s in sets.values()]
