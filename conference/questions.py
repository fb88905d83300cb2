"""Registration questions, the organisers' side: organisers ask their own (text, long text, number, yes/no, single
or multiple choice, date), required or not, of every ticket type or some, with help text, in their order, and
perhaps printed on the badge. conference/answers.py is the delegates' side (answering, and reading answers back).

Questions are never deleted, only hidden, so the exports keep one column per question ever asked; a change to what
delegates read (label, kind, options) makes a new `version`, and answers already given keep the question as they
answered it. `check_question` refuses a form's every problem at once, each by its field.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference.core import audit, errors, text
from conference.core.audit import Actor
from conference.core.db import lock_for_update
from conference.core.models import Conference, Registration, TicketType, utcnow
from conference.core.question_models import CHOICE_KINDS, KIND_LABELS, Question, QuestionKind

MAX_LABEL, MAX_HELP, MAX_OPTION, MAX_OPTIONS = 200, 500, 200, 50
QUESTION_FIELDS = ("label", "kind", "help_text", "options", "ticket_type_ids", "required", "on_badge")
SAME_LABEL = "Another question (perhaps a hidden one) already reads like this: reword one of them."
NOT_ON_BADGE = (QuestionKind.long_text, QuestionKind.multiple_choice)  # too long to print on a badge


@dataclass(frozen=True)
class QuestionInput:
    """A question as the organiser's form gives it, checked (`check_question`)."""

    label: str
    kind: QuestionKind
    help_text: str
    options: list[str]
    ticket_type_ids: list[str]
    required: bool
    on_badge: bool


# --- the organisers' side ------------------------------------------------------------------------------------


def check_question(
    values: Mapping[str, Any], *, ticket_types: Iterable[uuid.UUID | str], other_labels: Iterable[str] = ()
) -> QuestionInput:
    """The organiser's form (options one per line or a list; ticket_type_ids a list; required and on_badge
    "yes" or booleans) checked all at once: InvalidInput naming every field that is wrong. `other_labels`: the
    other questions' labels, which this one must not repeat."""
    problems: dict[str, str] = {}
    label = str(values.get("label", "")).strip()
    if not label:
        problems["label"] = "Enter the question delegates will read."
    elif len(label) > MAX_LABEL:
        problems["label"] = f"Keep the question to {MAX_LABEL} characters or fewer."
    elif (wrong := text.problem(label)) is not None:
        problems["label"] = wrong
    elif _folded(label) in {_folded(other) for other in other_labels}:
        problems["label"] = SAME_LABEL
    kind: QuestionKind | None = None
    try:
        kind = QuestionKind(str(values.get("kind", "")))
    except ValueError:
        problems["kind"] = "Choose what kind of answer the question takes."
    help_text = str(values.get("help_text", "")).strip()
    if len(help_text) > MAX_HELP:
        problems["help_text"] = f"Keep the help text to {MAX_HELP} characters or fewer."
    raw = values.get("options", "")
    lines = raw.splitlines() if isinstance(raw, str) else [str(o) for o in raw]
    options = [o.strip() for o in lines if o.strip()]
    if kind in CHOICE_KINDS:
        problem = _options_problem(options)
        if problem:
            problems["options"] = problem
    else:
        options = []  # only choices have options (a kind changed away from choices leaves its list behind)
    known = {str(t) for t in ticket_types}
    raw_types = values.get("ticket_type_ids", [])
    chosen = [raw_types] if isinstance(raw_types, str) else [str(t) for t in raw_types]
    chosen = [t for t in dict.fromkeys(chosen) if t]
    if any(t not in known for t in chosen):
        problems["ticket_type_ids"] = "Choose ticket types from the list (or none, to ask everyone)."
    on_badge = _ticked(values.get("on_badge"))
    if on_badge and kind in NOT_ON_BADGE:
        problems["on_badge"] = (
            f"A {KIND_LABELS[kind.value].lower()} answer does not fit on a badge: untick this, or choose "
            "short text, a number, yes or no, one choice or a date."
        )
    if problems:
        raise errors.InvalidInput(fields={k: problems[k] for k in QUESTION_FIELDS if k in problems})
    assert kind is not None
    return QuestionInput(label, kind, help_text, options, chosen, _ticked(values.get("required")), on_badge)


def _ticked(value: Any) -> bool:
    return value is True or value in ("yes", "on", "true", "1")


def _options_problem(options: list[str]) -> str | None:
    if len(options) < 2:
        return "Give at least two options, one per line."
    if len(options) > MAX_OPTIONS:
        return f"Give at most {MAX_OPTIONS} options."
    seen: set[str] = set()
    for option in options:
        if len(option) > MAX_OPTION:
            return f"Keep each option to {MAX_OPTION} characters or fewer (“{option[:30]}…” is longer)."
        if (wrong := text.problem(option)) is not None:
            return wrong
        folded = " ".join(option.casefold().split())
        if folded in seen:
            return f"“{option}” is listed twice: give each option once."
        seen.add(folded)
    return None


async def all_questions(db: AsyncSession, *, include_hidden: bool = True) -> list[Question]:
    """The conference's questions in the order delegates see them (hidden ones too unless told otherwise)."""
    stmt = sa.select(Question).order_by(col(Question.position), col(Question.created_at))
    if not include_hidden:
        stmt = stmt.where(col(Question.hidden).is_(False))
    return list((await db.execute(stmt)).scalars())


async def get_question(db: AsyncSession, question_id: uuid.UUID) -> Question:
    question = await db.get(Question, question_id)
    if question is None:
        raise errors.NotFound("No question has this id.")
    return question


