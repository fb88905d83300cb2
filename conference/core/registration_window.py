"""Whether the public form and API take registrations right now: the organisers' switch and the window.

`Conference.registration_open` is the organisers' manual switch (off closes registration whatever the dates);
`registration_opens_at` and `registration_closes_at` (either may be unset: no limit on that side) open and close it
by themselves. Nothing runs at those moments: every request reads the clock and decides, so no job is needed and a
change of the dates takes effect at once. Open means `opens_at <= now < closes_at`.

`clock` is the one place the decision reads the time: tests move it (monkeypatch) to see the form open and close.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Protocol

from conference.core.models import utcnow


class HasWindow(Protocol):
    registration_open: bool
    registration_opens_at: datetime | None
    registration_closes_at: datetime | None


class RegistrationState(str, enum.Enum):
    open = "open"
    not_yet_open = "not_yet_open"  # the switch is on; the window has not opened
    closed = "closed"  # the switch is on; the window has closed
    switched_off = "switched_off"  # the organisers' switch is off (whatever the dates say)


def clock() -> datetime:
    return utcnow()


def state(
    *, switch: bool, opens_at: datetime | None, closes_at: datetime | None, now: datetime | None = None
) -> RegistrationState:
    if not switch:
        return RegistrationState.switched_off
    now = now or clock()
    if opens_at is not None and now < opens_at:
        return RegistrationState.not_yet_open
    if closes_at is not None and now >= closes_at:
        return RegistrationState.closed
    return RegistrationState.open


def state_of(conference: HasWindow, now: datetime | None = None) -> RegistrationState:
    return state(
        switch=conference.registration_open,
        opens_at=conference.registration_opens_at,
        closes_at=conference.registration_closes_at,
        now=now,
    )


def is_open(conference: HasWindow, now: datetime | None = None) -> bool:
    return state_of(conference, now) is RegistrationState.open
