"""The certified lower bound on the clash pairs: column generation on a slot-partitioning relaxation.

The relaxation. The objective depends only on which sessions share a slot, so relax the problem to: choose at
most T "slot groups" (sets of sessions that could share a slot: at most one per room, no common speaker,
seatable by Hall's condition on the nested room sizes), covering every session once per slot it lasts, at
least total cost. A group's cost is the sum over its pairs {i, j} of w[i, j] / min(d_i, d_j).

Why that is a relaxation, for every session length. Any valid schedule gives T groups (who is in each slot)
that meet these rules, and its relaxed cost is the sum over pairs of w[i, j] * k[i, j] / min(d_i, d_j), where
k[i, j] is the number of slots the two share. Two sessions share at most min(d_i, d_j) slots, so each term is at
most w[i, j], and it is 0 exactly when they don't overlap; the schedule's true cost is the sum of w[i, j] over
the pairs that overlap (once, however many slots they share). So the relaxed cost never exceeds the true one,
and the relaxation's optimum is at most the best schedule's clash pairs. (Before issue 22 a pair of
multi-slot sessions counted w / 2 per shared slot whatever their length: three-slot sessions sharing three
slots then counted 1.5 w, and the "bound" could exceed the optimum.) The price: two long sessions that do
overlap fully are charged w only when they are equally long; a 3-slot and a 4-slot pair sharing two slots is
charged 2w/3. On the shared benchmark (10% two-slot sessions) that costs almost nothing.

Certificates in integers. Costs and duals are in units of 1/scale clash pair, where scale is a multiple of
the least common multiple of the session lengths (so every w / min(d_i, d_j) is whole). For any integer duals
pi the Lagrangian bound  sum_i d_i pi_i - T max(0, max_g pi(g) - cost(g))  is valid (the "at most T groups"
dual is taken as 0, never worse), so the bound is certified at every exact pricing and never depends on the
LP converging. The master LP is solved by GLOP from the slot groups of the annealed answers; pricing (the
group of most value under the duals) by an exact branch and bound; duals are smoothed toward the best ones so
far (Wentges) against the LP's degeneracy. The bound is rounded up to a whole clash pair (the objective is
whole).

Duals from the answer (issue 22: tighter where cheap). Since any integer duals certify, the first ones tried
come from the best schedule found: each session's half share of its pairs' cost in its slots, per slot it
lasts (`answer_duals`), at which every slot group of that schedule is priced at exactly its cost, scaled by
a = 0.5, 0.75, 1, 1.25, 1.5, 2 in turn (the bound rises with a to a peak, usually between 1 and 2, while the
pricing gets slower), each with an exact pricing, stopping when the bound falls or a pricing can't finish,
using at most half the bound's time. Nothing about these duals needs to be right for the bound to be valid
(the Lagrangian bound above holds for any integer duals): a poor choice only gives a lower number. On 12
rooms, where the master LP stays degenerate (its value did not move in 121 rounds on large seed 1) and an
exact pricing takes a second or more, a few of these pricings beat tens of rounds of column generation
(large seed 1: 2,091 at a = 1 and 2,374 at a = 1.5, one pricing each, against 1,685 after 47 pricings of
column generation); on smaller programmes column generation soon passes them, so its own path (its
stabilisation centre is its own best duals, never these) is left as it was.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from sessions.schedule.problem import Compiled

# --- step 5: the lower bound by column generation ----------------------------------------------------------


def lower_bound(
    c: Compiled,
    groups: Sequence[Sequence[int]],
    seconds: float,
    target: int | None = None,
    answer: Sequence[Sequence[int]] | None = None,
) -> tuple[int, dict[str, Any]]:
    """A certified lower bound on the clash pairs (module docstring, step 5). `groups` are the slot groups of
    known schedules (a feasible start for the master LP); `answer`, the slot groups of the best one, gives
    the first duals tried (up to half the time; module docstring). Stops at `target` (a bound good enough),
    when the LP is proven optimal, or at the time limit; the bound returned is valid whenever it stops.

    The master LP's duals jump about (the LP is very degenerate), so pricing uses duals smoothed toward the
    best ones found so far (Wentges' stabilisation): pi_sep = a * pi_best + (1 - a) * pi_lp."""
    from ortools.linear_solver import pywraplp

    deadline = time.perf_counter() + seconds
    scale = cost_scale(c.dur)
    cost2 = pair_costs(c, scale)
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
        objective.SetCoefficient(var, _cost(cost2, key) / scale)
        for i in key:
            cover[i].SetCoefficient(var, 1)
        count.SetCoefficient(var, 1)
        return True

    for g in groups:
        add(g)
    answer_scaled, tried = 0, 0
    if answer:
        answer_scaled, tried = _answer_bound(c, cost2, answer, time.perf_counter() + seconds / 2)
    best_scaled = answer_scaled
    cg_best, center = 0, [0] * c.n  # the stabilisation's own centre: column generation's best duals
    rounds = pricings = 0
    lp_value = math.inf
    alpha = 0.8
    converged = False
    while time.perf_counter() < deadline:
        rounds += 1
        if lp.Solve() != pywraplp.Solver.OPTIMAL:
            break
        lp_value = objective.Value()
        if lp_value * scale - best_scaled < scale or (target is not None and best_scaled >= target * scale):
            break  # the bound can't rise past the LP value (rounded up to a whole clash pair), or is good enough
        lp_pi = [con.dual_value() * scale for con in cover]
        while time.perf_counter() < deadline:
            # Any integer duals give a valid Lagrangian bound; mu is taken as 0 (never worse, see the docstring).
            pi = [math.ceil(alpha * center[i] + (1 - alpha) * lp_pi[i] - 1e-9) for i in range(c.n)]
            pricings += 1
            most, proven, found = _price(c, cost2, pi, deadline)
            if not proven:
                break
            bound_scaled = sum(c.dur[i] * pi[i] for i in range(c.n)) - c.n_slots * most
            if bound_scaled > cg_best:
                cg_best, center = bound_scaled, pi
            best_scaled = max(best_scaled, bound_scaled)
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
    best = -(-best_scaled // scale)  # a whole number of clash pairs, rounded up (the objective is whole)
    return best, {
        "lp": None if lp_value == math.inf else round(lp_value, 2),
        "lp_solved": converged,
        "rounds": rounds,
        "pricings": pricings,
        "columns": len(seen),
        "answer_duals_bound": -(-answer_scaled // scale) if tried else None,
        "answer_pricings": tried,
    }


ANSWER_SCALES = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)  # the answer's duals, scaled: see _answer_bound


def dual_bound(c: Compiled, cost2: np.ndarray, pi: Sequence[int], deadline: float) -> int | None:
    """The Lagrangian bound at integer duals pi, sum of d_i pi_i - T max(0, max over groups of pi(g) -
    cost(g)), in 1/scale clash pair (module docstring); None if the pricing could not finish by `deadline`
    (only an exact maximum certifies)."""
    most, proven, _ = _price(c, cost2, list(pi), deadline)
    return sum(c.dur[i] * pi[i] for i in range(c.n)) - c.n_slots * most if proven else None


def answer_duals(c: Compiled, cost2: np.ndarray, answer: Sequence[Sequence[int]]) -> list[float]:
    """Each session's half share of its pairs' cost in the answer's slots, per slot it lasts: at these duals
    every slot group of the answer is priced at its cost."""
    share = np.zeros(c.n, dtype=np.int64)
    for group in answer:
        members = sorted(group)
        share[members] += cost2[np.ix_(members, members)].sum(axis=1)
    return [float(share[i]) / (2 * max(1, c.dur[i])) for i in range(c.n)]


def _answer_bound(
    c: Compiled, cost2: np.ndarray, answer: Sequence[Sequence[int]], deadline: float
) -> tuple[int, int]:
    """The best Lagrangian bound at the answer's duals scaled by a = 0.5, 0.75, 1, 1.25, 1.5, 2 in turn
    (module docstring), stopping once the bound falls or a pricing can't finish (a larger a prices slower).
    Returns (bound in 1/scale clash pair, exact pricings done)."""
    share = answer_duals(c, cost2, answer)
    best, done = 0, 0
    for a in ANSWER_SCALES:
        if time.perf_counter() >= deadline:
            break
        value = dual_bound(c, cost2, [math.ceil(a * x) for x in share], deadline)
        if value is None or value <= best:
            break
        best, done = value, done + 1
    return best, done


def _cost(cost2: np.ndarray, group: Sequence[int] | frozenset[int]) -> int:
    members = sorted(group)
    return int(cost2[np.ix_(members, members)].sum()) // 2


def cost_scale(durations: Sequence[int]) -> int:
    """Units per clash pair: a multiple of the lcm of the session lengths (w / min(d_i, d_j) stays whole),
    at least 2,000 so that rounding the duals up costs little."""
    unit = math.lcm(*{max(1, d) for d in durations}) if durations else 1
    return unit * -(-2000 // unit)


def pair_costs(c: Compiled, scale: int) -> np.ndarray:
    """cost2[i, j] = w[i, j] * scale / min(d_i, d_j): a pair's cost per shared slot, in 1/scale clash pair."""
    dur = np.maximum(np.array(c.dur, dtype=np.int64), 1)
    shortest = np.minimum.outer(dur, dur)
    cost2: np.ndarray = np.array(c.w, dtype=np.int64) * (scale // shortest)
    return cost2


def _price(
    c: Compiled, cost2: np.ndarray, pi: list[int], deadline: float, keep: int = 40
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
