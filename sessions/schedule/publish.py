"""Publishing a draft of the workshop programme (sessions/schedule/build.py has the decisions, and the lock
order: the conference row → the draft's row → programme sessions, sorted by id): its workshops become programme
sessions (a workshop with the same talks as a published one keeps its ProgrammeSession and every seat booked in
it), the ones it drops are cancelled, and delegates with seats in moved or cancelled sessions are emailed.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit, errors, formats
from conference.core.audit import Actor
from conference.core.db import lock_for_update
from conference.core.models import Registration, utcnow
from conference.core.settings import Settings
from conference.mail.outbox import queue_email
from conference.places import get_conference
from sessions.call.proposals import speakers_of
from sessions.models import (
    STARRABLE,
    Kind,
    ProgrammeSession,
    Proposal,
    ProposalStatus,
    ScheduleState,
    ScheduleVersion,
    SeatBooking,
    SeatStatus,
    SessionTalk,
)
from sessions.schedule.context import Context, load_context
from sessions.schedule.versions import NotADraft, get_version, pending_changes, warnings_for
from sessions.workshops import capacity


class DraftOutOfDate(errors.DomainError):
    code = "draft_out_of_date"
    message = (
        "A newer programme has been published since this draft was built; build a new draft from it "
        "(POST /api/v1/schedule/build) and publish that."
    )


class DraftHasWarnings(errors.DomainError):
    code = "draft_has_warnings"
    message = "This draft breaks rules the programme must keep; fix them (move the workshops named) first."


def _sentence(change: dict[str, Any], tz: ZoneInfo) -> str:
    def at(where: dict[str, Any]) -> str:
        when = formats.when(where["starts_at"], tz)
        return f"{when} in {where['room'] or 'no room'}"

    if change["kind"] == "cancelled":
        return f"'{change['title']}' ({at(change['from'])}) is cancelled; your seat is released."
    return f"'{change['title']}' has moved from {at(change['from'])} to {at(change['to'])}."


async def _describe(db: AsyncSession, w: dict[str, Any]) -> tuple[str, str]:
    """A session's description (its talks) and speakers line; speakers are named once they have confirmed."""
    ids = [uuid.UUID(t) for t in w["talk_ids"]]
    talks = {
        p.id: p for p in (await db.execute(sa.select(Proposal).where(col(Proposal.id).in_(ids)))).scalars()
    }
    people = await speakers_of(db, ids)
    names: list[str] = []
    lines = []
    for n, pid in enumerate(ids, 1):
        p = talks[pid]
        named = p.status == ProposalStatus.confirmed
        who = (
            ", ".join(f"{s.name} ({s.organisation})" for s in people[pid])
            if named
            else "speakers to be confirmed"
        )
        names += [s.name for s in people[pid]] if named else []
        lines.append(f"{n}. {p.title} ({p.duration_minutes} min): {who}")
    intro = (
        f"{len(ids)} short talks on {', '.join(w['themes'][:2])}:" if len(ids) > 1 else talks[ids[0]].abstract
    )
    return (intro + "\n" + "\n".join(lines))[:4000], ", ".join(dict.fromkeys(names))[:500]


