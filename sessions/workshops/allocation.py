"""Fair allocation of ranked workshop choices, as an integer programme solved by HiGHS (through OR-Tools).

The model (one 0/1 variable per delegate and workshop they ranked and could attend):
- each workshop holds at most its free seats; a delegate sits in at most one workshop per time slot (a
  workshop spanning several slots fills all of them), and never clashes with a seat they already hold;
- the cost is a convex rank cost per slot (RANK_COST: 0 for a first choice) plus, per delegate, a convex
  penalty for the slots they ranked but got nothing in (`miss_penalty`: the second miss costs twice the
  first…), so unavoidable losses are spread over many delegates instead of falling on the late registrants
  every time; a seeded random tie-break, too small to change the optimum, makes the same data and seed
  always give the same seats.

HiGHS solves it to a zero gap (the answer is proven optimal) unless the time limit cuts it short. A
first-come baseline on the same data (delegates in order of registration, each taking their best choice
still free) is reported beside it. This module is pure computation on plain data; `sessions.allocation_run`
loads it from the database and books the result.
"""

from __future__ import annotations

import random
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ortools.linear_solver import pywraplp

RANK_COST = (0, 1, 3, 6, 10)  # convex: each step down the list hurts more than the one before
MISS_COST = 15  # a slot the delegate ranked but got none of their choices for


def rank_cost(rank: int) -> int:
    return RANK_COST[min(rank, len(RANK_COST)) - 1]


@dataclass(frozen=True)
class Workshop:
    key: Hashable
    start: int  # index of the time slot it starts in (ranks are given per start slot)
    slots: frozenset[int]  # every slot it occupies
    seats: int  # seats free for the allocation


@dataclass(frozen=True)
class Delegate:
    key: Hashable
    ranks: Mapping[int, int]  # workshop index → rank within its start slot (1 = first choice)
    busy: frozenset[int] = frozenset()  # slots already taken by a seat the delegate holds


@dataclass(frozen=True)
class Instance:
    workshops: Sequence[Workshop]
    delegates: Sequence[Delegate]  # in order of registration: the first-come baseline's order


Assignment = list[list[int]]  # per delegate (same order as the instance): the workshop indices they get


@dataclass
class Result:
    assignment: Assignment
    status: str  # "optimal" (proven) or "feasible" (the time limit stopped the proof)
    seconds: float
    stages: list[dict[str, Any]] = field(default_factory=list)


def _candidates(instance: Instance, d: Delegate) -> list[int]:
    """The ranked workshops a delegate could be given: free seats, no clash with a seat already held."""
    return sorted(
        w for w in d.ranks if instance.workshops[w].seats > 0 and not instance.workshops[w].slots & d.busy
    )


def _wanted(instance: Instance, d: Delegate) -> set[int]:
    """Slots the delegate ranked something for and holds no seat in yet."""
    return {instance.workshops[w].start for w in d.ranks} - d.busy


def disappointment(instance: Instance, d: Delegate, given: Sequence[int]) -> int:
    """The reports' per-delegate score: rank costs plus MISS_COST for each ranked slot left without a seat."""
    covered: set[int] = set()
    total = 0
    for w in given:
        covered |= instance.workshops[w].slots
        total += rank_cost(d.ranks[w])
    return total + MISS_COST * len(_wanted(instance, d) - covered)


def first_come(instance: Instance) -> Assignment:
    """The baseline: in order of registration, each delegate takes their best-ranked choice still free."""
    seats = [w.seats for w in instance.workshops]
    assignment: Assignment = []
    for d in instance.delegates:
        taken: set[int] = set(d.busy)
        given: list[int] = []
        for w in sorted(d.ranks, key=lambda w: (instance.workshops[w].start, d.ranks[w])):
            workshop = instance.workshops[w]
            if seats[w] > 0 and not workshop.slots & taken:  # slots include the start slot
                seats[w] -= 1
                taken |= workshop.slots
                given.append(w)
        assignment.append(given)
    return assignment


def miss_penalty(misses: int) -> int:
    """Convex in the number of slots a delegate misses: the second miss costs twice the first, and so on."""
    return MISS_COST * misses * (misses + 1) // 2


# Real costs are scaled by SCALE, and each seat given adds a seeded tie-break so small that all of them
# together stay under one unit of real cost: they only choose among equally good allocations.
SCALE = 10_000


