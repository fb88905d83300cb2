"""Feedback results, without names: per target the count, the average and the distribution of ratings, each
organiser question's results, and the comments.

Nothing here selects who answered or when: comments and text answers come sorted by their own text, so their
order says nothing about who wrote them or when. Speakers see their own sessions' results (through SessionTalk),
and only once SPEAKER_MIN_ANSWERS people have answered: with fewer, a speaker who knows who was in the room
could tell who said what.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core.models import Conference
from sessions.feedback.answers import event_target
from sessions.feedback.questions import all_questions
from sessions.models import ProgrammeSession, SessionTalk
from sessions.models.feedback import (
    EVENT,
    RATING_MAX,
    RATING_MIN,
    FeedbackAnswer,
    FeedbackQuestion,
    QuestionKind,
)

SPEAKER_MIN_ANSWERS = 3


@dataclass
class Distribution:
    """How many gave each rating (counts[0] is the number of 1s)."""

    counts: list[int] = field(default_factory=lambda: [0] * (RATING_MAX - RATING_MIN + 1))

    def add(self, rating: int, n: int = 1) -> None:
        self.counts[rating - RATING_MIN] += n

    @property
    def count(self) -> int:
        return sum(self.counts)

    @property
    def average(self) -> float | None:
        total = self.count
        if not total:
            return None
        return sum((i + RATING_MIN) * n for i, n in enumerate(self.counts)) / total

    def bars(self) -> list[tuple[int, int]]:
        """(rating, how many), from the best rating down, as the pages show them."""
        return [(i + RATING_MIN, n) for i, n in reversed(list(enumerate(self.counts)))]


@dataclass(frozen=True)
class TargetInfo:
    key: str
    title: str
    kind: str
    starts_at: datetime
    ends_at: datetime


@dataclass
class Summary:
    target: TargetInfo
    ratings: Distribution


@dataclass
class QuestionResult:
    question: FeedbackQuestion
    ratings: Distribution | None  # a rating question's
    texts: list[str]  # a text question's answers, sorted by their text


@dataclass
class TargetResult:
    target: TargetInfo
    ratings: Distribution
    questions: list[QuestionResult]
    comments: list[str]


def _info(session: ProgrammeSession) -> TargetInfo:
    return TargetInfo(str(session.id), session.title, session.kind.value, session.starts_at, session.ends_at)


def event_info(conference: Conference) -> TargetInfo:
    t = event_target(conference)
    return TargetInfo(t.key, t.title, t.kind, t.starts_at, t.ends_at)


async def targets(db: AsyncSession, conference: Conference) -> list[TargetInfo]:
    """Every session that can be rated (not cancelled), in time order, then the event as a whole."""
    rows = await db.execute(
        sa.select(ProgrammeSession)
        .where(
            col(ProgrammeSession.conference_id) == conference.id, col(ProgrammeSession.cancelled).is_(False)
        )
        .order_by(col(ProgrammeSession.starts_at), col(ProgrammeSession.title))
    )
    return [*(_info(s) for s in rows.scalars()), event_info(conference)]


async def target_info(db: AsyncSession, conference: Conference, key: str) -> TargetInfo | None:
    if key == EVENT:
        return event_info(conference)
    try:
        session = await db.get(ProgrammeSession, uuid.UUID(key))
    except ValueError:
        return None
    if session is None or session.conference_id != conference.id:
        return None
    return _info(session)


async def summaries(db: AsyncSession, conference: Conference) -> list[Summary]:
    """Each target with the distribution of its ratings (one grouped query)."""
    counts: dict[str, Distribution] = defaultdict(Distribution)
    rows = await db.execute(
        sa.select(col(FeedbackAnswer.target), col(FeedbackAnswer.rating), sa.func.count())
        .where(col(FeedbackAnswer.conference_id) == conference.id)
        .group_by(col(FeedbackAnswer.target), col(FeedbackAnswer.rating))
    )
    for key, rating, n in rows:
        counts[key].add(rating, n)
    return [Summary(t, counts[t.key]) for t in await targets(db, conference)]


async def target_result(db: AsyncSession, conference: Conference, info: TargetInfo) -> TargetResult:
    """One target's results: ratings, each question (active or not) that has answers or is still asked, comments."""
    assert conference.id is not None
    rows = (
        await db.execute(
            sa.select(
                col(FeedbackAnswer.rating), col(FeedbackAnswer.answers), col(FeedbackAnswer.comment)
            ).where(
                col(FeedbackAnswer.conference_id) == conference.id, col(FeedbackAnswer.target) == info.key
            )
        )
    ).all()
    ratings = Distribution()
    comments: list[str] = []
    by_question: dict[str, list[int | str]] = defaultdict(list)
    for rating, answers, comment in rows:
        ratings.add(rating)
        if comment:
            comments.append(comment)
        for question_id, value in (answers or {}).items():
            by_question[question_id].append(value)
    questions: list[QuestionResult] = []
    for q in await all_questions(db, conference.id):
        given = by_question.get(str(q.id), [])
        if not given:
            continue
        if q.kind == QuestionKind.rating:
            d = Distribution()
            for value in given:
                if isinstance(value, int) and RATING_MIN <= value <= RATING_MAX:
                    d.add(value)
            questions.append(QuestionResult(q, d, []))
        else:
            questions.append(QuestionResult(q, None, _sorted([str(v) for v in given])))
    return TargetResult(info, ratings, questions, _sorted(comments))


def _sorted(texts: list[str]) -> list[str]:
    return sorted(texts, key=lambda t: (t.casefold(), t))


async def speaker_sessions(db: AsyncSession, proposal_id: uuid.UUID) -> list[TargetInfo]:
    """The sessions a proposal's talk is part of (not cancelled), in time order."""
    rows = await db.execute(
        sa.select(ProgrammeSession)
        .join(SessionTalk, col(SessionTalk.programme_session_id) == ProgrammeSession.id)
        .where(col(SessionTalk.proposal_id) == proposal_id, col(ProgrammeSession.cancelled).is_(False))
        .order_by(col(ProgrammeSession.starts_at))
    )
    return [_info(s) for s in rows.scalars()]
