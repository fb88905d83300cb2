"""A lead booker's file of colleagues (CSV or Excel), read into a group's member rows with each row's problems.

Nothing here books anything: the group page shows the rows (in its form, to correct) with a preview of what is
wrong with each, and books only once nothing is (conference/groups.py books). What is refused, and why:

- the whole file: too large (over MAX_BYTES) or with more people than a group may have (the settings'
  `group_max_members`: 10,000 rows are refused by counting them, before any row is checked), not UTF-8 text
  (the fix is named: save it as "CSV UTF-8"), an old .xls workbook, no header row naming `name` and `email`;
- a row: a name or email missing or malformed, an email twice in the file or already registered, a region not
  on the list, a required question unanswered (or an answer the question cannot take), text too long, and a
  cell that starts with = + - or @: a spreadsheet runs it as a formula (OWASP's "CSV injection"), so it is
  refused with the character named rather than stored to run on the organisers' machines later.

Headers are matched loosely (case, spaces and punctuation aside): the member's fields by their usual names
(DETAIL_HEADERS) and one column per registration question by its label.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from openpyxl import load_workbook
from pydantic import EmailStr, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conference import answers
from conference.core import errors, text
from conference.core.models import REGIONS, Registration, Status
from conference.core.question_models import Question, QuestionKind

MAX_BYTES = 2 * 1024 * 1024  # a file of 30 people is a few kilobytes; this is far past any real group
MAX_COLUMNS = 60
MAX_CELL = 2000
FORMULA_STARTS = ("=", "+", "-", "@")
SAVE_AS = (
    'In Excel choose File, Save As, and the type "CSV UTF-8 (Comma delimited)"; or upload the .xlsx file.'
)

# The member's own fields: the column headers taken for each (compared as `_key` makes them).
DETAIL_HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("name", "full name", "delegate name", "attendee name", "delegate", "attendee"),
    "email": ("email", "email address", "e mail", "e mail address", "work email", "work email address"),
    "job_title": ("job title", "title", "role", "position", "job"),
    "region": ("region",),
    "dietary": ("dietary", "dietary requirements", "dietary needs", "diet"),
    "access_needs": ("access needs", "access requirements", "accessibility", "accessibility needs"),
}
DETAIL_LABELS = {
    "name": "Name",
    "email": "Email",
    "job_title": "Job title",
    "region": "Region",
    "dietary": "Dietary requirements",
    "access_needs": "Access needs",
}
LIMITS = {"name": 120, "email": 254, "job_title": 120, "region": 60, "dietary": 500, "access_needs": 1000}
MULTI_LINE = {"dietary", "access_needs"}
_EMAIL: TypeAdapter[str] = TypeAdapter(EmailStr)
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


class UploadRefused(errors.InvalidInput):
    """The file as a whole cannot be read (its message says why and how to fix it)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, fields={"upload": message})


@dataclass
class MemberRow:
    line: int  # the row's number in the file (the header is row 1), 0 for a row typed on the form
    details: dict[str, str]  # name, email, job_title, region, dietary, access_needs
    answers: dict[str, Any]  # by question id, as the API takes them
    answer_text: dict[str, str]  # by question id, as typed (to show the form again)
    problems: list[str] = field(default_factory=list)

    def member(self) -> dict[str, Any]:
        """The row as the API's group member."""
        return {**self.details, "answers": dict(self.answers)}


@dataclass
class Upload:
    rows: list[MemberRow]
    ignored: list[str]  # headers matched to nothing (their columns are left out)

    @property
    def problem_count(self) -> int:
        return sum(len(r.problems) for r in self.rows)


