"""Start slots by simulated annealing (step 2 of sessions/schedule/scheduler.py).

The state keeps, per slot, who is in it, how much each session would weigh with them (`near`), how many of
them share a speaker with each session (`clash`), and, per k, how many of them need one of the k biggest rooms
(Hall: never more than k). So a one-slot move or swap is checked and priced in O(1) and only an accepted move
pays for the bookkeeping (two numpy row updates per slot); longer sessions are priced from the slots' members.
Moves: one session to another start; two sessions of the same length swap starts; and a block swap
(`_block_swap`): a session moves to new slots and sessions lying wholly inside them move, by the same offset,
into the slots it leaves, which is how a long session travels through a grid with no free room.

Weights are whole numbers, a clash pair weighing `unit` and a same-theme pair 1 (all of them together less
than one clash pair), so the running total is exact and a run depends only on the seed and the number of moves
it gets, never on rounding.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence

import numpy as np

from sessions.schedule.problem import Compiled

# --- step 2: slots by simulated annealing -----------------------------------------------------------------


class SlotState:
    """Start slots with the bookkeeping for O(1) one-slot move checks (module docstring)."""

    def __init__(self, c: Compiled, weight: np.ndarray) -> None:
        self.c, self.weight = c, weight
        self.wt: list[list[int]] = weight.tolist()
        self.conflicts = c.conflict_matrix.astype(np.int64)
        self.start = [-1] * c.n
        self.occ: list[set[int]] = [set() for _ in range(c.n_slots)]
        self.hall = [[0] * (c.n_rooms + 1) for _ in range(c.n_slots)]
        # top[t]: the largest k whose k biggest rooms slot t's sessions already fill (0 if none), so a session
        # needing one of the need[i] biggest rooms fits there only if need[i] > top[t] (Hall, see fits()).
        self.top = [0] * c.n_slots
        self.near = np.zeros(
            (c.n_slots, c.n), dtype=np.int64
        )  # near[t, j]: j's weight with slot t's sessions
        self.clash = np.zeros(
            (c.n_slots, c.n), dtype=np.int64
        )  # clash[t, j]: slot t's sessions sharing a speaker

    def fits(self, i: int, s: int) -> bool:
        """Whether i (not placed) may start at s: no speaker of it busy there, and every slot still seatable
        (Hall: for every k, at most k sessions needing one of the k biggest rooms)."""
        need, clash, top = self.c.need[i], self.clash, self.top
        return all(not clash.item(t, i) and need > top[t] for t in self.c.cover[i][s])

    def fits_from(self, i: int, a: int, b: int) -> bool:
        """Whether i, placed at a, may move to start b: only the slots it newly takes need checking."""
        need, clash, top, here = self.c.need[i], self.clash, self.top, self.c.cover[i][a]
        return all(not clash.item(t, i) and need > top[t] for t in self.c.cover[i][b] if t not in here)

    def cost(self, i: int, s: int) -> int:
        """Weight of i's pairs with the sessions in the slots it would occupy starting at s (i not placed)."""
        cover = self.c.cover[i][s]
        if len(cover) == 1:
            return int(self.near.item(cover[0], i))
        row = self.wt[i]
        return sum(row[j] for j in set().union(*(self.occ[t] for t in cover)) if j != i)

    def _recount(self, t: int) -> None:
        counts, k = self.hall[t], self.c.n_rooms
        while k and counts[k] < k:
            k -= 1
        self.top[t] = k

    def place(self, i: int, s: int) -> None:
        self.start[i] = s
        need, rooms = self.c.need[i], self.c.n_rooms
        for t in self.c.cover[i][s]:
            self.occ[t].add(i)
            counts = self.hall[t]
            for k in range(need, rooms + 1):
                counts[k] += 1
            self._recount(t)
            self.near[t] += self.weight[i]
            self.clash[t] += self.conflicts[i]

    def lift(self, i: int) -> int:
        s = self.start[i]
        need, rooms = self.c.need[i], self.c.n_rooms
        for t in self.c.cover[i][s]:
            self.occ[t].discard(i)
            counts = self.hall[t]
            for k in range(need, rooms + 1):
                counts[k] -= 1
            self._recount(t)
            self.near[t] -= self.weight[i]
            self.clash[t] -= self.conflicts[i]
        self.start[i] = -1
        return s

    def swap_fits(self, i: int, a: int, j: int, b: int) -> bool:
        """Whether one-slot sessions i (in slot a) and j (in slot b) may trade slots."""
        c = self.c
        shared = int(c.conflict_matrix[i, j])
        if self.clash.item(b, i) - shared or self.clash.item(a, j) - shared:
            return False
        # In slot b, i replaces j: only the counts for k in [need[i], need[j]) rise, by one (and vice versa).
        hall_b, hall_a = self.hall[b], self.hall[a]
        return not any(hall_b[k] >= k for k in range(c.need[i], c.need[j])) and not any(
            hall_a[k] >= k for k in range(c.need[j], c.need[i])
        )


