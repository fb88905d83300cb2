"""Generated allocation instances shaped like the national conference, for tests, benchmarks and the demo.

Ten slots over two days, one workshop per room per slot, rooms of very different sizes, and rankings skewed
toward a few popular workshops that are not always in the biggest rooms (as happens when a small-room talk
turns out to be the one everybody wants). One workshop a day spans two slots.
"""

from __future__ import annotations

import random

from sessions.workshops.allocation import Delegate, Instance, Workshop

VENUE = (400, 150, 80, 60, 50, 30)


def ranked_instance(
    *,
    delegates: int = 1_000,
    slots: int = 10,
    rooms: tuple[int, ...] = VENUE,
    seed: int = 7,
    ranking_rate: float = 0.9,
    skew: float = 1.3,
) -> Instance:
    """`skew` is the Zipf exponent of workshop popularity within a slot; `ranking_rate` the share of
    delegates who rank anything for a given slot."""
    rng = random.Random(seed)
    workshops: list[Workshop] = []
    weights: list[float] = []
    by_slot: dict[int, list[int]] = {s: [] for s in range(slots)}
    long_rooms = {
        s: rng.randrange(1, len(rooms)) for s in range(0, slots - 1, slots // 2 or 1)
    }  # a 2-slot workshop a day
    covered_by_long: dict[int, int] = {}
    for s in range(slots):
        popularity = [1.0 / (k + 1) ** skew for k in range(len(rooms))]
        rng.shuffle(popularity)  # the popular ones land in any room
        for r, seats in enumerate(rooms):
            if covered_by_long.get(s) == r:
                continue  # that room still hosts the workshop that started in the slot before
            span = 2 if long_rooms.get(s) == r and s + 1 < slots else 1
            if span == 2:
                covered_by_long[s + 1] = r
            by_slot[s].append(len(workshops))
            workshops.append(
                Workshop(key=f"w{s}-{r}", start=s, slots=frozenset(range(s, s + span)), seats=seats)
            )
            weights.append(popularity[r])
    people: list[Delegate] = []
    for i in range(delegates):
        ranks: dict[int, int] = {}
        for s in range(slots):
            if rng.random() > ranking_rate:
                continue
            pool = list(by_slot[s])
            pool_weights = [weights[w] for w in pool]
            for rank in range(1, min(len(pool), rng.choice((3, 4, 5))) + 1):
                w = rng.choices(range(len(pool)), weights=pool_weights)[0]
                ranks[pool.pop(w)] = rank
                pool_weights.pop(w)
        people.append(Delegate(key=f"d{i}", ranks=ranks))
    return Instance(workshops=workshops, delegates=people)