def solve(instance: Instance, *, seed: int = 1, time_limit: float = 20.0) -> Result:
    """The fair allocation (see the module docstring) as an integer programme, solved by HiGHS.

    Variables: x[d, w] = 1 when delegate d gets workshop w; u[d, k] in [0, 1] for the k-th slot of d's
    that gets covered. Constraints: one workshop per delegate per slot; a workshop's free seats; for each
    delegate, the slots covered (a multi-slot workshop covers each slot it spans) equal the sum of u[d, ·].
    u[d, k] earns MISS_COST * k, so the LP covers a delegate's slots from the most valuable down: exactly the
    convex miss penalty, in a form whose relaxation is almost a network flow (HiGHS proves the optimum in
    seconds at 1,000 delegates, where a min-max model took CP-SAT minutes).
    """
    started = time.perf_counter()
    solver = pywraplp.Solver.CreateSolver("HIGHS")
    if solver is None:  # pragma: no cover - OR-Tools wheels bundle HiGHS
        raise RuntimeError("OR-Tools was built without HiGHS")
    solver.SuppressOutput()
    rng = random.Random(seed)
    tie_break = SCALE / (sum(len(_wanted(instance, d)) for d in instance.delegates) + 1)  # seats ≤ requests
    objective = solver.Objective()
    x: dict[tuple[int, int], pywraplp.Variable] = {}
    by_workshop: dict[int, list[pywraplp.Variable]] = {}
    for i, d in enumerate(instance.delegates):
        wanted = _wanted(instance, d)
        per_slot: dict[int, list[pywraplp.Variable]] = {}
        cover: list[tuple[pywraplp.Variable, int]] = []
        for w in _candidates(instance, d):
            var = solver.BoolVar(f"x{i}_{w}")
            x[i, w] = var
            by_workshop.setdefault(w, []).append(var)
            workshop = instance.workshops[w]
            for s in workshop.slots:
                per_slot.setdefault(s, []).append(var)
            objective.SetCoefficient(var, rank_cost(d.ranks[w]) * SCALE + rng.random() * tie_break)
            cover.append((var, len(workshop.slots & wanted)))
        for group in per_slot.values():
            if len(group) > 1:
                row = solver.Constraint(0, 1)
                for var in group:
                    row.SetCoefficient(var, 1)
        if not cover:
            continue
        covered = solver.Constraint(0, 0)
        for var, slots in cover:
            covered.SetCoefficient(var, slots)
        for k in range(1, len(wanted) + 1):
            u = solver.NumVar(0, 1, f"u{i}_{k}")
            objective.SetCoefficient(u, -MISS_COST * k * SCALE)
            covered.SetCoefficient(u, -1)
    for w, group in by_workshop.items():
        if len(group) > instance.workshops[w].seats:
            row = solver.Constraint(0, instance.workshops[w].seats)
            for var in group:
                row.SetCoefficient(var, 1)
    objective.SetMinimization()
    solver.SetTimeLimit(int(time_limit * 1000))
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, 0.0)  # exact: the tie-break must not hide in a gap
    status = solver.Solve(params)
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        raise AllocationFailed(f"no allocation found within {time_limit:g} s; allow more time")
    assignment: Assignment = [[] for _ in instance.delegates]
    for (i, w), var in x.items():
        if var.solution_value() > 0.5:
            assignment[i].append(w)
    value, bound = objective.Value(), objective.BestBound()
    return Result(
        assignment,
        "optimal" if status == pywraplp.Solver.OPTIMAL else "feasible",
        time.perf_counter() - started,
        [
            {
                "objective": round(value / SCALE, 3),
                "bound": round(bound / SCALE, 3),
                "variables": solver.NumVariables(),
                "constraints": solver.NumConstraints(),
            }
        ],
    )


class AllocationFailed(RuntimeError):
    pass


def figures(instance: Instance, assignment: Assignment) -> dict[str, Any]:
    """What an assignment achieves, per slot request (a delegate's ranked slot) and per delegate."""
    requests = first = top3 = nothing = 0
    worst = 0
    most_missed = 0
    all_first = 0
    delegates = 0
    for d, given in zip(instance.delegates, assignment, strict=True):
        wanted = _wanted(instance, d)
        if not wanted:
            continue
        delegates += 1
        by_start = {instance.workshops[w].start: d.ranks[w] for w in given}
        covered = set().union(*(instance.workshops[w].slots for w in given)) if given else set()
        missed = len(wanted - covered)
        got_first = sum(1 for s in wanted if by_start.get(s) == 1)
        requests += len(wanted)
        first += got_first
        top3 += sum(1 for s in wanted if s in by_start and by_start[s] <= 3)
        nothing += missed
        most_missed = max(most_missed, missed)
        worst = max(worst, disappointment(instance, d, given))
        all_first += got_first == len(wanted)

    def share(n: int) -> float:
        return round(n / requests, 4) if requests else 0.0

    return {
        "delegates": delegates,
        "requests": requests,
        "seats_given": sum(len(g) for g in assignment),
        "first_choice_share": share(first),
        "top_three_share": share(top3),
        "nothing_share": share(nothing),
        "all_first_choices_share": round(all_first / delegates, 4) if delegates else 0.0,
        "worst_off_disappointment": worst,
        "most_slots_missed_by_one_delegate": most_missed,
    }


def check(instance: Instance, assignment: Assignment) -> list[str]:
    """Every way an assignment could break the rules (empty when it is valid); tests and runs assert on it."""
    problems: list[str] = []
    used = [0] * len(instance.workshops)
    for d, given in zip(instance.delegates, assignment, strict=True):
        taken: set[int] = set(d.busy)
        for w in given:
            used[w] += 1
            if w not in d.ranks:
                problems.append(f"{d.key} got workshop {w} they did not rank")
            if instance.workshops[w].slots & taken:
                problems.append(f"{d.key} has a time clash at workshop {w}")
            taken |= instance.workshops[w].slots
    for w, n in enumerate(used):
        if n > instance.workshops[w].seats:
            problems.append(f"workshop {w} holds {n} delegates in {instance.workshops[w].seats} seats")
    return problems
