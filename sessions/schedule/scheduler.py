"""The programme scheduler: every session gets a room and a start slot, with as few starred-session clashes as
possible, and an honest certificate of how good the answer is.

This module is pure computation on plain data (no database); `sessions.schedule_instance` reads and writes
the benchmark JSON format, and the organisers' build feeds it the same `Problem` from the database.

Hard rules (never broken in an answer; an instance that cannot keep them comes back explained):
- every session gets one room and one start; a session of d slots holds d consecutive slots in that room,
  on one day, never across a break (`Slot.joinable_with_next`);
- a room holds one session per slot; no speaker is in two sessions at once, nor in a slot they can't do;
- the room seats the session's expected audience; organisers' pins (a start, a room, or both) are kept.

Objective (what "clash pairs" means in ../shared/bench/scheduler/evaluate.py): the sum over delegates of the
pairs of their starred sessions that share a slot. With w[i, j] = delegates who starred both i and j it is
sum of w[i, j] over the pairs of sessions that overlap, so it depends only on which sessions share a slot,
never on rooms. Secondary, as pure tie-breaks that can never cost a clash pair: fewer same-theme pairs in a
slot (variety), then the most-starred sessions in the biggest rooms.

How it is solved (each step is small and explainable):
1. Necessary conditions are checked first (a session with no start its speakers can do, a speaker with more
   talk-slots than free slots, too few big rooms for the big sessions, clashing pins), so the commonest
   infeasibilities are named precisely, without a solver.
2. Slots, by local search: simulated annealing over the start slots alone (move one session, or swap two of
   the same length; three cooling cycles, each reheating from the best answer), keeping the speaker rules
   and, per slot, Hall's condition for the nested room sizes (at most k of a slot's sessions need one of the k
   biggest rooms, for every k), which is exactly "this slot's sessions can be seated" for one slot.
3. Rooms, by CP-SAT given the slots: one Boolean per session and room big enough; one session per room and
   slot (a two-slot session keeps its room); previous rooms kept where possible, then popular sessions in
   big rooms. Should the slots not be seatable after all (a two-slot session's room across two slots, or a
   pinned room: Hall per slot is then only necessary), step 4's model takes over from the annealed hint.
4. The compact CP-SAT model. Variables: z[i, s, r] = session i starts in slot s in room r (valid starts and
   big-enough rooms only); o[i, j] = sessions i and j overlap (pairs somebody starred together, or sharing a
   theme). Constraints: one z per session; per room and slot at most one session; per speaker and slot at
   most one session; o[i, j] >= occ[i, t] + occ[j, t] - 1 for every slot t. Objective: sum w[i, j] o[i, j]
   (then same-theme pairs, scaled below one clash pair). Its LP bound is 0, and from scratch CP-SAT reaches
   1,943 clash pairs on the medium benchmark in 30 s (../shared/bench/scheduler/README.md) where step 2
   reaches ~1,820; so it is used where it is strong: (a) stability: given the published placement, it minimises first the sessions that move
   (room or start), then, with that many moves, the clash pairs (lexicographic), so a late change moves as
   few sessions as it must; (b) explanations: with one assumption literal per rule group (a session's
   speakers' availability, its capacity, its pin, a speaker's one-place-at-a-time), CP-SAT's sufficient
   assumptions for infeasibility name a small set of rule groups that cannot all hold; (c) the fallback
   when annealing finds no seated answer.
5. The lower bound. Since the objective depends only on which sessions share a slot, relax the problem to:
   choose at most T "slot groups" (sets of sessions that could share a slot: at most one per room, no
   common speaker, seatable by Hall's condition), covering every session once per slot it lasts, at least
   total cost. Its LP (set partitioning) is solved by column generation: master LP by GLOP, started from the
   slot groups of the annealed answers; pricing (the group of most value under the duals pi) by an exact
   branch and bound; duals smoothed toward the best ones so far (Wentges) against the LP's degeneracy.
   For any integer duals the Lagrangian bound  sum_i d_i pi_i - T max(0, max_g pi(g) - cost(g))  is valid
   (the "at most T groups" dual is taken as 0, which is never worse), so the bound is certified at every
   exact pricing, computed in integers (costs and duals in 1/2000 clash pair, duals rounded up), and never
   depends on the LP converging. Two two-slot sessions that overlap may share one or two slots but clash
   once, so their pair counts half per shared group: the relaxation can only under-count. On the medium
   benchmark this LP's value is 1,816 against ~1,820 found (gap well under 1%); on the large one (12 rooms,
   so groups of up to 12) pricing is slower and the bound in 30 s is far weaker.

Time budget (`time_limit`): ~40% annealing, then the bound (up to half of what is left; it stops as soon as
it can't rise further, or meets the answer: "optimal"), then annealing again from the best for the rest.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

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
        }


class ProblemError(ValueError):
    """The problem data itself is malformed (unknown ids, slot ids out of order): not an infeasibility."""


# --- the compiled form: indices, valid starts, pair weights ------------------------------------------------


@dataclass
class _Compiled:
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


def _valid_day_starts(p: Problem, duration: int) -> list[int]:
    slots = p.slots
    return [
        s
        for s in range(len(slots) - duration + 1)
        if all(
            slots[t].day == slots[t + 1].day and slots[t].joinable_with_next
            for t in range(s, s + duration - 1)
        )
    ]


def compile_problem(p: Problem) -> _Compiled:
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
            for t in _valid_day_starts(p, s.duration)
            if not blocked.intersection(range(t, t + s.duration)) and s.pin_start in (None, t)
        ]
        starts.append(ok)
        cover.append({t: tuple(range(t, t + s.duration)) for t in _valid_day_starts(p, s.duration)})
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
    return _Compiled(
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


# --- step 1: necessary conditions, named ------------------------------------------------------------------


def necessary_conditions(c: _Compiled) -> list[str]:
    """Reasons the problem cannot be solved that need no search (empty when none is found)."""
    p, why = c.p, []
    for i, s in enumerate(p.sessions):
        if not c.starts[i]:
            day_starts = _valid_day_starts(p, s.duration)
            if s.pin_start is not None and s.pin_start not in day_starts:
                why.append(
                    f"pin: session {s.id} is pinned to slot {s.pin_start}, where a {s.duration}-slot "
                    "session cannot start (day end or break)"
                )
            else:
                busy = {sp: sorted(p.unavailable.get(sp, ())) for sp in s.speakers if p.unavailable.get(sp)}
                why.append(
                    f"availability: session {s.id} ({s.duration} slot(s)) has no start slot its speakers "
                    f"can all do{'' if s.pin_start is None else f' (pinned to slot {s.pin_start})'}; "
                    f"unavailable: {busy}{'' if not s.forbidden_slots else f', session forbidden in {sorted(s.forbidden_slots)}'}"
                )
        if not c.fit[i]:
            biggest = max((r.capacity for r in p.rooms), default=0)
            where = f"pinned room {s.pin_room}" if s.pin_room else f"the biggest room ({biggest} seats)"
            why.append(f"capacity: session {s.id} expects {s.audience} but {where} is too small")
    # A speaker needs as many free slots as their sessions last.
    for sp in sorted({sp for s in p.sessions for sp in s.speakers}):
        mine = [i for i, s in enumerate(p.sessions) if sp in s.speakers]
        usable = set().union(*(set(c.cover[i][t]) for i in mine for t in c.starts[i]))
        needed = sum(c.dur[i] for i in mine)
        if len(mine) > 1 and needed > len(usable):
            why.append(
                f"speaker {sp}: sessions {[p.sessions[i].id for i in mine]} need {needed} slots but the "
                f"speaker can be in only {len(usable)} ({sorted(usable)})"
            )
    # Nested rooms (Hall): sessions that need one of the k biggest rooms fit into k rooms x all slots.
    for k in range(1, c.n_rooms + 1):
        needed = sum(c.dur[i] for i in range(c.n) if 0 < c.need[i] <= k)
        if needed > k * c.n_slots:
            cap = p.rooms[c.rooms[k - 1]].capacity
            why.append(
                f"capacity: sessions that need a room of at least {cap} seats need {needed} room-slots; "
                f"the {k} room(s) that big offer {k * c.n_slots}"
            )
            break
    # Pins that collide with each other.
    pinned = [i for i, s in enumerate(p.sessions) if s.pin_start is not None]
    for i, j in itertools.combinations(pinned, 2):
        si, sj = p.sessions[i], p.sessions[j]
        assert si.pin_start is not None and sj.pin_start is not None
        if set(range(si.pin_start, si.pin_start + si.duration)) & set(
            range(sj.pin_start, sj.pin_start + sj.duration)
        ):
            if si.pin_room is not None and si.pin_room == sj.pin_room:
                why.append(
                    f"pin: sessions {si.id} and {sj.id} are pinned to room {si.pin_room} at the same time"
                )
            if j in c.conflict[i]:
                why.append(
                    f"pin: sessions {si.id} and {sj.id} share a speaker and are pinned to the same time"
                )
    return why


# --- objective figures ------------------------------------------------------------------------------------


def _occupied(c: _Compiled, start: Sequence[int]) -> list[set[int]]:
    return [set(c.cover[i][start[i]]) for i in range(c.n)]


def clash_pairs(c: _Compiled, start: Sequence[int]) -> int:
    occ = _occupied(c, start)
    return sum(c.w[i][j] for i, j in itertools.combinations(range(c.n), 2) if c.w[i][j] and occ[i] & occ[j])


def _same_theme_pairs(c: _Compiled, start: Sequence[int]) -> int:
    occ = _occupied(c, start)
    return sum(1 for i, j in itertools.combinations(range(c.n), 2) if c.theme[i][j] and occ[i] & occ[j])


# --- step 2: slots by simulated annealing -----------------------------------------------------------------


class _Slots:
    """Start slots with the bookkeeping for O(session) move checks: who is in each slot, and per slot and k how
    many of its sessions need one of the k biggest rooms (Hall: never more than k)."""

    def __init__(self, c: _Compiled, weight: list[list[float]]) -> None:
        self.c, self.wt = c, weight
        self.start = [-1] * c.n
        self.occ: list[set[int]] = [set() for _ in range(c.n_slots)]
        self.hall = [[0] * (c.n_rooms + 1) for _ in range(c.n_slots)]

    def fits(self, i: int, s: int) -> bool:
        c = self.c
        for t in c.cover[i][s]:
            if self.occ[t] & c.conflict[i]:
                return False
            counts = self.hall[t]
            if any(counts[k] >= k for k in range(c.need[i], c.n_rooms + 1)):
                return False
        return True

    def cost(self, i: int, s: int) -> float:
        """Weight of i's pairs with the sessions in the slots it would occupy starting at s (i not placed)."""
        c, row = self.c, self.wt[i]
        cover = c.cover[i][s]
        others = self.occ[cover[0]] if len(cover) == 1 else set().union(*(self.occ[t] for t in cover))
        return sum(row[j] for j in others if j != i)

    def place(self, i: int, s: int) -> None:
        self.start[i] = s
        for t in self.c.cover[i][s]:
            self.occ[t].add(i)
            counts = self.hall[t]
            for k in range(self.c.need[i], self.c.n_rooms + 1):
                counts[k] += 1

    def lift(self, i: int) -> int:
        s = self.start[i]
        for t in self.c.cover[i][s]:
            self.occ[t].discard(i)
            counts = self.hall[t]
            for k in range(self.c.need[i], self.c.n_rooms + 1):
                counts[k] -= 1
        self.start[i] = -1
        return s


