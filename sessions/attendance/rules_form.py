"""The organisers' CPD rules form (/console/after-event): read and checked here, saved to AfterEventSettings.

Every problem is named by its field with the fix, all at once; nothing is saved while any remains. The rules
themselves (how minutes become CPD hours) are cpd.py's; this only keeps what the organisers chose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.models import utcnow
from sessions.attendance.rules import DEFAULT_RATES, after_event_settings
from sessions.models.attendance import AfterEventSettings

KINDS = ("plenary", "workshop", "talk")
KIND_LABELS = {"plenary": "Plenaries", "workshop": "Workshops", "talk": "Talks"}
ROUNDINGS = {0: "Not rounded", 15: "Down to 15 minutes", 30: "Down to 30 minutes", 60: "Down to a whole hour"}
MAX_RATE = 2.0
LABELS = {
    **{f"rate_{k}": f"CPD hours per hour of {KIND_LABELS[k].lower()}" for k in KINDS},
    "plenaries_on_door_scan": "Plenaries",
    "daily_cap_hours": "Daily cap",
    "rounding_minutes": "Rounding",
    "form": "The form",
}


@dataclass(frozen=True)
class RulesUpdate:
    kind_rates: dict[str, float]
    plenaries_on_door_scan: bool
    daily_cap_hours: float | None
    rounding_minutes: int


def _number(raw: str) -> float | None:
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_rules(values: dict[str, str]) -> RulesUpdate:
    """The form's fields as rules, or InvalidInput naming every field that is wrong and how to put it right."""
    problems: dict[str, str] = {}
    rates: dict[str, float] = {}
    for kind in KINDS:
        raw = values.get(f"rate_{kind}", "").strip()
        rate = _number(raw) if raw else None
        if rate is None or not 0 <= rate <= MAX_RATE:
            problems[f"rate_{kind}"] = (
                f"Give a number from 0 to {MAX_RATE:g}, e.g. 1 (an hour of CPD per hour attended) or 0 "
                "(these sessions do not count)."
            )
        else:
            rates[kind] = round(rate, 2)
    cap_raw = values.get("daily_cap_hours", "").strip()
    cap: float | None = None
    if cap_raw:
        cap = _number(cap_raw)
        if cap is None or not 0.5 <= cap <= 24:
            problems["daily_cap_hours"] = (
                "Give a number of hours from 0.5 to 24, e.g. 6, or leave it empty for no cap."
            )
            cap = None
        else:
            cap = round(cap, 2)
    rounding_raw = values.get("rounding_minutes", "").strip()
    rounding = int(rounding_raw) if rounding_raw.isdigit() and len(rounding_raw) < 4 else -1
    if rounding not in ROUNDINGS:
        problems["rounding_minutes"] = (
            "Choose how to round the total: not at all, or down to 15, 30 or 60 minutes."
        )
    door = values.get("plenaries_on_door_scan", "")
    if door not in ("", "on", "1", "true"):
        problems["plenaries_on_door_scan"] = "Tick the box or leave it empty."
    if problems:
        raise errors.InvalidInput(fields=problems)
    return RulesUpdate(rates, door in ("on", "1", "true"), cap, rounding)


async def current_settings(db: AsyncSession, conference_id: int) -> AfterEventSettings:
    """The settings as they are, for reading (a page): the defaults, unsaved, when none are kept yet."""
    found = await db.get(AfterEventSettings, conference_id)
    return found or AfterEventSettings(conference_id=conference_id, kind_rates=dict(DEFAULT_RATES))


def form_values(s: AfterEventSettings) -> dict[str, str]:
    """The form's fields as the rules are now."""
    rates = {**DEFAULT_RATES, **(s.kind_rates or {})}
    values = {f"rate_{k}": f"{float(rates.get(k, 1.0)):g}" for k in KINDS}
    values["plenaries_on_door_scan"] = "on" if s.plenaries_on_door_scan else ""
    values["daily_cap_hours"] = "" if s.daily_cap_hours is None else f"{s.daily_cap_hours:g}"
    values["rounding_minutes"] = str(s.rounding_minutes)
    return values


async def save_rules(
    db: AsyncSession, *, conference_id: int, update: RulesUpdate, actor: Actor
) -> AfterEventSettings:
    """Keep the organisers' CPD rules (audited; certificates already issued say what they said until reissued)."""
    s = await after_event_settings(db, conference_id, lock=True)
    before = form_values(s)
    s.kind_rates = dict(update.kind_rates)
    s.plenaries_on_door_scan = update.plenaries_on_door_scan
    s.daily_cap_hours = update.daily_cap_hours
    s.rounding_minutes = update.rounding_minutes
    s.updated_at = utcnow()
    s.updated_by = actor.label[:120]
    db.add(s)
    await db.flush()
    after = form_values(s)
    changed = sorted(k for k in after if after[k] != before.get(k))
    await audit.record(
        db,
        "sessions.after_event.settings_changed",
        actor=actor,
        subject=str(conference_id),
        changed=changed,
        kind_rates=s.kind_rates,
        plenaries_on_door_scan=s.plenaries_on_door_scan,
        daily_cap_hours=s.daily_cap_hours,
        rounding_minutes=s.rounding_minutes,
    )
    return s
