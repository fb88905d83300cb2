"""The programme scheduler on generated instances. Every answer is checked by the rules as written here (this
file's own checker and clash count, sharing no code with sessions.scheduler), against brute force where the
instance is tiny, and against the shared benchmark's generator and evaluate.py when ../shared is present."""

from __future__ import annotations

import itertools
import json
import math
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sessions.schedule import scheduler
from sessions.schedule.instance import placement_to_json, problem_from_json

SHARED = Path(__file__).resolve().parents[3] / "shared" / "bench" / "scheduler"
needs_shared = pytest.mark.skipif(
    not (SHARED / "make_instance.py").exists(), reason=f"the shared benchmark generator is not at {SHARED}"
)

Instance = dict[str, Any]
Placement = dict[str, tuple[str, int]]


# --- the test's own instances ------------------------------------------------------------------------------


def grid(days: int, per_day: int, lunch_after: int | None = None) -> list[dict[str, Any]]:
    """Slots in time order; a two-slot session may join a slot to the next unless the day ends or lunch falls."""
    return [
        {
            "id": d * per_day + k,
            "day": d,
            "start": f"{9 + k:02d}:00",
            "end": f"{10 + k:02d}:00",
            "joinable_with_next": k < per_day - 1 and k != lunch_after,
        }
        for d in range(days)
        for k in range(per_day)
    ]


def instance(
    sessions: list[dict[str, Any]],
    rooms: dict[str, int],
    slots: list[dict[str, Any]],
    stars: list[list[str]],
    unavailable: dict[str, list[int]] | None = None,
) -> Instance:
    speakers = sorted({sp for s in sessions for sp in s["speakers"]})
    for s in sessions:
        s.setdefault("duration", 1)
        s.setdefault("themes", ["education"])
        s.setdefault("stars", sum(s["id"] in mine for mine in stars))
        s.setdefault("expected_audience", math.ceil(s["stars"] * 0.5))
    return {
        "schema": "conference-scheduling-instance/1",
        "name": "test",
        "slots": slots,
        "rooms": [{"id": r, "name": r, "capacity": cap} for r, cap in rooms.items()],
        "themes": ["education", "evaluation"],
        "speakers": [{"id": sp, "unavailable_slots": (unavailable or {}).get(sp, [])} for sp in speakers],
        "sessions": sessions,
        "attendees": [{"id": f"A{k}", "stars": mine} for k, mine in enumerate(stars)],
    }


def random_instance(
    seed: int,
    n_sessions: int = 10,
    days: int = 2,
    per_day: int = 3,
    rooms: tuple[int, ...] = (80, 40, 30),
    delegates: int = 60,
) -> Instance:
    """Small random instances: shared speakers, a two-slot workshop, speakers away for a slot, skewed stars."""
    rng = random.Random(seed)
    slots = grid(days, per_day, lunch_after=1)
    people = [f"P{k}" for k in range(n_sessions)]
    sessions = [
        {
            "id": f"S{k}",
            "duration": 2 if k == 0 else 1,
            "themes": [rng.choice(["a", "b", "c"])],
            "speakers": sorted(set(rng.sample(people, rng.choice([1, 1, 2])))),
        }
        for k in range(n_sessions)
    ]
    popularity = [1.0 / (k + 1) for k in range(n_sessions)]
    stars = [
        sorted({f"S{k}" for k in rng.choices(range(n_sessions), popularity, k=rng.randint(2, 5))})
        for _ in range(delegates)
    ]
    unavailable = {p: [rng.randrange(len(slots))] for p in rng.sample(people, 3)}
    return instance(sessions, {f"R{k}": cap for k, cap in enumerate(rooms)}, slots, stars, unavailable)


# --- the test's own checker and objective --------------------------------------------------------------------


def occupied(inst: Instance, session: dict[str, Any], start: int) -> list[int] | None:
    slots = inst["slots"]
    span = list(range(start, start + session["duration"]))
    if start < 0 or span[-1] >= len(slots):
        return None
    if any(
        slots[a]["day"] != slots[b]["day"] or not slots[a]["joinable_with_next"]
        for a, b in itertools.pairwise(span)
    ):
        return None
    return span