def _greedy(c: _Compiled, state: _Slots, rng: random.Random) -> bool:
    """Hardest sessions first (fewest starts, biggest audience), each where it costs least; False if stuck."""
    order = sorted(range(c.n), key=lambda i: (len(c.starts[i]), c.need[i], -c.dur[i], rng.random()))
    for i in order:
        options = [s for s in c.starts[i] if state.fits(i, s)]
        if not options:
            return False
        state.place(i, min(options, key=lambda s: (state.cost(i, s), rng.random())))
    return True


def anneal(
    c: _Compiled,
    initial: Sequence[int] | None,
    seconds: float,
    seed: int = 1,
    snapshots: list[list[int]] | None = None,
) -> tuple[list[int] | None, int]:
    """Start slots by simulated annealing: returns (best starts, moves tried), or (None, 0) if no start found.
    `snapshots` collects the last 30 best answers met (their slot groups seed the lower bound's LP)."""
    rng = random.Random(seed)
    total_theme = sum(map(sum, c.theme)) // 2
    eps = 1.0 / (total_theme + 1)  # all theme pairs together weigh less than one clash pair: a tie-break
    weight = [[c.w[i][j] + eps * c.theme[i][j] for j in range(c.n)] for i in range(c.n)]
    state = _Slots(c, weight)
    if initial is not None:
        for i, s in enumerate(initial):
            state.place(i, s)
    elif not _greedy(c, state, rng):
        return None, 0
    current = sum(state.cost(i, state.start[i]) for i in range(c.n)) / 2
    best, best_start = current, list(state.start)
    movable = [i for i in range(c.n) if len(c.starts[i]) > 1]
    if not movable:
        return best_start, 0
    by_duration: dict[int, list[int]] = {}
    for i in movable:
        by_duration.setdefault(c.dur[i], []).append(i)
    # Temperature in clash pairs, cooled geometrically over the time budget; restarts from the best when cold.
    mean_w = max(1.0, sum(map(sum, c.w)) / max(1, c.n * (c.n - 1)))
    hot, cold = 2.0 * mean_w, 0.02 * mean_w
    started = time.perf_counter()
    tried = 0
    temperature = hot
    while True:
        if tried % 256 == 0:
            elapsed = (time.perf_counter() - started) / seconds
            if elapsed >= 1.0:
                break
            cycle = (elapsed * 3) % 1.0  # three cooling cycles, each reheating from the best answer
            if cycle < 0.002 and tried and current > best:
                for i in range(c.n):
                    state.lift(i)
                for i, s in enumerate(best_start):
                    state.place(i, s)
                current = best
            temperature = hot * (cold / hot) ** cycle
        tried += 1
        i = movable[rng.randrange(len(movable))]
        a = state.start[i]
        if rng.random() < 0.5:
            b = c.starts[i][rng.randrange(len(c.starts[i]))]
            if b == a:
                continue
            old = state.cost(i, a)
            state.lift(i)
            if not state.fits(i, b):
                state.place(i, a)
                continue
            delta = state.cost(i, b) - old
            if delta <= 0 or rng.random() < math.exp(-delta / temperature):
                state.place(i, b)
                current += delta
            else:
                state.place(i, a)
        else:
            peers = by_duration[c.dur[i]]
            j = peers[rng.randrange(len(peers))]
            b = state.start[j]
            if b == a or b not in c.cover[i] or a not in c.cover[j]:
                continue
            if b not in c.starts[i] or a not in c.starts[j]:
                continue
            overlap = bool(set(c.cover[i][a]) & set(c.cover[j][b]))
            old = state.cost(i, a) + state.cost(j, b) - (weight[i][j] if overlap else 0.0)
            state.lift(i)
            state.lift(j)
            if state.fits(i, b):
                state.place(i, b)
                if state.fits(j, a):
                    delta = state.cost(i, b) + state.cost(j, a) - old
                    if delta <= 0 or rng.random() < math.exp(-delta / temperature):
                        state.place(j, a)
                        current += delta
                        if current < best - 1e-9:
                            best, best_start = current, list(state.start)
                            if snapshots is not None:
                                snapshots.append(best_start)
                                del snapshots[:-30]
                        continue
                state.lift(i)
            state.place(i, a)
            state.place(j, b)
            continue
        if current < best - 1e-9:
            best, best_start = current, list(state.start)
            if snapshots is not None:
                snapshots.append(best_start)
                del snapshots[:-30]
    return best_start, tried


