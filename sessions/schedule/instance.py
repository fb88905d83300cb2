"""The benchmark JSON format of ../shared/bench/scheduler ("conference-scheduling-instance/1") to and from the
scheduler's plain data (`sessions.scheduler.Problem`), and placements in the form evaluate.py scores."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sessions.schedule.scheduler import Placement, Problem, ProblemError, Room, Schedule, Session, Slot

SCHEMA = "conference-scheduling-instance/1"


def problem_from_json(data: Mapping[str, Any]) -> Problem:
    """The instance as a Problem. Optional extensions (not written by make_instance.py): per session
    "pin": {"start_slot": 3, "room": "R1"} and "forbidden_slots": [..]."""
    if data.get("schema") != SCHEMA:
        raise ProblemError(f"not a {SCHEMA} instance (schema {data.get('schema')!r})")
    slots = [
        Slot(
            id=s["id"],
            day=s["day"],
            joinable_with_next=bool(s.get("joinable_with_next", False)),
            label=f"{s.get('start', '')}-{s.get('end', '')}",
        )
        for s in data["slots"]
    ]
    rooms = [Room(id=r["id"], capacity=int(r["capacity"])) for r in data["rooms"]]
    sessions = []
    for s in data["sessions"]:
        pin = s.get("pin") or {}
        sessions.append(
            Session(
                id=s["id"],
                duration=int(s.get("duration", 1)),
                speakers=tuple(s.get("speakers", ())),
                themes=tuple(s.get("themes", ())),
                audience=int(s.get("expected_audience", 0)),
                stars=int(s.get("stars", 0)),
                forbidden_slots=frozenset(s.get("forbidden_slots", ())),
                pin_start=pin.get("start_slot"),
                pin_room=pin.get("room"),
            )
        )
    unavailable = {sp["id"]: frozenset(sp.get("unavailable_slots", ())) for sp in data.get("speakers", ())}
    stars = [tuple(a.get("stars", ())) for a in data.get("attendees", ())]
    return Problem(slots=slots, rooms=rooms, sessions=sessions, unavailable=unavailable, stars=stars)


def load_problem(path: str | Path) -> Problem:
    return problem_from_json(json.loads(Path(path).read_text()))


def placement_to_json(placement: Placement) -> dict[str, dict[str, Any]]:
    return {sid: {"room": room, "start_slot": start} for sid, (room, start) in sorted(placement.items())}


def placement_from_json(data: Mapping[str, Any]) -> Placement:
    """A placement written by placement_to_json or schedule_to_json (the "schedule" key), as evaluate.py reads."""
    mapping = data["schedule"] if isinstance(data.get("schedule"), dict) else data
    return {sid: (place["room"], int(place["start_slot"])) for sid, place in mapping.items()}


def schedule_to_json(schedule: Schedule, solver: str = "conference.sessions.scheduler") -> dict[str, Any]:
    """What `conference schedule solve` writes: evaluate.py reads the "schedule" key and ignores the rest."""
    return {
        "solver": solver,
        "figures": schedule.figures(),
        "stages": schedule.stages,
        "schedule": placement_to_json(schedule.placement),
    }