def broken_rules(inst: Instance, placement: Placement) -> list[str]:
    """Every hard rule the placement breaks, as the issue states them."""
    problems = []
    sessions = {s["id"]: s for s in inst["sessions"]}
    capacity = {r["id"]: r["capacity"] for r in inst["rooms"]}
    away = {sp["id"]: set(sp["unavailable_slots"]) for sp in inst["speakers"]}
    taken: dict[tuple[str, int], str] = {}
    speaking: dict[tuple[str, int], str] = {}
    for sid, s in sessions.items():
        if sid not in placement:
            problems.append(f"{sid} not placed")
            continue
        room, start = placement[sid]
        span = occupied(inst, s, start)
        if span is None or room not in capacity:
            problems.append(f"{sid} placed at an invalid start or room ({room}, {start})")
            continue
        if capacity[room] < s["expected_audience"]:
            problems.append(f"{sid} expects {s['expected_audience']} in {room} ({capacity[room]} seats)")
        pin = s.get("pin") or {}
        if pin.get("start_slot") not in (None, start) or pin.get("room") not in (None, room):
            problems.append(f"{sid} is not where it was pinned")
        for t in span:
            if (room, t) in taken:
                problems.append(f"{sid} and {taken[room, t]} share {room} in slot {t}")
            taken[room, t] = sid
            for sp in s["speakers"]:
                if t in away[sp]:
                    problems.append(f"{sid}: speaker {sp} can't do slot {t}")
                if (sp, t) in speaking:
                    problems.append(f"speaker {sp} in {sid} and {speaking[sp, t]} in slot {t}")
                speaking[sp, t] = sid
    return problems


def clash_pairs(inst: Instance, placement: Placement) -> int:
    sessions = {s["id"]: s for s in inst["sessions"]}
    spans = {
        sid: set(range(start, start + sessions[sid]["duration"])) for sid, (_, start) in placement.items()
    }
    return sum(
        1 for a in inst["attendees"] for x, y in itertools.combinations(a["stars"], 2) if spans[x] & spans[y]
    )


def brute_force_optimum(inst: Instance) -> int | None:
    """The fewest clash pairs of any valid placement, by trying every start for every session and every room
    for the result (tiny instances only); None when no placement keeps the rules."""
    sessions = inst["sessions"]
    rooms = [r["id"] for r in inst["rooms"]]
    best = math.inf
    for starts in itertools.product(range(len(inst["slots"])), repeat=len(sessions)):
        if any(occupied(inst, s, t) is None for s, t in zip(sessions, starts)):
            continue
        trial = {s["id"]: ("", t) for s, t in zip(sessions, starts)}
        value = clash_pairs(inst, trial)
        if value >= best:
            continue
        for chosen in itertools.product(rooms, repeat=len(sessions)):
            placement = {s["id"]: (room, t) for s, room, t in zip(sessions, chosen, starts)}
            if not broken_rules(inst, placement):
                best = value
                break
    return None if best == math.inf else int(best)


def solve(inst: Instance, **options: Any) -> scheduler.Schedule:
    options.setdefault("time_limit", 2.0)
    options.setdefault("threads", 2)
    return scheduler.solve(problem_from_json(inst), **options)


# --- known answers -------------------------------------------------------------------------------------------


def test_sessions_starred_together_go_to_different_slots() -> None:
    # Two slots, two rooms, four talks: A+B and C+D are each starred together by ten delegates, A+C and B+D by
    # one. Only {A, D} / {B, C} clashes nobody.
    stars = [["A", "B"]] * 10 + [["C", "D"]] * 10 + [["A", "C"], ["B", "D"]]
    inst = instance(
        [{"id": x, "speakers": [f"P{x}"]} for x in "ABCD"], {"R1": 20, "R2": 20}, grid(1, 2), stars
    )
    result = solve(inst)
    assert broken_rules(inst, result.placement) == []
    slot = {sid: start for sid, (_, start) in result.placement.items()}
    assert slot["A"] == slot["D"] != slot["B"] == slot["C"]
    assert result.objective == clash_pairs(inst, result.placement) == 0
    assert result.status == "optimal" and result.bound == 0 and result.gap == 0


