"""Fair allocation at conference size: run time and figures, beside the first-come baseline on the same data.

    .venv/bin/python bench/allocation.py                       # 1,000 delegates, 10 slots, 6 rooms
    .venv/bin/python bench/allocation.py --delegates 2000 --repeat 3 --seed 7

Generates the instance with `sessions.synthetic.ranked_instance` (rankings skewed toward a few popular
workshops, two 2-slot workshops), times the first-come baseline and the optimiser (`sessions.allocation.solve`,
HiGHS through OR-Tools) over --repeat runs, checks both against every rule, and prints what each achieved.
The target (issue 3) is under 10 seconds at 1,000 delegates.
"""

from __future__ import annotations

import argparse
import statistics
import time

from sessions.workshops import allocation, synthetic

ROWS = [
    ("seats_given", "seats given", "{}"),
    ("first_choice_share", "slot requests met with the first choice", "{:.1%}"),
    ("top_three_share", "... with one of the top three", "{:.1%}"),
    ("nothing_share", "... with nothing", "{:.1%}"),
    ("worst_off_disappointment", "worst-off delegate's disappointment", "{}"),
    ("most_slots_missed_by_one_delegate", "most slots one delegate was left without", "{}"),
    ("all_first_choices_share", "delegates with every first choice", "{:.1%}"),
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--delegates", type=int, default=1_000)
    parser.add_argument("--slots", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7, help="instance seed")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    instance = synthetic.ranked_instance(delegates=args.delegates, slots=args.slots, seed=args.seed)
    requests = sum(len({instance.workshops[w].start for w in d.ranks}) for d in instance.delegates)
    seats = sum(w.seats for w in instance.workshops)
    print(
        f"instance: {len(instance.delegates)} delegates, {args.slots} slots, rooms {synthetic.VENUE}, "
        f"{len(instance.workshops)} workshops, {seats} seats, {requests} slot requests, "
        f"{sum(len(d.ranks) for d in instance.delegates)} ranked choices"
    )

    base_times, solve_times = [], []
    baseline: allocation.Assignment = []
    result = None
    for run in range(args.repeat):
        started = time.perf_counter()
        baseline = allocation.first_come(instance)
        base_times.append(time.perf_counter() - started)
        result = allocation.solve(instance, seed=run + 1)
        solve_times.append(result.seconds)
        assert (
            allocation.check(instance, baseline) == [] and allocation.check(instance, result.assignment) == []
        )
    assert result is not None
    fair, base = allocation.figures(instance, result.assignment), allocation.figures(instance, baseline)

    print(f"first-come baseline: median {statistics.median(base_times) * 1000:.1f} ms")
    print(
        f"fair allocation:     median {statistics.median(solve_times):.2f} s, max {max(solve_times):.2f} s "
        f"over {args.repeat} runs ({result.status}; {result.stages[0]['variables']} variables, "
        f"{result.stages[0]['constraints']} constraints; objective {result.stages[0]['objective']:.0f}, "
        f"bound {result.stages[0]['bound']:.0f})"
    )
    print(f"\n{'':44}{'allocation':>12}{'first come':>12}")
    for key, label, fmt in ROWS:
        print(f"{label:44}{fmt.format(fair[key]):>12}{fmt.format(base[key]):>12}")
    verdict = "PASS" if max(solve_times) < 10 else "MISS"
    print(f"\n{verdict}: slowest run {max(solve_times):.2f} s (target under 10 s at 1,000 delegates)")


if __name__ == "__main__":
    main()
