"""Random small programmes and their optima proven by CP-SAT, for the scheduler's tests against the optimum
(tests/sessions/test_scheduler_optimum.py, test_scheduler_bound.py). The CP-SAT model is written here from the
rules and shares no code with sessions.schedule."""

from __future__ import annotations

import itertools
import random
from typing import Any

from ortools.sat.python import cp_model

Instance = dict[str, Any]


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
