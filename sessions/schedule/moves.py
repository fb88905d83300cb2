"""Start slots by simulated annealing (step 2 of sessions/schedule/scheduler.py).

The state keeps, per slot, who is in it and, per k, how many of its sessions need one of the k biggest rooms
(Hall: never more than k), so every move is checked in O(session). Moves: one session to another start; two
sessions of the same length swap starts; and a block swap (`_block_swap`): a session moves to new slots and
sessions lying wholly inside them move, by the same offset, into the slots it leaves, which is how a long
session travels through a grid with no free room.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence

from sessions.schedule.problem import Compiled

# --- step 2: slots by simulated annealing -----------------------------------------------------------------


class SlotState:
    """Start slots with the bookkeeping for O(session) move checks: who is in each slot, and per slot and k how
    many of its sessions need one of the k biggest rooms (Hall: never more than k)."""

    def __init__(self, c: Compiled, weight: list[list[float]]) -> None:
        self.c, self.wt = c, weight
        self.start = [-1] * c.n
        self.occ: list[set[int]] = [set() for _ in range(c.n_slots)]
        self.hall = [[0] * (c.n_rooms + 1) for _ in range(c.n_slots)]

    def fits(self, i: int, s: int) -> bool:
        c = self.c
        for t in c.cover[i][s]:
            if self.occ[t] & c.conflict[i]:
                return False
            counts = self.hall[t]
            if any(counts[k] >= k for k in range(c.need[i], c.n_rooms + 1)):
                return False
        return True

    def cost(self, i: int, s: int) -> float:
        """Weight of i's pairs with the sessions in the slots it would occupy starting at s (i not placed)."""
        c, row = self.c, self.wt[i]
        cover = c.cover[i][s]
        others = self.occ[cover[0]] if len(cover) == 1 else set().union(*(self.occ[t] for t in cover))
        return sum(row[j] for j in others if j != i)

    def place(self, i: int, s: int) -> None:
        self.start[i] = s
        for t in self.c.cover[i][s]:
            self.occ[t].add(i)
            counts = self.hall[t]
            for k in range(self.c.need[i], self.c.n_rooms + 1):
                counts[k] += 1

    def lift(self, i: int) -> int:
        s = self.start[i]
        for t in self.c.cover[i][s]:
            self.occ[t].discard(i)
            counts = self.hall[t]
            for k in range(self.c.need[i], self.c.n_rooms + 1):
                counts[k] -= 1
        self.start[i] = -1
        return s


def _greedy(c: Compiled, state: SlotState, rng: random.Random) -> bool:
    """Hardest sessions first (fewest starts, biggest audience), each where it costs least; False if stuck."""
    order = sorted(range(c.n), key=lambda i: (len(c.starts[i]), c.need[i], -c.dur[i], rng.random()))
    for i in order:
        options = [s for s in c.starts[i] if state.fits(i, s)]
        if not options:
            return False
        state.place(i, min(options, key=lambda s: (state.cost(i, s), rng.random())))
    return True