def _key(header: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", header.casefold()).split())


# --- reading the file ------------------------------------------------------------------------------------------


def read_table(data: bytes, filename: str) -> list[list[Any]]:
    """The file's rows of cells (CSV or .xlsx, told by its content); UploadRefused when it cannot be read."""
    if not data.strip():
        raise UploadRefused(
            "The file is empty: it needs a header row (name, email, ...) and a row per person."
        )
    if len(data) > MAX_BYTES:
        raise UploadRefused(
            f"The file is {len(data) // 1024:,} KB: a group's file is at most {MAX_BYTES // 1024 // 1024} MB "
            "(a row per person, a few dozen at most)."
        )
    if data.startswith(b"PK\x03\x04"):
        return _xlsx_rows(data)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise UploadRefused(
            "This is an old Excel workbook (.xls), which cannot be read: save it as .xlsx or as CSV UTF-8. "
            + SAVE_AS
        )
    if filename.lower().endswith((".xlsx", ".xlsm", ".xls")):
        raise UploadRefused("This file is not a real Excel workbook. " + SAVE_AS)
    return _csv_rows(data)


def _csv_rows(data: bytes) -> list[list[Any]]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4096]:
        raise UploadRefused('This file is saved as UTF-16 (Excel\'s "Unicode Text"), not UTF-8. ' + SAVE_AS)
    try:
        content = data.decode("utf-8-sig")  # with or without the byte order mark Excel writes
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UploadRefused(
            f"This file is not saved as UTF-8 (row {line} has a character in another encoding, such as "
            "Windows-1252's accented letters). " + SAVE_AS
        ) from None
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(content[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        return [
            row
            for row in csv.reader(io.StringIO(content, newline=""), dialect)
            if any(c.strip() for c in row)
        ]
    except csv.Error as exc:
        raise UploadRefused(f"This file is not valid CSV ({exc}). " + SAVE_AS) from None


def _xlsx_rows(data: bytes) -> list[list[Any]]:
    try:
        # Formulas are read as written ("=SUM(...)"), not as a value a spreadsheet worked out: they are refused.
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise UploadRefused("This Excel file cannot be read. " + SAVE_AS) from None
    try:
        sheet = workbook.worksheets[0]
        rows = []
        # Rows are read only as far as a group could go (plus the header and a margin): a huge sheet stops early.
        for values in sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS):
            if any(v is not None and str(v).strip() for v in values):
                rows.append(list(values))
            if len(rows) > 10_001:
                break
        return rows
    finally:
        workbook.close()


# --- the rows --------------------------------------------------------------------------------------------------


def parse(
    data: bytes,
    *,
    filename: str,
    questions: Sequence[Question],
    ticket_type_id: str | None,
    max_members: int,
) -> Upload:
    """The file's people as member rows, each with its problems (not yet those needing the database:
    `mark_registered` adds "already registered"). UploadRefused for a file that cannot be read at all."""
    table = read_table(data, filename)
    header, body = [str(c or "").strip() for c in table[0]], table[1:]
    if len(body) > max_members:
        raise UploadRefused(
            f"The file has {len(body):,} rows of people; a group books at most {max_members}. "
            "Split it into smaller groups, or ask the organisers about a larger one."
        )
    if not body:
        raise UploadRefused("The file has a header row but nobody in it: add a row per person.")
    asked = answers.asked_of(questions, ticket_type_id)
    columns, ignored = _columns(header, asked)
    missing = [DETAIL_LABELS[f] for f in ("name", "email") if f not in columns.values()]
    if missing:
        raise UploadRefused(
            "The first row must name the columns: "
            + " and ".join(f"“{m}”" for m in missing)
            + f" {'is' if len(missing) == 1 else 'are'} missing (found: "
            + (", ".join(f"“{h}”" for h in header if h) or "nothing")
            + ")."
        )
    rows = [_row(number, cells, columns, asked, ticket_type_id) for number, cells in enumerate(body, start=2)]
    check_duplicates(rows)
    return Upload(rows=rows, ignored=ignored)


def _columns(header: Sequence[str], asked: Sequence[Question]) -> tuple[dict[int, str], list[str]]:
    """Column index -> "name", "email", ... or "q:<question id>"; and the headers matched to nothing."""
    wanted = {alias: name for name, aliases in DETAIL_HEADERS.items() for alias in aliases}
    labels = {_key(q.label): f"q:{q.id}" for q in asked}
    columns: dict[int, str] = {}
    ignored = []
    for index, heading in enumerate(header):
        key = _key(heading)
        target = labels.get(key) or wanted.get(key)
        if target is None or target in columns.values():
            if heading:
                ignored.append(heading)
            continue
        columns[index] = target
    return columns, ignored


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _row(
    number: int,
    cells: Sequence[Any],
    columns: Mapping[int, str],
    asked: Sequence[Question],
    ticket_type_id: str | None,
) -> MemberRow:
    details = dict.fromkeys(DETAIL_HEADERS, "")
    typed: dict[str, str] = {}
    formulas = []
    for index, target in columns.items():
        value = _cell_text(cells[index] if index < len(cells) else None)[: MAX_CELL + 1]
        if value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value):
            formulas.append((target, value[0]))
        if target.startswith("q:"):
            typed[target[2:]] = value
        else:
            details[target] = value
    row = MemberRow(line=number, details=details, answers={}, answer_text=typed)
    labels = {str(q.id): q.label for q in asked}
    for target, char in formulas:
        what = labels.get(target[2:], "") if target.startswith("q:") else DETAIL_LABELS[target]
        row.problems.append(
            f"{what} starts with “{char}”, which a spreadsheet runs as a formula: remove that character."
        )
    check_row(row, asked, ticket_type_id, skip={t for t, _ in formulas})
    return row


