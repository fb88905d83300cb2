"""The programme scheduler: every session gets a room and a start slot, with as few starred-session clashes as
possible, and an honest certificate of how good the answer is.

Pure computation on plain data (no database), in small modules: problem.py (the data and the objective),
validation.py (faults in the data; named reasons a programme cannot be scheduled), moves.py (annealing),
cpsat.py (the CP-SAT models), bound.py (the lower bound) and this one, which puts them together.
`sessions.schedule.instance` reads and writes the benchmark JSON format, and the organisers' build feeds it
the same `Problem` from the database.

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
0. The data is checked (validation.py): duplicate ids, slots out of order, durations under one slot, stars
   or unavailability that point nowhere, no sessions... are refused with every fault named (ProblemError).
1. Necessary conditions (validation.py): a session with no start its speakers can do, no run of joinable
   slots long enough, too few room-slots, a speaker never free, too few big rooms, clashing pins; so the
   commonest infeasibilities are named precisely, without a solver.
2. Slots, by local search (moves.py): simulated annealing over the start slots alone (move one session,
   swap two of the same length, or a block swap that trades a long session for the shorter ones in the
   slots it wants; three cooling cycles, each reheating from the best answer), keeping the speaker rules
   and, per slot, Hall's condition for the nested room sizes, which is exactly "this slot's sessions can be
   seated" for one slot. A one-slot move or swap is checked and priced in O(1) from per-slot figures, and a
   block swap is priced before anything moves, so most moves (turned down) cost no bookkeeping.
3. Rooms, by CP-SAT given the slots (cpsat.py): one session per room and slot (a long session keeps its
   room); previous rooms kept where possible, then popular sessions in big rooms. Should the slots not be
   seatable after all (Hall per slot is only necessary across slots), step 4's model takes over.
4. The compact CP-SAT model (cpsat.py): z[i, s, r] = session i starts in slot s in room r; o[i, j] = i and
   j overlap; objective sum w[i, j] o[i, j] (then same-theme pairs). Its LP bound is 0 and from scratch it is
   weaker than annealing on the benchmark, so it is used where it is strong: (a) stability after a late
   change (fewest moves, then fewest clash pairs); (b) explanations of infeasibility (an assumption core of
   rule groups); (c) the fallback when annealing finds no seated answer; (d) small programmes (at most
   `EXACT_SESSIONS` sessions): hinted with the annealed answer it improves it and proves a bound
   (CP-SAT's own objective bound, a valid one), often the optimum, in seconds.
5. The lower bound (bound.py): column generation on a slot-partitioning relaxation, with a pair of sessions
   weighted w / min(d_i, d_j) per shared slot, a relaxation for every session length (the argument is in
   that module's docstring); the first duals tried are the answer's own (scaled), which on 12 rooms give
   more than tens of rounds of column generation.

The certificate is guarded: a bound above the answer would be a bug (it would print "optimal" with a
negative gap and stop the search early), so it is never reported: the bound is dropped to 0, the status
stays "feasible", and the fault goes into `Schedule.internal_errors` (tests treat it as a failure).

Time budget (`time_limit`): ~40% annealing, then the bound (up to half of what is left; it stops as soon as
it can't rise further, or meets the answer: "optimal"), the exact stage for small programmes, then
annealing again from the best for the rest.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Sequence
from typing import Any

from ortools.sat.python import cp_model

from sessions.schedule.bound import lower_bound
from sessions.schedule.cpsat import (
    assign_rooms,
    compact_model,
    cp_solver,
    explain_infeasible,
    hint,
    read_answer,
)
from sessions.schedule.moves import anneal
from sessions.schedule.problem import (
    Compiled,
    Placement,
    Problem,
    ProblemError,
    Room,
    Schedule,
    Session,
    Slot,
    clash_pairs,
    compile_problem,
    occupied,
    same_theme_pairs,
)
from sessions.schedule.validation import necessary_conditions, validate_problem

__all__ = [
    "Placement",
    "Problem",
    "ProblemError",
    "Room",
    "Schedule",
    "Session",
    "Slot",
    "clash_pairs",
    "compile_problem",
    "lower_bound",
    "solve",
]

log = logging.getLogger(__name__)

EXACT_SESSIONS = 24  # up to this many sessions, the compact model runs hinted after annealing (step 4d)

# --- putting it together ------------------------------------------------------------------------------------


def _placement(c: Compiled, start: Sequence[int], room: Sequence[int]) -> Placement:
    return {s.id: (c.p.rooms[room[i]].id, start[i]) for i, s in enumerate(c.p.sessions)}


def _figures(
    c: Compiled, schedule: Schedule, start: Sequence[int], room: Sequence[int], previous: Placement | None
) -> None:
    occ = occupied(c, start)
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
    schedule.same_theme_pairs = same_theme_pairs(c, start)
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
    validate_problem(p)
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
        _bound(c, schedule, columns, start, max(deadline, time.perf_counter() + 1.0))
    assert schedule.objective is not None
    _guard(schedule)
    schedule.gap = (schedule.objective - schedule.bound) / schedule.objective if schedule.objective else 0.0
    schedule.status = "optimal" if schedule.bound >= schedule.objective else "feasible"
    schedule.seconds = time.perf_counter() - started
    return schedule


def _guard(schedule: Schedule) -> None:
    """A bound above the answer is a bug, never a certificate: drop it (module docstring)."""
    assert schedule.objective is not None
    if schedule.bound > schedule.objective:
        fault = (
            f"the lower bound ({schedule.bound}) exceeds the clash pairs of a valid schedule "
            f"({schedule.objective}); the bound is discarded"
        )
        log.error("scheduler internal error: %s", fault)
        schedule.internal_errors.append(fault)
        schedule.bound = 0


def _groups(c: Compiled, start: Sequence[int]) -> list[list[int]]:
    """The slot groups of a schedule: who is in each slot."""
    return [[i for i in range(c.n) if t in c.cover[i][start[i]]] for t in range(c.n_slots)]


def _bound(
    c: Compiled, schedule: Schedule, columns: list[list[int]], start: Sequence[int], until: float
) -> None:
    """The lower bound, its LP started from `columns` and the answer `start`'s slot groups."""
    lap = time.perf_counter()
    assert schedule.objective is not None
    answer = _groups(c, start)
    best, info = lower_bound(
        c, [*columns, *answer], max(0.2, until - lap), target=schedule.objective, answer=answer
    )
    schedule.bound = max(schedule.bound, best)
    schedule.stages.append(
        {"stage": "lower bound", "seconds": round(time.perf_counter() - lap, 2), **info, "bound": best}
    )