def test_unavoidable_clashes_get_a_positive_bound_that_meets_the_objective() -> None:
    # Four talks in two slots: whatever the split, each of the three delegates who starred all four has two
    # clashing pairs. The bound must prove those six, not stop at 0.
    inst = instance(
        [{"id": x, "speakers": [f"P{x}"]} for x in "ABCD"],
        {"R1": 20, "R2": 20},
        grid(1, 2),
        [list("ABCD")] * 3,
    )
    result = solve(inst)
    assert result.objective == clash_pairs(inst, result.placement) == 6
    assert result.bound == 6 and result.status == "optimal"
    assert result.clashes_mean == 2 and result.clashes_max == 2 and result.delegates_with_clash == 3


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_tiny_random_instances_against_brute_force(seed: int) -> None:
    inst = random_instance(seed, n_sessions=6, days=1, per_day=4, rooms=(40, 30), delegates=25)
    result = solve(inst)
    optimum = brute_force_optimum(inst)
    if optimum is None:  # seed 3: a speaker with four slots of talks and three free slots
        assert result.status == "infeasible" and result.explanation and result.placement == {}
        return
    assert broken_rules(inst, result.placement) == []
    assert result.objective == clash_pairs(inst, result.placement)
    assert result.bound <= optimum <= result.objective
    assert result.objective == optimum  # six sessions: the search finds the best there is


@pytest.mark.parametrize("seed", [4, 5])
def test_random_instances_keep_every_hard_rule(seed: int) -> None:
    inst = random_instance(seed, n_sessions=14, days=2, per_day=4, rooms=(90, 40, 30, 30), delegates=120)
    result = solve(inst)
    assert broken_rules(inst, result.placement) == []
    assert result.objective == clash_pairs(inst, result.placement)
    assert 0 <= result.bound <= result.objective
    assert result.over_capacity == []


def test_a_two_slot_workshop_keeps_its_room_and_never_runs_over_lunch() -> None:
    slots = grid(1, 4, lunch_after=1)  # 0-1 join, 1|2 is lunch, 2-3 join
    inst = instance(
        [{"id": "W", "duration": 2, "speakers": ["P1"]}, {"id": "T", "speakers": ["P2"]}],
        {"R1": 20},
        slots,
        [["W", "T"]] * 4,
        unavailable={"P1": [0]},
    )
    result = solve(inst)
    assert broken_rules(inst, result.placement) == []
    assert result.placement["W"][1] == 2  # 1 would cross lunch, 0 is out (speaker away), 3 ends the day
    assert result.objective == 0


# --- pins -----------------------------------------------------------------------------------------------------


def test_pins_are_kept_even_when_they_cost_clash_pairs() -> None:
    stars = [["A", "B"]] * 10
    sessions = [
        {"id": "A", "speakers": ["P1"], "pin": {"start_slot": 1, "room": "R2"}},
        {"id": "B", "speakers": ["P2"], "pin": {"start_slot": 1}},
        {"id": "C", "speakers": ["P3"], "pin": {"room": "R1"}},
    ]
    inst = instance(sessions, {"R1": 20, "R2": 20}, grid(1, 3), stars)
    result = solve(inst)
    assert broken_rules(inst, result.placement) == []
    assert result.placement["A"] == ("R2", 1) and result.placement["B"] == ("R1", 1)
    assert result.placement["C"][0] == "R1"
    assert result.objective == 10 and result.bound <= 10


# --- infeasible instances, explained --------------------------------------------------------------------------


def test_a_speaker_with_two_talks_and_one_free_slot_is_named() -> None:
    inst = instance(
        [{"id": "A", "speakers": ["Ann"]}, {"id": "B", "speakers": ["Ann", "Bob"]}],
        {"R1": 20, "R2": 20},
        grid(1, 3),
        [["A", "B"]],
        unavailable={"Ann": [0, 1]},
    )
    result = solve(inst)
    assert result.status == "infeasible" and result.placement == {}
    text = "\n".join(result.explanation)
    assert "Ann" in text and "A" in text and "B" in text


