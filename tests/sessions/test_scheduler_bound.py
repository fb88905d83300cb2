"""The lower bound is a relaxation (issue 22): on random small programmes with sessions of 1 to 4 slots, full
and half-full grids, shared speakers and speakers away, it never exceeds the optimum that CP-SAT proves on the
test's own model of the rules: neither the bound the scheduler reports, nor column generation's on its own,
nor the Lagrangian bound at any duals (the answer's duals scaled by 0 to 3, and random ones), which is the
claim in sessions/schedule/bound.py that lets the bound try any duals it likes."""

from __future__ import annotations

import math
import random
import time

from sessions.schedule import bound, scheduler
from sessions.schedule.instance import problem_from_json
from sessions.schedule.problem import compile_problem

# The random programmes and the independent optimum are test_scheduler_optimum's (one generator, one model).
from tests.sessions.programmes import proven_optimum, random_programme

INSTANCES = 32
SCALES = (0.0, 0.5, 1.0, 1.25, 1.5, 2.0, 3.0)


def test_the_bound_never_exceeds_the_proven_optimum() -> None:
    durations: set[int] = set()
    tight = 0
    for seed in range(100, 100 + INSTANCES):
        inst = random_programme(seed)
        durations.update(s["duration"] for s in inst["sessions"])
        optimum = proven_optimum(inst)
        problem = problem_from_json(inst)
        c = compile_problem(problem)
        # What the scheduler reports (column generation, answer duals and, this small, CP-SAT's own bound).
        ours = scheduler.solve(problem, time_limit=1.0, threads=2, seed=seed)
        assert ours.internal_errors == [], inst["name"]
        assert ours.bound <= optimum <= (ours.objective or 0), (inst["name"], ours.bound, optimum)
        start = [ours.placement[s.id][1] for s in problem.sessions]
        answer = [[i for i in range(c.n) if t in c.cover[i][start[i]]] for t in range(c.n_slots)]

        # Column generation alone, then with the answer's duals first: each a certified bound.
        alone, _ = bound.lower_bound(c, answer, 2.0)
        primed, info = bound.lower_bound(c, answer, 2.0, answer=answer)
        assert alone <= optimum and primed <= optimum, (inst["name"], alone, primed, optimum, info)

        # The Lagrangian bound at any integer duals is below the optimum (rounded up to a whole pair).
        scale = bound.cost_scale(c.dur)
        cost2 = bound.pair_costs(c, scale)
        share = bound.answer_duals(c, cost2, answer)
        rng = random.Random(seed)
        heaviest = max(1, int(cost2.max()))
        trials = [[math.ceil(a * x) for x in share] for a in SCALES]
        trials += [[rng.randint(-scale, 3 * heaviest) for _ in range(c.n)] for _ in range(5)]
        for pi in trials:
            value = bound.dual_bound(c, cost2, pi, time.perf_counter() + 30)
            assert value is not None, inst["name"]
            assert -(-value // scale) <= optimum, (inst["name"], pi, value / scale, optimum)
        tight += primed == optimum
    assert durations == {1, 2, 3, 4}
    assert tight, "the bound should meet the optimum on some of these programmes"