async def create_question(db: AsyncSession, *, data: QuestionInput, actor: Actor) -> Question:
    assert db.in_transaction()
    conference = await the_conference(db)
    assert conference.id is not None
    await _refuse_same_label(db, data.label)
    last = await db.scalar(sa.select(sa.func.max(col(Question.position))))
    question = Question(conference_id=conference.id, position=int(last or 0) + 1, **_fields(data))
    db.add(question)
    await db.flush()
    await audit.record(
        db, "conference.question.created", actor=actor, subject=str(question.id), kind=data.kind.value
    )
    return question


async def update_question(
    db: AsyncSession, *, question_id: uuid.UUID, data: QuestionInput, actor: Actor
) -> list[str]:
    """Change a question; the names of the fields that changed. Answers already given keep the question as they
    answered it; a change to what delegates read (label, kind, options) makes a new version of the question."""
    assert db.in_transaction()
    await get_question(db, question_id)
    question = await lock_for_update(db, Question, question_id)
    await _refuse_same_label(db, data.label, but=question_id)
    changed = [name for name, value in _fields(data).items() if getattr(question, name) != value]
    if not changed:
        return []
    for name in changed:
        setattr(question, name, _fields(data)[name])
    if {"label", "kind", "options"} & set(changed):
        question.version += 1
    question.updated_at = utcnow()
    await audit.record(
        db, "conference.question.updated", actor=actor, subject=str(question.id), fields=changed
    )
    await db.flush()
    return changed


async def other_labels(db: AsyncSession, *, but: uuid.UUID | None = None) -> list[str]:
    """The labels of the questions other than `but` (hidden ones too)."""
    return [q.label for q in await all_questions(db) if q.id != but]


async def _refuse_same_label(db: AsyncSession, label: str, *, but: uuid.UUID | None = None) -> None:
    # Two questions that read alike would be two columns of one name in the exports, and confuse delegates.
    if _folded(label) in {_folded(other) for other in await other_labels(db, but=but)}:
        raise errors.InvalidInput(fields={"label": SAME_LABEL})


def _folded(label: str) -> str:
    return " ".join(label.casefold().split())


def _fields(data: QuestionInput) -> dict[str, Any]:
    return {
        "label": data.label,
        "kind": data.kind,
        "help_text": data.help_text,
        "options": list(data.options),
        "ticket_type_ids": list(data.ticket_type_ids),
        "required": data.required,
        "on_badge": data.on_badge,
    }


async def move_question(db: AsyncSession, *, question_id: uuid.UUID, direction: str, actor: Actor) -> bool:
    """Move a question one place up or down the order; False when it is already first (or last)."""
    if direction not in ("up", "down"):
        raise errors.InvalidInput(fields={"direction": "Move a question up or down."})
    assert db.in_transaction()
    await the_conference(db, lock=True)  # one reorder at a time: the positions are renumbered below
    order = await all_questions(db)
    index = next((i for i, q in enumerate(order) if q.id == question_id), None)
    if index is None:
        raise errors.NotFound("No question has this id.")
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(order):
        return False
    order[index], order[other] = order[other], order[index]
    for position, question in enumerate(order, start=1):
        question.position = position
    await audit.record(
        db, "conference.question.moved", actor=actor, subject=str(question_id), direction=direction
    )
    await db.flush()
    return True


async def set_hidden(db: AsyncSession, *, question_id: uuid.UUID, hidden: bool, actor: Actor) -> bool:
    """Stop asking a question (its answers stay), or ask it again; False when it already was so."""
    assert db.in_transaction()
    await get_question(db, question_id)
    question = await lock_for_update(db, Question, question_id)
    if question.hidden == hidden:
        return False
    question.hidden, question.updated_at = hidden, utcnow()
    action = "conference.question.hidden" if hidden else "conference.question.shown"
    await audit.record(db, action, actor=actor, subject=str(question.id))
    await db.flush()
    return True


async def set_answers_deadline(db: AsyncSession, *, until: datetime | None, actor: Actor) -> Conference:
    """Until when delegates may change their answers (None: until the conference starts)."""
    assert db.in_transaction()
    conference = await the_conference(db, lock=True)
    if until is not None and until.tzinfo is None:
        raise ValueError("until must be timezone-aware")
    if until is not None and until > conference.ends_at:
        raise errors.InvalidInput(
            fields={"answers_editable_until": "Choose a time before the conference ends."}
        )
    conference.answers_editable_until = until
    await audit.record(
        db,
        "conference.questions.deadline_set",
        actor=actor,
        subject=str(conference.id),
        until=until.isoformat() if until else None,
    )
    await db.flush()
    return conference


async def the_conference(db: AsyncSession, *, lock: bool = False) -> Conference:
    conference = (await db.execute(sa.select(Conference).order_by(col(Conference.id)).limit(1))).scalar()
    if conference is None:
        raise errors.NotFound(
            "No conference has been set up yet: an organiser sets it up in the console at /console/event."
        )
    return await lock_for_update(db, Conference, conference.id) if lock else conference


async def answer_counts(db: AsyncSession) -> dict[str, int]:
    """How many registrations (not erased) answered each question, by question id."""
    counts: dict[str, int] = {}
    stmt = sa.select(col(Registration.answers)).where(col(Registration.answers).is_not(None))
    for (answers,) in (await db.execute(stmt)).all():
        for key in answers or {}:
            counts[key] = counts.get(key, 0) + 1
    return counts


async def ticket_type_names(db: AsyncSession) -> dict[str, str]:
    """Every ticket type (hidden ones such as Speaker too) by id as text, in their order."""
    stmt = sa.select(col(TicketType.id), col(TicketType.name)).order_by(col(TicketType.position))
    return {str(i): name for i, name in (await db.execute(stmt)).all()}