def _greedy(c: Compiled, state: SlotState, rng: random.Random) -> bool:
    """Hardest sessions first (fewest starts, biggest audience), each where it costs least; False if stuck."""
    order = sorted(range(c.n), key=lambda i: (len(c.starts[i]), c.need[i], -c.dur[i], rng.random()))
    for i in order:
        options = [s for s in c.starts[i] if state.fits(i, s)]
        if not options:
            return False
        state.place(i, min(options, key=lambda s: (state.cost(i, s), rng.random())))
    return True


def weights(c: Compiled) -> tuple[np.ndarray, int]:
    """(weight matrix, unit): a clash pair weighs `unit`, a same-theme pair 1, and unit exceeds the number of
    same-theme pairs, so themes only ever break ties between equal clash pairs."""
    theme = np.array(c.theme, dtype=np.int64).reshape(c.n, c.n)
    unit = int(theme.sum()) // 2 + 1
    return np.array(c.w, dtype=np.int64).reshape(c.n, c.n) * unit + theme, unit


def anneal(
    c: Compiled,
    initial: Sequence[int] | None,
    seconds: float,
    seed: int = 1,
    snapshots: list[list[int]] | None = None,
    budget: int | None = None,
) -> tuple[list[int] | None, int]:
    """Start slots by simulated annealing: returns (best starts, moves tried), or (None, 0) if no start found.
    `snapshots` collects the last 30 best answers met (their slot groups seed the lower bound's LP). With a
    `budget`, it runs that many moves instead of `seconds` (the same answer on any machine, at any load)."""
    rng = random.Random(seed)
    random_ = rng.random
    weight, unit = weights(c)
    state = SlotState(c, weight)
    if initial is not None:
        for i, s in enumerate(initial):
            state.place(i, s)
    elif not _greedy(c, state, rng):
        return None, 0
    current = sum(state.cost(i, state.start[i]) for i in range(c.n)) // 2
    best, best_start = current, list(state.start)
    movable = [i for i in range(c.n) if len(c.starts[i]) > 1]
    if not movable:
        return best_start, 0
    # Block swaps let a long session travel in a full grid, where neither a free room nor a session of the
    # same length is in the slots it wants (issue 22); with one-slot sessions only, the plain moves suffice.
    # Only long sessions start one (for a one-slot session it is the plain swap), as often as they are common.
    long_movable = [i for i in movable if c.dur[i] > 1]
    block_share = min(0.3, len(long_movable) / len(movable)) if long_movable else 0.0
    move_share = block_share + (1 - block_share) / 2
    by_duration: dict[int, list[int]] = {}
    for i in movable:
        by_duration.setdefault(c.dur[i], []).append(i)
    starts, dur, cover, wt = c.starts, c.dur, c.cover, state.wt
    near, clash, top, need = state.near, state.clash, state.top, c.need
    # Temperature in weight units (a clash pair is `unit`), cooled geometrically over the time budget;
    # three cooling cycles, each reheating from the best answer.
    mean_w = max(1.0, sum(map(sum, c.w)) / max(1, c.n * (c.n - 1)))
    hot, cold = 2.0 * mean_w * unit, 0.02 * mean_w * unit
    started = time.perf_counter()
    tried = 0
    temperature = hot
    exp = math.exp
    while True:
        if tried % 256 == 0:
            elapsed = tried / budget if budget else (time.perf_counter() - started) / seconds
            if elapsed >= 1.0:
                break
            cycle = (elapsed * 3) % 1.0
            if cycle < 0.002 and tried and current > best:
                for i in range(c.n):
                    state.lift(i)
                for i, s in enumerate(best_start):
                    state.place(i, s)
                current = best
            temperature = hot * (cold / hot) ** cycle
        tried += 1
        i = movable[int(random_() * len(movable))]
        a = state.start[i]
        roll = random_()
        if roll < block_share:
            moves = _block_swap(c, state, long_movable[int(random_() * len(long_movable))], rng)
            if moves is None:
                continue
            delta = _price(state, moves)  # priced first: most are turned down, and then nothing changes
            if (delta <= 0 or random_() < exp(-delta / temperature)) and _apply(state, moves):
                current += delta
        elif roll < move_share:
            options = starts[i]
            b = options[int(random_() * len(options))]
            if b == a:
                continue
            if dur[i] == 1:  # O(1): the slot's figures
                if clash.item(b, i) or need[i] <= top[b]:
                    continue
                delta = int(near.item(b, i) - near.item(a, i))
                if delta <= 0 or random_() < exp(-delta / temperature):
                    state.lift(i)
                    state.place(i, b)
                    current += delta
            else:  # a long session: its new slots must take it; priced from the slots' members
                if not state.fits_from(i, a, b):
                    continue
                delta = state.cost(i, b) - state.cost(i, a)
                if delta <= 0 or random_() < exp(-delta / temperature):
                    state.lift(i)
                    state.place(i, b)
                    current += delta
        else:
            peers = by_duration[dur[i]]
            j = peers[int(random_() * len(peers))]
            b = state.start[j]
            if b == a or b not in cover[i] or a not in cover[j]:
                continue
            if b not in starts[i] or a not in starts[j]:
                continue
            if dur[i] == 1:  # O(1): two one-slot sessions trade slots
                if not state.swap_fits(i, a, j, b):
                    continue
                w_ij = wt[i][j]
                delta = int(near.item(b, i) + near.item(a, j) - near.item(a, i) - near.item(b, j)) - 2 * w_ij
                if delta <= 0 or random_() < exp(-delta / temperature):
                    state.lift(i)
                    state.lift(j)
                    state.place(i, b)
                    state.place(j, a)
                    current += delta
            else:
                overlap = bool(set(cover[i][a]) & set(cover[j][b]))
                old = state.cost(i, a) + state.cost(j, b) - (wt[i][j] if overlap else 0)
                state.lift(i)
                state.lift(j)
                swapped = False
                if state.fits(i, b):
                    state.place(i, b)
                    if state.fits(j, a):
                        delta = state.cost(i, b) + state.cost(j, a) - old
                        if delta <= 0 or random_() < exp(-delta / temperature):
                            state.place(j, a)
                            current += delta
                            swapped = True
                    if not swapped:
                        state.lift(i)
                if not swapped:
                    state.place(i, a)
                    state.place(j, b)
                    continue
        if current < best:
            best, best_start = current, list(state.start)
            if snapshots is not None:
                snapshots.append(best_start)
                del snapshots[:-30]
    return best_start, tried


