"""Best-practice talk proposals: submission, the submitter's edits and withdrawal, organisers' decisions, and the
speakers' answer to an acceptance.

Status moves: submitted → accepted | rejected (organisers; a decision may be changed until the speakers confirm)
→ confirmed | declined (the speakers, from the accepted email's link); submitted → withdrawn (the submitter,
while the call is open). The submitter's private link is derived from the server secret like a manage token,
so the database keeps only its hash and emails rendered at send time can still carry it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.models import Conference, utcnow
from conference.core.security import derived_token, hash_token
from conference.core.settings import Settings
from conference.mail.outbox import queue_email
from sessions.call import call as calls
from sessions.models import (
    CallForTalks,
    Decision,
    Proposal,
    ProposalCreate,
    ProposalSpeaker,
    ProposalStatus,
    ProposalUpdate,
    SpeakerIn,
)

TOKEN_PREFIX = "p_"


class ProposalStateConflict(errors.DomainError):
    code = "proposal_state"
    message = "This proposal cannot change that way now."


def proposal_token(settings: Settings, proposal: Proposal) -> str:
    return derived_token(
        str(settings.secret_key), "proposal", TOKEN_PREFIX, proposal.id, proposal.token_version
    )


def proposal_url(settings: Settings, proposal: Proposal) -> str:
    return f"{settings.base_url}/proposal/{proposal_token(settings, proposal)}"


async def find_by_token(db: AsyncSession, token: str) -> Proposal | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    stmt = sa.select(Proposal).where(col(Proposal.edit_token_hash) == hash_token(token))
    return (await db.execute(stmt)).scalar_one_or_none()


async def speaker_actor(db: AsyncSession, digest: str) -> Actor | None:
    """Bearer-token hook: a proposal's private token acts as that proposal's speakers."""
    proposal_id = (
        await db.execute(sa.select(col(Proposal.id)).where(col(Proposal.edit_token_hash) == digest))
    ).scalar_one_or_none()
    return Actor("speaker", str(proposal_id)[:8], scope_id=proposal_id) if proposal_id is not None else None


async def speakers_of(
    db: AsyncSession, proposal_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[ProposalSpeaker]]:
    ids = list(proposal_ids)
    out: dict[uuid.UUID, list[ProposalSpeaker]] = {i: [] for i in ids}
    if ids:
        stmt = (
            sa.select(ProposalSpeaker)
            .where(col(ProposalSpeaker.proposal_id).in_(ids))
            .order_by(col(ProposalSpeaker.proposal_id), col(ProposalSpeaker.position))
        )
        for s in (await db.execute(stmt)).scalars():
            out[s.proposal_id].append(s)
    return out


async def get_proposal(db: AsyncSession, proposal_id: uuid.UUID) -> Proposal:
    proposal = await db.get(Proposal, proposal_id)
    if proposal is None:
        raise errors.NotFound("No proposal has this id.")
    return proposal


async def lock_proposal(db: AsyncSession, proposal_id: uuid.UUID) -> Proposal:
    """The proposal, locked for this transaction (and read afresh); NotFound when there is none."""
    assert db.in_transaction()
    stmt = (
        sa.select(Proposal)
        .where(col(Proposal.id) == proposal_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    proposal = (await db.execute(stmt)).scalar_one_or_none()
    if proposal is None:
        raise errors.NotFound("No proposal has this id.")
    return proposal


# --- checks against the organisers' call -------------------------------------------------------------------


def _check_fields(
    conference: Conference, call: CallForTalks, options: list[calls.TimeOption], data: ProposalCreate
) -> dict[str, list[str]]:
    """Raise InvalidInput naming every field the call does not allow; return the speakers' unavailable slot ids
    and days, normalised, keyed "slots:<i>" and "days:<i>"."""
    problems: dict[str, str] = {}
    offered = call.formats.get(data.format.value)
    if offered is None:
        problems["format"] = "This call offers: " + ", ".join(call.formats) + "."
    elif data.duration_minutes not in offered:
        problems["duration_minutes"] = (
            f"A {data.format.value} lasts " + " or ".join(str(d) for d in offered) + " minutes at this event."
        )
    known = {t.lower(): t for t in call.themes}
    for i, theme in enumerate(data.themes):
        if theme.strip().lower() not in known:
            problems[f"themes.{i}"] = "Choose themes from the call's list: " + "; ".join(call.themes) + "."
    slot_ids = {o.id for o in options if o.id != o.day}
    days = {d.isoformat() for d in calls.conference_days(conference)}
    times: dict[str, list[str]] = {}
    for i, speaker in enumerate(data.speakers):
        slots_out: list[str] = []
        days_out: list[str] = []
        for j, item in enumerate(speaker.unavailable):
            value = item.strip()
            if value in slot_ids:
                slots_out.append(value)
            elif _is_date(value) and value in days:
                days_out.append(value)
            else:
                problems[f"speakers.{i}.unavailable.{j}"] = (
                    "Give a time slot id from GET /api/v1/call or a conference day ("
                    + ", ".join(sorted(days))
                    + "): this is outside the event."
                )
        times[f"slots:{i}"], times[f"days:{i}"] = sorted(set(slots_out)), sorted(set(days_out))
    if problems:
        raise errors.InvalidInput(fields=problems)
    return times


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _themes(call: CallForTalks, themes: Sequence[str]) -> list[str]:
    known = {t.lower(): t for t in call.themes}
    return list(dict.fromkeys(known[t.strip().lower()] for t in themes))


def _speaker_rows(
    proposal_id: uuid.UUID, speakers: Sequence[SpeakerIn], times: dict[str, list[str]]
) -> list[ProposalSpeaker]:
    return [
        ProposalSpeaker(
            proposal_id=proposal_id,
            position=i,
            name=s.name,
            email=str(s.email),
            email_key=str(s.email).lower(),
            organisation=s.organisation,
            unavailable_slots=times[f"slots:{i}"],
            unavailable_days=times[f"days:{i}"],
        )
        for i, s in enumerate(speakers)
    ]


# --- the submitter -----------------------------------------------------------------------------------------


async def submit_proposal(
    db: AsyncSession, *, settings: Settings, data: ProposalCreate, actor: Actor
) -> tuple[Proposal, str]:
    """A new proposal and its private token; the contact speaker (the first) is emailed the link."""
    conference, call = await calls.require_open(db)
    assert conference.id is not None
    times = _check_fields(conference, call, await calls.time_options(db, conference), data)
    proposal = Proposal(
        id=uuid.uuid4(),
        conference_id=conference.id,
        title=data.title,
        abstract=data.abstract,
        format=data.format,
        duration_minutes=data.duration_minutes,
        themes=_themes(call, data.themes),
        audience_level=data.audience_level,
        access_needs=data.access_needs,
        sector=data.sector,
        status=ProposalStatus.submitted,
        edit_token_hash="",
    )
    token = proposal_token(settings, proposal)
    proposal.edit_token_hash = hash_token(token)
    db.add(proposal)
    await db.flush()  # the speakers' foreign key needs the proposal row first (PostgreSQL checks it at once)
    db.add_all(_speaker_rows(proposal.id, data.speakers, times))
    queue_email(
        db, settings, kind="proposal_received", to=str(data.speakers[0].email), proposal_id=str(proposal.id)
    )
    await audit.record(
        db,
        "sessions.proposal.submitted",
        actor=actor,
        subject=str(proposal.id),
        format=data.format.value,
        speakers=len(data.speakers),
    )
    await db.flush()
    return proposal, token


async def update_proposal(
    db: AsyncSession, *, proposal_id: uuid.UUID, data: ProposalUpdate, actor: Actor
) -> Proposal:
    conference, call = await calls.require_open(db)
    proposal = await lock_proposal(db, proposal_id)
    if proposal.status != ProposalStatus.submitted:
        raise ProposalStateConflict(
            f"This proposal is {proposal.status.value}; only a submitted one can be edited."
        )
    current = (await speakers_of(db, [proposal.id]))[proposal.id]
    changes = data.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None and name != "sector":  # a null sector clears it
            raise errors.InvalidInput(fields={name: "This field cannot be null."})
    # The stored fields are checked again with the change: one stored before a rule came in (a line break in a
    # title) is named, a 422, not a 500.
    try:
        merged = ProposalCreate.model_validate(
            {
                "title": proposal.title,
                "abstract": proposal.abstract,
                "format": proposal.format,
                "duration_minutes": proposal.duration_minutes,
                "themes": proposal.themes,
                "audience_level": proposal.audience_level,
                "access_needs": proposal.access_needs,
                "sector": proposal.sector,
                "speakers": [
                    {
                        "name": s.name,
                        "email": s.email,
                        "organisation": s.organisation,
                        "unavailable": s.unavailable_slots + s.unavailable_days,
                    }
                    for s in current
                ],
                **{k: v for k, v in changes.items()},
            }
        )
    except ValidationError as exc:
        raise errors.from_validation_error(exc) from None
    times = _check_fields(conference, call, await calls.time_options(db, conference), merged)
    kept = ("title", "abstract", "format", "duration_minutes", "audience_level", "access_needs", "sector")
    for name in kept:
        setattr(proposal, name, getattr(merged, name))
    proposal.themes = _themes(call, merged.themes)
    if "speakers" in changes:
        await db.execute(sa.delete(ProposalSpeaker).where(col(ProposalSpeaker.proposal_id) == proposal.id))
        await db.flush()
        db.add_all(_speaker_rows(proposal.id, merged.speakers, times))
    proposal.updated_at = utcnow()
    await audit.record(
        db, "sessions.proposal.updated", actor=actor, subject=str(proposal.id), fields=sorted(changes)
    )
    await db.flush()
    return proposal


async def withdraw_proposal(db: AsyncSession, *, proposal_id: uuid.UUID, actor: Actor) -> Proposal:
    await calls.require_open(db)
    proposal = await lock_proposal(db, proposal_id)
    if proposal.status != ProposalStatus.submitted:
        raise ProposalStateConflict(
            f"This proposal is {proposal.status.value}; only a submitted one can be withdrawn."
        )
    proposal.status = ProposalStatus.withdrawn
    proposal.updated_at = utcnow()
    await audit.record(db, "sessions.proposal.withdrawn", actor=actor, subject=str(proposal.id))
    await db.flush()
    return proposal


async def answer_acceptance(
    db: AsyncSession, *, proposal_id: uuid.UUID, confirm: bool, actor: Actor
) -> Proposal:
    """The speakers confirm they will give an accepted talk, or decline it (also after confirming: plans change)."""
    proposal = await lock_proposal(db, proposal_id)
    allowed = (ProposalStatus.accepted,) if confirm else (ProposalStatus.accepted, ProposalStatus.confirmed)
    if proposal.status not in allowed:
        what = "confirmed" if confirm else "declined"
        raise ProposalStateConflict(f"This proposal is {proposal.status.value}, so it cannot be {what}.")
    proposal.status = ProposalStatus.confirmed if confirm else ProposalStatus.declined
    proposal.answered_at = proposal.updated_at = utcnow()
    await audit.record(
        db, f"sessions.proposal.{proposal.status.value}", actor=actor, subject=str(proposal.id)
    )
    await db.flush()
    return proposal


# --- organisers --------------------------------------------------------------------------------------------

# An organiser may change their mind until the speakers have answered.
_DECIDABLE = {
    Decision.accept: (ProposalStatus.submitted, ProposalStatus.rejected),
    Decision.reject: (ProposalStatus.submitted, ProposalStatus.accepted),
}


async def decide_proposals(
    db: AsyncSession,
    *,
    settings: Settings,
    proposal_ids: Sequence[uuid.UUID],
    decision: Decision,
    actor: Actor,
) -> list[Proposal]:
    """Accept or reject one or many proposals, all or none; every speaker is emailed, every decision audited."""
    if len(set(proposal_ids)) != len(proposal_ids):
        raise errors.InvalidInput(fields={"proposal_ids": "Each proposal may appear only once."})
    order = {pid: i for i, pid in enumerate(proposal_ids)}
    locked: dict[uuid.UUID, Proposal] = {}
    missing: dict[str, str] = {}
    for pid in sorted(proposal_ids):  # one lock order everywhere: no deadlock between two bulk decisions
        try:
            locked[pid] = await lock_proposal(db, pid)
        except errors.NotFound:
            missing[f"proposal_ids.{order[pid]}"] = "No proposal has this id."
    if missing:
        raise errors.InvalidInput(fields=missing)
    refused = {
        f"proposal_ids.{order[pid]}": f"'{p.title}' is {p.status.value}."
        for pid, p in locked.items()
        if p.status not in _DECIDABLE[decision]
    }
    if refused:
        raise ProposalStateConflict(
            f"Nothing was {decision.value}ed: some proposals cannot be {decision.value}ed in their current state.",
            fields=refused,
        )
    status = ProposalStatus.accepted if decision == Decision.accept else ProposalStatus.rejected
    speakers = await speakers_of(db, locked)
    now = utcnow()
    for pid in proposal_ids:
        proposal = locked[pid]
        previous = proposal.status
        proposal.status, proposal.decided_at, proposal.updated_at = status, now, now
        for s in speakers[pid]:
            queue_email(
                db,
                settings,
                kind=f"proposal_{status.value}",
                to=s.email,
                proposal_id=str(pid),
                speaker_position=s.position,
            )
        await audit.record(
            db,
            f"sessions.proposal.{status.value}",
            actor=actor,
            subject=str(pid),
            previous=previous.value,
            bulk=len(proposal_ids) > 1,
        )
    await db.flush()
    return [locked[pid] for pid in proposal_ids]


# --- views -------------------------------------------------------------------------------------------------


def speaker_public(s: ProposalSpeaker) -> dict[str, Any]:
    return {
        "name": s.name,
        "email": s.email,
        "organisation": s.organisation,
        "unavailable": s.unavailable_slots + s.unavailable_days,
    }


def proposal_public(p: Proposal, speakers: Sequence[ProposalSpeaker]) -> dict[str, Any]:
    """Everything: for the submitter's own link and for organisers."""
    return {
        "id": str(p.id),
        "status": p.status.value,
        "title": p.title,
        "abstract": p.abstract,
        "format": p.format.value,
        "duration_minutes": p.duration_minutes,
        "themes": p.themes,
        "audience_level": p.audience_level.value,
        "access_needs": p.access_needs,
        "sector": p.sector.value if p.sector else None,
        "speakers": [speaker_public(s) for s in speakers],
        "created_at": p.created_at.isoformat(),
        "updated_at": p.updated_at.isoformat(),
        "decided_at": p.decided_at.isoformat() if p.decided_at else None,
        "answered_at": p.answered_at.isoformat() if p.answered_at else None,
    }


def proposal_for_reviewer(
    p: Proposal, speakers: Sequence[ProposalSpeaker], *, anonymous: bool
) -> dict[str, Any]:
    """What a reviewer needs and no more: never emails, access needs or availability; with anonymous review, not
    even the speakers' names or organisations."""
    body: dict[str, Any] = {
        "id": str(p.id),
        "status": p.status.value,
        "title": p.title,
        "abstract": p.abstract,
        "format": p.format.value,
        "duration_minutes": p.duration_minutes,
        "themes": p.themes,
        "audience_level": p.audience_level.value,
        "speaker_count": len(speakers),
    }
    if not anonymous:
        body["speakers"] = [{"name": s.name, "organisation": s.organisation} for s in speakers]
    return body
