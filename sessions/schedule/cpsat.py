"""The CP-SAT models (steps 3 and 4 of sessions/schedule/scheduler.py): rooms for fixed starts, the compact
model (stability, explanations, the exact stage for small programmes and the fallback), and the core of rule
groups that explains an infeasible programme."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

from sessions.schedule.problem import Compiled, Placement

# --- step 3 and 4: CP-SAT models ---------------------------------------------------------------------------


def cp_solver(seconds: float, threads: int, seed: int) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, seconds)
    solver.parameters.num_workers = max(1, threads)
    solver.parameters.random_seed = seed
    return solver


def assign_rooms(
    c: Compiled, start: Sequence[int], previous: Placement | None, seconds: float, threads: int
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
    solver = cp_solver(seconds, threads, 1)
    if solver.solve(m) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return [next(r for r in c.fit[i] if solver.value(x[i, r])) for i in range(c.n)]


@dataclass
class Compact:
    model: cp_model.CpModel
    z: dict[tuple[int, int, int], cp_model.IntVar]
    clash: Any  # linear expression: clash pairs
    theme: Any  # linear expression: same-theme pairs sharing a slot
    moves: Any  # linear expression: sessions that move (0 without a previous placement)
    groups: dict[Any, str]  # assumption literal → the rule group it switches on (explain mode)


def compact_model(c: Compiled, previous: Placement | None = None, explain: bool = False) -> Compact:
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
    return Compact(m, z, sum(clash_terms), sum(theme_terms), sum(move_terms), groups)


def hint(compact: Compact, start: Sequence[int], room: Sequence[int]) -> None:
    compact.model.clear_hints()  # type: ignore[no-untyped-call]  # untyped in OR-Tools 9.15
    for (i, t, r), var in compact.z.items():
        compact.model.add_hint(var, int(start[i] == t and room[i] == r))


def read_answer(c: Compiled, compact: Compact, solver: cp_model.CpSolver) -> tuple[list[int], list[int]]:
    start, room = [-1] * c.n, [-1] * c.n
    for (i, t, r), var in compact.z.items():
        if solver.value(var):
            start[i], room[i] = t, r
    return start, room


def explain_infeasible(c: Compiled, seconds: float) -> list[str]:
    """A set of rule groups that cannot all hold (CP-SAT's sufficient assumptions), or why none was found."""
    compact = compact_model(c, explain=True)
    literals = list(compact.groups)
    compact.model.add_assumptions(literals)
    solver = cp_solver(seconds, 1, 1)  # the assumption core is reported by the single-worker search
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
