"""Build a draft of the workshop programme from the accepted talks (issue 6).

`build_draft` reads the accepted and confirmed talks, speakers' unavailability, delegates' stars, rooms, slots
and what is published now (sessions/schedule/context.py); groups the talks into workshops
(sessions/schedule/grouping.py); solves in a worker thread (sessions/schedule/scheduler.py, never inside a
transaction); and stores a draft `ScheduleVersion` with its figures, or the explanation when no schedule exists.
What happens to a draft next: sessions/schedule/versions.py (`move_workshop` changes it by hand; `check` lists
every broken rule, sessions/schedule/check.py; what the API and the console show) and
sessions/schedule/publish.py (`publish` turns it into the next numbered version, writes the workshop sessions
and their talks (`session_talk`), and emails delegates whose booked sessions moved or were cancelled).

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
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.db import Database, lock_for_update
from conference.core.models import utcnow
from conference.places import get_conference
from sessions.call.accepted_talks import accepted_talks, star_sets
from sessions.call.stars import demand
from sessions.models import ScheduleState, ScheduleVersion
from sessions.schedule import grouping, scheduler
from sessions.schedule.context import Context, load_context

DEFAULT_TIME_LIMIT = 30.0
MAX_TIME_LIMIT = 120.0
THREADS = 2  # CP-SAT workers; the machine's cores are shared with the web workers


class BuildRunning(errors.DomainError):
    code = "build_running"
    message = (
        "A build is already running; wait for it to finish (it takes at most its time limit), then try again."
    )


class NothingToSchedule(errors.DomainError):
    code = "nothing_to_schedule"
    message = "There are no accepted talks to schedule yet."


class NoWorkshopSlots(errors.DomainError):
    code = "no_workshop_slots"
    message = "There are no rooms or no time slots free of plenaries; add them on the programme page first."


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


# --- build ----------------------------------------------------------------------------------------------------


async def _claim(database: Database, *, time_limit: float, actor: Actor) -> int:
    """Record that a build is running (one at a time per conference, across workers), or refuse with 409."""
    async with database.transaction() as db:
        conference = await get_conference(db, for_update=True)
        assert conference.id is not None
        running = (
            await db.execute(
                sa.select(ScheduleVersion).where(
                    col(ScheduleVersion.conference_id) == conference.id,
                    col(ScheduleVersion.state) == ScheduleState.building,
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
            state=ScheduleState.building,
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
                col(ScheduleVersion.id) == claim_id,
                col(ScheduleVersion.state) == ScheduleState.building,
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