async def publish(db: AsyncSession, *, settings: Settings, draft_id: int, actor: Actor) -> ScheduleVersion:
    """Make the draft the next numbered version: write its workshop sessions, cancel the ones it drops, and
    queue emails (in this transaction) to delegates with seats in moved or cancelled sessions."""
    await get_version(db, draft_id)
    conference = await get_conference(db, for_update=True)
    assert conference.id is not None
    draft = await lock_for_update(db, ScheduleVersion, draft_id)
    if draft.state != ScheduleState.draft:
        raise NotADraft(NotADraft.message.format(state=draft.state.value))
    if not draft.placement:
        raise errors.DomainError(
            "This draft has no schedule to publish: the build found none (see its explanation)."
        )
    ctx = await load_context(db)
    if (ctx.published.id if ctx.published else None) != draft.base_version_id:
        raise DraftOutOfDate()
    live = {
        str(p)
        for p in (
            await db.execute(sa.select(col(Proposal.id)).where(col(Proposal.status).in_(STARRABLE)))
        ).scalars()
    }
    gone = [t for w in draft.workshops for t in w["talk_ids"] if t not in live]
    if gone:
        raise DraftOutOfDate("Talks in this draft have since been declined or withdrawn; build a new draft.")
    warnings = warnings_for(draft, ctx)
    if warnings:
        raise DraftHasWarnings(
            f"{DraftHasWarnings.message} First: {warnings[0]['message']} ({len(warnings)} warning(s) in all.)"
        )
    changes = pending_changes(draft, ctx)
    sessions = {str(s.id): s for s, _ids in ctx.managed.values()}
    for session_id in sorted(sessions):
        sessions[session_id] = await lock_for_update(db, ProgrammeSession, uuid.UUID(session_id))
    spots = ctx.placed(draft.placement)
    counts = await capacity.seat_counts(db, [uuid.UUID(k) for k in sessions])
    touched: list[ProgrammeSession] = []
    for w in draft.workshops:
        room_id, start = spots[w["key"]]
        end = start + int(w["slot_count"]) - 1
        description, speakers = await _describe(db, w)
        values = {
            "title": w["title"][:200],
            "description": description,
            "speakers": speakers,
            "theme": (w["themes"][0] if w["themes"] else "")[:100],
            "room_id": uuid.UUID(room_id),
            "start_slot_id": ctx.slots[start].id,
            "slot_count": int(w["slot_count"]),
            "starts_at": ctx.slots[start].starts_at,
            "ends_at": ctx.slots[end].ends_at,
        }
        current = ctx.managed.get(w["key"])
        if current is None:
            s = ProgrammeSession(conference_id=conference.id, kind=Kind.workshop, **values)
            db.add(s)
            await db.flush()
            db.add_all(
                [
                    SessionTalk(programme_session_id=s.id, proposal_id=uuid.UUID(t), position=n)
                    for n, t in enumerate(w["talk_ids"])
                ]
            )
            await audit.record(
                db, "sessions.session.created", actor=actor, subject=str(s.id), schedule=draft.id
            )
            continue
        s = sessions[str(current[0].id)]
        booked = counts.get(s.id, {}).get("booked", 0)
        seats = capacity.seats_in(s, ctx.rooms[room_id])
        if seats < booked:
            raise errors.DomainError(
                f"'{s.title}' already has {booked} seats booked, more than {ctx.rooms[room_id].name} "
                f"seats ({seats}); move it to a bigger room in the draft first."
            )
        for name, value in values.items():
            setattr(s, name, value)
        s.updated_at = utcnow()
        touched.append(s)
    keys = {w["key"] for w in draft.workshops}
    for key, (old, _ids) in ctx.managed.items():
        if key not in keys:
            s = sessions[str(old.id)]
            s.cancelled, s.updated_at = True, utcnow()
            await audit.record(
                db,
                "sessions.session.updated",
                actor=actor,
                subject=str(s.id),
                fields=["cancelled"],
                schedule=draft.id,
            )
    emailed = await _tell_booked(db, settings, ctx, changes)
    await db.flush()
    for s in touched:
        await capacity.promote_session_waitlist(db, settings=settings, session=s)
    if ctx.published is not None:
        ctx.published.state = ScheduleState.superseded
    last = (
        await db.execute(
            sa.select(sa.func.max(col(ScheduleVersion.number))).where(
                col(ScheduleVersion.conference_id) == conference.id
            )
        )
    ).scalar_one()
    draft.number = int(last or 0) + 1
    draft.state = ScheduleState.published
    draft.published_at, draft.published_by = utcnow(), actor.label[:120]
    draft.changes = changes
    draft.figures = {**draft.figures, "emailed_delegates": emailed}
    # Other drafts were built on what is now superseded: they can no longer be published.
    await audit.record(
        db,
        "sessions.schedule.published",
        actor=actor,
        subject=str(draft.id),
        number=draft.number,
        added=sum(c["kind"] == "added" for c in changes),
        moved=sum(c["kind"] == "moved" for c in changes),
        cancelled=sum(c["kind"] == "cancelled" for c in changes),
        emailed=emailed,
    )
    await db.flush()
    return draft


async def _tell_booked(
    db: AsyncSession, settings: Settings, ctx: Context, changes: list[dict[str, Any]]
) -> int:
    """One email per delegate listing every change to sessions they hold a seat in; seats in cancelled sessions
    (and their waiting lists) are released."""
    by_session = {uuid.UUID(c["session_id"]): c for c in changes if c["kind"] in ("moved", "cancelled")}
    if not by_session:
        return 0
    seats = (
        (
            await db.execute(
                sa.select(SeatBooking)
                .where(
                    col(SeatBooking.session_id).in_(list(by_session)),
                    col(SeatBooking.status).in_(capacity.LIVE),
                )
                .order_by(col(SeatBooking.created_at))
            )
        )
        .scalars()
        .all()
    )
    tz = ZoneInfo(ctx.conference.timezone)
    lines: dict[uuid.UUID, list[str]] = defaultdict(list)
    for seat in seats:
        change = by_session[seat.session_id]
        if seat.status == SeatStatus.booked:
            lines[seat.registration_id].append(_sentence(change, tz))
        if change["kind"] == "cancelled":  # remembered, so restoring the session gives the seat back
            seat.held_before_cancel = seat.status.value
            seat.status, seat.updated_at = SeatStatus.cancelled, utcnow()
    people = {
        r.id: r
        for r in (
            await db.execute(sa.select(Registration).where(col(Registration.id).in_(list(lines))))
        ).scalars()
    }
    for registration_id in sorted(lines, key=str):
        registration = people[registration_id]
        queue_email(
            db,
            settings,
            kind="programme_changed",
            to=registration.email,
            registration_id=registration.id,
            changes=lines[registration_id],
        )
    return len(lines)
