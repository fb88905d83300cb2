"""The organisers' feedback questions: add, edit, reorder, deactivate (audited sessions.feedback.question_changed).

Every form asks for a rating of 1 to 5 first; these questions come after it, in `position` order, on the forms
they apply to (sessions, the event as a whole, or both). A deactivated question is no longer asked, and its
answers stay in the results. A question's kind never changes: its answers would no longer fit it.
"""

from __future__ import annotations

import uuid
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit, errors
from conference.core.audit import Actor
from sessions.models.feedback import EVENT, AppliesTo, FeedbackQuestion, QuestionKind

CHANGED = "sessions.feedback.question_changed"
TEXT_MAX = 300
KIND_LABELS = {QuestionKind.rating: "A rating from 1 to 5", QuestionKind.text: "A few words"}
E = TypeVar("E", QuestionKind, AppliesTo)
APPLIES_LABELS = {
    AppliesTo.both: "Each session and the event as a whole",
    AppliesTo.sessions: "Each session",
    AppliesTo.event: "The event as a whole",
}


async def all_questions(db: AsyncSession, conference_id: int) -> list[FeedbackQuestion]:
    rows = await db.execute(
        sa.select(FeedbackQuestion)
        .where(col(FeedbackQuestion.conference_id) == conference_id)
        .order_by(col(FeedbackQuestion.position), col(FeedbackQuestion.created_at))
    )
    return list(rows.scalars())


def asked_about(questions: list[FeedbackQuestion], target: str) -> list[FeedbackQuestion]:
    """The active questions a form about `target` (a session's id, or EVENT) asks."""
    wanted = {AppliesTo.both, AppliesTo.event if target == EVENT else AppliesTo.sessions}
    return [q for q in questions if q.active and q.applies_to in wanted]


def _text(raw: str) -> str:
    text = " ".join(raw.split())
    if not text:
        raise errors.InvalidInput(fields={"text": "Enter the question."})
    if len(text) > TEXT_MAX:
        raise errors.InvalidInput(fields={"text": f"Keep the question to {TEXT_MAX} characters or fewer."})
    return text


def _choice(kind: type[E], raw: str, field: str, message: str) -> E:
    try:
        return kind(raw)
    except ValueError:
        raise errors.InvalidInput(fields={field: message}) from None


async def _question(db: AsyncSession, conference_id: int, question_id: uuid.UUID) -> FeedbackQuestion:
    q = await db.get(FeedbackQuestion, question_id)
    if q is None or q.conference_id != conference_id:
        raise errors.NotFound("No feedback question has this id.")
    return q


async def add_question(
    db: AsyncSession, *, conference_id: int, text: str, kind: str, applies_to: str, actor: Actor
) -> FeedbackQuestion:
    problems: dict[str, str] = {}
    clean = chosen_kind = applies = None
    try:
        clean = _text(text)
    except errors.InvalidInput as exc:
        problems.update(exc.fields or {})
    try:
        chosen_kind = _choice(QuestionKind, kind, "kind", "Choose how the question is answered.")
    except errors.InvalidInput as exc:
        problems.update(exc.fields or {})
    try:
        applies = _choice(AppliesTo, applies_to, "applies_to", "Choose which forms ask it.")
    except errors.InvalidInput as exc:
        problems.update(exc.fields or {})
    if problems or clean is None or chosen_kind is None or applies is None:
        raise errors.InvalidInput(fields=problems)
    last = (
        await db.execute(
            sa.select(sa.func.max(FeedbackQuestion.position)).where(
                col(FeedbackQuestion.conference_id) == conference_id
            )
        )
    ).scalar_one_or_none()
    q = FeedbackQuestion(
        conference_id=conference_id,
        position=(last + 1) if last is not None else 0,
        text=clean,
        kind=chosen_kind,
        applies_to=applies,
    )
    db.add(q)
    await db.flush()
    await audit.record(db, CHANGED, actor=actor, subject=str(q.id), change="added", kind=q.kind.value)
    return q


async def edit_question(
    db: AsyncSession, *, conference_id: int, question_id: uuid.UUID, text: str, applies_to: str, actor: Actor
) -> FeedbackQuestion:
    q = await _question(db, conference_id, question_id)
    applies = _choice(AppliesTo, applies_to, "applies_to", "Choose which forms ask it.")
    q.text = _text(text)
    q.applies_to = applies
    await db.flush()
    await audit.record(db, CHANGED, actor=actor, subject=str(q.id), change="edited")
    return q


async def set_active(
    db: AsyncSession, *, conference_id: int, question_id: uuid.UUID, active: bool, actor: Actor
) -> FeedbackQuestion:
    q = await _question(db, conference_id, question_id)
    q.active = active
    await db.flush()
    change = "reactivated" if active else "deactivated"
    await audit.record(db, CHANGED, actor=actor, subject=str(q.id), change=change)
    return q


async def move_question(
    db: AsyncSession, *, conference_id: int, question_id: uuid.UUID, up: bool, actor: Actor
) -> None:
    """Swap the question with its neighbour above (or below); positions are renumbered 0, 1, 2, … as they go."""
    ordered = await all_questions(db, conference_id)
    index = next((i for i, q in enumerate(ordered) if q.id == question_id), None)
    if index is None:
        raise errors.NotFound("No feedback question has this id.")
    other = index - 1 if up else index + 1
    if 0 <= other < len(ordered):
        ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, q in enumerate(ordered):
        q.position = position
    await db.flush()
    await audit.record(
        db, CHANGED, actor=actor, subject=str(question_id), change="moved_up" if up else "moved_down"
    )