def _search(
    c: Compiled,
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
        _bound(c, schedule, columns, start, time.perf_counter() + (deadline - time.perf_counter()) / 2)
        _guard(schedule)
        if schedule.bound >= schedule.objective:
            return (start, room), columns
    if len(c.p.sessions) <= EXACT_SESSIONS:
        start, room = _exact(c, start, room, (deadline - time.perf_counter()) * 0.7, threads, seed, schedule)
        if bound and schedule.bound >= clash_pairs(c, start):
            return (start, room), columns
    more = anneal_stage(start, deadline - time.perf_counter() - reserve, "anneal again from the best")
    if more is not None and clash_pairs(c, more) < clash_pairs(c, start):
        seated = assign_rooms(c, more, previous, max(0.5, deadline - time.perf_counter()), threads)
        if seated is not None:
            start, room = more, seated
    return (start, room), columns


def _exact(
    c: Compiled,
    start: list[int],
    room: list[int],
    seconds: float,
    threads: int,
    seed: int,
    schedule: Schedule,
) -> tuple[list[int], list[int]]:
    """Step 4d: the compact model hinted with the annealed answer, on a small programme. Any answer it finds
    is at most as many clash pairs (a constraint), and its objective bound is a valid lower bound: clash pairs
    are weighted K = n^2 + 1 against fewer than K same-theme pairs, so floor(bound / K) never exceeds them."""
    lap = time.perf_counter()
    compact = compact_model(c)
    hint(compact, start, room)
    current = clash_pairs(c, start)
    compact.model.add(compact.clash <= current)
    weight = len(c.theme) ** 2 + 1
    compact.model.minimize(compact.clash * weight + compact.theme)
    solver = cp_solver(seconds, threads, seed)
    status = solver.solve(compact.model)
    entry: dict[str, Any] = {
        "stage": "cp-sat exact (small programme)",
        "seconds": round(time.perf_counter() - lap, 2),
        "status": solver.status_name(status),
    }
    schedule.stages.append(entry)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        proven = int(solver.best_objective_bound + 1e-6) // weight
        entry["bound"] = proven
        schedule.bound = max(schedule.bound, proven)
        new_start, new_room = read_answer(c, compact, solver)
        entry["clash_pairs"] = clash_pairs(c, new_start)
        if entry["clash_pairs"] <= current:
            return new_start, new_room
    return start, room


def _polish(
    c: Compiled,
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
        hint(compact, start, room)
        compact.model.add(compact.clash <= clash_pairs(c, start))  # never worse than the hint
    compact.model.minimize(compact.clash * (len(c.theme) ** 2 + 1) + compact.theme)
    solver = cp_solver(seconds, threads, seed)
    status = solver.solve(compact.model)
    entry: dict[str, Any] = {
        "stage": "cp-sat polish",
        "seconds": round(time.perf_counter() - lap, 2),
        "status": solver.status_name(status),
    }
    schedule.stages.append(entry)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        new_start, new_room = read_answer(c, compact, solver)
        entry["clash_pairs"] = clash_pairs(c, new_start)
        return new_start, new_room
    return start, room


def _stable(
    c: Compiled, previous: Placement, seconds: float, threads: int, seed: int, schedule: Schedule
) -> tuple[list[int], list[int]] | None:
    """Lexicographic: the fewest moves from `previous`, then the fewest clash pairs with that many moves (a
    move is a session whose room or start changes). Both are CP-SAT solves of the compact model, hinted
    with the previous placement; the first is usually proven at once, since few sessions can move."""
    started = lap = time.perf_counter()
    compact = compact_model(c, previous)
    for (i, t, r), var in compact.z.items():
        compact.model.add_hint(var, int(previous.get(c.p.sessions[i].id) == (c.p.rooms[r].id, t)))
    compact.model.minimize(compact.moves)
    solver = cp_solver(seconds * 0.4, threads, seed)
    status = solver.solve(compact.model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    fewest = round(solver.objective_value)
    start, room = read_answer(c, compact, solver)
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
    hint(compact, start, room)
    compact.model.minimize(compact.clash * (len(c.theme) ** 2 + 1) + compact.theme)
    solver = cp_solver(seconds - (lap - started), threads, seed)
    status = solver.solve(compact.model)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        start, room = read_answer(c, compact, solver)
    schedule.stages.append(
        {
            "stage": "fewest clash pairs with those moves",
            "seconds": round(time.perf_counter() - lap, 2),
            "status": solver.status_name(status),
            "clash_pairs": clash_pairs(c, start),
        }
    )
    return start, room