# --- step 3 and 4: CP-SAT models ---------------------------------------------------------------------------


def _solver(seconds: float, threads: int, seed: int) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, seconds)
    solver.parameters.num_workers = max(1, threads)
    solver.parameters.random_seed = seed
    return solver


def assign_rooms(
    c: _Compiled, start: Sequence[int], previous: Placement | None, seconds: float, threads: int
) -> list[int] | None:
    """Rooms for fixed starts: one per session, one session per room and slot; keep previous rooms, then put
    the most-starred sessions in the biggest rooms. None when the starts cannot be seated."""
    m = cp_model.CpModel()
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    per_room_slot: dict[tuple[int, int], list[cp_model.IntVar]] = {}
    rank = {r: k for k, r in enumerate(c.rooms)}
    kept, tie = [], []
    room_ids = [r.id for r in c.p.rooms]
    for i in range(c.n):
        for r in c.fit[i]:
            x[i, r] = m.new_bool_var(f"x{i}_{r}")
            for t in c.cover[i][start[i]]:
                per_room_slot.setdefault((r, t), []).append(x[i, r])
            tie.append(c.p.sessions[i].stars * rank[r] * x[i, r])
            if previous and previous.get(c.p.sessions[i].id, ("", -1))[0] == room_ids[r]:
                kept.append(x[i, r])
        m.add_exactly_one(x[i, r] for r in c.fit[i])
    for group in per_room_slot.values():
        if len(group) > 1:
            m.add_at_most_one(group)
    scale = sum(s.stars for s in c.p.sessions) * max(1, c.n_rooms) + 1
    m.minimize(sum(tie) - scale * sum(kept))
    solver = _solver(seconds, threads, 1)
    if solver.solve(m) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return [next(r for r in c.fit[i] if solver.value(x[i, r])) for i in range(c.n)]


