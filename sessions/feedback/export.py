"""The feedback as a spreadsheet (CSV), for organisers, as anonymous as the pages: no names, emails, references,
registration ids or times of answering; rows sorted by session and then by what they say, so their order says
nothing about who answered or when. Audited (sessions.feedback.exported) with the number of rows only.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit
from conference.core.audit import Actor
from conference.core.formats import conference_zone
from conference.core.models import Conference
from conference.core.spreadsheets import Cell, Sheet, to_csv
from sessions.feedback.questions import all_questions
from sessions.feedback.results import targets
from sessions.models.feedback import FeedbackAnswer

EXPORTED = "sessions.feedback.exported"


async def feedback_csv(db: AsyncSession, conference: Conference, *, actor: Actor) -> bytes:
    assert conference.id is not None
    zone = conference_zone(conference)
    questions = await all_questions(db, conference.id)
    known = {t.key: (i, t) for i, t in enumerate(await targets(db, conference))}
    rows = await db.execute(
        sa.select(
            col(FeedbackAnswer.target),
            col(FeedbackAnswer.rating),
            col(FeedbackAnswer.answers),
            col(FeedbackAnswer.comment),
        ).where(col(FeedbackAnswer.conference_id) == conference.id)
    )
    out: list[tuple[int, list[Cell]]] = []
    for key, rating, answers, comment in rows:
        if key not in known:
            continue  # a session since cancelled or removed
        order, t = known[key]
        given = answers or {}
        line: list[Cell] = [
            t.title,
            t.kind,
            "" if t.kind == "event" else t.starts_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            rating,
            *(_cell(given.get(str(q.id))) for q in questions),
            comment,
        ]
        out.append((order, line))
    out.sort(key=lambda item: (item[0], [str(v) for v in item[1][3:]]))
    header = ["Session", "Kind", "Starts", "Rating (1-5)", *(q.text for q in questions), "Comment"]
    await audit.record(db, EXPORTED, actor=actor, rows=len(out))
    return to_csv(Sheet("Feedback", header, [line for _order, line in out]))


def _cell(value: object) -> Cell:
    if value is None:
        return ""
    return value if isinstance(value, int | str) else str(value)
