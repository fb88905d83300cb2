"""The programme scheduler on the shared benchmark instances, scored by the shared evaluate.py, beside a plain
CP-SAT model at equal time and PyCon UK's `conference-scheduler` on the same instances in the same run.

    .venv/bin/python bench/scheduler.py                          # small, medium, large; seed 1; 30 s, 2 threads
    .venv/bin/python bench/scheduler.py --sizes medium large --seeds 1 2 3 --skip-baseline
    .venv/bin/python bench/scheduler.py --skip-baseline --skip-cpsat   # ours only
    .venv/bin/python bench/scheduler.py --sizes medium --seeds 1 2 3 --moves 4000000 4600000  # annealing only

For each size: make_instance.py (../shared/bench/scheduler, seed 1) writes the instance into a temporary
folder; `conference schedule solve` schedules it (a subprocess, as an organiser would run it); evaluate.py
--json scores the placement (hard-constraint violations, attendee clash pairs). Then the compact CP-SAT model
(sessions/schedule/cpsat.py, minimising clash pairs from scratch: no hint, no annealing) gets the same time
and threads, with its own proven bound, and evaluate.py scores its answer too. Then conference-scheduler
3.0.1 (PuLP + CBC, `pip install .[bench]`) solves the same instance with the same time limit and threads,
and evaluate.py scores that too. Targets (issue 6), on medium: fewer than 1,900 clash pairs in at most 30 s on
2 cores, no hard violation, and a certified lower bound within 15%.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CONFERENCE_SCHEDULER_BENCH", ROOT.parent / "shared" / "bench" / "scheduler"))


def make_instance(size: str, seed: int, folder: Path) -> Path:
    path = folder / f"{size}.json"
    subprocess.run(
        [
            sys.executable,
            str(SHARED / "make_instance.py"),
            "--size",
            size,
            "--seed",
            str(seed),
            "-o",
            str(path),
        ],
        check=True,
        capture_output=True,
    )
    return path


def evaluate(instance: Path, schedule: Path) -> dict[str, Any]:
    # evaluate.py exits 1 for an infeasible schedule: its JSON still says why, so no check=True.
    done = subprocess.run(
        [sys.executable, str(SHARED / "evaluate.py"), str(instance), str(schedule), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def run_ours(instance: Path, out: Path, time_limit: float, threads: int) -> dict[str, Any]:
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "conference.server.cli",
            "schedule",
            "solve",
            "--instance",
            str(instance),
            "--time-limit",
            str(time_limit),
            "--threads",
            str(threads),
            "-o",
            str(out),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    wall = time.perf_counter() - started
    figures: dict[str, Any] = json.loads(out.read_text())["figures"]
    return {"wall": wall, **figures}


def run_cpsat(instance: Path, out: Path, time_limit: float, threads: int, seed: int) -> dict[str, Any]:
    """The plain compact CP-SAT model at equal time: the baseline issue 22 asks for."""
    from ortools.sat.python import cp_model

    from sessions.schedule.cpsat import compact_model, cp_solver, read_answer
    from sessions.schedule.instance import load_problem, placement_to_json
    from sessions.schedule.problem import compile_problem

    started = time.perf_counter()
    c = compile_problem(load_problem(instance))
    compact = compact_model(c)
    compact.model.minimize(compact.clash)
    solver = cp_solver(time_limit - (time.perf_counter() - started), threads, seed)
    status = solver.solve(compact.model)
    wall = time.perf_counter() - started
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return {"wall": wall, "status": solver.status_name(status)}
    start, room = read_answer(c, compact, solver)
    placement = {s.id: (c.p.rooms[room[i]].id, start[i]) for i, s in enumerate(c.p.sessions)}
    out.write_text(json.dumps({"solver": "cp-sat compact", "schedule": placement_to_json(placement)}))
    return {
        "wall": wall,
        "status": solver.status_name(status),
        "bound": int(solver.best_objective_bound + 1e-6),
    }


def run_conference_scheduler(instance: Path, out: Path, time_limit: float, threads: int) -> dict[str, Any]:
    """PyCon UK's conference-scheduler on our instance: its own model (PuLP, CBC) with our rules put in its
    terms. Each room x slot is one of its Slots; a two-slot session gets extra double-length Slots where two
    slots join, and the one rule its model lacks for them (in one room, the Slots that cover a slot hold one
    event between them) is added to its own constraints. Capacity and speaker availability become slot
    unavailability, shared speakers event unavailability (its mechanisms). It cannot see stars: its
    objective is its documented efficiency_capacity_demand_difference."""
    import pulp  # type: ignore[import-untyped]
    from conference_scheduler import lp_problem as lp  # type: ignore[import-untyped]
    from conference_scheduler.lp_problem import objective_functions  # type: ignore[import-untyped]
    from conference_scheduler.resources import Event, Shape, Slot  # type: ignore[import-untyped]

    data = json.loads(instance.read_text())
    day0 = dt.date(2026, 12, 3)

    def at(day: int, clock: str) -> dt.datetime:
        hours, minutes = map(int, clock.split(":"))
        return dt.datetime.combine(day0 + dt.timedelta(days=day), dt.time(hours, minutes))

    slots, where = [], []  # where: (room id, start slot id, slots spanned) per Slot
    grid = data["slots"]
    for room in data["rooms"]:
        for s in grid:
            start, end = at(s["day"], s["start"]), at(s["day"], s["end"])
            slots.append(
                Slot(
                    room["id"],
                    start,
                    int((end - start).total_seconds() // 60),
                    room["capacity"],
                    f"day {s['day']}",
                )
            )
            where.append((room["id"], s["id"], 1))
            if s["joinable_with_next"]:
                after = grid[s["id"] + 1]
                end = at(after["day"], after["end"])
                slots.append(
                    Slot(
                        room["id"],
                        start,
                        int((end - start).total_seconds() // 60),
                        room["capacity"],
                        f"day {s['day']}",
                    )
                )
                where.append((room["id"], s["id"], 2))
    unavailable = {sp["id"]: set(sp["unavailable_slots"]) for sp in data["speakers"]}
    events = []
    for session in data["sessions"]:
        busy = set().union(*(unavailable[sp] for sp in session["speakers"]))
        span = session["duration"]
        length = max(slot.duration for slot, (_, _, n) in zip(slots, where) if n == span)
        blocked = [
            slot
            for slot, (_, t, n) in zip(slots, where)
            if n != span or slot.capacity < session["expected_audience"] or busy & set(range(t, t + n))
        ]
        events.append(Event(session["id"], length, session["expected_audience"], unavailability=blocked))
    by_id = {e.name: e for e in events}
    for a in data["sessions"]:
        for b in data["sessions"]:
            if a["id"] < b["id"] and set(a["speakers"]) & set(b["speakers"]):
                by_id[a["id"]].add_unavailability(by_id[b["id"]])
                by_id[b["id"]].add_unavailability(by_id[a["id"]])

    # scheduler.solution(), with the one missing rule added to its problem.
    shape = Shape(len(events), len(slots))
    problem = pulp.LpProblem()
    x = lp.utils.variables(shape)
    beta = pulp.LpVariable("upper_bound")
    for constraint in lp.constraints.all_constraints(events, slots, x, beta, "lpsum"):
        problem += constraint.condition
    for room in data["rooms"]:
        for u in range(len(grid)):
            covering = [k for k, (r, t, n) in enumerate(where) if r == room["id"] and t <= u < t + n]
            if len(covering) > 1:
                problem += pulp.lpSum(x[e, k] for e in range(len(events)) for k in covering) <= 1
    problem += objective_functions.efficiency_capacity_demand_difference(
        events=events, slots=slots, X=x, beta=beta
    )
    started = time.perf_counter()
    status = problem.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit, threads=threads))
    wall = time.perf_counter() - started
    if pulp.LpStatus[status] not in ("Optimal", "Not Solved") or problem.sol_status not in (1, 2):
        return {"wall": wall, "status": pulp.LpStatus[status]}
    schedule = {}
    for (e, k), var in x.items():
        if (var.value() or 0) > 0.5:
            room, t, _ = where[k]
            schedule[events[e].name] = {"room": room, "start_slot": t}
    out.write_text(json.dumps({"solver": "conference-scheduler 3.0.1", "schedule": schedule}, indent=1))
    return {"wall": wall, "status": pulp.LpStatus[status]}


Row = tuple[str, int, str, float, "dict[str, Any] | None", "int | None"]


def run_fixed_moves(instance: Path, first: int, again: int, seed: int) -> int:
    """Our annealing alone at fixed move budgets (the first anneal, then again from its best), as `solve`
    runs it: the same clash pairs on any machine at any load, so changes to the moves can be compared."""
    from sessions.schedule.instance import load_problem
    from sessions.schedule.moves import anneal
    from sessions.schedule.problem import clash_pairs, compile_problem

    c = compile_problem(load_problem(instance))
    start, _ = anneal(c, None, 1.0, seed, budget=first)
    if start is None:
        raise SystemExit(f"{instance}: annealing found no start")
    more, _ = anneal(c, start, 1.0, seed, budget=again)
    assert more is not None
    return min(clash_pairs(c, start), clash_pairs(c, more))


def _gap(clashes: int, bound: int | None) -> str:
    if bound is None:
        return "-"
    return f"{(clashes - bound) / clashes:.1%}" if clashes else "0.0%"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", nargs="+", default=["small", "medium", "large"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1], help="instance seeds (default 1)")
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-baseline", action="store_true", help="don't run conference-scheduler")
    parser.add_argument("--skip-cpsat", action="store_true", help="don't run the plain CP-SAT model")
    parser.add_argument(
        "--moves",
        nargs=2,
        type=int,
        metavar=("FIRST", "AGAIN"),
        help="only our annealing, at these move budgets (deterministic; no solver, bound or timing)",
    )
    args = parser.parse_args()
    if not (SHARED / "make_instance.py").exists():
        raise SystemExit(f"no benchmark instances at {SHARED} (set CONFERENCE_SCHEDULER_BENCH)")
    if args.moves:
        with tempfile.TemporaryDirectory(prefix="scheduler-bench-") as tmp:
            for size in args.sizes:
                for seed in args.seeds:
                    instance = make_instance(size, seed, Path(tmp))
                    clashes = run_fixed_moves(instance, *args.moves, seed=1)
                    print(
                        f"{size:8} seed {seed}: {clashes:,} clash pairs after {args.moves} moves", flush=True
                    )
        return
    baseline_missing = None
    if importlib.util.find_spec("conference_scheduler") is None:
        baseline_missing = "conference-scheduler is not installed: pip install '.[bench]' (it is on PyPI)"

    rows: list[Row] = []  # (size, seed, scheduler, seconds, evaluate.py's figures, bound)
    with tempfile.TemporaryDirectory(prefix="scheduler-bench-") as tmp:
        folder = Path(tmp)
        for size in args.sizes:
            for seed in args.seeds:
                instance = make_instance(size, seed, folder)
                data = json.loads(instance.read_text())
                print(
                    f"{size} seed {seed}: {len(data['sessions'])} sessions, {len(data['attendees'])} delegates, "
                    f"{len(data['rooms'])} rooms, {len(data['slots'])} slots",
                    flush=True,
                )
                ours_out = folder / f"{size}-{seed}-ours.json"
                ours = run_ours(instance, ours_out, args.time_limit, args.threads)
                ours_score = evaluate(instance, ours_out)
                rows.append((size, seed, "ours", ours["wall"], ours_score, ours["lower_bound"]))
                print(
                    f"  ours: {ours_score['attendee_clash_pairs']} clash pairs ({ours['status']}), "
                    f"bound {ours['lower_bound']}, {ours['wall']:.1f} s",
                    flush=True,
                )
                if not args.skip_cpsat:
                    cp_out = folder / f"{size}-{seed}-cpsat.json"
                    cp = run_cpsat(instance, cp_out, args.time_limit, args.threads, seed)
                    score = evaluate(instance, cp_out) if cp_out.exists() else None
                    rows.append((size, seed, "cp-sat compact", cp["wall"], score, cp.get("bound")))
                    print(f"  cp-sat: {score and score['attendee_clash_pairs']} ({cp['status']})", flush=True)
                if baseline_missing or args.skip_baseline:
                    continue
                theirs_out = folder / f"{size}-{seed}-conference-scheduler.json"
                theirs = run_conference_scheduler(instance, theirs_out, args.time_limit, args.threads)
                score = evaluate(instance, theirs_out) if theirs_out.exists() else None
                rows.append((size, seed, "conference-scheduler 3.0.1", theirs["wall"], score, None))

    print(
        f"\n{'instance':8} {'seed':>4} {'scheduler':27} {'time s':>7} {'clash pairs':>11} {'bound':>6} "
        f"{'gap':>6} {'hard viol.':>10} {'per delegate mean/max':>22}"
    )
    for size, seed, name, wall, score, bound in rows:
        if score is None:
            print(f"{size:8} {seed:4} {name:27} {wall:7.1f} {'none':>11}")
            continue
        clashes = score["attendee_clash_pairs"]
        print(
            f"{size:8} {seed:4} {name:27} {wall:7.1f} {clashes:11,} "
            f"{'-' if bound is None else f'{bound:,}':>6} {_gap(clashes, bound):>6} "
            f"{score['hard_violations']:10} "
            f"{score['mean_clash_pairs_per_attendee']:>15.2f} / {score['max_clash_pairs_per_attendee']}"
        )
    if baseline_missing and not args.skip_baseline:
        print(f"\nconference-scheduler not run: {baseline_missing}")
    for size, seed, name, wall, score, bound in rows:
        if size != "medium" or name != "ours" or score is None or bound is None:
            continue
        print(f"\ntargets (issue 6, medium seed {seed}):")
        clashes = score["attendee_clash_pairs"]
        checks = [
            (clashes < 1900, f"clash pairs < 1,900 ({clashes:,})"),
            (
                args.time_limit <= 30,
                f"at most 30 s (limit {args.time_limit:g} s; {wall:.1f} s wall with start-up)",
            ),
            (score["hard_violations"] == 0, f"no hard violation ({score['hard_violations']})"),
            (bound >= 0.85 * clashes, f"certified gap < 15% ({_gap(clashes, bound)}, bound {bound:,})"),
        ]
        for ok, text in checks:
            print(f"  {'PASS' if ok else 'MISS'}  {text}")


if __name__ == "__main__":
    main()