@dataclass
class _Compact:
    model: cp_model.CpModel
    z: dict[tuple[int, int, int], cp_model.IntVar]
    clash: Any  # linear expression: clash pairs
    theme: Any  # linear expression: same-theme pairs sharing a slot
    moves: Any  # linear expression: sessions that move (0 without a previous placement)
    groups: dict[Any, str]  # assumption literal → the rule group it switches on (explain mode)


def compact_model(c: _Compiled, previous: Placement | None = None, explain: bool = False) -> _Compact:
    """The compact model of the module docstring. With explain=True every rule group hangs on an assumption
    literal, and starts/rooms are not pre-filtered by the rules they would break."""
    m = cp_model.CpModel()
    p = c.p
    groups: dict[Any, str] = {}

    def rule(name: str) -> Any:
        literal = m.new_bool_var(name)
        groups[literal] = name
        return literal

    z: dict[tuple[int, int, int], cp_model.IntVar] = {}
    all_rooms = list(c.rooms)
    room_ids = [r.id for r in p.rooms]
    for i, s in enumerate(p.sessions):
        starts = list(c.cover[i]) if explain else c.starts[i]
        rooms = all_rooms if explain else c.fit[i]
        for t in starts:
            for r in rooms:
                z[i, t, r] = m.new_bool_var(f"z{i}_{t}_{r}")
        m.add_exactly_one(z[i, t, r] for t in starts for r in rooms)
        if explain:
            busy = set(s.forbidden_slots).union(*(p.unavailable.get(sp, frozenset()) for sp in s.speakers))
            bad = [t for t in starts if busy.intersection(c.cover[i][t])]
            if bad:
                names = [sp for sp in s.speakers if p.unavailable.get(sp)]
                lit = rule(f"availability: session {s.id} only when its speakers {names} are available")
                for t in bad:
                    for r in rooms:
                        m.add_implication(lit, z[i, t, r].negated())
            small = [r for r in rooms if p.rooms[r].capacity < s.audience]
            if small:
                lit = rule(f"capacity: session {s.id} ({s.audience} expected) in a room that seats them")
                for t in starts:
                    for r in small:
                        m.add_implication(lit, z[i, t, r].negated())
            if s.pin_start is not None or s.pin_room is not None:
                lit = rule(f"pin: session {s.id} at slot {s.pin_start} / room {s.pin_room}")
                for t in starts:
                    for r in rooms:
                        if s.pin_start not in (None, t) or s.pin_room not in (None, room_ids[r]):
                            m.add_implication(lit, z[i, t, r].negated())
    occ: list[dict[int, list[Any]]] = [{} for _ in range(c.n)]
    per_room_slot: dict[tuple[int, int], list[Any]] = {}
    for (i, t, r), var in z.items():
        for u in c.cover[i][t]:
            occ[i].setdefault(u, []).append(var)
            per_room_slot.setdefault((r, u), []).append(var)
    for group in per_room_slot.values():
        if len(group) > 1:
            m.add_at_most_one(group)
    occ_expr = [{u: sum(vs) for u, vs in occ[i].items()} for i in range(c.n)]
    for sp in sorted({sp for s in p.sessions for sp in s.speakers}):
        mine = [i for i, s in enumerate(p.sessions) if sp in s.speakers]
        if len(mine) < 2:
            continue
        lit = (
            rule(f"speaker {sp} in one place at a time ({[p.sessions[i].id for i in mine]})")
            if explain
            else None
        )
        for u in range(c.n_slots):
            terms = [occ_expr[i][u] for i in mine if u in occ_expr[i]]
            if len(terms) > 1:
                con = m.add(sum(terms) <= 1)
                if lit is not None:
                    con.only_enforce_if(lit)
    clash_terms, theme_terms = [], []
    for i, j in itertools.combinations(range(c.n), 2):
        if not (c.w[i][j] or c.theme[i][j]):
            continue
        common = set(occ_expr[i]) & set(occ_expr[j])
        if not common:
            continue
        o = m.new_bool_var(f"o{i}_{j}")
        for u in common:
            m.add(o >= occ_expr[i][u] + occ_expr[j][u] - 1)
        if c.w[i][j]:
            clash_terms.append(c.w[i][j] * o)
        if c.theme[i][j]:
            theme_terms.append(o)
    move_terms = []
    if previous:
        index = {r.id: k for k, r in enumerate(p.rooms)}
        for i, s in enumerate(p.sessions):
            room, slot = previous.get(s.id, ("", -1))
            stay = z.get((i, slot, index.get(room, -1)))
            move_terms.append(1 - stay if stay is not None else 1)
    return _Compact(m, z, sum(clash_terms), sum(theme_terms), sum(move_terms), groups)


