"""When feedback can be given and changed (pure).

A session can be rated from the moment it starts (a delegate is checked in to a session only once it is under way
anyway), the event as a whole from its first day; everything closes CLOSES_AFTER_DAYS after the event ends. An
answer can be changed for EDIT_DAYS after it was first given (never after feedback closes); then it is read-only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

EDIT_DAYS = 7
CLOSES_AFTER_DAYS = 28


def closes_at(event_ends_at: datetime) -> datetime:
    return event_ends_at + timedelta(days=CLOSES_AFTER_DAYS)


def is_open(opens_at: datetime, event_ends_at: datetime, now: datetime) -> bool:
    return opens_at <= now < closes_at(event_ends_at)


def editable_until(first_given_at: datetime, event_ends_at: datetime) -> datetime:
    return min(first_given_at + timedelta(days=EDIT_DAYS), closes_at(event_ends_at))


def is_editable(first_given_at: datetime, event_ends_at: datetime, now: datetime) -> bool:
    return now < editable_until(first_given_at, event_ends_at)
