"""Names of the check-in lists that are sessions (a session's check-in list is its id), for the attendance export
(conference/exports.py, through `hooks.on_checkin_list_titles`, registered by sessions.wiring)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sessions.models import ProgrammeSession


async def session_titles(db: AsyncSession, ids: set[uuid.UUID]) -> dict[str, str]:
    """The titles of the sessions with these ids, keyed by the id's text (ids of no session are left out)."""
    if not ids:
        return {}
    stmt = sa.select(ProgrammeSession).where(col(ProgrammeSession.id).in_(ids))
    return {str(s.id): s.title for s in (await db.execute(stmt)).scalars()}