def test_infeasibility_no_simple_count_sees_is_explained_by_the_rules_in_conflict() -> None:
    # Two big talks, each by a speaker who can only come in slot 0, and one room big enough: every count
    # (starts, a speaker's slots, big-room slots) passes, yet they can't both have the big room in slot 0.
    stars = [["X", "Y"]] * 60
    inst = instance(
        [
            {"id": "X", "speakers": ["Xena"]},
            {"id": "Y", "speakers": ["Yves"]},
            {"id": "Z", "speakers": ["Zoe"]},
        ],
        {"Hall": 100, "Room": 20},
        grid(1, 2),
        stars,
        unavailable={"Xena": [1], "Yves": [1]},
    )
    result = solve(inst)
    assert result.status == "infeasible"
    text = "\n".join(result.explanation)
    assert "cannot all hold" in text
    assert "session X" in text and "session Y" in text  # their availability (or capacity) is in the core
    assert "Zoe" not in text  # and the innocent session is not


def test_a_session_bigger_than_every_room_is_named() -> None:
    inst = instance([{"id": "A", "speakers": ["P"], "expected_audience": 500}], {"R1": 100}, grid(1, 2), [])
    result = solve(inst)
    assert result.status == "infeasible"
    assert any("A" in line and "capacity" in line for line in result.explanation)


# --- stability after a late change ---------------------------------------------------------------------------


def test_a_late_change_moves_few_sessions_and_says_which() -> None:
    inst = random_instance(11, n_sessions=16, days=2, per_day=4, rooms=(90, 40, 30, 30), delegates=150)
    first = solve(inst, time_limit=3.0)
    assert broken_rules(inst, first.placement) == []
    # Late change: the first speaker of a one-slot session can no longer do the slot it was given.
    session = next(s for s in inst["sessions"] if s["duration"] == 1)
    speaker, (_, slot) = session["speakers"][0], first.placement[session["id"]]
    changed = json.loads(json.dumps(inst))
    for sp in changed["speakers"]:
        if sp["id"] == speaker:
            sp["unavailable_slots"] = sorted({*sp["unavailable_slots"], slot})
    assert broken_rules(changed, first.placement) != []  # the published programme no longer works

    stable = solve(changed, time_limit=3.0, previous=first.placement)
    assert broken_rules(changed, stable.placement) == []
    moved = sorted(sid for sid in first.placement if first.placement[sid] != stable.placement[sid])
    assert stable.moved == moved  # reported honestly
    assert session["id"] in moved and 1 <= len(moved) <= 3
    assert stable.objective == clash_pairs(changed, stable.placement) and stable.bound <= stable.objective

    free = solve(changed, time_limit=3.0, previous=first.placement, stability=False)
    assert broken_rules(changed, free.placement) == []
    assert len(stable.moved) <= len(free.moved)


# --- the shared benchmark: its generator, the command line, its evaluate.py ---------------------------------


@needs_shared
def test_the_benchmark_small_instance_through_the_command_line(tmp_path: Path) -> None:
    path, out = tmp_path / "small.json", tmp_path / "placement.json"
    subprocess.run(
        [sys.executable, str(SHARED / "make_instance.py"), "--size", "small", "--seed", "3", "-o", str(path)],
        check=True,
        capture_output=True,
    )
    from conference.server.cli import main

    assert (
        main(
            [
                "schedule",
                "solve",
                "--instance",
                str(path),
                "--time-limit",
                "4",
                "--threads",
                "2",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    written = json.loads(out.read_text())
    inst = json.loads(path.read_text())
    placement = {sid: (p["room"], p["start_slot"]) for sid, p in written["schedule"].items()}
    assert broken_rules(inst, placement) == []
    scored = subprocess.run(
        [sys.executable, str(SHARED / "evaluate.py"), str(path), str(out), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(scored.stdout)
    assert figures["hard_violations"] == 0
    assert (
        figures["attendee_clash_pairs"] == written["figures"]["clash_pairs"] == clash_pairs(inst, placement)
    )
    assert 0 < written["figures"]["lower_bound"] <= figures["attendee_clash_pairs"]


def test_placements_are_written_as_evaluate_reads_them() -> None:
    assert placement_to_json({"S2": ("R1", 3), "S1": ("R2", 0)}) == {
        "S1": {"room": "R2", "start_slot": 0},
        "S2": {"room": "R1", "start_slot": 3},
    }
