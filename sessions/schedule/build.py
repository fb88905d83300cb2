"""Build, review and publish the workshop programme from the accepted talks (issue 6).

`build_draft` reads the accepted and confirmed talks, speakers' unavailability, delegates' stars, rooms, slots
and what is published now; groups the talks into workshops (sessions/schedule/grouping.py); solves in a worker thread
(sessions/schedule/scheduler.py, never inside a transaction); and stores a draft `ScheduleVersion` with its figures, or
the explanation when no schedule exists. `move_workshop` changes a draft by hand; `check` lists every broken
rule (sessions/schedule/check.py); `publish` turns a draft into the next numbered version, writes the workshop
sessions and their talks (`session_talk`), and emails delegates whose booked sessions moved or were cancelled.

Decisions, written down:
- Plenary slots: any slot a live plenary overlaps is a plenary slot, in every room (delegates are expected at
  the plenary; a workshop against it would split the audience). Every room may hold workshops otherwise.
- Sessions organisers placed by hand (live, not plenaries, not made from talks) stay where they are: the build
  pins a placeholder on each of their room-slots, so no workshop lands on them.
- Two slots are "joinable" (a 2-slot workshop may span them) when they are on the same local day with a break
  under an hour between them: coffee, not lunch.
- The published programme is the source of truth for stability: a rebuild keeps its groups of talks and asks
  the scheduler for the fewest moves from the rooms and times the sessions have *now* (hand edits included).
- A workshop is "the same session" as a published one when it has the same talks; its ProgrammeSession (and
  every seat booked in it) is kept and updated in place.

Lock order (sessions/workshops/capacity.py): the conference row (serialises builds' claims and publications) → the
draft's row → programme sessions, sorted by id. Registrations are never locked here (waiting lists are
promoted with SKIP LOCKED, as everywhere).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.db import Database, lock_for_update
from conference.core.models import Conference, Registration, utcnow
from conference.core.settings import Settings
from conference.mail.outbox import queue_email
from conference.places import get_conference
from sessions.call.accepted_talks import accepted_talks, speaker_unavailability, star_sets
from sessions.call.proposals import speakers_of
from sessions.call.stars import demand
from sessions.models import (
    STARRABLE,
    Kind,
    ProgrammeSession,
    Proposal,
    ProposalStatus,
    Room,
    ScheduleState,
    ScheduleVersion,
    SeatBooking,
    SeatStatus,
    SessionTalk,
    TimeSlot,
)
from sessions.schedule import grouping, scheduler
from sessions.schedule.check import CheckRoom, CheckSlot, Fixed, clash_pairs, find_warnings
from sessions.workshops import capacity, programme

DEFAULT_TIME_LIMIT = 30.0
MAX_TIME_LIMIT = 120.0
THREADS = 2  # CP-SAT workers; the machine's cores are shared with the web workers


class BuildRunning(errors.DomainError):
    code = "build_running"
    message = (
        "A build is already running; wait for it to finish (it takes at most its time limit), then try again."
    )


class DraftOutOfDate(errors.DomainError):
    code = "draft_out_of_date"
    message = (
        "A newer programme has been published since this draft was built; build a new draft from it "
        "(POST /api/v1/schedule/build) and publish that."
    )


class NotADraft(errors.DomainError):
    code = "not_a_draft"
    message = "Only a draft can be changed or published; this version is already {state}."


class DraftHasWarnings(errors.DomainError):
    code = "draft_has_warnings"
    message = "This draft breaks rules the programme must keep; fix them (move the workshops named) first."


class NothingToSchedule(errors.DomainError):
    code = "nothing_to_schedule"
    message = "There are no accepted talks to schedule yet."


class NoWorkshopSlots(errors.DomainError):
    code = "no_workshop_slots"
    message = "There are no rooms or no time slots free of plenaries; add them on the programme page first."


# --- what the build reads -------------------------------------------------------------------------------------


@dataclass
class Context:
    """The venue and programme as the checker and the scheduler see it (slots by index, in time order)."""

    conference: Conference
    slots: list[TimeSlot]
    check_slots: list[CheckSlot]
    rooms: dict[str, Room]
    plenary: frozenset[int]
    fixed: list[tuple[ProgrammeSession, Fixed]]
    unavailable: dict[str, frozenset[int]]  # speaker email key → slot indices
    managed: dict[
        str, tuple[ProgrammeSession, list[str]]
    ]  # workshop key → live session made from talks, talk ids
    published: ScheduleVersion | None

    def slot_index(self) -> dict[str, int]:
        return {str(s.id): i for i, s in enumerate(self.slots)}

    def check_rooms(self) -> dict[str, CheckRoom]:
        return {k: CheckRoom(k, r.name, r.capacity) for k, r in self.rooms.items()}

    def place(self, key: str, placement: dict[str, dict[str, str]]) -> tuple[str, int] | None:
        spot = placement.get(key)
        index = self.slot_index().get(spot["slot_id"], -1) if spot else -1
        return (spot["room_id"], index) if spot else None

    def placed(self, placement: dict[str, dict[str, str]]) -> dict[str, tuple[str, int]]:
        index = self.slot_index()
        return {k: (v["room_id"], index.get(v["slot_id"], -1)) for k, v in placement.items()}


def _covered(slots: list[TimeSlot], starts_at: datetime, ends_at: datetime) -> list[int]:
    return [i for i, s in enumerate(slots) if s.starts_at < ends_at and s.ends_at > starts_at]


async def load_context(db: AsyncSession) -> Context:
    conference = await get_conference(db)
    local = ZoneInfo(conference.timezone)
    slots = await programme.ordered_slots(db, conference.id)  # type: ignore[arg-type]
    rooms = {
        str(r.id): r
        for r in (
            await db.execute(
                sa.select(Room).where(Room.conference_id == conference.id).order_by(Room.position, Room.name)
            )
        ).scalars()
    }
    live = list(
        (
            await db.execute(
                sa.select(ProgrammeSession)
                .where(ProgrammeSession.conference_id == conference.id, ProgrammeSession.cancelled.is_(False))
                .order_by(ProgrammeSession.starts_at)
            )
        ).scalars()
    )  # type: ignore[attr-defined]
    links: dict[uuid.UUID, list[str]] = defaultdict(list)
    for link in (await db.execute(sa.select(SessionTalk).order_by(SessionTalk.position))).scalars():
        links[link.programme_session_id].append(str(link.proposal_id))
    plenary = frozenset(
        i for s in live if s.kind == Kind.plenary for i in _covered(slots, s.starts_at, s.ends_at)
    )
    fixed, managed = [], {}
    for s in live:
        if s.id in links:
            managed[grouping.workshop_key(links[s.id])] = (s, links[s.id])
        elif s.kind != Kind.plenary and s.room_id is not None:
            fixed.append(
                (s, Fixed(s.title, str(s.room_id), frozenset(_covered(slots, s.starts_at, s.ends_at))))
            )
    check_slots = []
    for i, s in enumerate(slots):
        start = s.starts_at.astimezone(local)
        nxt = slots[i + 1] if i + 1 < len(slots) else None
        joinable = (
            nxt is not None
            and nxt.starts_at.astimezone(local).date() == start.date()
            and (nxt.starts_at - s.ends_at) < timedelta(hours=1)
        )
        check_slots.append(
            CheckSlot(
                str(s.id),
                start.date().isoformat(),
                joinable,
                start.strftime("%a %-d %b %H:%M"),
                plenary=i in plenary,
            )
        )
    index = {s.id: i for i, s in enumerate(slots)}
    unavailable = {
        k: frozenset(index[x] for x in v if x in index) for k, v in (await speaker_unavailability(db)).items()
    }
    published = (
        (
            await db.execute(
                sa.select(ScheduleVersion).where(
                    ScheduleVersion.conference_id == conference.id,
                    ScheduleVersion.state == ScheduleState.published,
                )
            )
        )
        .scalars()
        .first()
    )
    return Context(conference, slots, check_slots, rooms, plenary, fixed, unavailable, managed, published)


@dataclass
class Pin:
    talk_id: uuid.UUID
    slot_id: uuid.UUID | None = None
    room_id: uuid.UUID | None = None


@dataclass
class Plan:
    """Everything the solve needs, computed before it (outside any transaction)."""

    workshops: list[grouping.Workshop]
    problem: scheduler.Problem
    previous: scheduler.Placement
    star_sets: list[frozenset[str]]
    talks: int
    slot_minutes: int
    figures: dict[str, Any] = field(default_factory=dict)


async def plan(db: AsyncSession, ctx: Context, *, stability: bool, pins: list[Pin]) -> Plan:
    """Group the accepted talks and state the scheduler's problem."""
    talks = await accepted_talks(db)
    if not talks:
        raise NothingToSchedule()
    free = [i for i in range(len(ctx.slots)) if i not in ctx.plenary]
    if not free or not ctx.rooms:
        raise NoWorkshopSlots()
    slot_minutes = min(
        int((ctx.slots[i].ends_at - ctx.slots[i].starts_at).total_seconds() // 60) for i in free
    )
    figures = await demand(db)
    scale = figures["registered"] / figures["starring_delegates"] if figures["starring_delegates"] else 0.0
    stars = [frozenset(str(t) for t in s) for s in await star_sets(db)]
    plain = [
        grouping.Talk(str(t.id), t.title, t.format.value, t.duration_minutes, t.themes, t.speakers, t.stars)
        for t in talks
    ]
    keep = [ids for _s, ids in ctx.managed.values()] if stability else []
    workshops = grouping.group_talks(
        plain, slot_minutes=slot_minutes, star_sets=stars, scale=scale, unavailable=ctx.unavailable, keep=keep
    )
    by_talk = {t.id: w for w in workshops for t in w.talks}
    index = {s.id: i for i, s in enumerate(ctx.slots)}
    pinned: dict[str, tuple[int | None, str | None]] = {}
    problems: dict[str, str] = {}
    for n, pin in enumerate(pins):
        w = by_talk.get(str(pin.talk_id))
        if w is None:
            problems[f"pins.{n}.talk_id"] = "No accepted talk has this id; see GET /api/v1/talks."
        elif pin.slot_id is not None and pin.slot_id not in index:
            problems[f"pins.{n}.slot_id"] = "No time slot has this id; see GET /api/v1/slots."
        elif pin.room_id is not None and str(pin.room_id) not in ctx.rooms:
            problems[f"pins.{n}.room_id"] = "No room has this id; see GET /api/v1/rooms."
        elif pin.slot_id is None and pin.room_id is None:
            problems[f"pins.{n}"] = "Give a slot_id, a room_id or both."
        else:
            pinned[w.key] = (
                index[pin.slot_id] if pin.slot_id else None,
                str(pin.room_id) if pin.room_id else None,
            )
    if problems:
        raise errors.InvalidInput(fields=problems)
    sessions = [
        scheduler.Session(
            id=w.key,
            duration=w.slot_count,
            speakers=w.speakers,
            themes=w.themes,
            audience=w.audience,
            stars=w.stars,
            forbidden_slots=ctx.plenary,
            pin_start=pinned.get(w.key, (None, None))[0],
            pin_room=pinned.get(w.key, (None, None))[1],
        )
        for w in workshops
    ]
    # Hand-placed sessions hold their room-slots: one pinned placeholder per slot (no speakers, no audience).
    for s, f in ctx.fixed:
        sessions += [
            scheduler.Session(id=f"fixed:{s.id}:{t}", pin_start=t, pin_room=f.room_id)
            for t in sorted(f.slots)
        ]
    slots = [
        scheduler.Slot(
            id=i,
            day=sorted({c.day for c in ctx.check_slots}).index(c.day),
            joinable_with_next=c.joinable_with_next,
            label=c.label,
        )
        for i, c in enumerate(ctx.check_slots)
    ]
    rooms = [scheduler.Room(id=k, capacity=r.capacity) for k, r in ctx.rooms.items()]
    star_keys = [tuple(sorted({by_talk[t].key for t in s if t in by_talk})) for s in stars]
    problem = scheduler.Problem(
        slots=slots,
        rooms=rooms,
        sessions=sessions,
        unavailable=ctx.unavailable,
        stars=[k for k in star_keys if k],
    )
    previous: scheduler.Placement = {}
    if stability:
        keys = {w.key for w in workshops}
        slot_index = ctx.slot_index()
        for key, (s, _ids) in ctx.managed.items():
            if key in keys and s.room_id is not None and str(s.start_slot_id) in slot_index:
                previous[key] = (str(s.room_id), slot_index[str(s.start_slot_id)])
        for s, f in ctx.fixed:
            previous.update({f"fixed:{s.id}:{t}": (f.room_id, t) for t in f.slots})
    return Plan(
        workshops,
        problem,
        previous,
        stars,
        len(plain),
        slot_minutes,
        {"registered": figures["registered"], "starring_delegates": figures["starring_delegates"]},
    )


# --- build ------------------------------------------------------------------------------------------------------


async def _claim(database: Database, *, time_limit: float, actor: Actor) -> int:
    """Record that a build is running (one at a time per conference, across workers), or refuse with 409."""
    async with database.transaction() as db:
        conference = await get_conference(db, for_update=True)
        running = (
            await db.execute(
                sa.select(ScheduleVersion).where(
                    ScheduleVersion.conference_id == conference.id,
                    ScheduleVersion.state == ScheduleState.building,
                )
            )
        ).scalars()
        for other in running:
            # A build whose process died never finishes: after its time limit and two minutes it stops counting.
            if other.created_at + timedelta(seconds=other.time_limit + 120) > utcnow():
                raise BuildRunning()
            other.state = ScheduleState.discarded
        claim = ScheduleVersion(
            conference_id=conference.id,
            state=ScheduleState.building,  # type: ignore[arg-type]
            created_by=actor.label[:120],
            time_limit=time_limit,
        )
        db.add(claim)
        await db.flush()
        assert claim.id is not None
        return claim.id


async def _release(database: Database, claim_id: int) -> None:
    async with database.transaction() as db:
        await db.execute(
            sa.update(ScheduleVersion)
            .where(
                ScheduleVersion.id == claim_id,  # type: ignore[arg-type]
                ScheduleVersion.state == ScheduleState.building,
            )
            .values(state=ScheduleState.discarded)
        )


def _readable(lines: list[str], workshops: list[grouping.Workshop], ctx: Context) -> list[str]:
    """The scheduler names sessions by key and slots by index; say titles, and add the slots' times."""
    titles = {w.key: f"'{w.title}'" for w in workshops}
    titles.update(
        {f"fixed:{s.id}:{t}": f"'{s.title}' (placed by hand)" for s, f in ctx.fixed for t in f.slots}
    )
    out = []
    for line in lines:
        for key in sorted(titles, key=len, reverse=True):
            line = line.replace(key, titles[key])
        out.append(line)
    if out:
        out.append(
            "Slots are numbered from 0 in time order: "
            + "; ".join(f"{i} = {c.label}" for i, c in enumerate(ctx.check_slots))
            + "."
        )
    return out


async def build_draft(
    database: Database,
    *,
    time_limit: float = DEFAULT_TIME_LIMIT,
    stability: bool = True,
    pins: list[Pin] | None = None,
    actor: Actor,
) -> ScheduleVersion:
    """Group, solve (in a thread, no transaction open) and store a draft; see the module docstring."""
    if not 0 < time_limit <= MAX_TIME_LIMIT:
        raise errors.InvalidInput(fields={"time_limit": f"Give seconds from 1 to {MAX_TIME_LIMIT:g}."})
    claim_id = await _claim(database, time_limit=time_limit, actor=actor)
    try:
        async with database.read() as db:
            ctx = await load_context(db)
            the_plan = await plan(db, ctx, stability=stability, pins=pins or [])
        try:
            schedule = await asyncio.to_thread(
                scheduler.solve,
                the_plan.problem,
                time_limit=time_limit,
                threads=THREADS,
                previous=the_plan.previous or None,
                stability=stability and bool(the_plan.previous),
            )
        except scheduler.ProblemError as exc:
            raise errors.InvalidInput(
                f"The programme's data cannot be scheduled: {exc}.",
                fields={"programme": "Check the rooms, slots and pins."},
            ) from None
        async with database.transaction() as db:
            draft = await lock_for_update(db, ScheduleVersion, claim_id)
            if draft.state != ScheduleState.building:
                raise BuildRunning("This build was set aside as stale while it ran; build again.")
            _store_result(draft, ctx, the_plan, schedule)
            await audit.record(
                db,
                "sessions.schedule.built",
                actor=actor,
                subject=str(draft.id),
                status=schedule.status,
                workshops=len(the_plan.workshops),
            )
            await db.flush()
            return draft
    finally:
        await _release(database, claim_id)


def _store_result(draft: ScheduleVersion, ctx: Context, the_plan: Plan, schedule: scheduler.Schedule) -> None:
    ids = [str(s.id) for s in ctx.slots]
    draft.placement = {
        k: {"room_id": room, "slot_id": ids[start]}
        for k, (room, start) in schedule.placement.items()
        if not k.startswith("fixed:")
    }
    draft.workshops = [w.public() for w in the_plan.workshops]
    moved = sorted(
        k
        for k, place in the_plan.previous.items()
        if not k.startswith("fixed:") and schedule.placement and schedule.placement.get(k) != place
    )
    figures = schedule.figures()
    figures.update(the_plan.figures)
    figures.update(
        {
            "explanation": _readable(schedule.explanation, the_plan.workshops, ctx),
            "moved": len(moved),
            "moved_workshops": moved,
            "published_sessions_kept": len(the_plan.previous)
            - len([k for k in the_plan.previous if k.startswith("fixed:")]),
            "talks": the_plan.talks,
            "workshops": len(the_plan.workshops),
            "slot_minutes": the_plan.slot_minutes,
            "rooms_over_capacity": len([k for k in schedule.over_capacity if not k.startswith("fixed:")]),
            "hand_moves": 0,
            "stages": schedule.stages,
        }
    )
    draft.figures = figures
    draft.base_version_id = ctx.published.id if ctx.published else None
    draft.state = ScheduleState.draft


# --- review: warnings and hand moves ----------------------------------------------------------------------------


async def get_version(db: AsyncSession, version_id: int) -> ScheduleVersion:
    version = await db.get(ScheduleVersion, version_id)
    if version is None or version.state == ScheduleState.building:
        raise errors.NotFound("No draft or version has this id; see GET /api/v1/schedule/versions.")
    return version


def warnings_for(draft: ScheduleVersion, ctx: Context) -> list[dict[str, Any]]:
    if not draft.placement:
        return []  # nothing placed: the figures' explanation says why
    fixed = [f for _s, f in ctx.fixed]
    return find_warnings(
        draft.workshops,
        ctx.placed(draft.placement),
        ctx.check_slots,
        ctx.check_rooms(),
        ctx.unavailable,
        fixed,
    )


async def check(db: AsyncSession, draft: ScheduleVersion) -> list[dict[str, Any]]:
    """Every broken rule in the draft, against the venue and speakers' availability as they are now."""
    return warnings_for(draft, await load_context(db))


async def move_workshop(
    db: AsyncSession, *, draft_id: int, key: str, room_id: uuid.UUID, slot_id: uuid.UUID, actor: Actor
) -> tuple[ScheduleVersion, list[dict[str, Any]]]:
    """Place one workshop by hand; returns the draft and its warnings (a move may break rules: they are shown)."""
    await get_version(db, draft_id)
    draft = await lock_for_update(db, ScheduleVersion, draft_id)
    if draft.state != ScheduleState.draft:
        raise NotADraft(NotADraft.message.format(state=draft.state.value))
    if key not in {w["key"] for w in draft.workshops}:
        raise errors.NotFound(
            "This draft has no workshop with this key; see GET /api/v1/schedule/drafts/{id}."
        )
    ctx = await load_context(db)
    problems = {}
    if str(room_id) not in ctx.rooms:
        problems["room_id"] = "No room has this id; see GET /api/v1/rooms."
    if str(slot_id) not in ctx.slot_index():
        problems["slot_id"] = "No time slot has this id; see GET /api/v1/slots."
    if problems:
        raise errors.InvalidInput(fields=problems)
    if not draft.placement:
        raise errors.DomainError("This draft has no schedule to change (the build found none); build again.")
    before = draft.placement.get(key)
    draft.placement = {**draft.placement, key: {"room_id": str(room_id), "slot_id": str(slot_id)}}
    stars = [frozenset(str(t) for t in s) for s in await star_sets(db)]
    pairs, most, with_clash = clash_pairs(draft.workshops, ctx.placed(draft.placement), stars)
    figures = dict(draft.figures)
    figures.update(
        {
            "clash_pairs": pairs,
            "clash_pairs_per_delegate_max": most,
            "delegates_with_clash": with_clash,
            "clash_pairs_per_delegate_mean": round(pairs / max(1, len(stars)), 4),
            "gap": round((pairs - figures.get("lower_bound", 0)) / pairs, 4) if pairs else 0.0,
            "hand_moves": int(figures.get("hand_moves", 0)) + 1,
            "status": "edited by hand",
        }
    )
    warnings = warnings_for(draft, ctx)
    figures["rooms_over_capacity"] = len({w["workshop"] for w in warnings if w["code"] == "room_too_small"})
    draft.figures = figures
    await audit.record(
        db,
        "sessions.schedule.workshop_moved",
        actor=actor,
        subject=str(draft.id),
        workshop=key,
        before=before,
        after=draft.placement[key],
    )
    await db.flush()
    return draft, warnings


# --- publish --------------------------------------------------------------------------------------------------


def _where(ctx: Context, room_id: str | None, start: datetime) -> dict[str, Any]:
    room = ctx.rooms.get(room_id or "")
    return {
        "room_id": room_id,
        "room": room.name if room else None,
        "starts_at": start.astimezone(ZoneInfo(ctx.conference.timezone)).isoformat(),
    }


def pending_changes(draft: ScheduleVersion, ctx: Context) -> list[dict[str, Any]]:
    """What publishing this draft would change in the live programme: added, moved (from → to), cancelled."""
    changes: list[dict[str, Any]] = []
    spots = ctx.placed(draft.placement)
    for w in draft.workshops:
        if w["key"] not in spots:
            continue
        room_id, start = spots[w["key"]]
        to = _where(ctx, room_id, ctx.slots[start].starts_at)
        current = ctx.managed.get(w["key"])
        if current is None:
            changes.append({"kind": "added", "key": w["key"], "title": w["title"], "to": to})
            continue
        s = current[0]
        if (str(s.room_id), str(s.start_slot_id)) != (room_id, str(ctx.slots[start].id)) or s.slot_count != w[
            "slot_count"
        ]:
            changes.append(
                {
                    "kind": "moved",
                    "key": w["key"],
                    "title": w["title"],
                    "session_id": str(s.id),
                    "from": _where(ctx, str(s.room_id) if s.room_id else None, s.starts_at),
                    "to": to,
                }
            )
    keys = {w["key"] for w in draft.workshops}
    for key, (s, _ids) in ctx.managed.items():
        if key not in keys:
            changes.append(
                {
                    "kind": "cancelled",
                    "key": key,
                    "title": s.title,
                    "session_id": str(s.id),
                    "from": _where(ctx, str(s.room_id) if s.room_id else None, s.starts_at),
                }
            )
    return changes


def _sentence(change: dict[str, Any], tz: ZoneInfo) -> str:
    def at(where: dict[str, Any]) -> str:
        when = datetime.fromisoformat(where["starts_at"]).astimezone(tz).strftime("%A %-d %B at %H:%M")
        return f"{when} in {where['room'] or 'no room'}"

    if change["kind"] == "cancelled":
        return f"'{change['title']}' ({at(change['from'])}) is cancelled; your seat is released."
    return f"'{change['title']}' has moved from {at(change['from'])} to {at(change['to'])}."


async def _describe(db: AsyncSession, w: dict[str, Any]) -> tuple[str, str]:
    """A session's description (its talks) and speakers line; speakers are named once they have confirmed."""
    ids = [uuid.UUID(t) for t in w["talk_ids"]]
    talks = {p.id: p for p in (await db.execute(sa.select(Proposal).where(Proposal.id.in_(ids)))).scalars()}  # type: ignore[attr-defined]
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
        for p in (await db.execute(sa.select(Proposal.id).where(Proposal.status.in_(STARRABLE))))  # type: ignore[attr-defined]
        .scalars()
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
            s = ProgrammeSession(conference_id=conference.id, kind=Kind.workshop, **values)  # type: ignore[arg-type]
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
            sa.select(sa.func.max(ScheduleVersion.number)).where(
                ScheduleVersion.conference_id == conference.id
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
                .where(SeatBooking.session_id.in_(list(by_session)), SeatBooking.status.in_(capacity.LIVE))  # type: ignore[attr-defined]
                .order_by(SeatBooking.created_at)
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
        if change["kind"] == "cancelled":
            seat.status, seat.updated_at = SeatStatus.cancelled, utcnow()
    people = {
        r.id: r
        for r in (await db.execute(sa.select(Registration).where(Registration.id.in_(list(lines))))).scalars()
    }  # type: ignore[attr-defined]
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


# --- what the API and the console show --------------------------------------------------------------------------


def version_public(v: ScheduleVersion, ctx: Context, *, detail: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": v.id,
        "state": v.state.value,
        "number": v.number,
        "base_version_id": v.base_version_id,
        "created_at": v.created_at.isoformat(),
        "created_by": v.created_by,
        "published_at": v.published_at.isoformat() if v.published_at else None,
        "published_by": v.published_by,
        "time_limit": v.time_limit,
        "figures": {k: x for k, x in v.figures.items() if k != "stages" or detail},
        "changes": v.changes,
    }
    if v.state == ScheduleState.draft:
        body["out_of_date"] = (ctx.published.id if ctx.published else None) != v.base_version_id
    if not detail:
        return body
    warnings = warnings_for(v, ctx) if v.state == ScheduleState.draft else []
    spots = ctx.placed(v.placement)
    workshops = []
    for w in v.workshops:
        spot = spots.get(w["key"])
        ok = spot is not None and 0 <= spot[1] < len(ctx.slots) and spot[0] in ctx.rooms
        start = ctx.slots[spot[1]] if ok and spot else None
        end = ctx.slots[min(len(ctx.slots) - 1, spot[1] + int(w["slot_count"]) - 1)] if ok and spot else None
        room = ctx.rooms[spot[0]] if ok and spot else None
        workshops.append(
            {
                **w,
                "room_id": spot[0] if spot else None,
                "room": room.name if room else None,
                "room_capacity": room.capacity if room else None,
                "slot_id": str(start.id) if start else None,
                "starts_at": start.starts_at.isoformat() if start else None,
                "ends_at": end.ends_at.isoformat() if end else None,
                "warnings": [x for x in warnings if x["workshop"] == w["key"]],
            }
        )
    body["workshops"] = workshops
    body["warnings"] = warnings
    if v.state == ScheduleState.draft and v.placement:
        body["pending_changes"] = pending_changes(v, ctx)
    return body


async def list_versions(db: AsyncSession) -> list[ScheduleVersion]:
    conference = await get_conference(db)
    return list(
        (
            await db.execute(
                sa.select(ScheduleVersion)
                .where(
                    ScheduleVersion.conference_id == conference.id,
                    ScheduleVersion.state != ScheduleState.building,
                )
                .order_by(ScheduleVersion.id.desc())
            )
        ).scalars()
    )  # type: ignore[union-attr]
