"""The organisers' after-event settings: how CPD hours are counted (one row per conference, made on first use)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from conference.core.models import utcnow
from sessions.attendance.cpd import DEFAULT_RATES, Rules
from sessions.models import AfterEventSettings

__all__ = ["DEFAULT_RATES", "after_event_settings", "rules_of"]

_TABLE: sa.Table = AfterEventSettings.__table__  # type: ignore[attr-defined]


async def after_event_settings(
    db: AsyncSession, conference_id: int, *, lock: bool = False
) -> AfterEventSettings:
    """The conference's settings; the defaults are written when there are none yet (call it in a write
    transaction; `lock` takes the row's lock for a change). Two transactions making the row at once both get it:
    the INSERT does nothing when the row is there already."""
    found = await db.get(
        AfterEventSettings, conference_id, with_for_update=lock or None, populate_existing=lock
    )
    if found is not None:
        return found
    dialect = db.get_bind().dialect.name
    insert: Any = postgresql.insert(_TABLE) if dialect == "postgresql" else sqlite.insert(_TABLE)
    await db.execute(
        insert.values(
            conference_id=conference_id,
            kind_rates=dict(DEFAULT_RATES),
            plenaries_on_door_scan=True,
            daily_cap_hours=None,
            rounding_minutes=15,
            updated_at=utcnow(),
            updated_by="",
        ).on_conflict_do_nothing(index_elements=["conference_id"])
    )
    made = await db.get(
        AfterEventSettings, conference_id, with_for_update=lock or None, populate_existing=True
    )
    assert made is not None
    return made


def rules_of(s: AfterEventSettings) -> Rules:
    rates = dict(DEFAULT_RATES)
    rates.update({str(k): float(v) for k, v in (s.kind_rates or {}).items()})
    return Rules(
        kind_rates=rates,
        plenaries_on_door_scan=s.plenaries_on_door_scan,
        daily_cap_hours=s.daily_cap_hours,
        rounding_minutes=s.rounding_minutes,
    )