def form_row(
    details: Mapping[str, str],
    answer_text: Mapping[str, Any],
    asked: Sequence[Question],
    ticket_type_id: str | None,
) -> MemberRow:
    """A member typed on the form, checked as a file's row is (formula characters aside: nothing typed into the
    form is ever written to a spreadsheet unmade-safe, conference/core/spreadsheets.py)."""
    row = MemberRow(
        line=0,
        details={k: str(details.get(k, "")).strip() for k in DETAIL_HEADERS},
        answers={},
        answer_text={k: v for k, v in answer_text.items()},
    )
    check_row(row, asked, ticket_type_id)
    return row


def check_row(
    row: MemberRow, asked: Sequence[Question], ticket_type_id: str | None, *, skip: Iterable[str] = ()
) -> None:
    """Add the row's own problems (its details and answers) to `row.problems`, and set `row.answers`."""
    skipped = set(skip)
    details = row.details
    for name, limit in LIMITS.items():
        value = details[name]
        if name in skipped:
            continue
        if len(value) > limit:
            row.problems.append(f"{DETAIL_LABELS[name]} is too long: keep it to {limit} characters.")
        elif (wrong := text.problem(value, multi_line=name in MULTI_LINE)) is not None:
            row.problems.append(f"{DETAIL_LABELS[name]}: {wrong}")
    if not details["name"] and "name" not in skipped:
        row.problems.append("The name is missing.")
    if not details["email"]:
        if "email" not in skipped:
            row.problems.append("The email address is missing.")
    elif "email" not in skipped and len(details["email"]) <= LIMITS["email"]:
        try:
            details["email"] = _EMAIL.validate_python(details["email"])
        except ValidationError:
            row.problems.append(
                f"“{details['email']}” is not an email address: write it like name@council.gov.uk."
            )
    if details["region"] and details["region"] not in REGIONS and "region" not in skipped:
        match = next((r for r in REGIONS if r.casefold() == details["region"].casefold()), None)
        if match:
            details["region"] = match
        else:
            row.problems.append(f"Region “{details['region']}” is not one of: {', '.join(REGIONS)}.")
    given: dict[str, Any] = {}
    by_id = {str(q.id): q for q in asked}
    for key, value in row.answer_text.items():
        question = by_id.get(key)
        if question is None or f"q:{key}" in skipped:
            continue
        if (converted := _answer_value(question, value)) is not None:
            given[key] = converted
    try:
        answers.check_answers(asked, ticket_type_id=ticket_type_id, given=given)
    except errors.InvalidInput as exc:
        for name, problem in (exc.fields or {}).items():
            question = by_id.get(name.removeprefix("answers."))
            if question is not None and f"q:{question.id}" not in skipped:
                row.problems.append(f"“{question.label}”: {problem}")
    row.answers = given


def _answer_value(question: Question, value: Any) -> Any:
    """A cell's (or a form field's) text as the API takes the answer; None for no answer."""
    if isinstance(value, list):  # the form's ticked boxes
        return [v for v in value if v] or None
    value = str(value).strip()
    if not value:
        return None
    kind = question.kind
    if kind == QuestionKind.yes_no:
        return {"yes": True, "y": True, "true": True, "no": False, "n": False, "false": False}.get(
            value.casefold(), value
        )
    if kind == QuestionKind.multiple_choice:
        chosen = [v.strip() for v in re.split(r"[;,]", value) if v.strip()]
        return [next((o for o in question.options if o.casefold() == c.casefold()), c) for c in chosen]
    if kind == QuestionKind.single_choice:
        return next((o for o in question.options if o.casefold() == value.casefold()), value)
    if kind == QuestionKind.number:
        cleaned = value.replace(",", "").replace(" ", "")
        for convert in (int, float):
            try:
                return convert(cleaned)
            except ValueError:
                pass
        return value
    return value


def check_duplicates(rows: Sequence[MemberRow]) -> None:
    """An email given twice (in the file or on the form): each row after the first says which row had it."""
    seen: dict[str, int] = {}
    for position, row in enumerate(rows, start=1):
        key = row.details["email"].lower()
        if not key:
            continue
        where = row.line or position
        if key in seen:
            row.problems.append(f"{row.details['email']} is also in row {seen[key]}: each person once.")
        else:
            seen[key] = where


async def mark_registered(db: AsyncSession, *, conference_id: int, rows: Sequence[MemberRow]) -> None:
    """Add "already registered" to each row whose email has a live registration (a cancelled one may book again)."""
    keys = {r.details["email"].lower() for r in rows if r.details["email"]}
    if not keys:
        return
    found = set(
        (
            await db.execute(
                sa.select(col(Registration.email_key)).where(
                    col(Registration.conference_id) == conference_id,
                    col(Registration.status) != Status.cancelled,
                    col(Registration.email_key).in_(sorted(keys)),
                )
            )
        )
        .scalars()
        .all()
    )
    for row in rows:
        if row.details["email"].lower() in found:
            row.problems.append(
                f"{row.details['email']} is already registered for the conference: take them off the list "
                "(they keep their own booking)."
            )