def anneal(
    c: Compiled,
    initial: Sequence[int] | None,
    seconds: float,
    seed: int = 1,
    snapshots: list[list[int]] | None = None,
) -> tuple[list[int] | None, int]:
    """Start slots by simulated annealing: returns (best starts, moves tried), or (None, 0) if no start found.
    `snapshots` collects the last 30 best answers met (their slot groups seed the lower bound's LP)."""
    rng = random.Random(seed)
    total_theme = sum(map(sum, c.theme)) // 2
    eps = 1.0 / (total_theme + 1)  # all theme pairs together weigh less than one clash pair: a tie-break
    weight = [[c.w[i][j] + eps * c.theme[i][j] for j in range(c.n)] for i in range(c.n)]
    state = SlotState(c, weight)
    if initial is not None:
        for i, s in enumerate(initial):
            state.place(i, s)
    elif not _greedy(c, state, rng):
        return None, 0
    current = sum(state.cost(i, state.start[i]) for i in range(c.n)) / 2
    best, best_start = current, list(state.start)
    movable = [i for i in range(c.n) if len(c.starts[i]) > 1]
    # Block swaps let a long session travel in a full grid, where neither a free room nor a session of the
    # same length is in the slots it wants (issue 22); with one-slot sessions only, the plain moves suffice.
    # Only long sessions start one (for a one-slot session it is the plain swap), as often as they are common.
    long_movable = [i for i in movable if c.dur[i] > 1]
    block_share = min(0.3, len(long_movable) / len(movable)) if long_movable else 0.0
    if not movable:
        return best_start, 0
    by_duration: dict[int, list[int]] = {}
    for i in movable:
        by_duration.setdefault(c.dur[i], []).append(i)
    # Temperature in clash pairs, cooled geometrically over the time budget; restarts from the best when cold.
    mean_w = max(1.0, sum(map(sum, c.w)) / max(1, c.n * (c.n - 1)))
    hot, cold = 2.0 * mean_w, 0.02 * mean_w
    started = time.perf_counter()
    tried = 0
    temperature = hot
    while True:
        if tried % 256 == 0:
            elapsed = (time.perf_counter() - started) / seconds
            if elapsed >= 1.0:
                break
            cycle = (elapsed * 3) % 1.0  # three cooling cycles, each reheating from the best answer
            if cycle < 0.002 and tried and current > best:
                for i in range(c.n):
                    state.lift(i)
                for i, s in enumerate(best_start):
                    state.place(i, s)
                current = best
            temperature = hot * (cold / hot) ** cycle
        tried += 1
        i = movable[rng.randrange(len(movable))]
        a = state.start[i]
        roll = rng.random()
        if roll < block_share:
            moves = _block_swap(c, state, long_movable[rng.randrange(len(long_movable))], rng)
            if moves is None:
                continue
            olds = [state.start[j] for j, _ in moves]
            delta = _apply(state, moves)
            if delta is None:
                continue
            if delta <= 0 or rng.random() < math.exp(-delta / temperature):
                current += delta
            else:
                _undo(state, moves, olds)
        elif roll < block_share + (1 - block_share) / 2:
            b = c.starts[i][rng.randrange(len(c.starts[i]))]
            if b == a:
                continue
            old = state.cost(i, a)
            state.lift(i)
            if not state.fits(i, b):
                state.place(i, a)
                continue
            delta = state.cost(i, b) - old
            if delta <= 0 or rng.random() < math.exp(-delta / temperature):
                state.place(i, b)
                current += delta
            else:
                state.place(i, a)
        else:
            peers = by_duration[c.dur[i]]
            j = peers[rng.randrange(len(peers))]
            b = state.start[j]
            if b == a or b not in c.cover[i] or a not in c.cover[j]:
                continue
            if b not in c.starts[i] or a not in c.starts[j]:
                continue
            overlap = bool(set(c.cover[i][a]) & set(c.cover[j][b]))
            old = state.cost(i, a) + state.cost(j, b) - (weight[i][j] if overlap else 0.0)
            state.lift(i)
            state.lift(j)
            if state.fits(i, b):
                state.place(i, b)
                if state.fits(j, a):
                    delta = state.cost(i, b) + state.cost(j, a) - old
                    if delta <= 0 or rng.random() < math.exp(-delta / temperature):
                        state.place(j, a)
                        current += delta
                        if current < best - 1e-9:
                            best, best_start = current, list(state.start)
                            if snapshots is not None:
                                snapshots.append(best_start)
                                del snapshots[:-30]
                        continue
                state.lift(i)
            state.place(i, a)
            state.place(j, b)
            continue
        if current < best - 1e-9:
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
    b = c.starts[i][rng.randrange(len(c.starts[i]))]
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
        j = options[rng.randrange(len(options))]
        chosen.append(j)
        covered.update(c.cover[j][state.start[j]])
    return [(i, b), *((j, state.start[j] + shift) for j in chosen)]


def _apply(state: SlotState, moves: list[tuple[int, int]]) -> float | None:
    """Move every (session, start) at once: the change in weight, or None (nothing changed) if a rule breaks.
    Each pair is counted once: on lifting, with the movers not yet lifted; on placing, with those placed."""
    olds = [state.start[j] for j, _ in moves]
    old = 0.0
    for j, s in zip((j for j, _ in moves), olds):
        old += state.cost(j, s)
        state.lift(j)
    new = 0.0
    for k, (j, s) in enumerate(moves):
        if not state.fits(j, s):
            for done, _ in moves[:k]:
                state.lift(done)
            for (back, _), s0 in zip(moves, olds):
                state.place(back, s0)
            return None
        new += state.cost(j, s)
        state.place(j, s)
    return new - old


def _undo(state: SlotState, moves: list[tuple[int, int]], olds: list[int]) -> None:
    for j, _ in moves:
        state.lift(j)
    for (j, _), s in zip(moves, olds):
        state.place(j, s)
