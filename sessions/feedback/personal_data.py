"""A delegate's own feedback in their data export, and what erasing their personal data does to it: the answers
stay (they were anonymous to everyone else from the start) but are linked to nobody (hooks of
conference/personal_data.py, installed by sessions.wiring)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core.models import Registration
from conference.core.settings import Settings
from conference.places import get_conference
from sessions.feedback.questions import all_questions
from sessions.feedback.results import target_info
from sessions.models.feedback import FeedbackAnswer


async def export_feedback(db: AsyncSession, registration: Registration) -> dict[str, Any]:
    rows = list(
        (
            await db.execute(
                sa.select(FeedbackAnswer)
                .where(col(FeedbackAnswer.registration_id) == registration.id)
                .order_by(col(FeedbackAnswer.created_at))
            )
        ).scalars()
    )
    if not rows:
        return {"session_feedback": []}
    conference = await get_conference(db)
    texts = {str(q.id): q.text for q in await all_questions(db, registration.conference_id)}
    out: list[dict[str, Any]] = []
    for a in rows:
        info = await target_info(db, conference, a.target)
        out.append(
            {
                "about": info.title if info is not None else a.target,
                "rating": a.rating,
                "answers": {texts.get(k, k): v for k, v in a.answers.items()},
                "comment": a.comment,
                "given_at": a.created_at.isoformat(),
                "changed_at": a.updated_at.isoformat(),
            }
        )
    return {"session_feedback": out}


async def erase_feedback(db: AsyncSession, settings: Settings, registration: Registration) -> None:
    await db.execute(
        sa.update(FeedbackAnswer)
        .where(col(FeedbackAnswer.registration_id) == registration.id)
        .values(registration_id=None)
    )
