"""What is wrong with a programme before any search: faults in the data (`validate_problem`, raised as
ProblemError: the caller sent something malformed) and reasons a well-formed programme cannot be scheduled
(`necessary_conditions`: proven infeasible, each reason naming its real cause).

Every message names the session, room, speaker or slot it is about, in words an organiser can act on; all
faults are reported at once (up to `MAX_MESSAGES`), never only the first.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable

from sessions.schedule.problem import Compiled, Problem, ProblemError, valid_day_starts

MAX_MESSAGES = 25


def _repeats(ids: Iterable[str]) -> list[str]:
    return sorted(k for k, n in Counter(ids).items() if n > 1)


def _capped(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_MESSAGES:
        return problems
    return [*problems[:MAX_MESSAGES], f"… and {len(problems) - MAX_MESSAGES} more problems like these"]


def problem_faults(p: Problem) -> list[str]:
    """Every fault in the problem's data (empty when it is well formed)."""
    out: list[str] = []
    n_slots = len(p.slots)
    if not p.sessions:
        out.append("there are no sessions: nothing to schedule")
    if not p.slots:
        out.append("there are no time slots")
    if not p.rooms:
        out.append("there are no rooms")
    for index, slot in enumerate(p.slots):
        if slot.id != index:
            out.append(
                f"slots must be listed in time order with ids 0, 1, 2, …: the slot at position {index} "
                f"has id {slot.id}"
            )
            break
    for a, b in itertools.pairwise(p.slots):
        if b.day < a.day:
            out.append(
                f"slots must be in time order: slot {b.id} is on day {b.day}, before slot {a.id}'s day"
            )
            break
    for rid in _repeats(r.id for r in p.rooms):
        out.append(f"room id {rid} is used by more than one room")
    for r in p.rooms:
        if r.capacity < 0:
            out.append(f"room {r.id}: capacity {r.capacity} is negative")
    for sid in _repeats(s.id for s in p.sessions):
        out.append(f"session id {sid} is used by more than one session")
    rooms = {r.id for r in p.rooms}
    for s in p.sessions:
        if s.duration < 1:
            out.append(f"session {s.id}: duration {s.duration}; a session lasts at least 1 slot")
        if s.audience < 0:
            out.append(f"session {s.id}: expected audience {s.audience} is negative")
        outside = sorted(t for t in s.forbidden_slots if not 0 <= t < n_slots)
        if outside:
            out.append(
                f"session {s.id}: forbidden slots {outside} are not in the programme (slots 0-{n_slots - 1})"
            )
        if s.pin_start is not None and not 0 <= s.pin_start < n_slots:
            out.append(f"session {s.id}: pinned to slot {s.pin_start}, which is not in the programme")
        if s.pin_room is not None and s.pin_room not in rooms:
            out.append(f"session {s.id}: pinned to room {s.pin_room}, which is not in the programme")
        for sp in _repeats(s.speakers):
            out.append(f"session {s.id}: speaker {sp} is listed twice")
    for sp, slots in sorted(p.unavailable.items()):
        outside = sorted(t for t in slots if not 0 <= t < n_slots)
        if outside:
            out.append(
                f"speaker {sp}: unavailable slots {outside} are not in the programme (slots 0-{n_slots - 1})"
            )
    known = {s.id for s in p.sessions}
    unknown: Counter[str] = Counter()
    for k, starred in enumerate(p.stars):
        unknown.update(sid for sid in starred if sid not in known)
        for sid in _repeats(starred):
            out.append(f"delegate {k + 1} starred session {sid} more than once")
    for sid, times in sorted(unknown.items()):
        out.append(f"{times} delegate(s) starred session {sid}, which is not in the programme")
    return out


def validate_problem(p: Problem) -> None:
    """Raise ProblemError listing every fault in the data (`problem_faults`)."""
    faults = problem_faults(p)
    if faults:
        raise ProblemError(*_capped(faults))


def _runs(c: Compiled, length: int) -> int:
    """Disjoint runs of `length` joinable slots one room offers (each day and each stretch between breaks)."""
    runs, stretch = 0, 0
    for t, slot in enumerate(c.p.slots):
        stretch += 1
        ends = t + 1 == c.n_slots or not slot.joinable_with_next or c.p.slots[t + 1].day != slot.day
        if ends:
            runs += stretch // length
            stretch = 0
    return runs


# --- necessary conditions, named -------------------------------------------------------------------------


