"""The scheduler's problem and answer as plain data, its compiled (indexed) form, and the objective."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# --- the problem and the answer ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    id: int  # equals the slot's index in Problem.slots (time order)
    day: int
    joinable_with_next: bool = True  # False before a break and at the end of a day
    label: str = ""


@dataclass(frozen=True)
class Room:
    id: str
    capacity: int


@dataclass(frozen=True)
class Session:
    id: str
    duration: int = 1  # consecutive slots
    speakers: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    audience: int = 0  # expected audience: the seats it needs (from stars, scaled to registrations)
    stars: int = 0
    forbidden_slots: frozenset[int] = frozenset()  # slots this session may not touch (besides its speakers')
    pin_start: int | None = None
    pin_room: str | None = None


@dataclass(frozen=True)
class Problem:
    slots: Sequence[Slot]
    rooms: Sequence[Room]
    sessions: Sequence[Session]
    unavailable: Mapping[str, frozenset[int]]  # speaker → slots they cannot do
    stars: Sequence[Sequence[str]]  # per delegate: the sessions they starred


Placement = dict[str, tuple[str, int]]  # session id → (room id, start slot)


@dataclass
class Schedule:
    placement: Placement  # empty when infeasible
    status: str  # "optimal" (bound reached), "feasible", "infeasible" or "unknown" (no answer in time)
    objective: int | None  # attendee clash pairs
    bound: int  # certified lower bound on the clash pairs of any valid schedule (0 if none proven)
    gap: float | None  # (objective - bound) / objective
    seconds: float
    clashes_mean: float = 0.0  # clash pairs per delegate
    clashes_max: int = 0
    delegates_with_clash: int = 0
    over_capacity: list[str] = field(default_factory=list)  # sessions in a room smaller than their audience
    same_theme_pairs: int = 0
    moved: list[str] = field(default_factory=list)  # sessions whose room or start differs from `previous`
    explanation: list[str] = field(default_factory=list)  # why it is infeasible
    internal_errors: list[str] = field(default_factory=list)  # a claim the scheduler caught itself out on
    stages: list[dict[str, Any]] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "clash_pairs": self.objective,
            "lower_bound": self.bound,
            "gap": None if self.gap is None else round(self.gap, 4),
            "seconds": round(self.seconds, 2),
            "clash_pairs_per_delegate_mean": round(self.clashes_mean, 4),
            "clash_pairs_per_delegate_max": self.clashes_max,
            "delegates_with_clash": self.delegates_with_clash,
            "rooms_over_capacity": len(self.over_capacity),
            "same_theme_pairs": self.same_theme_pairs,
            "moved": len(self.moved),
            "explanation": self.explanation,
            **({"internal_errors": self.internal_errors} if self.internal_errors else {}),
        }


class ProblemError(ValueError):
    """The problem data itself is malformed (unknown ids, slot ids out of order): not an infeasibility.
    `problems` lists every fault found, each a sentence an organiser can act on."""

    def __init__(self, *problems: str) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(problems))


# --- the compiled form: indices, valid starts, pair weights ------------------------------------------------


@dataclass
class Compiled:
    p: Problem
    n: int
    n_slots: int
    n_rooms: int
    rooms: list[int]  # room indices, biggest first
    dur: list[int]
    starts: list[list[int]]  # valid start slots per session (day, breaks, availability, pins)
    cover: list[dict[int, tuple[int, ...]]]  # session → start → slots it occupies
    fit: list[list[int]]  # room indices the session may use (big enough, pin), biggest first
    need: list[int]  # Hall rank: the session needs one of the `need` biggest rooms
    conflict: list[set[int]]  # sessions sharing a speaker
    conflict_matrix: np.ndarray  # the same, as a Boolean matrix
    w: list[list[int]]  # delegates who starred both
    theme: list[list[int]]  # 1 when two sessions share a theme


def valid_day_starts(p: Problem, duration: int) -> list[int]:
    slots = p.slots
    return [
        s
        for s in range(len(slots) - duration + 1)
        if all(
            slots[t].day == slots[t + 1].day and slots[t].joinable_with_next
            for t in range(s, s + duration - 1)
        )
    ]


def compile_problem(p: Problem) -> Compiled:
    for index, slot in enumerate(p.slots):
        if slot.id != index:
            raise ProblemError(
                f"slot ids must be 0..{len(p.slots) - 1} in time order (slot {slot.id} at {index})"
            )
    index_of = {s.id: i for i, s in enumerate(p.sessions)}
    if len(index_of) != len(p.sessions):
        raise ProblemError("session ids repeat")
    room_index = {r.id: k for k, r in enumerate(p.rooms)}
    by_size = sorted(range(len(p.rooms)), key=lambda k: (-p.rooms[k].capacity, k))
    n, n_slots = len(p.sessions), len(p.slots)
    starts, cover, fit, need = [], [], [], []
    for s in p.sessions:
        if s.pin_room is not None and s.pin_room not in room_index:
            raise ProblemError(f"session {s.id} is pinned to unknown room {s.pin_room}")
        blocked = set(s.forbidden_slots).union(*(p.unavailable.get(sp, frozenset()) for sp in s.speakers))
        ok = [
            t
            for t in valid_day_starts(p, s.duration)
            if not blocked.intersection(range(t, t + s.duration)) and s.pin_start in (None, t)
        ]
        starts.append(ok)
        cover.append({t: tuple(range(t, t + s.duration)) for t in valid_day_starts(p, s.duration)})
        rooms = [
            k for k in by_size if p.rooms[k].capacity >= s.audience and s.pin_room in (None, p.rooms[k].id)
        ]
        fit.append(rooms)
        need.append(max((by_size.index(k) + 1 for k in rooms), default=0))
    speakers_of = [set(s.speakers) for s in p.sessions]
    conflict = [{j for j in range(n) if j != i and speakers_of[i] & speakers_of[j]} for i in range(n)]
    w = [[0] * n for _ in range(n)]
    for starred in p.stars:
        ids = sorted({index_of[sid] for sid in starred if sid in index_of})
        for a, b in itertools.combinations(ids, 2):
            w[a][b] += 1
            w[b][a] += 1
    themes = [set(s.themes) for s in p.sessions]
    theme = [[int(i != j and bool(themes[i] & themes[j])) for j in range(n)] for i in range(n)]
    matrix = np.zeros((n, n), dtype=bool)
    for i in range(n):
        matrix[i, sorted(conflict[i])] = True
    return Compiled(
        p,
        n,
        n_slots,
        len(p.rooms),
        by_size,
        [s.duration for s in p.sessions],
        starts,
        cover,
        fit,
        need,
        conflict,
        matrix,
        w,
        theme,
    )


# --- objective figures ------------------------------------------------------------------------------------


def occupied(c: Compiled, start: Sequence[int]) -> list[set[int]]:
    return [set(c.cover[i][start[i]]) for i in range(c.n)]


def clash_pairs(c: Compiled, start: Sequence[int]) -> int:
    occ = occupied(c, start)
    return sum(c.w[i][j] for i, j in itertools.combinations(range(c.n), 2) if c.w[i][j] and occ[i] & occ[j])


def same_theme_pairs(c: Compiled, start: Sequence[int]) -> int:
    occ = occupied(c, start)
    return sum(1 for i, j in itertools.combinations(range(c.n), 2) if c.theme[i][j] and occ[i] & occ[j])