def _hint(compact: _Compact, start: Sequence[int], room: Sequence[int]) -> None:
    compact.model.clear_hints()  # type: ignore[no-untyped-call]  # untyped in OR-Tools 9.15
    for (i, t, r), var in compact.z.items():
        compact.model.add_hint(var, int(start[i] == t and room[i] == r))


def _read(c: _Compiled, compact: _Compact, solver: cp_model.CpSolver) -> tuple[list[int], list[int]]:
    start, room = [-1] * c.n, [-1] * c.n
    for (i, t, r), var in compact.z.items():
        if solver.value(var):
            start[i], room[i] = t, r
    return start, room


def explain_infeasible(c: _Compiled, seconds: float) -> list[str]:
    """A set of rule groups that cannot all hold (CP-SAT's sufficient assumptions), or why none was found."""
    compact = compact_model(c, explain=True)
    literals = list(compact.groups)
    compact.model.add_assumptions(literals)
    solver = _solver(seconds, 1, 1)  # the assumption core is reported by the single-worker search
    status = solver.solve(compact.model)
    if status == cp_model.INFEASIBLE:
        core = solver.sufficient_assumptions_for_infeasibility()
        by_index = {lit.index: name for lit, name in compact.groups.items()}
        names = sorted(by_index[k] for k in core if k in by_index)
        if names:
            return ["these rules cannot all hold together:", *names]
        return ["the rooms cannot hold all sessions at once (too few room-slots for the sessions' lengths)"]
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return []
    return [f"no schedule found and no proof of infeasibility within {seconds:g} s"]


# --- step 5: the lower bound by column generation ----------------------------------------------------------


