"""The `session` message segment (conference/broadcasts.py, through `hooks.on_message_segment`, registered by
sessions.wiring): delegates with a booked seat (not a waiting-list place) in one workshop; `ref` is the session's
id, chosen in the compose form's `session_id` field."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from conference.core import errors, formats, hooks
from conference.core.models import Conference, Registration
from sessions.models import Kind, ProgrammeSession, SeatBooking, SeatStatus

SEGMENT = "session"


def session_label(title: str, starts_at: datetime, timezone: str) -> str:
    return f"{title} ({formats.when(starts_at, ZoneInfo(timezone))})"


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value.strip())
    except (ValueError, AttributeError):
        return None


async def resolve(db: AsyncSession, conference: Conference, ref: str) -> tuple[str, str]:
    """(label, the session's id) of one of the conference's workshops; InvalidInput on `session_id` otherwise."""
    session_id = _uuid(ref)
    session = await db.get(ProgrammeSession, session_id) if session_id else None
    if session is None or session.conference_id != conference.id or session.kind != Kind.workshop:
        raise errors.InvalidInput(fields={"session_id": "Choose one of the workshops listed."})
    label = session_label(session.title, session.starts_at, conference.timezone)
    return f"Workshop: {label}", str(session.id)


def members(ref: str) -> ColumnElement[bool]:
    """Registrations with a booked seat in the session `ref` (already resolved)."""
    return sa.exists().where(
        col(SeatBooking.registration_id) == Registration.id,
        col(SeatBooking.session_id) == uuid.UUID(ref),
        col(SeatBooking.status) == SeatStatus.booked,
    )


async def options(
    db: AsyncSession, conference: Conference, holding: ColumnElement[bool]
) -> list[hooks.SegmentOption]:
    """Every workshop (cancelled ones marked), in time order, with its booked seats among `holding`."""
    booked: dict[uuid.UUID, int] = dict(
        (
            await db.execute(
                sa.select(col(SeatBooking.session_id), sa.func.count())
                .join(Registration, col(Registration.id) == SeatBooking.registration_id)
                .where(col(SeatBooking.status) == SeatStatus.booked, holding)
                .group_by(col(SeatBooking.session_id))
            )
        ).all()
    )
    workshops = (
        (
            await db.execute(
                sa.select(ProgrammeSession)
                .where(
                    col(ProgrammeSession.conference_id) == conference.id,
                    col(ProgrammeSession.kind) == Kind.workshop,
                )
                .order_by(col(ProgrammeSession.starts_at), col(ProgrammeSession.title))
            )
        )
        .scalars()
        .all()
    )
    return [
        hooks.SegmentOption(
            str(s.id),
            session_label(s.title, s.starts_at, conference.timezone)
            + (" – cancelled" if s.cancelled else ""),
            int(booked.get(s.id, 0)),
        )
        for s in workshops
    ]


PROVIDER = hooks.MessageSegment(resolve=resolve, members=members, options=options)