def _block_swap(c: Compiled, state: SlotState, i: int, rng: random.Random) -> list[tuple[int, int]] | None:
    """A move of session i to another start b, with sessions that lie wholly inside the slots it newly takes
    moving, all by one offset, into the slots it leaves: one per slot where i would find no free room (and,
    at random, some more). So a 2-slot session can trade places with two 1-slot sessions, a 3-slot one with
    a 2-slot and a 1-slot, or a 2-slot one shift by a slot past a 1-slot one. None when no such move is at
    hand; the caller checks every rule."""
    a = state.start[i]
    b = c.starts[i][int(rng.random() * len(c.starts[i]))]
    window_a, window_b = set(c.cover[i][a]), set(c.cover[i][b])
    # i needs the slots of B not in A (one run); what it displaces there moves into the slots of A it leaves.
    region, left = sorted(window_b - window_a), sorted(window_a - window_b)
    if b == a or not region:
        return None
    shift = left[0] - region[0]
    inside = set(region)
    chosen: list[int] = []
    covered: set[int] = set()
    for t in region:
        if t in covered:
            continue
        if len(state.occ[t]) < c.n_rooms and rng.random() < 0.5:
            continue  # a free room here: i may just move in
        options = [
            j
            for j in state.occ[t]
            if j not in chosen
            and inside.issuperset(c.cover[j][state.start[j]])
            and state.start[j] + shift in c.cover[j]
            and state.start[j] + shift in c.starts[j]
        ]
        if not options:
            return None
        j = options[int(rng.random() * len(options))]
        chosen.append(j)
        covered.update(c.cover[j][state.start[j]])
    return [(i, b), *((j, state.start[j] + shift) for j in chosen)]


def _price(state: SlotState, moves: list[tuple[int, int]]) -> int:
    """The change in weight if every (session, start) in `moves` happened at once, the state untouched: each
    mover's pairs with the sessions that stay (once per pair, however many slots they share), then the
    movers' pairs among themselves."""
    c, occ, wt, start = state.c, state.occ, state.wt, state.start
    movers = {j for j, _ in moves}
    delta = 0
    spans = []
    for j, s in moves:
        old_span, new_span = c.cover[j][start[j]], c.cover[j][s]
        spans.append((j, set(old_span), set(new_span)))
        row = wt[j]
        before = set().union(*(occ[t] for t in old_span)) - movers
        after = set().union(*(occ[t] for t in new_span)) - movers
        delta += sum(row[k] for k in after) - sum(row[k] for k in before)
    for x, (j, old_j, new_j) in enumerate(spans):
        for k, old_k, new_k in spans[x + 1 :]:
            delta += wt[j][k] * (bool(new_j & new_k) - bool(old_j & old_k))
    return delta


def _apply(state: SlotState, moves: list[tuple[int, int]]) -> bool:
    """Move every (session, start) at once, or, if a rule would break, nothing (False)."""
    olds = [state.start[j] for j, _ in moves]
    for j, _ in moves:
        state.lift(j)
    for k, (j, s) in enumerate(moves):
        if not state.fits(j, s):
            for done, _ in moves[:k]:
                state.lift(done)
            for (back, _), s0 in zip(moves, olds):
                state.place(back, s0)
            return False
        state.place(j, s)
    return True