def lower_bound(
    c: _Compiled, groups: Sequence[Sequence[int]], seconds: float, target: int | None = None
) -> tuple[int, dict[str, Any]]:
    """A certified lower bound on the clash pairs (module docstring, step 5). `groups` are the slot groups of
    a known schedule (a feasible start for the master LP). Stops at `target` (a bound good enough), when the
    LP is proven optimal, or at the time limit; the bound returned is valid whenever it stops.

    The master LP's duals jump about (the LP is very degenerate), so pricing uses duals smoothed toward the
    best ones found so far (Wentges' stabilisation): pi_sep = a * pi_best + (1 - a) * pi_lp."""
    from ortools.linear_solver import pywraplp

    deadline = time.perf_counter() + seconds
    two = np.array([d > 1 for d in c.dur])
    cost2 = np.array(c.w, dtype=np.int64) * np.where(np.outer(two, two), _SCALE // 2, _SCALE)
    lp = pywraplp.Solver.CreateSolver("GLOP")
    cover = [lp.Constraint(c.dur[i], c.dur[i], f"cover{i}") for i in range(c.n)]
    count = lp.Constraint(0, c.n_slots, "slots")
    objective = lp.Objective()
    objective.SetMinimization()
    seen: set[frozenset[int]] = set()

    def add(group: Sequence[int]) -> bool:
        key = frozenset(group)
        if key in seen or not key:
            return False
        seen.add(key)
        var = lp.NumVar(0, lp.infinity(), "")
        objective.SetCoefficient(var, _cost(cost2, key) / _SCALE)
        for i in key:
            cover[i].SetCoefficient(var, 1)
        count.SetCoefficient(var, 1)
        return True

    for g in groups:
        add(g)
    best_scaled, center = 0, [0] * c.n
    rounds = pricings = 0
    lp_value = math.inf
    alpha = 0.8
    converged = False
    while time.perf_counter() < deadline:
        rounds += 1
        if lp.Solve() != pywraplp.Solver.OPTIMAL:
            break
        lp_value = objective.Value()
        if lp_value * _SCALE - best_scaled < _SCALE or (
            target is not None and best_scaled >= target * _SCALE
        ):
            break  # the bound can't rise past the LP value (rounded up to a whole clash pair), or is good enough
        lp_pi = [con.dual_value() * _SCALE for con in cover]
        while time.perf_counter() < deadline:
            # Any integer duals give a valid Lagrangian bound; mu is taken as 0 (never worse, see the docstring).
            pi = [math.ceil(alpha * center[i] + (1 - alpha) * lp_pi[i] - 1e-9) for i in range(c.n)]
            pricings += 1
            most, proven, found = _price(c, cost2, pi, deadline)
            if not proven:
                break
            bound_scaled = sum(c.dur[i] * pi[i] for i in range(c.n)) - c.n_slots * most
            if bound_scaled > best_scaled:
                best_scaled, center = bound_scaled, pi
            # Columns priced at the smoothed duals may not be improving for the LP's own duals: then move the
            # separation point toward the LP's duals (at alpha = 0 this is plain column generation).
            improving = [g for g in found if sum(lp_pi[i] for i in g) - _cost(cost2, g) > 1e-6]
            if sum(add(g) for g in improving):
                break
            if alpha == 0.0:
                converged = True  # no improving column at the LP's own duals: the LP is solved
                break
            alpha = alpha - 0.3 if alpha > 0.3 else 0.0
        if converged or time.perf_counter() >= deadline:
            break
    best = -(-best_scaled // _SCALE)  # a whole number of clash pairs, rounded up (the objective is whole)
    return best, {
        "lp": None if lp_value == math.inf else round(lp_value, 2),
        "lp_solved": converged,
        "rounds": rounds,
        "pricings": pricings,
        "columns": len(seen),
    }


def _cost(cost2: np.ndarray, group: Sequence[int] | frozenset[int]) -> int:
    members = sorted(group)
    return int(cost2[np.ix_(members, members)].sum()) // 2


_SCALE = 2000  # duals and costs in units of 1/2000 clash pair: the half-weight two-slot pairs stay integral


def _price(
    c: _Compiled, cost2: np.ndarray, pi: list[int], deadline: float, keep: int = 40
) -> tuple[int, bool, list[list[int]]]:
    """max over slot groups of pi(group) - cost(group), by branch and bound: (the maximum, proven, up to
    `keep` best groups with a positive value). Only sessions with a positive gain can help (weights are >= 0,
    and a group minus a member is still a group); at each node the candidates are sorted by gain, the k-th
    child may add only candidates after it (each group is met once), and since gains only fall as a group
    grows, a child whose gain plus the next `room - 1` gains can't beat the best ends the loop."""
    conflict, need, rooms = c.conflict_matrix, c.need, c.n_rooms
    best = 0
    top: list[tuple[int, list[int]]] = []
    nodes = 0
    timed_out = False

    def dfs(cand: np.ndarray, gains: np.ndarray, group: list[int], needs: list[int], value: int) -> None:
        nonlocal best, nodes, timed_out
        nodes += 1
        if nodes % 1024 == 0 and time.perf_counter() > deadline:
            timed_out = True
        room = rooms - len(group)
        if timed_out or room == 0:
            return
        keep_mask = gains > 0
        cand, gains = cand[keep_mask], gains[keep_mask]
        order = np.argsort(-gains, kind="stable")
        cand, gains = cand[order], gains[order]
        window = np.cumsum(gains)
        for k in range(len(cand)):
            reach = window[min(k + room, len(cand)) - 1] - (window[k - 1] if k else 0)
            if value + reach <= best:
                break
            j = int(cand[k])
            new_needs = sorted([*needs, need[j]])
            if any(n < position for position, n in enumerate(new_needs, 1)):
                continue  # the group could not be seated (Hall's condition on nested room sizes)
            new_value = value + int(gains[k])
            best = max(best, new_value)
            if len(top) < keep or new_value > top[0][0]:
                entry = (new_value, [*group, j])
                heapq.heappush(top, entry) if len(top) < keep else heapq.heapreplace(top, entry)
            rest = cand[k + 1 :]
            fine = ~conflict[j, rest]
            rest = rest[fine]
            dfs(rest, gains[k + 1 :][fine] - cost2[j, rest], [*group, j], new_needs, new_value)

    # A greedy group from each of the most valuable sessions sets a high bar first, so the search prunes early.
    gains0 = np.array(pi, dtype=np.int64)
    for seed_i in np.argsort(-gains0)[:10]:
        group, value, gains, needs = (
            [int(seed_i)],
            int(gains0[seed_i]),
            gains0 - cost2[seed_i],
            [need[seed_i]],
        )
        open_ = (gains > 0) & ~conflict[seed_i]
        open_[seed_i] = False
        while len(group) < rooms and open_.any():
            j = int(np.argmax(np.where(open_, gains, np.iinfo(np.int64).min)))
            open_[j] = False
            trial = sorted([*needs, need[j]])
            if any(n < position for position, n in enumerate(trial, 1)):
                continue
            group.append(j)
            needs, value = trial, value + int(gains[j])
            gains = gains - cost2[j]
            open_ &= (gains > 0) & ~conflict[j]
        if value > best:
            best = value
            top.append((value, sorted(group)))
    top = heapq.nsmallest(keep, top)  # a sorted list is a heap
    dfs(np.arange(c.n), gains0, [], [], 0)
    return best, not timed_out, [g for _, g in sorted(top, reverse=True)]


# --- putting it together ------------------------------------------------------------------------------------


def _placement(c: _Compiled, start: Sequence[int], room: Sequence[int]) -> Placement:
    return {s.id: (c.p.rooms[room[i]].id, start[i]) for i, s in enumerate(c.p.sessions)}


def _figures(
    c: _Compiled, schedule: Schedule, start: Sequence[int], room: Sequence[int], previous: Placement | None
) -> None:
    occ = _occupied(c, start)
    index = {s.id: i for i, s in enumerate(c.p.sessions)}
    per_delegate = []
    for starred in c.p.stars:
        ids = sorted({index[sid] for sid in starred if sid in index})
        per_delegate.append(sum(1 for a, b in itertools.combinations(ids, 2) if occ[a] & occ[b]))
    schedule.objective = sum(per_delegate)
    schedule.clashes_mean = schedule.objective / max(1, len(per_delegate))
    schedule.clashes_max = max(per_delegate, default=0)
    schedule.delegates_with_clash = sum(1 for k in per_delegate if k)
    schedule.over_capacity = [
        s.id for i, s in enumerate(c.p.sessions) if c.p.rooms[room[i]].capacity < s.audience
    ]
    schedule.same_theme_pairs = _same_theme_pairs(c, start)
    schedule.moved = [
        sid for sid, place in schedule.placement.items() if previous and previous.get(sid) != place
    ]


def solve(
    p: Problem,
    *,
    time_limit: float = 30.0,
    threads: int = 2,
    previous: Placement | None = None,
    stability: bool = True,
    seed: int = 1,
    bound: bool = True,
) -> Schedule:
    """Schedule `p` within about `time_limit` seconds (module docstring). `threads` is CP-SAT's num_workers
    (the annealing and the bound's pricing run in this thread).

    With a `previous` placement and `stability`, the fewest sessions move (then the fewest clash pairs);
    without, `previous` only keeps rooms where that costs nothing. `bound=False` skips the lower bound."""
    started = time.perf_counter()
    deadline = started + time_limit
    c = compile_problem(p)
    schedule = Schedule({}, "unknown", None, 0, None, 0.0)
    why = necessary_conditions(c)
    if why:
        schedule.status, schedule.explanation = "infeasible", why
        schedule.seconds = time.perf_counter() - started
        return schedule
    if previous and stability:
        answer = _stable(
            c, previous, (deadline - time.perf_counter()) * (0.6 if bound else 0.95), threads, seed, schedule
        )
        columns: list[list[int]] = []
    else:
        answer, columns = _search(c, previous, deadline, threads, seed, schedule, bound)
    if answer is None:
        schedule.explanation = explain_infeasible(c, max(1.0, deadline - time.perf_counter()))
        schedule.status = "infeasible" if schedule.explanation else "unknown"
        schedule.seconds = time.perf_counter() - started
        return schedule
    start, room = answer
    schedule.placement = _placement(c, start, room)
    _figures(c, schedule, start, room, previous)
    if bound and schedule.objective and not any(s["stage"] == "lower bound" for s in schedule.stages):
        _bound(c, schedule, [*columns, *_groups(c, start)], max(deadline, time.perf_counter() + 1.0))
    assert schedule.objective is not None
    schedule.gap = (schedule.objective - schedule.bound) / schedule.objective if schedule.objective else 0.0
    schedule.status = "optimal" if schedule.bound >= schedule.objective else "feasible"
    schedule.seconds = time.perf_counter() - started
    return schedule


def _groups(c: _Compiled, start: Sequence[int]) -> list[list[int]]:
    """The slot groups of a schedule: who is in each slot."""
    return [[i for i in range(c.n) if t in c.cover[i][start[i]]] for t in range(c.n_slots)]


def _bound(c: _Compiled, schedule: Schedule, columns: list[list[int]], until: float) -> None:
    lap = time.perf_counter()
    assert schedule.objective is not None
    best, info = lower_bound(c, columns, max(0.2, until - lap), target=schedule.objective)
    schedule.bound = max(schedule.bound, best)
    schedule.stages.append(
        {"stage": "lower bound", "seconds": round(time.perf_counter() - lap, 2), **info, "bound": best}
    )


def _search(
    c: _Compiled,
    previous: Placement | None,
    deadline: float,
    threads: int,
    seed: int,
    schedule: Schedule,
    bound: bool,
) -> tuple[tuple[list[int], list[int]] | None, list[list[int]]]:
    """Anneal the slots; seat them; prove a bound (up to half the time left; it usually converges sooner);
    then anneal again from the best answer with whatever time the bound did not need."""

    def anneal_stage(initial: list[int] | None, seconds: float, name: str) -> list[int] | None:
        lap = time.perf_counter()
        found, tried = anneal(c, initial, seconds, seed, snapshots)
        schedule.stages.append(
            {
                "stage": name,
                "seconds": round(time.perf_counter() - lap, 2),
                "moves": tried,
                "clash_pairs": None if found is None else clash_pairs(c, found),
            }
        )
        return found

    snapshots: list[list[int]] = []
    reserve = min(2.0, 0.05 * (deadline - time.perf_counter()))  # for seating the second answer
    start = anneal_stage(None, (deadline - time.perf_counter()) * (0.4 if bound else 0.5), "anneal")
    room = None if start is None else assign_rooms(c, start, previous, max(0.5, reserve), threads)
    if (
        start is None or room is None
    ):  # no seated answer by annealing: the compact model from the hint, if any
        start, room = _polish(c, start, room, (deadline - time.perf_counter()) * 0.5, threads, seed, schedule)
        if start is None or room is None:
            return None, []
    columns = [g for s in snapshots for g in _groups(c, s)]
    if bound:
        schedule.objective = clash_pairs(c, start)
        _bound(
            c,
            schedule,
            [*columns, *_groups(c, start)],
            time.perf_counter() + (deadline - time.perf_counter()) / 2,
        )
        if schedule.bound >= schedule.objective:
            return (start, room), columns
    more = anneal_stage(start, deadline - time.perf_counter() - reserve, "anneal again from the best")
    if more is not None and clash_pairs(c, more) < clash_pairs(c, start):
        seated = assign_rooms(c, more, previous, max(0.5, deadline - time.perf_counter()), threads)
        if seated is not None:
            start, room = more, seated
    return (start, room), columns


def _polish(
    c: _Compiled,
    start: list[int] | None,
    room: list[int] | None,
    seconds: float,
    threads: int,
    seed: int,
    schedule: Schedule,
) -> tuple[list[int] | None, list[int] | None]:
    """The compact model from the annealed answer (or from nothing, when annealing found no start)."""
    lap = time.perf_counter()
    compact = compact_model(c)
    if start is not None and room is not None:
        _hint(compact, start, room)
        compact.model.add(compact.clash <= clash_pairs(c, start))  # never worse than the hint
    compact.model.minimize(compact.clash * (len(c.theme) ** 2 + 1) + compact.theme)
    solver = _solver(seconds, threads, seed)
    status = solver.solve(compact.model)
    entry: dict[str, Any] = {
        "stage": "cp-sat polish",
        "seconds": round(time.perf_counter() - lap, 2),
        "status": solver.status_name(status),
    }
    schedule.stages.append(entry)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        new_start, new_room = _read(c, compact, solver)
        entry["clash_pairs"] = clash_pairs(c, new_start)
        return new_start, new_room
    return start, room


def _stable(
    c: _Compiled, previous: Placement, seconds: float, threads: int, seed: int, schedule: Schedule
) -> tuple[list[int], list[int]] | None:
    """Lexicographic: the fewest moves from `previous`, then the fewest clash pairs with that many moves (a
    move is a session whose room or start changes). Both are CP-SAT solves of the compact model, hinted
    with the previous placement; the first is usually proven at once, since few sessions can move."""
    started = lap = time.perf_counter()
    compact = compact_model(c, previous)
    for (i, t, r), var in compact.z.items():
        compact.model.add_hint(var, int(previous.get(c.p.sessions[i].id) == (c.p.rooms[r].id, t)))
    compact.model.minimize(compact.moves)
    solver = _solver(seconds * 0.4, threads, seed)
    status = solver.solve(compact.model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    fewest = round(solver.objective_value)
    start, room = _read(c, compact, solver)
    schedule.stages.append(
        {
            "stage": "fewest moves",
            "seconds": round(time.perf_counter() - lap, 2),
            "moves": fewest,
            "proven": status == cp_model.OPTIMAL,
        }
    )
    lap = time.perf_counter()
    compact.model.add(compact.moves <= fewest)
    _hint(compact, start, room)
    compact.model.minimize(compact.clash * (len(c.theme) ** 2 + 1) + compact.theme)
    solver = _solver(seconds - (lap - started), threads, seed)
    status = solver.solve(compact.model)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        start, room = _read(c, compact, solver)
    schedule.stages.append(
        {
            "stage": "fewest clash pairs with those moves",
            "seconds": round(time.perf_counter() - lap, 2),
            "status": solver.status_name(status),
            "clash_pairs": clash_pairs(c, start),
        }
    )
    return start, room
