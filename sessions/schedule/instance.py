"""The benchmark JSON format of ../shared/bench/scheduler ("conference-scheduling-instance/1") to and from the
scheduler's plain data (`sessions.schedule.scheduler.Problem`), and placements in the form evaluate.py scores.

Reading checks the shape as it goes and collects every fault (a missing or mistyped field, an id that points
nowhere, a duplicate) into one ProblemError, each message saying where: `sessions[3] (S004): duration ...`.
The checks on the data's meaning (duplicate ids, slots out of order, stars for unknown sessions...) are the
scheduler's own (sessions/schedule/validation.py), so the organisers' build refuses the same things.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sessions.schedule.problem import Placement, Problem, ProblemError, Room, Schedule, Session, Slot
from sessions.schedule.validation import problem_faults, validate_problem

SCHEMA = "conference-scheduling-instance/1"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "text", bool: "true/false"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


class _Reader:
    """Typed reads that note a fault and return a default instead of raising."""

    def __init__(self) -> None:
        self.faults: list[str] = []

    def items(self, data: Mapping[str, Any], key: str, *, required: bool = True) -> list[Any]:
        value = data.get(key)
        if value is None and not required and key not in data:
            return []
        if not isinstance(value, list):
            self.faults.append(f'"{key}" must be a list, got {_kind(value)}')
            return []
        return value

    def integer(self, where: str, data: Mapping[str, Any], key: str, default: int | None = None) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            missing = key not in data and default is None
            self.faults.append(
                f"{where}: {key} is missing"
                if missing
                else f"{where}: {key} must be a whole number, got {value!r}"
            )
            return 0
        return value

    def text(self, where: str, data: Mapping[str, Any], key: str) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value:
            self.faults.append(
                f"{where}: {key} is missing"
                if key not in data
                else f"{where}: {key} must be text, got {value!r}"
            )
            return ""
        return value

    def texts(self, where: str, data: Mapping[str, Any], key: str) -> tuple[str, ...]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.faults.append(f"{where}: {key} must be a list of text, got {value!r}")
            return ()
        return tuple(value)

    def integers(self, where: str, data: Mapping[str, Any], key: str) -> frozenset[int]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            self.faults.append(f"{where}: {key} must be a list of slot ids, got {value!r}")
            return frozenset()
        return frozenset(value)

    def objects(
        self, data: Mapping[str, Any], key: str, *, required: bool = True
    ) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for k, item in enumerate(self.items(data, key, required=required)):
            if isinstance(item, dict):
                label = item.get("id")
                out.append((f"{key}[{k}]" + (f" ({label})" if isinstance(label, str | int) else ""), item))
            else:
                self.faults.append(f"{key}[{k}] must be an object, got {_kind(item)}")
        return out


def problem_from_json(data: Any) -> Problem:
    """The instance as a Problem, or ProblemError naming every fault. Optional extensions (not written by
    make_instance.py): per session "pin": {"start_slot": 3, "room": "R1"} and "forbidden_slots": [..]."""
    if not isinstance(data, dict):
        raise ProblemError(f"the instance must be a JSON object ({{...}}), got {_kind(data)}")
    if data.get("schema") != SCHEMA:
        raise ProblemError(f'not a {SCHEMA} instance ("schema" is {data.get("schema")!r})')
    read = _Reader()
    slots = []
    for where, s in read.objects(data, "slots"):
        joinable = s.get("joinable_with_next", False)
        if not isinstance(joinable, bool):
            read.faults.append(f"{where}: joinable_with_next must be true or false, got {joinable!r}")
        slots.append(
            Slot(
                id=read.integer(where, s, "id"),
                day=read.integer(where, s, "day"),
                joinable_with_next=joinable is True,
                label=f"{s.get('start', '')}-{s.get('end', '')}",
            )
        )
    rooms = [
        Room(id=read.text(where, r, "id"), capacity=read.integer(where, r, "capacity"))
        for where, r in read.objects(data, "rooms")
    ]
    unavailable: dict[str, frozenset[int]] = {}
    for where, sp in read.objects(data, "speakers", required=False):
        sid = read.text(where, sp, "id")
        if sid in unavailable:
            read.faults.append(f"speaker id {sid} is listed more than once")
        unavailable[sid] = read.integers(where, sp, "unavailable_slots")
    sessions = []
    for where, s in read.objects(data, "sessions"):
        pin = s.get("pin") or {}
        if not isinstance(pin, dict):
            read.faults.append(f"{where}: pin must be an object, got {_kind(pin)}")
            pin = {}
        pin_start = pin.get("start_slot")
        if pin_start is not None and (isinstance(pin_start, bool) or not isinstance(pin_start, int)):
            read.faults.append(f"{where}: pin start_slot must be a slot id, got {pin_start!r}")
            pin_start = None
        pin_room = pin.get("room")
        if pin_room is not None and not isinstance(pin_room, str):
            read.faults.append(f"{where}: pin room must be a room id, got {pin_room!r}")
            pin_room = None
        speakers = read.texts(where, s, "speakers")
        unknown = [sp for sp in speakers if sp not in unavailable]
        if unknown:
            read.faults.append(f"{where}: speaker(s) {', '.join(unknown)} are not in the speakers list")
        sessions.append(
            Session(
                id=read.text(where, s, "id"),
                duration=read.integer(where, s, "duration", 1),
                speakers=speakers,
                themes=read.texts(where, s, "themes"),
                audience=read.integer(where, s, "expected_audience", 0),
                stars=read.integer(where, s, "stars", 0),
                forbidden_slots=read.integers(where, s, "forbidden_slots"),
                pin_start=pin_start,
                pin_room=pin_room,
            )
        )
    stars = [read.texts(where, a, "stars") for where, a in read.objects(data, "attendees", required=False)]
    problem = Problem(slots=slots, rooms=rooms, sessions=sessions, unavailable=unavailable, stars=stars)
    if read.faults:
        # Shape faults first, then whatever the scheduler's own checks find in what could be read.
        raise ProblemError(*read.faults, *problem_faults(problem))
    validate_problem(problem)
    return problem


def load_problem(path: str | Path) -> Problem:
    """Read and check an instance file; every failure (missing file, not JSON, bad data) is a ProblemError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProblemError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ProblemError(f"{path}: cannot be read ({error.__class__.__name__})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProblemError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None
    return problem_from_json(data)


def placement_to_json(placement: Placement) -> dict[str, dict[str, Any]]:
    return {sid: {"room": room, "start_slot": start} for sid, (room, start) in sorted(placement.items())}


def placement_from_json(data: Any) -> Placement:
    """A placement written by placement_to_json or schedule_to_json (the "schedule" key), as evaluate.py reads;
    ProblemError when it is not one."""
    mapping = (
        data.get("schedule") if isinstance(data, dict) and isinstance(data.get("schedule"), dict) else data
    )
    if not isinstance(mapping, dict):
        raise ProblemError(
            f"a placement must be a JSON object of session id → room and slot, got {_kind(data)}"
        )
    out: Placement = {}
    for sid, place in mapping.items():
        room = place.get("room") if isinstance(place, dict) else None
        start = place.get("start_slot") if isinstance(place, dict) else None
        if not isinstance(room, str) or isinstance(start, bool) or not isinstance(start, int):
            raise ProblemError(
                f'placement of {sid}: expected {{"room": "...", "start_slot": N}}, got {place!r}'
            )
        out[sid] = (room, start)
    return out


def schedule_to_json(schedule: Schedule, solver: str = "conference.sessions.scheduler") -> dict[str, Any]:
    """What `conference schedule solve` writes: evaluate.py reads the "schedule" key and ignores the rest."""
    return {
        "solver": solver,
        "figures": schedule.figures(),
        "stages": schedule.stages,
        "schedule": placement_to_json(schedule.placement),
    }
