"""Accepted talks into workshop sessions: pure functions on plain data (no database), so every rule is testable.

The rules, in order (each deterministic, so the same talks and stars always give the same sessions):
1. A talk as long as a workshop slot or longer (panels, hands-on workshops, 60-minute talks) stands alone and
   lasts ceil(minutes / slot minutes) slots: a 120-minute workshop over 60-minute slots is a 2-slot session.
2. Groups kept from the published programme stay as they are while all their talks are still accepted and
   still fit, so a rebuild after a late change does not reshuffle sessions delegates have booked.
3. Short talks are grouped by their first (main) theme: within a theme, most-starred first, each talk goes
   into the first session with room left (total minutes within the slot) that none of its speakers is in
   already; otherwise it opens a new session (first-fit, in decreasing popularity).
4. Sessions left part-empty are merged across themes: the fullest takes, one at a time, the talk from another
   part-empty session that is closest to it (shares a theme, else the theme pair most delegates starred
   together; then the more starred), while one fits.

A session's speakers are the union of its talks' speakers; the slots it cannot take are the union of theirs;
its expected audience is the delegates who starred any of its talks, scaled to registrations (`scale`).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Talk:
    id: str
    title: str
    format: str  # talk | panel | workshop
    minutes: int
    themes: tuple[str, ...]
    speakers: tuple[str, ...]  # email keys
    stars: int = 0

    @property
    def theme(self) -> str:
        return self.themes[0] if self.themes else ""


@dataclass
class Workshop:
    key: str  # stable for the same talks: a rebuild finds "the same session" by it
    title: str
    talks: list[Talk]
    kind: str  # "group" (short talks sharing a slot) or "single"
    slot_count: int
    themes: tuple[str, ...] = ()
    audience: int = 0
    stars: int = 0  # delegates who starred any of its talks
    speakers: tuple[str, ...] = ()
    unavailable: frozenset[int] = field(default_factory=frozenset)  # slots its speakers cannot do

    @property
    def minutes(self) -> int:
        return sum(t.minutes for t in self.talks)

    def public(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "talk_ids": [t.id for t in self.talks],
            "talk_titles": [t.title for t in self.talks],
            "themes": list(self.themes),
            "kind": self.kind,
            "slot_count": self.slot_count,
            "minutes": self.minutes,
            "audience": self.audience,
            "stars": self.stars,
            "speakers": list(self.speakers),
        }


def workshop_key(talk_ids: Iterable[str]) -> str:
    return "w" + hashlib.sha256(",".join(sorted(talk_ids)).encode()).hexdigest()[:10]


def _label(theme: str) -> str:
    return theme[:1].upper() + theme[1:] if theme else "Short talks"


def theme_affinity(talks: Sequence[Talk], star_sets: Iterable[frozenset[str]]) -> Counter[tuple[str, str]]:
    """(theme a, theme b) → delegates who starred a talk of each (a != b, both orders)."""
    main = {t.id: t.theme for t in talks}
    out: Counter[tuple[str, str]] = Counter()
    for starred in star_sets:
        themes = sorted({main[s] for s in starred if s in main})
        for a in themes:
            for b in themes:
                if a != b:
                    out[a, b] += 1
    return out


def _fits(bin_: list[Talk], talk: Talk, slot_minutes: int) -> bool:
    used = {sp for t in bin_ for sp in t.speakers}
    return sum(t.minutes for t in bin_) + talk.minutes <= slot_minutes and not used.intersection(
        talk.speakers
    )


def _by_popularity(talk: Talk) -> tuple[int, str, str]:
    return (-talk.stars, talk.title, talk.id)


def group_talks(
    talks: Sequence[Talk],
    *,
    slot_minutes: int,
    star_sets: Sequence[frozenset[str]] = (),
    scale: float = 1.0,
    unavailable: Mapping[str, frozenset[int]] | None = None,
    keep: Sequence[Sequence[str]] = (),
) -> list[Workshop]:
    """The workshop sessions made from `talks` (module docstring). `keep`: talk-id groups to keep as they are."""
    if slot_minutes <= 0:
        raise ValueError("slot_minutes must be positive")
    by_id = {t.id: t for t in talks}
    bins: list[list[Talk]] = []
    taken: set[str] = set()
    for ids in keep:
        group = [by_id[i] for i in ids if i in by_id]
        if len(group) != len(ids) or taken.intersection(ids) or len(group) < 2:
            continue  # a talk dropped out (or a single talk): rebuilt by the rules below
        if sum(t.minutes for t in group) <= slot_minutes and len(
            {sp for t in group for sp in t.speakers}
        ) == sum(len(t.speakers) for t in group):
            bins.append(group)
            taken.update(ids)
    kept = len(bins)
    long = [t for t in talks if t.id not in taken and t.minutes >= slot_minutes]
    short = [t for t in talks if t.id not in taken and t.minutes < slot_minutes]
    for theme in sorted({t.theme for t in short}):
        mine: list[list[Talk]] = []
        for talk in sorted((t for t in short if t.theme == theme), key=_by_popularity):
            target = next((b for b in mine if _fits(b, talk, slot_minutes)), None)
            if target is None:
                mine.append([talk])
            else:
                target.append(talk)
        bins.extend(mine)
    affinity = theme_affinity(talks, star_sets)
    full = bins[:kept] + [
        b
        for b in bins[kept:]
        if sum(t.minutes for t in b) + min((t.minutes for t in short), default=slot_minutes) > slot_minutes
    ]
    under = [b for b in bins[kept:] if all(b is not f for f in full)]
    under.sort(key=lambda b: (-sum(t.minutes for t in b), _by_popularity(b[0])))
    merged: list[list[Talk]] = []
    while under:
        into = under.pop(0)
        while True:
            themes = {th for t in into for th in t.themes}
            options = [(b, t) for b in under for t in b if _fits(into, t, slot_minutes)]
            if not options:
                break
            _b, talk = min(
                options,
                key=lambda o: (
                    -len(themes.intersection(o[1].themes)),
                    -affinity[into[0].theme, o[1].theme],
                    *_by_popularity(o[1]),
                ),
            )
            _b.remove(talk)
            into.append(talk)
            under = [b for b in under if b]
        merged.append(into)
    workshops = [_workshop([t], slot_minutes, star_sets, scale, unavailable) for t in long]
    workshops += [_workshop(b, slot_minutes, star_sets, scale, unavailable) for b in full + merged]
    workshops.sort(key=lambda w: (-w.stars, w.title, w.key))
    return workshops


def _workshop(
    talks: list[Talk],
    slot_minutes: int,
    star_sets: Sequence[frozenset[str]],
    scale: float,
    unavailable: Mapping[str, frozenset[int]] | None,
) -> Workshop:
    talks = sorted(talks, key=_by_popularity)  # running order: the most wanted first
    ids = {t.id for t in talks}
    stars = sum(1 for starred in star_sets if ids & starred) if star_sets else max(t.stars for t in talks)
    speakers = tuple(dict.fromkeys(sp for t in talks for sp in t.speakers))
    themes = tuple(dict.fromkeys(th for t in talks for th in t.themes))
    busy = frozenset().union(*((unavailable or {}).get(sp, frozenset()) for sp in speakers))
    if len(talks) == 1:
        title, kind = talks[0].title, "single"
    else:
        title, kind = f"{_label(talks[0].theme)}: {talks[0].title} and {len(talks) - 1} more", "group"
    return Workshop(
        key=workshop_key(ids),
        title=title[:200],
        talks=talks,
        kind=kind,
        slot_count=max(1, math.ceil(max(t.minutes for t in talks) / slot_minutes)) if len(talks) == 1 else 1,
        themes=themes,
        audience=math.ceil(stars * scale),
        stars=stars,
        speakers=speakers,
        unavailable=busy,
    )
