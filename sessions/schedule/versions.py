"""A draft of the workshop programme after its build (sessions/schedule/build.py): the rules it breaks, moves
by hand, what publishing it would change, and the versions as the API and the console show them.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.db import lock_for_update
from conference.places import get_conference
from sessions.call.accepted_talks import star_sets
from sessions.models import ScheduleState, ScheduleVersion
from sessions.schedule.check import clash_pairs, find_warnings
from sessions.schedule.context import Context, load_context
from sessions.workshops import capacity


class NotADraft(errors.DomainError):
    code = "not_a_draft"
    message = "Only a draft can be changed or published; this version is already {state}."


# --- review: warnings and hand moves --------------------------------------------------------------------------


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


# --- what publishing would change -----------------------------------------------------------------------------


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


# --- what the API and the console show ------------------------------------------------------------------------


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
                    col(ScheduleVersion.conference_id) == conference.id,
                    col(ScheduleVersion.state) != ScheduleState.building,
                )
                .order_by(col(ScheduleVersion.id).desc())
            )
        ).scalars()
    )


# --- is the draft better than what is published? -------------------------------------------------------------


class NeedsConfirmation(errors.InvalidInput):
    code = "publish_not_confirmed"
    message = "This draft is no better than the published programme: confirm that you want to publish it."


async def publish_review(db: AsyncSession, draft: ScheduleVersion, ctx: Context) -> dict[str, Any]:
    """Whether publishing the draft would make the programme worse than the published one: more clash pairs
    (both counted with the stars as they are now), or workshops with booked delegates moved or cancelled. The
    console then asks for a confirmation naming them; `token` changes whenever what it names does."""
    review: dict[str, Any] = {"worse": False, "more_clashes": False, "moves": [], "booked": 0, "token": ""}
    if draft.state != ScheduleState.draft or not draft.placement or not ctx.managed:
        return review  # nothing published from talks yet: nothing to be worse than
    stars = [frozenset(str(t) for t in s) for s in await star_sets(db)]
    index = ctx.slot_index()
    live = [{"key": k, "talk_ids": ids, "slot_count": s.slot_count} for k, (s, ids) in ctx.managed.items()]
    live_at = {
        k: (str(s.room_id), index.get(str(s.start_slot_id), -1)) for k, (s, _ids) in ctx.managed.items()
    }
    published_pairs = clash_pairs(live, live_at, stars)[0]
    draft_pairs = clash_pairs(draft.workshops, ctx.placed(draft.placement), stars)[0]
    touched = [c for c in pending_changes(draft, ctx) if c["kind"] in ("moved", "cancelled")]
    counts = await capacity.seat_counts(db, [uuid.UUID(c["session_id"]) for c in touched])
    moves = [
        {**c, "booked": booked}
        for c in touched
        if (booked := counts.get(uuid.UUID(c["session_id"]), {}).get("booked", 0))
    ]
    facts = [
        draft.id,
        draft_pairs,
        published_pairs,
        *sorted((m["key"], m["kind"], m["booked"]) for m in moves),
    ]
    review.update(
        {
            "published_clash_pairs": published_pairs,
            "draft_clash_pairs": draft_pairs,
            "more_clashes": draft_pairs > published_pairs,
            "moves": moves,
            "booked": sum(m["booked"] for m in moves),
            "token": hashlib.sha256(json.dumps(facts, default=str).encode()).hexdigest()[:16],
        }
    )
    review["worse"] = review["more_clashes"] or bool(moves)
    return review


def check_confirmed(review: dict[str, Any], confirmation: str) -> None:
    """Refuse to publish a draft that is no better than the published programme unless the organiser confirmed
    exactly what the review names (a confirmation given for an older review asks again)."""
    if review["worse"] and confirmation != review["token"]:
        again = " What it changes has changed since: check the list again." if confirmation else ""
        raise NeedsConfirmation(
            fields={
                "confirm": "Tick the box to publish a draft that is no better than the published programme."
                + again
            }
        )
