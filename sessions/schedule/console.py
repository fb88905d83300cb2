"""The organisers' build → review → publish page for the workshop programme (works without JavaScript).

Forms run through conference/web/forms.py's `act_alone` (each change opens its own transactions: a build runs
the solver between them): back (303) with `?done=<what>&draft=<id>`, or the page again with the problems.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference.console.login import require_console
from conference.core import errors
from conference.core.audit import Actor
from conference.web.forms import Change, Done, act_alone, done_message, show_again
from conference.web.request import database, settings
from conference.web.templating import render
from sessions.models import ScheduleState
from sessions.schedule import build as schedule_build
from sessions.schedule import context as schedule_context
from sessions.schedule import publish as schedule_publish
from sessions.schedule import versions as schedule_versions

# What each figure means, in plain words (shown beside the figures table).
FIGURES: list[tuple[str, str, str]] = [
    (
        "status",
        "Result",
        "optimal: proven best possible; feasible: a valid programme, maybe not the best; "
        "infeasible: no programme can keep every rule (the reasons are listed); edited by hand: moved since the build.",
    ),
    (
        "clash_pairs",
        "Clash pairs",
        "For each delegate, the pairs of workshops they starred that run at the same "
        "time, added up over all delegates. Lower is better.",
    ),
    (
        "lower_bound",
        "Lower bound",
        "A proven minimum: no programme with these rooms, slots and speakers can have "
        "fewer clash pairs than this.",
    ),
    (
        "gap",
        "Gap",
        "How far the result could still be from the best possible: (clash pairs − lower bound) ÷ clash "
        "pairs. 0% means proven best; 10% means at most a tenth of the clash pairs could be avoided.",
    ),
    (
        "clash_pairs_per_delegate_mean",
        "Clash pairs per delegate (mean)",
        "The clash pairs shared out over the delegates who starred talks.",
    ),
    (
        "clash_pairs_per_delegate_max",
        "Clash pairs for the worst-off delegate",
        "The most clash pairs any one delegate has.",
    ),
    (
        "delegates_with_clash",
        "Delegates with a clash",
        "Delegates who starred two workshops now at the same time.",
    ),
    (
        "rooms_over_capacity",
        "Rooms over capacity",
        "Workshops whose expected audience is larger than their room.",
    ),
    (
        "moved",
        "Sessions moved",
        "Published workshops this draft puts in another room or time (their delegates will be emailed).",
    ),
    ("workshops", "Workshops", "Sessions made from the accepted talks (short talks grouped to fill a slot)."),
    ("talks", "Talks", "Accepted and confirmed talks scheduled."),
    ("seconds", "Solve time (s)", "How long the scheduler ran, within the time limit."),
]
DONE = {
    "built": "The draft is built: its figures and grid are below.",
    "built_infeasible": "The draft is built, but no programme keeps every rule; the reasons are listed.",
    "moved": "Workshop moved; the draft keeps every rule.",
    "moved_with_warnings": "Workshop moved; the draft has warnings, listed below.",
    "published": "The version is published; delegates whose workshops changed are emailed.",
}


async def _page(
    request: Request,
    *,
    problems: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    await require_console(request, "organiser")
    wanted = request.query_params.get("draft", "")
    async with database(request).read() as db:
        ctx = await schedule_context.load_context(db)
        versions = await schedule_versions.list_versions(db)
        chosen = (
            next((v for v in versions if str(v.id) == wanted), None)
            or next((v for v in versions if v.state == ScheduleState.draft), None)
            or ctx.published
        )
        draft = schedule_versions.version_public(chosen, ctx) if chosen else None
        review = await schedule_versions.publish_review(db, chosen, ctx) if chosen else None
    grid = _grid(draft, ctx) if draft else []
    return render(
        request,
        "sessions/console_schedule.html",
        {
            "draft": draft,
            "review": review,
            "grid": grid,
            "conference": ctx.conference,  # the page's times (the |when filter) are in its time zone
            "rooms": list(ctx.rooms.values()),
            "slots": ctx.check_slots,
            "versions": [schedule_versions.version_public(v, ctx, detail=False) for v in versions],
            "published": ctx.published,
            "figures": FIGURES,
            "errors": problems or {},
            "values": values or {},
            "message": done_message(request, DONE),
            "max_time_limit": int(schedule_build.MAX_TIME_LIMIT),
        },
        status_code=status_code,
    )


def _grid(draft: dict[str, Any], ctx: schedule_context.Context) -> list[dict[str, Any]]:
    """Days → rows (slots) → one cell per room: the workshops there (a 2-slot one appears in both rows)."""
    index = ctx.slot_index()
    cells: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for w in draft.get("workshops", []):
        if w["slot_id"] in index and w["room_id"]:
            for t in range(index[w["slot_id"]], index[w["slot_id"]] + int(w["slot_count"])):
                cells.setdefault((t, w["room_id"]), []).append(w)
    hand = {(t, f.room_id): s.title for s, f in ctx.fixed for t in f.slots}
    days: list[dict[str, Any]] = []
    for t, slot in enumerate(ctx.check_slots):
        if not days or days[-1]["day"] != slot.day:
            days.append({"day": slot.day, "label": slot.label.rsplit(", ", 1)[0], "rows": []})
        days[-1]["rows"].append(
            {
                "slot": slot,
                "cells": [
                    {"workshops": cells.get((t, room_id), []), "hand": hand.get((t, room_id))}
                    for room_id in ctx.rooms
                ],
            }
        )
    return days


async def show(request: Request) -> Response:
    return await _page(request)


async def _act(request: Request, change: Change) -> Response:
    return await act_alone(
        request,
        change,
        actor=await require_console(request, "organiser", back="/console/programme/schedule"),
        back=request.url_for("console-schedule"),
        on_error=show_again(request, _page),
    )


def _draft_id(request: Request) -> int:
    raw = request.path_params["version_id"]
    if not raw.isdigit():
        raise errors.NotFound("No draft has this id.")
    return int(raw)


async def build(request: Request) -> Response:
    async def action(v: dict[str, str], actor: Actor) -> Done:
        try:
            limit = float(v.get("time_limit", "") or schedule_build.DEFAULT_TIME_LIMIT)
        except ValueError:
            raise errors.InvalidInput(fields={"time_limit": "Give a number of seconds, e.g. 30."}) from None
        if not 1 <= limit <= schedule_build.MAX_TIME_LIMIT:
            raise errors.InvalidInput(
                fields={"time_limit": f"Give 1 to {schedule_build.MAX_TIME_LIMIT:g} seconds."}
            )
        draft = await schedule_build.build_draft(
            database(request), time_limit=limit, stability=v.get("stability", "") == "yes", actor=actor
        )
        return Done("built" if draft.placement else "built_infeasible", {"draft": str(draft.id)})

    return await _act(request, action)


async def move(request: Request) -> Response:
    async def action(v: dict[str, str], actor: Actor) -> Done:
        draft_id = _draft_id(request)
        fields = {}
        ids: dict[str, uuid.UUID] = {}
        for name, what in (("room_id", "a room"), ("slot_id", "a time slot")):
            try:
                ids[name] = uuid.UUID(v.get(name, ""))
            except ValueError:
                fields[name] = f"Choose {what}."
        if not v.get("key"):
            fields["key"] = "Choose the workshop to move."
        if fields:
            raise errors.InvalidInput(fields=fields)
        async with database(request).transaction() as db:
            draft, warnings = await schedule_versions.move_workshop(
                db,
                draft_id=draft_id,
                key=v["key"],
                room_id=ids["room_id"],
                slot_id=ids["slot_id"],
                actor=actor,
            )
        return Done("moved_with_warnings" if warnings else "moved", {"draft": str(draft.id)})

    return await _act(request, action)


async def publish(request: Request) -> Response:
    async def action(v: dict[str, str], actor: Actor) -> Done:
        async with database(request).transaction() as db:
            draft_id = _draft_id(request)
            draft = await schedule_versions.get_version(db, draft_id)
            review = await schedule_versions.publish_review(
                db, draft, await schedule_context.load_context(db)
            )
            schedule_versions.check_confirmed(review, v.get("confirm", ""))
            version = await schedule_publish.publish(
                db, settings=settings(request), draft_id=draft_id, actor=actor
            )
        return Done("published", {"draft": str(version.id)})

    return await _act(request, action)


routes = [
    Route("/console/programme/schedule", show, methods=["GET"], name="console-schedule"),
    Route("/console/programme/schedule/build", build, methods=["POST"], name="console-schedule-build"),
    Route(
        "/console/programme/schedule/{version_id}/move", move, methods=["POST"], name="console-schedule-move"
    ),
    Route(
        "/console/programme/schedule/{version_id}/publish",
        publish,
        methods=["POST"],
        name="console-schedule-publish",
    ),
]
