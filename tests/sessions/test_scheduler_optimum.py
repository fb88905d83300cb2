"""The scheduler against proven optima (issue 22): many random small programmes with sessions of 1 to 4 slots,
full and half-full grids, shared speakers and speakers away, each solved to proven optimality by a CP-SAT
model written here from the rules (sharing no code with sessions.schedule). On every one: our lower bound <=
the optimum <= our answer, no internal error, and the shared evaluate.py counts the same clash pairs as we
do; on at least 95% our answer is the optimum."""

from __future__ import annotations

import importlib.util
import itertools
import random
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ortools.sat.python import cp_model

from sessions.schedule import scheduler
from sessions.schedule.instance import placement_to_json, problem_from_json

SHARED = Path(__file__).resolve().parents[3] / "shared" / "bench" / "scheduler"
needs_shared = pytest.mark.skipif(
    not (SHARED / "evaluate.py").exists(), reason=f"the shared benchmark scorer is not at {SHARED}"
)

Instance = dict[str, Any]

INSTANCES = 48
TIME_LIMIT = 2.0  # seconds per solve (the issue allows 10)


def _evaluate_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("shared_evaluate", SHARED / "evaluate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def random_programme(seed: int) -> Instance:
    """A grid of 2-3 rooms x 3-6 slots (one or two days, a break in some), tiled room by room with sessions
    of 1-4 slots, so a valid placement is known to exist; in half of the instances about half the sessions
    are dropped (a half-full grid). Speakers are shared only by sessions that don't overlap in the tiling,
    and are away only in slots the tiling leaves them free; audiences fit the room of the tiling."""
    rng = random.Random(seed)
    days = rng.choice([1, 1, 2])
    per_day = rng.randint(3, 6) if days == 1 else rng.randint(3, 4)
    brk = rng.choice([None, None, rng.randrange(per_day - 1)])
    slots: list[dict[str, Any]] = [
        {
            "id": d * per_day + k,
            "day": d,
            "start": f"{9 + k:02d}:00",
            "end": f"{10 + k:02d}:00",
            "joinable_with_next": k < per_day - 1 and k != brk,
        }
        for d in range(days)
        for k in range(per_day)
    ]
    stretches: list[list[int]] = [[]]
    for s in slots:
        stretches[-1].append(s["id"])
        if not s["joinable_with_next"]:
            stretches.append([])
    capacities = sorted(rng.sample([20, 30, 40, 60, 80], rng.choice([2, 3])), reverse=True)
    rooms = [
        {"id": f"R{k + 1}", "name": f"Room {k + 1}", "capacity": cap} for k, cap in enumerate(capacities)
    ]
    tiles: list[tuple[int, list[int]]] = []  # (room index, slots)
    for r in range(len(rooms)):
        for stretch in stretches:
            t = 0
            while t < len(stretch):
                length = min(rng.choice([1, 1, 2, 2, 3, 4]), len(stretch) - t)
                tiles.append((r, stretch[t : t + length]))
                t += length
    if rng.random() < 0.5:
        tiles = [tile for tile in tiles if rng.random() < 0.5] or tiles[:2]
    tiles = tiles[:11]  # CP-SAT must prove the optimum quickly inside the test
    sessions: list[dict[str, Any]] = []
    speakers_at: list[list[str]] = []
    people: dict[str, set[int]] = {}
    for k, (r, span) in enumerate(tiles):
        free = [p for p, busy in people.items() if not busy & set(span)]
        chosen = [rng.choice(free)] if free and rng.random() < 0.3 else [f"P{len(people)}"]
        for p in chosen:
            people.setdefault(p, set()).update(span)
        speakers_at.append(chosen)
        sessions.append(
            {
                "id": f"S{k}",
                "title": f"Session {k}",
                "duration": len(span),
                "speakers": chosen,
                "themes": [rng.choice(["a", "b", "c"])],
                "expected_audience": rng.randint(0, capacities[r]),
            }
        )
    speakers = []
    for p, busy in people.items():
        away = [t for t in range(len(slots)) if t not in busy and rng.random() < 0.2]
        speakers.append({"id": p, "unavailable_slots": away})
    rng.shuffle(sessions)
    weights = [rng.random() ** 2 + 0.05 for _ in sessions]
    attendees = []
    for a in range(rng.randint(15, 40)):
        k = min(len(sessions), rng.randint(2, 5))
        picked: set[str] = set()
        while len(picked) < k:
            picked.add(rng.choices([s["id"] for s in sessions], weights)[0])
        attendees.append({"id": f"A{a}", "stars": sorted(picked)})
    for s in sessions:
        s["stars"] = sum(s["id"] in a["stars"] for a in attendees)
    return {
        "schema": "conference-scheduling-instance/1",
        "name": f"random-{seed}",
        "slots": slots,
        "rooms": rooms,
        "themes": ["a", "b", "c"],
        "speakers": speakers,
        "sessions": sessions,
        "attendees": attendees,
    }


def proven_optimum(inst: Instance) -> int:
    """The fewest clash pairs of any valid placement, proven by CP-SAT on this file's own model of the rules."""
    slots, rooms, sessions = inst["slots"], inst["rooms"], inst["sessions"]
    away = {sp["id"]: set(sp["unavailable_slots"]) for sp in inst["speakers"]}
    m = cp_model.CpModel()
    occ: dict[tuple[str, int], list[Any]] = {}
    per_room_slot: dict[tuple[str, int], list[Any]] = {}
    for s in sessions:
        options = []
        for start in range(len(slots)):
            span = list(range(start, start + s["duration"]))
            if span[-1] >= len(slots) or any(
                slots[a]["day"] != slots[b]["day"] or not slots[a]["joinable_with_next"]
                for a, b in itertools.pairwise(span)
            ):
                continue
            if any(t in away[sp] for sp in s["speakers"] for t in span):
                continue
            for room in rooms:
                if room["capacity"] < s["expected_audience"]:
                    continue
                x = m.new_bool_var("")
                options.append(x)
                for t in span:
                    occ.setdefault((s["id"], t), []).append(x)
                    per_room_slot.setdefault((room["id"], t), []).append(x)
        m.add_exactly_one(options)
    for xs in per_room_slot.values():
        m.add_at_most_one(xs)
    at = {key: sum(xs) for key, xs in occ.items()}
    for t in range(len(slots)):
        for sp in away:
            mine = [at[s["id"], t] for s in sessions if sp in s["speakers"] and (s["id"], t) in at]
            if len(mine) > 1:
                m.add(sum(mine) <= 1)
    w: dict[tuple[str, str], int] = {}
    for a in inst["attendees"]:
        for x, y in itertools.combinations(sorted(a["stars"]), 2):
            w[x, y] = w.get((x, y), 0) + 1
    terms = []
    for (first, second), weight in w.items():
        overlap = m.new_bool_var("")
        for t in range(len(slots)):
            if (first, t) in at and (second, t) in at:
                m.add(overlap >= at[first, t] + at[second, t] - 1)
        terms.append(weight * overlap)
    m.minimize(sum(terms))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = 60
    solver.parameters.num_workers = 2
    assert solver.solve(m) == cp_model.OPTIMAL, f"{inst['name']}: the test's CP-SAT model proved no optimum"
    return round(solver.objective_value)


@needs_shared
def test_bound_optimum_and_answer_agree_on_random_small_programmes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    evaluate = _evaluate_module().evaluate
    hits, misses, durations = 0, [], set[int]()
    for seed in range(INSTANCES):
        inst = random_programme(seed)
        durations.update(s["duration"] for s in inst["sessions"])
        optimum = proven_optimum(inst)
        ours = scheduler.solve(problem_from_json(inst), time_limit=TIME_LIMIT, threads=2, seed=seed)
        name = inst["name"]
        assert ours.internal_errors == [], name
        assert ours.placement and ours.objective is not None, name
        assert ours.bound <= optimum <= ours.objective, (name, ours.bound, optimum, ours.objective)
        assert ours.status != "optimal" or ours.objective == optimum, name
        scored = evaluate(inst, {"schedule": placement_to_json(ours.placement)})
        assert scored["hard_violations"] == 0, (name, scored)
        assert scored["attendee_clash_pairs"] == ours.objective, name
        if ours.objective == optimum:
            hits += 1
        else:
            misses.append((name, optimum, ours.objective))
    assert durations == {1, 2, 3, 4}
    with capsys.disabled():
        print(f"\nscheduler at {TIME_LIMIT:g} s: the optimum on {hits} of {INSTANCES}; misses {misses}")
    assert hits >= 0.95 * INSTANCES, misses


@pytest.mark.parametrize("seed", [0, 40, 46])
def test_long_sessions_travel_in_a_full_grid_by_annealing_alone(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Full grids with 2- and 3-slot sessions where, before block swaps, annealing stayed above the optimum
    # (seed 40: 35 against 24): no free room anywhere, and no session of the same length where it should go.
    # The exact stage is switched off, so the moves alone must find it.
    monkeypatch.setattr(scheduler, "EXACT_SESSIONS", 0)
    inst = random_programme(seed)
    assert sum(s["duration"] for s in inst["sessions"]) == len(inst["rooms"]) * len(inst["slots"])
    assert max(s["duration"] for s in inst["sessions"]) >= 2
    result = scheduler.solve(problem_from_json(inst), time_limit=TIME_LIMIT, threads=2, seed=1)
    assert result.objective == proven_optimum(inst)