def necessary_conditions(c: Compiled) -> list[str]:
    """Reasons the problem cannot be solved that need no search (empty when none is found)."""
    p, why = c.p, []
    # Room-slots: every session needs its length in room-slots, and a long one a run of joinable slots.
    total = sum(c.dur)
    if total > c.n_rooms * c.n_slots:
        why.append(
            f"room-slots: the sessions last {total} room-slots in all, but {c.n_rooms} room(s) x "
            f"{c.n_slots} slot(s) offer {c.n_rooms * c.n_slots}; add rooms or slots, or shorten sessions"
        )
    for length in sorted({d for d in c.dur if d > 1}):
        long = sum(1 for d in c.dur if d >= length)
        runs = _runs(c, length)
        if long > c.n_rooms * runs:
            why.append(
                f"room-slots: {long} session(s) last {length} slots or more and each needs {length} "
                f"joinable slots in a row, but the programme has {runs} such run(s) per room, "
                f"{c.n_rooms * runs} in all"
            )
    never = sorted(sp for sp, slots in p.unavailable.items() if c.n_slots and len(set(slots)) >= c.n_slots)
    for sp in never:
        theirs = [s.id for s in p.sessions if sp in s.speakers]
        if theirs:
            why.append(
                f"speaker {sp} is unavailable in every slot but speaks in session(s) {', '.join(theirs)}"
            )
    for i, s in enumerate(p.sessions):
        if not c.starts[i]:
            day_starts = valid_day_starts(p, s.duration)
            if not day_starts:
                why.append(
                    f"joinable slots: session {s.id} lasts {s.duration} slots, but no {s.duration} slots in "
                    "a row are joinable (same day, no break between them)"
                )
            elif s.pin_start is not None and s.pin_start not in day_starts:
                why.append(
                    f"pin: session {s.id} is pinned to slot {s.pin_start}, where a {s.duration}-slot "
                    "session cannot start (day end or break)"
                )
            elif not any(sp in never for sp in s.speakers):
                busy = [
                    f"{sp} can't do slots {sorted(p.unavailable[sp])}"
                    for sp in s.speakers
                    if p.unavailable.get(sp)
                ]
                if s.forbidden_slots:
                    busy.append(f"the session may not use slots {sorted(s.forbidden_slots)}")
                at = "" if s.pin_start is None else f" (pinned to slot {s.pin_start})"
                why.append(
                    f"availability: session {s.id} ({s.duration} slot(s)){at} has no start its speakers "
                    f"can all do: {'; '.join(busy)}"
                )
        if not c.fit[i]:
            biggest = max((r.capacity for r in p.rooms), default=0)
            where = f"pinned room {s.pin_room}" if s.pin_room else f"the biggest room ({biggest} seats)"
            why.append(f"capacity: session {s.id} expects {s.audience} but {where} is too small")
    # A speaker needs as many free slots as their sessions last.
    for sp in sorted({sp for s in p.sessions for sp in s.speakers} - set(never)):
        mine = [i for i, s in enumerate(p.sessions) if sp in s.speakers]
        usable = set().union(*(set(c.cover[i][t]) for i in mine for t in c.starts[i]))
        needed = sum(c.dur[i] for i in mine)
        if len(mine) > 1 and needed > len(usable):
            why.append(
                f"speaker {sp}: sessions {', '.join(p.sessions[x].id for x in mine)} need {needed} slots but "
                f"the speaker can be in only {len(usable)} ({sorted(usable)})"
            )
    # Nested rooms (Hall): sessions that need one of the k biggest rooms fit into k rooms x all slots. The
    # whole grid (k = all rooms) is the room-slot count above.
    for k in range(1, c.n_rooms):
        needed = sum(c.dur[i] for i in range(c.n) if 0 < c.need[i] <= k)
        if needed > k * c.n_slots:
            cap = p.rooms[c.rooms[k - 1]].capacity
            why.append(
                f"capacity: sessions that need a room of at least {cap} seats need {needed} room-slots; "
                f"the {k} room(s) that big offer {k * c.n_slots}"
            )
            break
    # Pins that collide with each other.
    pinned = [i for i, s in enumerate(p.sessions) if s.pin_start is not None]
    for i, j in itertools.combinations(pinned, 2):
        si, sj = p.sessions[i], p.sessions[j]
        assert si.pin_start is not None and sj.pin_start is not None
        if set(range(si.pin_start, si.pin_start + si.duration)) & set(
            range(sj.pin_start, sj.pin_start + sj.duration)
        ):
            if si.pin_room is not None and si.pin_room == sj.pin_room:
                why.append(
                    f"pin: sessions {si.id} and {sj.id} are pinned to room {si.pin_room} at the same time"
                )
            if j in c.conflict[i]:
                why.append(
                    f"pin: sessions {si.id} and {sj.id} share a speaker and are pinned to the same time"
                )
    return why
