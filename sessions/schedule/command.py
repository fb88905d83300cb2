"""`conference schedule solve`: the scheduler on an instance file, as an organiser runs it.

Exit status: 0 a schedule was written; 1 no schedule: the programme is proven infeasible (the reasons follow,
each naming its cause) or none was found in the time given (said so); 2 the input is unusable (a missing or
malformed file, bad data: every fault listed). Never a traceback: an unexpected failure is reported in one
line as an internal error, exit 3.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TextIO

from sessions.schedule import scheduler
from sessions.schedule.instance import load_problem, placement_from_json, schedule_to_json
from sessions.schedule.problem import Placement, ProblemError

log = logging.getLogger(__name__)


def _previous(path: str) -> Placement:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProblemError(f"--previous {path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProblemError(
            f"--previous {path}: not a readable JSON file ({error.__class__.__name__})"
        ) from None
    return placement_from_json(data)


def solve_command(
    *,
    instance: str,
    out: str,
    time_limit: float = 30.0,
    threads: int = 2,
    seed: int = 1,
    previous: str | None = None,
    stability: bool = True,
    bound: bool = True,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    try:
        return _solve(instance, out, time_limit, threads, seed, previous, stability, bound, stdout, stderr)
    except Exception as error:  # the last resort: one line, never a traceback (the log has the detail)
        log.exception("schedule solve failed")
        print(
            f"internal error: the scheduler failed ({error.__class__.__name__}); please report it",
            file=stderr,
        )
        return 3


def _solve(
    instance: str,
    out: str,
    time_limit: float,
    threads: int,
    seed: int,
    previous_path: str | None,
    stability: bool,
    bound: bool,
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    if not time_limit > 0 or threads < 1:
        print("--time-limit must be more than 0 seconds and --threads at least 1", file=stderr)
        return 2
    folder = Path(out).resolve().parent
    if not folder.is_dir():
        print(f"{out}: the folder {folder} does not exist", file=stderr)
        return 2
    try:
        problem = load_problem(instance)
        previous = _previous(previous_path) if previous_path else None
    except ProblemError as error:
        print(f"{instance}: not a usable instance:", *error.problems, sep="\n  ", file=stderr)
        return 2
    result = scheduler.solve(
        problem,
        time_limit=time_limit,
        threads=threads,
        previous=previous,
        stability=stability,
        seed=seed,
        bound=bound,
    )
    if result.status == "infeasible":
        print(
            "no schedule: the programme cannot keep every rule:", *result.explanation, sep="\n  ", file=stderr
        )
        return 1
    if not result.placement:
        print(
            f"no schedule found in {time_limit:g} s, and no proof that none exists; try a longer --time-limit",
            *result.explanation,
            sep="\n  ",
            file=stderr,
        )
        return 1
    try:
        Path(out).write_text(json.dumps(schedule_to_json(result), indent=1) + "\n", encoding="utf-8")
    except OSError as error:
        print(f"{out}: cannot write the schedule ({error.strerror or error.__class__.__name__})", file=stderr)
        return 2
    gap = "n/a" if result.gap is None else f"{result.gap:.1%}"
    print(
        f"{result.status}: {result.objective} attendee clash pairs, lower bound {result.bound}, gap {gap}, "
        f"{result.seconds:.1f} s; clash pairs per delegate mean {result.clashes_mean:.2f} max "
        f"{result.clashes_max}; rooms over capacity {len(result.over_capacity)}"
        f"{f'; {len(result.moved)} sessions moved' if previous else ''}; written to {out}",
        file=stdout,
    )
    for fault in result.internal_errors:
        print(f"internal error (the schedule itself is valid): {fault}", file=stderr)
    return 0
