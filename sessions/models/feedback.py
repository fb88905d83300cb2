"""Session feedback (sessions/feedback/): the organisers' questions and the delegates' answers (migration 0023).

An answer belongs to one delegate and one target (a programme session's id, or "event" for the event as a
whole): at most one each, whatever races. Erasing the delegate's personal data clears `registration_id` and keeps
the answer, which was anonymous to everyone but its author from the start.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from conference.core.models import utcnow
from sessions.models.common import enum_type, when

EVENT = "event"  # the target of an answer about the event as a whole
RATING_MIN, RATING_MAX = 1, 5


class QuestionKind(str, enum.Enum):
    rating = "rating"  # 1 to 5
    text = "text"  # a few words


class AppliesTo(str, enum.Enum):
    sessions = "sessions"  # asked about each session
    event = "event"  # asked about the event as a whole
    both = "both"


class FeedbackQuestion(SQLModel, table=True):
    """A question the organisers add to the feedback form, after the rating every form asks for."""

    __tablename__ = "feedback_question"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conference_id: int = Field(foreign_key="conference.id", index=True)
    position: int = Field(default=0, ge=0)
    text: str = Field(max_length=300)
    kind: QuestionKind = Field(default=QuestionKind.rating, sa_type=enum_type(QuestionKind, 8))
    applies_to: AppliesTo = Field(default=AppliesTo.both, sa_type=enum_type(AppliesTo, 8))
    active: bool = True  # a deactivated question is no longer asked; its answers stay in the results
    created_at: datetime = when(default_factory=utcnow)


class FeedbackAnswer(SQLModel, table=True):
    """One delegate's feedback on one session (or the event): editable for a week after it was first given."""

    __tablename__ = "feedback_answer"
    __table_args__ = (sa.UniqueConstraint("registration_id", "target", name="uq_feedback_answer_target"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conference_id: int = Field(foreign_key="conference.id", index=True)
    # None once the delegate's personal data is erased: the answer stays, linked to nobody.
    registration_id: uuid.UUID | None = Field(default=None, foreign_key="registration.id")
    target: str = Field(max_length=36, index=True)  # a programme session's id, or EVENT
    rating: int = Field(ge=RATING_MIN, le=RATING_MAX)
    # The organisers' questions answered: {question id: 1-5 for a rating question, text for a text one}.
    answers: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    comment: str = Field(default="", max_length=2000)
    created_at: datetime = when(default_factory=utcnow)
    updated_at: datetime = when(default_factory=utcnow)
