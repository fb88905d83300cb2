"""The registration questions organisers ask (conference/questions.py has the rules): the table and its kinds.

Answers are not a table of their own: they live on the registration (`Registration.answers`, JSON), each with the
question's label, kind and version as they were when it was answered, so an answer stays readable however the
question changes later (a new label, options renamed or removed, another kind) and is erased with the rest of the
delegate's personal data.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from conference.core.models import UTCDateTime, utcnow


class QuestionKind(str, enum.Enum):
    text = "text"
    long_text = "long_text"
    number = "number"
    yes_no = "yes_no"
    single_choice = "single_choice"
    multiple_choice = "multiple_choice"
    date = "date"


KIND_LABELS: dict[str, str] = {
    QuestionKind.text.value: "Short text",
    QuestionKind.long_text.value: "Long text",
    QuestionKind.number.value: "Number",
    QuestionKind.yes_no.value: "Yes or no",
    QuestionKind.single_choice.value: "One choice from a list",
    QuestionKind.multiple_choice.value: "Any number of choices from a list",
    QuestionKind.date.value: "Date",
}
CHOICE_KINDS = (QuestionKind.single_choice, QuestionKind.multiple_choice)


class Question(SQLModel, table=True):
    __tablename__ = "question"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conference_id: int = Field(foreign_key="conference.id", index=True)
    label: str = Field(max_length=200)
    kind: QuestionKind = Field(
        sa_type=sa.Enum(
            QuestionKind, native_enum=False, length=24, values_callable=lambda e: [m.value for m in e]
        )
    )
    required: bool = False
    help_text: str = Field(default="", max_length=500)
    # The choices, in the order shown (choice kinds only); an answer keeps the text of what was chosen.
    options: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    # The ticket types it is asked of (ids as text); empty: every ticket type.
    ticket_type_ids: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    position: int = 0
    hidden: bool = False  # no longer asked; its answers stay on the registrations, in exports and downloads
    on_badge: bool = False  # the answer is printed on the badge ("Table 12")
    # Bumped when what delegates read changes (label, kind, options): each answer records the version it answered.
    version: int = 1
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False, default_factory=utcnow)
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False, default_factory=utcnow)
