"""Delegates' feedback: what each delegate may rate, and giving or changing an answer.

Who may rate what is sessions/workshops/attended.py's rule, the one certificates use too: a session the delegate
was verified at (plenaries on the door scan when the organisers' after-event settings say so; no settings row
means they do), and the event as a whole once admitted at the door. When is window.py's rule. One answer per
delegate and target (the table's unique key; the delegate's row lock makes a double submit wait for the first,
which it then edits); changeable for a week, then read-only.

Giving feedback is not audited: an audit entry would tie the delegate's reference to what they said.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import errors
from conference.core.db import lock_for_update
from conference.core.formats import conference_zone, when
from conference.core.models import Checkin, Conference, Registration, utcnow
from sessions.feedback import window
from sessions.feedback.questions import all_questions, asked_about
from sessions.models import AfterEventSettings, ProgrammeSession
from sessions.models.feedback import (
    EVENT,
    RATING_MAX,
    RATING_MIN,
    FeedbackAnswer,
    FeedbackQuestion,
    QuestionKind,
)
from sessions.workshops.attended import DOOR, attended_by

COMMENT_MAX = 2000
TEXT_ANSWER_MAX = 1000
QUESTION_FIELD = "q-"  # a question's form field: "q-<question id>"


class NotAttended(errors.Forbidden):
    code = "not_attended"
    message = "Only delegates checked in to a session can rate it."


class FeedbackNotOpen(errors.DomainError):
    code = "feedback_not_open"


class AnswerLocked(errors.DomainError):
    code = "answer_read_only"


class AlreadyAnswered(errors.DomainError):
    code = "already_answered"
    message = "You have already answered this: open it again to see or change your answer."


@dataclass(frozen=True)
class Target:
    """Something a delegate may rate: an attended session, or the event as a whole (key EVENT)."""

    key: str
    title: str
    kind: str  # plenary | workshop | talk | event
    starts_at: datetime
    ends_at: datetime
    opens_at: datetime


@dataclass(frozen=True)
class Parsed:
    rating: int
    answers: dict[str, int | str]
    comment: str


async def plenaries_on_door_scan(db: AsyncSession, conference_id: int) -> bool:
    row = await db.get(AfterEventSettings, conference_id)
    return True if row is None else row.plenaries_on_door_scan


async def admitted_at_door(db: AsyncSession, registration_id: uuid.UUID) -> bool:
    found = await db.execute(
        sa.select(col(Checkin.id))
        .where(
            col(Checkin.registration_id) == registration_id,
            col(Checkin.list) == DOOR,
            col(Checkin.result) == "ok",
        )
        .limit(1)
    )
    return found.first() is not None


def event_target(conference: Conference) -> Target:
    return Target(
        EVENT,
        f"{conference.name} as a whole",
        "event",
        conference.starts_at,
        conference.ends_at,
        conference.starts_at,
    )


async def rateable_targets(
    db: AsyncSession, conference: Conference, registration_id: uuid.UUID
) -> list[Target]:
    """The attended sessions in time order, then the event as a whole; nothing for a delegate never admitted."""
    assert conference.id is not None
    if not await admitted_at_door(db, registration_id):
        return []
    attended = await attended_by(
        db,
        conference_id=conference.id,
        registration_id=registration_id,
        plenaries_on_door_scan=await plenaries_on_door_scan(db, conference.id),
        zone=conference_zone(conference),
    )
    sessions = [
        Target(str(a.session_id), a.title, a.kind.value, a.starts_at, a.ends_at, a.starts_at)
        for a in attended
    ]
    return [*sessions, event_target(conference)]


async def answers_of(db: AsyncSession, registration_id: uuid.UUID) -> dict[str, FeedbackAnswer]:
    rows = await db.execute(
        sa.select(FeedbackAnswer).where(col(FeedbackAnswer.registration_id) == registration_id)
    )
    return {a.target: a for a in rows.scalars()}


def parse_target(raw: str) -> str:
    """A target from a path: EVENT or a session id in its canonical form; anything else is not found."""
    if raw == EVENT:
        return EVENT
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise errors.NotFound("There is no session to rate at this address.") from None


async def find_target(
    db: AsyncSession, conference: Conference, registration_id: uuid.UUID, target: str
) -> Target:
    """The target, if this delegate may rate it; NotFound for no such session, NotAttended for one not attended."""
    key = parse_target(target)
    if key != EVENT:
        session = await db.get(ProgrammeSession, uuid.UUID(key))
        if session is None or session.conference_id != conference.id:
            raise errors.NotFound("There is no session to rate at this address.")
    found = next((t for t in await rateable_targets(db, conference, registration_id) if t.key == key), None)
    if found is None:
        if key == EVENT:
            raise NotAttended("Only delegates admitted at the door can give feedback on the event.")
        raise NotAttended(
            "You can only rate sessions you were checked in to, and our records do not show you at this one."
        )
    return found


def check_open(target: Target, conference: Conference, now: datetime) -> None:
    zone = conference_zone(conference)
    if now < target.opens_at:
        raise FeedbackNotOpen(f"Feedback on this opens when it starts, at {when(target.opens_at, zone)}.")
    if not window.is_open(target.opens_at, conference.ends_at, now):
        closed = when(window.closes_at(conference.ends_at), zone)
        raise FeedbackNotOpen(f"Feedback closed at {closed}: answers can no longer be given or changed.")


def check_editable(answer: FeedbackAnswer, conference: Conference, now: datetime) -> None:
    if not window.is_editable(answer.created_at, conference.ends_at, now):
        zone = conference_zone(conference)
        raise AnswerLocked(
            f"You answered on {when(answer.created_at, zone)}. Answers can be changed for {window.EDIT_DAYS} days, "
            f"so yours became read-only at {when(window.editable_until(answer.created_at, conference.ends_at), zone)}."
        )


def _rating(raw: str, *, required: bool) -> int | None:
    raw = raw.strip()
    if not raw:
        if required:
            raise ValueError(f"Choose a rating from {RATING_MIN} (poor) to {RATING_MAX} (excellent).")
        return None
    if not raw.isdigit() or not RATING_MIN <= int(raw) <= RATING_MAX:
        raise ValueError(f"Choose a rating from {RATING_MIN} to {RATING_MAX}: “{raw[:10]}” is not one.")
    return int(raw)


def parse_form(values: dict[str, str], asked: list[FeedbackQuestion]) -> Parsed:
    """The posted form as an answer; InvalidInput naming each field that is wrong (nothing is kept of it)."""
    problems: dict[str, str] = {}
    rating: int | None = None
    try:
        rating = _rating(values.get("rating", ""), required=True)
    except ValueError as exc:
        problems["rating"] = str(exc)
    by_field = {f"{QUESTION_FIELD}{q.id}": q for q in asked}
    for name in values:
        if name.startswith(QUESTION_FIELD) and name not in by_field:
            problems["form"] = (
                "This form answered a question it no longer asks (the organisers may have changed the questions): "
                "reload the page and answer again."
            )
    answers: dict[str, int | str] = {}
    for name, q in by_field.items():
        raw = values.get(name, "")
        if q.kind == QuestionKind.rating:
            try:
                value = _rating(raw, required=False)
            except ValueError as exc:
                problems[name] = str(exc)
                continue
            if value is not None:
                answers[str(q.id)] = value
        else:
            text = raw.strip()
            if len(text) > TEXT_ANSWER_MAX:
                problems[name] = (
                    f"Keep this answer to {TEXT_ANSWER_MAX} characters or fewer (it has {len(text)})."
                )
            elif text:
                answers[str(q.id)] = text
    comment = values.get("comment", "").strip()
    if len(comment) > COMMENT_MAX:
        problems["comment"] = (
            f"Keep your comment to {COMMENT_MAX} characters or fewer (it has {len(comment)})."
        )
    if problems or rating is None:
        raise errors.InvalidInput(fields=problems)
    return Parsed(rating, answers, comment)


async def submit_answer(
    db: AsyncSession,
    *,
    conference: Conference,
    registration_id: uuid.UUID,
    target: str,
    values: dict[str, str],
    now: datetime | None = None,
) -> tuple[FeedbackAnswer, bool]:
    """Give (or, within the week, change) the delegate's answer about `target`; (the answer, whether it is new).

    The delegate's row lock comes first, so a second submit of the same form waits for the first and then finds
    its answer (and edits it) instead of racing it to an insert."""
    assert db.in_transaction()
    assert conference.id is not None
    now = now or utcnow()
    await lock_for_update(db, Registration, registration_id)
    found = await find_target(db, conference, registration_id, target)
    check_open(found, conference, now)
    existing = (await answers_of(db, registration_id)).get(found.key)
    if existing is not None:
        check_editable(existing, conference, now)
    asked = asked_about(await all_questions(db, conference.id), found.key)
    parsed = parse_form(values, asked)
    if existing is not None:
        asked_ids = {str(q.id) for q in asked}
        kept: dict[str, Any] = {k: v for k, v in existing.answers.items() if k not in asked_ids}
        existing.rating = parsed.rating
        existing.answers = {**kept, **parsed.answers}
        existing.comment = parsed.comment
        existing.updated_at = now
        await db.flush()
        return existing, False
    answer = FeedbackAnswer(
        conference_id=conference.id,
        registration_id=registration_id,
        target=found.key,
        rating=parsed.rating,
        answers=dict(parsed.answers),
        comment=parsed.comment,
        created_at=now,
        updated_at=now,
    )
    try:
        async with db.begin_nested():
            db.add(answer)
            await db.flush()
    except IntegrityError:
        raise AlreadyAnswered() from None
    return answer, True
