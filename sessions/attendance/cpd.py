"""CPD hours from verified attendance: pure, no database.

Each attended session earns its length times its kind's rate (`Rules.kind_rates`: 1.0 an hour for an hour, 0 when
the kind does not count). Two attended sessions that overlap (a delegate scanned into two rooms at once, or a
plenary counted on the door scan beside a workshop) count their overlap once, at the higher rate, credited to the
session that starts first among those with that rate. Minutes are then summed per conference-local day, each day
capped at `daily_cap_hours`, and the total rounded DOWN to `rounding_minutes`.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sessions.workshops.attended import Attended

# CPD hours per hour attended, by session kind, before organisers change them.
DEFAULT_RATES: dict[str, float] = {"plenary": 1.0, "workshop": 1.0, "talk": 1.0}


@dataclass(frozen=True)
class Rules:
    kind_rates: dict[str, float]
    plenaries_on_door_scan: bool = True
    daily_cap_hours: float | None = None
    rounding_minutes: int = 15

    def rate(self, kind: str) -> float:
        """The kind's rate; a kind the organisers never set counts at its default rate."""
        return max(0.0, float(self.kind_rates.get(kind, DEFAULT_RATES.get(kind, 1.0))))


@dataclass
class CpdResult:
    total_minutes: int
    days: dict[str, int] = field(default_factory=dict)  # conference-local ISO day -> minutes, after the cap
    # What the certificate lists: [{session_id, title, kind, starts_at, ends_at, minutes, via}] in time order.
    sessions: list[dict[str, Any]] = field(default_factory=list)


def _kind(a: Attended) -> str:
    return a.kind.value if hasattr(a.kind, "value") else str(a.kind)


def _boundaries(attended: Sequence[Attended], zone: ZoneInfo) -> list[datetime]:
    """Every start and end, plus the local midnights between, so no piece of time spans two days."""
    points: set[datetime] = set()
    for a in attended:
        points.add(a.starts_at)
        points.add(a.ends_at)
        day = a.starts_at.astimezone(zone).date()
        last = a.ends_at.astimezone(zone).date()
        while day < last:
            day += timedelta(days=1)
            points.add(datetime.combine(day, time(0), tzinfo=zone))
    return sorted(points)


def compute_cpd(attended: Sequence[Attended], rules: Rules, zone: ZoneInfo) -> CpdResult:
    valid = [a for a in attended if a.ends_at > a.starts_at]
    order = sorted(valid, key=lambda a: (a.starts_at, a.title, str(a.session_id)))
    credited: dict[int, float] = defaultdict(float)  # index in `order` -> CPD seconds
    per_day: dict[str, float] = defaultdict(float)
    points = _boundaries(order, zone)
    for start, end in itertools.pairwise(points):
        covering = [i for i, a in enumerate(order) if a.starts_at <= start and a.ends_at >= end]
        if not covering:
            continue
        best = max(rules.rate(_kind(order[i])) for i in covering)
        if best <= 0:
            continue
        who = next(i for i in covering if rules.rate(_kind(order[i])) == best)
        seconds = (end - start).total_seconds() * best
        credited[who] += seconds
        per_day[start.astimezone(zone).date().isoformat()] += seconds
    cap = None if rules.daily_cap_hours is None else max(0.0, rules.daily_cap_hours) * 60
    days: dict[str, int] = {}
    for iso_day in sorted(per_day):
        minutes = per_day[iso_day] / 60
        if cap is not None:
            minutes = min(minutes, cap)
        days[iso_day] = math.floor(minutes + 1e-9)
    total = sum(days.values())
    if rules.rounding_minutes > 0:
        total -= total % rules.rounding_minutes
    sessions = [
        {
            "session_id": str(a.session_id),
            "title": a.title,
            "kind": _kind(a),
            "starts_at": a.starts_at.isoformat(),
            "ends_at": a.ends_at.isoformat(),
            "minutes": math.floor(credited[i] / 60 + 1e-9),
            "via": a.via,
        }
        for i, a in enumerate(order)
    ]
    return CpdResult(total_minutes=total, days=days, sessions=sessions)


def hours_text(minutes: int) -> str:
    """CPD time as people write it: "5.5 hours", "1 hour", "45 minutes" -> "0.75 hours"."""
    hours = minutes / 60
    text = f"{hours:.2f}".rstrip("0").rstrip(".")
    return f"{text} hour" if text == "1" else f"{text} hours"
