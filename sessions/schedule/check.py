"""Every broken hard rule of a draft programme, as warnings a person can act on. Pure: plain data in, list out.

It is its own checker, written from the rules (not from the scheduler's model), so a hand move is judged the
same way whatever produced the placement. Rules: a workshop's speakers are in one place at a time and not in a
slot they can't do; its room seats its expected audience; a room holds one session at a time (workshops, and
sessions organisers placed by hand); a multi-slot workshop keeps one room over consecutive slots of one day
without crossing a break; no workshop runs against a plenary.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CheckSlot:
    id: str
    day: str  # local date
    joinable_with_next: bool
    label: str  # e.g. "Tue 8 Dec 11:00"
    plenary: bool = False


@dataclass(frozen=True)
class CheckRoom:
    id: str
    name: str
    capacity: int


@dataclass(frozen=True)
class Fixed:
    """A session placed by hand outside the build (it keeps its room and time)."""

    title: str
    room_id: str
    slots: frozenset[int]


def _warning(code: str, key: str, message: str, **where: Any) -> dict[str, Any]:
    return {"code": code, "workshop": key, "message": message, **where}


def find_warnings(
    workshops: Sequence[Mapping[str, Any]],
    placement: Mapping[str, tuple[str, int]],
    slots: Sequence[CheckSlot],
    rooms: Mapping[str, CheckRoom],
    unavailable: Mapping[str, frozenset[int]],
    fixed: Sequence[Fixed] = (),
) -> list[dict[str, Any]]:
    """`workshops` as stored in a draft (key, title, slot_count, audience, speakers); `placement` key →
    (room id, start slot index); `unavailable` speaker → slot indices."""
    out: list[dict[str, Any]] = []
    held: dict[str, list[int]] = {}
    for w in workshops:
        key, title = w["key"], w["title"]
        if key not in placement:
            out.append(_warning("unplaced", key, f"'{title}' has no room and time."))
            continue
        room_id, start = placement[key]
        span = list(range(start, start + int(w["slot_count"])))
        room = rooms.get(room_id)
        if room is None or not 0 <= start < len(slots):
            out.append(
                _warning(
                    "unknown_place", key, f"'{title}' is placed in a room or slot that no longer exists."
                )
            )
            continue
        if span[-1] >= len(slots):
            out.append(
                _warning(
                    "not_consecutive",
                    key,
                    f"'{title}' needs {len(span)} slots but the programme ends after {len(slots) - start}.",
                    room_id=room_id,
                    slot_id=slots[start].id,
                )
            )
            span = [t for t in span if t < len(slots)]
        for a, b in itertools.pairwise(span):
            if slots[a].day != slots[b].day:
                out.append(
                    _warning(
                        "crosses_day",
                        key,
                        f"'{title}' runs from {slots[a].label} into the next day.",
                        room_id=room_id,
                        slot_id=slots[a].id,
                    )
                )
            elif not slots[a].joinable_with_next:
                out.append(
                    _warning(
                        "not_consecutive",
                        key,
                        f"'{title}' runs across the break after {slots[a].label}; "
                        "its slots must follow one another.",
                        room_id=room_id,
                        slot_id=slots[a].id,
                    )
                )
        for t in span:
            if slots[t].plenary:
                out.append(
                    _warning(
                        "plenary_slot",
                        key,
                        f"'{title}' is at {slots[t].label}, when the plenary runs.",
                        room_id=room_id,
                        slot_id=slots[t].id,
                    )
                )
        if int(w["audience"]) > room.capacity:
            out.append(
                _warning(
                    "room_too_small",
                    key,
                    f"'{title}' expects {w['audience']} but {room.name} seats {room.capacity}.",
                    room_id=room_id,
                    slot_id=slots[start].id,
                )
            )
        for sp in w["speakers"]:
            bad = [t for t in span if t in unavailable.get(sp, frozenset())]
            for t in bad:
                out.append(
                    _warning(
                        "speaker_unavailable",
                        key,
                        f"A speaker in '{title}' ({sp}) can't do {slots[t].label}.",
                        room_id=room_id,
                        slot_id=slots[t].id,
                        speaker=sp,
                    )
                )
        held[key] = span
    by_key = {w["key"]: w for w in workshops}
    placed = [k for k in by_key if k in held]
    for a, b in itertools.combinations(placed, 2):
        common = sorted(set(held[a]) & set(held[b]))
        if not common:
            continue
        wa, wb, where = by_key[a], by_key[b], slots[common[0]]
        if placement[a][0] == placement[b][0]:
            room = rooms[placement[a][0]]
            for k, other in ((a, wb), (b, wa)):
                out.append(
                    _warning(
                        "room_double_booked",
                        k,
                        f"{room.name} at {where.label} also holds '{other['title']}'.",
                        room_id=room.id,
                        slot_id=where.id,
                    )
                )
        for sp in sorted(set(wa["speakers"]) & set(wb["speakers"])):
            for k, other in ((a, wb), (b, wa)):
                out.append(
                    _warning(
                        "speaker_double_booked",
                        k,
                        f"A speaker ({sp}) is also in '{other['title']}' at {where.label}.",
                        slot_id=where.id,
                        speaker=sp,
                    )
                )
    for k in placed:
        for f in fixed:
            common = sorted(set(held[k]) & f.slots)
            if f.room_id == placement[k][0] and common:
                room, where = rooms[f.room_id], slots[common[0]]
                out.append(
                    _warning(
                        "room_double_booked",
                        k,
                        f"{room.name} at {where.label} already holds '{f.title}' (placed by hand).",
                        room_id=room.id,
                        slot_id=where.id,
                    )
                )
    return out


def clash_pairs(
    workshops: Sequence[Mapping[str, Any]],
    placement: Mapping[str, tuple[str, int]],
    star_sets: Sequence[frozenset[str]],
) -> tuple[int, int, int]:
    """(attendee clash pairs, most for one delegate, delegates with a clash): pairs of workshops a delegate starred
    (any of their talks) that share a slot."""
    spans = {
        w["key"]: set(range(placement[w["key"]][1], placement[w["key"]][1] + int(w["slot_count"])))
        for w in workshops
        if w["key"] in placement
    }
    of_talk = {t: w["key"] for w in workshops for t in w["talk_ids"]}
    per: list[int] = []
    for starred in star_sets:
        keys = sorted({of_talk[t] for t in starred if t in of_talk and of_talk[t] in spans})
        per.append(sum(1 for a, b in itertools.combinations(keys, 2) if spans[a] & spans[b]))
    return sum(per), max(per, default=0), sum(1 for n in per if n)
