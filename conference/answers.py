"""Answers to the registration questions, the delegates' side: checking them (when registering, by the form or the
API's `answers`, and when changing them on the manage page until the deadline), and reading them back (the
console, the exports, the personal-data download, the badge). conference/questions.py is the organisers' side.

Answers live on the registration (`Registration.answers`), keyed by the question's id, each kept with the question
as it was asked (label, kind, version) and the answer as it read (`text`): changing a question later (its label,
options, kind) or hiding it leaves every answer readable as it was given. They are personal data: erased with the
rest (conference/personal_data.py), never written to the audit log.

`check_answers` refuses everything at once, naming each answer at fault (`answers.<question id>`; the form's
field is `answers_<question id>`): a required question unanswered, a value of the wrong type, an option that is
not offered, an id that is no question asked of the ticket type.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from conference.core import audit, errors, text
from conference.core.audit import Actor
from conference.core.db import lock_for_update
from conference.core.models import Conference, Registration, Status, utcnow
from conference.core.question_models import Question, QuestionKind
from conference.questions import all_questions

MAX_TEXT, MAX_LONG_TEXT = 200, 2000
MAX_NUMBER = 10**12  # larger (or non-finite) numbers are refused
MIN_DATE, MAX_DATE = date(1900, 1, 1), date(2100, 12, 31)


class AnswersClosed(errors.DomainError):
    code = "answers_closed"
    message = "These answers can no longer be changed: the deadline for changes has passed."


class FormData(Protocol):
    """A posted form (starlette's FormData): every value given for a field."""

    def getlist(self, key: str) -> list[Any]: ...


def _one(form: FormData, name: str) -> str:
    """The field's value (the last given, as a form's own reading does); "" when none, or not text."""
    values = form.getlist(name)
    return values[-1] if values and isinstance(values[-1], str) else ""


def applies(question: Question, ticket_type_id: uuid.UUID | str | None) -> bool:
    """Whether the question is asked of this ticket type (of everyone, when it names none)."""
    return not question.ticket_type_ids or str(ticket_type_id) in question.ticket_type_ids


def asked_of(questions: Iterable[Question], ticket_type_id: uuid.UUID | str | None) -> list[Question]:
    return [q for q in questions if not q.hidden and applies(q, ticket_type_id)]


def field_name(question: Question | str) -> str:
    """The answer's name in errors (answers.<id>); the form's field is the same with "_" (answers_<id>)."""
    return f"answers.{question.id if isinstance(question, Question) else question}"


def check_answers(
    questions: Sequence[Question],
    *,
    ticket_type_id: uuid.UUID | str | None,
    given: Mapping[str, Any],
    kept: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The answers to keep on the registration: `given` (by question id) checked against the questions asked of
    this ticket type, plus `kept` (answers given before to questions not asked now, left as they were).

    Raises InvalidInput naming every answer at fault at once (`answers.<id>`): a required question unanswered, a
    value of the wrong type, an option that is not offered, an id that is no question asked of this ticket type.
    """
    asked = {str(q.id): q for q in asked_of(questions, ticket_type_id)}
    every = {str(q.id): q for q in questions}
    problems: dict[str, str] = {}
    for key in given:
        if key not in asked:
            known = every.get(key)
            problems[field_name(key)] = (
                "This question is not asked of the chosen ticket type."
                if known is not None and not known.hidden
                else "No question has this id: the questions are listed at /api/v1/questions."
            )
    stored: dict[str, Any] = {k: v for k, v in (kept or {}).items() if k not in asked}
    for key, question in asked.items():
        value = given.get(key)
        try:
            answer = _answer(question, value)
        except ValueError as exc:
            problems[field_name(key)] = str(exc)
            continue
        if answer is None:
            if question.required:
                problems[field_name(key)] = (
                    "Choose yes or no." if question.kind == QuestionKind.yes_no else "Answer this question."
                )
            continue
        stored[key] = {
            "label": question.label,
            "kind": question.kind.value,
            "version": question.version,
            "value": answer[0],
            "text": answer[1],
        }
    if problems:
        # In the questions' order (as the form shows them), then any unknown ids.
        ordered = [
            k for k in dict.fromkeys([field_name(q) for q in questions] + sorted(problems)) if k in problems
        ]
        raise errors.InvalidInput(
            "Some answers need correcting: "
            + "; ".join(f"{_label(every, k)} ({problems[k].rstrip('.')})" for k in ordered)
            + ".",
            fields={k: problems[k] for k in ordered},
        )
    return stored


def _label(questions: Mapping[str, Question], name: str) -> str:
    question = questions.get(name.removeprefix("answers."))
    return f"“{question.label}”" if question is not None else name


def _answer(question: Question, value: Any) -> tuple[Any, str] | None:
    """(the value, how it reads), None when there is no answer; ValueError says what is wrong."""
    if value is None or value == "" or value == []:
        return None
    kind = question.kind
    if kind in (QuestionKind.text, QuestionKind.long_text):
        if not isinstance(value, str):
            raise ValueError("Give the answer as text.")
        value = value.strip()
        limit = MAX_TEXT if kind == QuestionKind.text else MAX_LONG_TEXT
        if len(value) > limit:
            raise ValueError(f"Keep the answer to {limit} characters or fewer.")
        if (wrong := text.problem(value, multi_line=kind == QuestionKind.long_text)) is not None:
            raise ValueError(wrong)
        return (value, value) if value else None
    if kind == QuestionKind.number:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("Give a number, like 12 or 2.5.")
        # An int is compared as it is: a huge one cannot be made a float (OverflowError).
        if (isinstance(value, float) and not math.isfinite(value)) or abs(value) >= MAX_NUMBER:
            raise ValueError("Give a number of a sensible size.")
        number = int(value) if float(value).is_integer() else float(value)
        return number, str(number)
    if kind == QuestionKind.yes_no:
        if not isinstance(value, bool):
            raise ValueError("Answer yes or no (true or false).")
        return value, "Yes" if value else "No"
    if kind == QuestionKind.single_choice:
        if not isinstance(value, str) or value not in question.options:
            raise ValueError("Choose one of the options given.")
        return value, value
    if kind == QuestionKind.multiple_choice:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("Give the chosen options as a list.")
        if any(v not in question.options for v in value):
            raise ValueError("Choose only from the options given.")
        chosen = [o for o in question.options if o in value]  # the question's order, once each
        return chosen, "; ".join(chosen)
    if not isinstance(value, str):
        raise ValueError("Give a date like 2026-12-08.")
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError("Give a real date like 2026-12-08 (year, month, day).") from None
    if not MIN_DATE <= day <= MAX_DATE:
        raise ValueError(f"Give a date between {MIN_DATE.year} and {MAX_DATE.year}.")
    return day.isoformat(), f"{day.day} {day:%B %Y}"


def form_field(question: Question) -> str:
    return f"answers_{question.id}"


# --- the form --------------------------------------------------------------------------------------------------


def form_answers(
    questions: Sequence[Question], form: FormData, ticket_type_id: uuid.UUID | str | None
) -> dict[str, Any]:
    """A form's answers as the API takes them (by question id), for the questions asked of the ticket type: a
    number typed as text becomes a number, yes and no become true and false; what does not convert is passed on
    as typed, for `check_answers` to refuse with its reason."""
    given: dict[str, Any] = {}
    for question in asked_of(questions, ticket_type_id):
        name = form_field(question)
        if question.kind == QuestionKind.multiple_choice:
            chosen = [v for v in form.getlist(name) if isinstance(v, str) and v]
            if chosen:
                given[str(question.id)] = chosen
            continue
        value = _one(form, name).strip()
        if not value:
            continue
        given[str(question.id)] = _from_form(question.kind, value)
    return given


def _from_form(kind: QuestionKind, value: str) -> Any:
    if kind == QuestionKind.yes_no:
        return {"yes": True, "no": False}.get(value, value)
    if kind == QuestionKind.number:
        cleaned = value.replace(",", "").replace(" ", "")
        try:
            return int(cleaned)
        except ValueError:
            pass
        try:
            return float(cleaned)
        except ValueError:
            return value
    return value


def form_state(questions: Sequence[Question], form: FormData) -> dict[str, Any]:
    """What was typed or ticked, by form field, to show the form again as it was."""
    state: dict[str, Any] = {}
    for question in questions:
        name = form_field(question)
        if question.kind == QuestionKind.multiple_choice:
            state[name] = [v for v in form.getlist(name) if isinstance(v, str)]
        else:
            state[name] = _one(form, name)
    return state


def stored_state(questions: Sequence[Question], stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """The answers given, by form field, to fill the form with them (the manage page's change of answers)."""
    state: dict[str, Any] = {}
    for question in questions:
        answer = (stored or {}).get(str(question.id))
        if not answer:
            continue
        value = answer.get("value")
        if isinstance(value, bool):
            value = "yes" if value else "no"
        state[form_field(question)] = value if isinstance(value, list) else str(value)
    return state


# --- reading answers back --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerRow:
    question_id: str
    label: str  # the question as it reads now (as it was asked, when the question is no more)
    text: str  # the answer as it read when given
    asked_as: str | None  # the question as it was asked, when it has been reworded since
    hidden: bool  # the question is no longer asked


def rows(questions: Sequence[Question], stored: Mapping[str, Any] | None) -> list[AnswerRow]:
    """The answers given, in the questions' order, each readable as it was given."""
    stored = stored or {}
    found: list[AnswerRow] = []
    for question in questions:
        answer = stored.get(str(question.id))
        if answer:
            asked = str(answer.get("label", ""))
            reworded = asked if asked and asked != question.label else None
            found.append(
                AnswerRow(
                    str(question.id), question.label, str(answer.get("text", "")), reworded, question.hidden
                )
            )
    known = {str(q.id) for q in questions}
    for key, answer in stored.items():
        if key not in known and answer:
            found.append(
                AnswerRow(key, str(answer.get("label", "")), str(answer.get("text", "")), None, True)
            )
    return found


def public(stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """The API's `answers`: by question id, {label (as asked), kind, version, value, text}."""
    return {
        key: {name: answer.get(name) for name in ("label", "kind", "version", "value", "text")}
        for key, answer in (stored or {}).items()
    }


def download(questions: Sequence[Question], stored: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The personal-data download's answers: the question as asked and as it reads now, the answer given."""
    now = {str(q.id): q.label for q in questions}
    return [
        {
            "question_id": key,
            "question": answer.get("label"),
            "question_now": now.get(key, answer.get("label")),
            "kind": answer.get("kind"),
            "answer": answer.get("text"),
            "value": answer.get("value"),
        }
        for key, answer in (stored or {}).items()
    ]


def export_headers(questions: Sequence[Question]) -> list[str]:
    """One column per question ever asked (hidden ones too: their answers stay)."""
    return [q.label for q in questions]


def export_cells(questions: Sequence[Question], stored: Mapping[str, Any] | None) -> list[str]:
    return [str(((stored or {}).get(str(q.id)) or {}).get("text", "")) for q in questions]


def badge_lines(questions: Iterable[Question], stored: Mapping[str, Any] | None) -> list[str]:
    """ "Table number: 12" for each question printed on badges that the delegate answered."""
    lines = []
    for question in questions:
        answer = (stored or {}).get(str(question.id))
        if question.on_badge and answer and answer.get("text"):
            lines.append(f"{question.label}: {answer['text']}")
    return lines


# --- changing answers from the manage page ---------------------------------------------------------------------


def editable_until(conference: Conference) -> datetime:
    """Answers may be changed until the event's deadline; without one, until the conference starts."""
    return conference.answers_editable_until or conference.starts_at


def can_change(registration: Registration, conference: Conference, now: datetime | None = None) -> bool:
    return (
        registration.status != Status.cancelled
        and registration.erased_at is None
        and (now or utcnow()) < editable_until(conference)
    )


async def change_answers(
    db: AsyncSession, *, registration_id: uuid.UUID, given: Mapping[str, Any], actor: Actor
) -> int:
    """The delegate changes their answers (until the deadline): how many answers changed. Answers to questions
    not asked of their ticket type now (hidden since, say) are kept as they were."""
    assert db.in_transaction()
    if await db.get(Registration, registration_id) is None:
        raise errors.NotFound("No registration has this id.")
    registration = await lock_for_update(db, Registration, registration_id)
    conference = await db.get(Conference, registration.conference_id)
    assert conference is not None
    if not can_change(registration, conference):
        raise AnswersClosed()
    before = dict(registration.answers or {})
    after = check_answers(
        await all_questions(db), ticket_type_id=registration.ticket_type_id, given=given, kept=before
    )
    changed = sum(
        1
        for key in set(before) | set(after)
        if (before.get(key) or {}).get("value") != (after.get(key) or {}).get("value")
    )
    if after != before:
        registration.answers = after or None
        registration.updated_at = utcnow()
    if changed:
        # How many, never what: answers are personal data.
        await audit.record(
            db,
            "conference.registration.answers_changed",
            actor=actor,
            subject=registration.reference,
            count=changed,
        )
    await db.flush()
    return changed
