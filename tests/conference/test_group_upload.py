"""A lead's file of colleagues (conference/group_upload.py): CSV with and without a byte order mark, Excel, headers
matched loosely and by question label, and every bad input named row by row (or, for the whole file, with its fix)."""

from __future__ import annotations

import io
import time
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from openpyxl import Workbook
from sqlmodel import col

from conference import group_upload, places
from conference.core.db import Database
from conference.core.models import Registration, Status
from conference.core.question_models import Question, QuestionKind
from conference.group_upload import UploadRefused, parse
from tests.factories import registration_body
from tests.support import post_registration

HEADER = "Name,Email address,Job title,Region,Dietary requirements,Access needs"


def _q(
    label: str, kind: QuestionKind, *, required: bool = False, options: list[str] | None = None
) -> Question:
    return Question(
        id=uuid.uuid4(), conference_id=1, label=label, kind=kind, required=required, options=options or []
    )


def _parse(data: bytes, questions: list[Question] | None = None, filename: str = "group.csv") -> Any:
    return parse(data, filename=filename, questions=questions or [], ticket_type_id=None, max_members=30)


def test_a_utf8_csv_with_or_without_a_bom_gives_each_person_and_their_details() -> None:
    text = (
        HEADER
        + "\nZoë Brontë,zoe@leeds.gov.uk,Analyst,north east,Vegan,\nAl Smith,al@leeds.gov.uk,,,,Hearing loop\n"
    )
    for data in (text.encode(), "\ufeff".encode() + text.encode()):
        upload = _parse(data)
        assert [r.problems for r in upload.rows] == [[], []]
        first = upload.rows[0].member()
        assert first["name"] == "Zoë Brontë" and first["email"] == "zoe@leeds.gov.uk"
        assert first["region"] == "North East"  # the list's own spelling
        assert upload.rows[1].details["access_needs"] == "Hearing loop"
        assert upload.rows[0].line == 2


def test_windows_1252_and_utf16_are_refused_naming_the_fix() -> None:
    latin = (HEADER + "\nZoë Brontë,zoe@leeds.gov.uk,,,,\n").encode("cp1252")
    with pytest.raises(UploadRefused) as refused:
        _parse(latin)
    assert "not saved as UTF-8" in refused.value.message and "CSV UTF-8" in refused.value.message
    with pytest.raises(UploadRefused) as refused:
        _parse((HEADER + "\nA,a@leeds.gov.uk,,,,\n").encode("utf-16"))
    assert "UTF-16" in refused.value.message and "CSV UTF-8" in refused.value.message


def test_each_bad_row_is_named_with_its_problem() -> None:
    diet = _q("Dietary choice", QuestionKind.single_choice, required=True, options=["Meat", "Vegetarian"])
    workshop = _q("Attending the workshop?", QuestionKind.yes_no)
    csv = (
        b"Email,Name,Dietary choice,Attending the workshop?,Favourite colour\n"
        b"a@leeds.gov.uk,Ann,vegetarian,yes,blue\n"  # fine (case of the option aside)
        b"b@leeds.gov.uk,Bob,,no,\n"  # a required answer missing
        b"A@LEEDS.GOV.UK,Ann Again,Meat,,\n"  # a duplicate email (case aside)
        b"not-an-email,Carl,Meat,,\n"
        b'd@leeds.gov.uk,=HYPERLINK("http://x"),Meat,,\n'  # a formula
        b"e@leeds.gov.uk,,Fish,maybe,\n"  # no name, an option not offered, not yes or no
        b"f@leeds.gov.uk,@SUM(A1),Meat,,\n"
        b"g@leeds.gov.uk,-2+3,Meat,,\n"
        b"h@leeds.gov.uk,Hal,Meat,,\n"
    )
    upload = _parse(csv, [diet, workshop])
    problems = {r.line: r.problems for r in upload.rows}
    assert problems[2] == []
    assert upload.rows[0].answers == {str(diet.id): "Vegetarian", str(workshop.id): True}
    assert problems[3] == ["“Dietary choice”: Answer this question."]
    assert problems[4] == [
        "A@leeds.gov.uk is also in row 2: each person once."
    ]  # the domain as EmailStr writes it
    assert "is not an email address" in problems[5][0]
    assert problems[6] == [
        "Name starts with “=”, which a spreadsheet runs as a formula: remove that character."
    ]
    assert "The name is missing." in problems[7]
    assert any("Dietary choice" in p and "options" in p for p in problems[7])
    assert any("Attending the workshop?" in p for p in problems[7])
    assert "“@”" in problems[8][0] and "“-”" in problems[9][0]
    assert problems[10] == []
    assert upload.ignored == ["Favourite colour"]
    assert upload.problem_count == sum(len(p) for p in problems.values())


def test_ten_thousand_rows_are_refused_at_once_by_count() -> None:
    rows = "".join(f"Person {n},p{n}@leeds.gov.uk,,,,\n" for n in range(10_000))
    started = time.monotonic()
    with pytest.raises(UploadRefused) as refused:
        _parse((HEADER + "\n" + rows).encode())
    assert "10,000 rows" in refused.value.message and "at most 30" in refused.value.message
    assert (
        time.monotonic() - started < 60
    )  # counted, not checked row by row (a generous bound: a busy machine)
    with pytest.raises(UploadRefused) as refused:
        _parse(b"x" * (group_upload.MAX_BYTES + 1))
    assert "at most 2 MB" in refused.value.message


def test_files_that_name_no_columns_or_nobody_are_refused() -> None:
    with pytest.raises(UploadRefused) as refused:
        _parse(b"Person,Address\nAnn,a@leeds.gov.uk\n")
    assert "“Name” and “Email” are missing" in refused.value.message
    with pytest.raises(UploadRefused) as refused:
        _parse(HEADER.encode() + b"\n")
    assert "nobody in it" in refused.value.message
    with pytest.raises(UploadRefused):
        _parse(b"")
    with pytest.raises(UploadRefused) as refused:
        _parse(b"\xd0\xcf\x11\xe0" + b"\0" * 100, filename="old.xls")
    assert ".xls" in refused.value.message


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_excel_file_is_read_with_its_formulas_refused() -> None:
    count = _q("Sessions", QuestionKind.number, required=True)
    data = _xlsx(
        [
            ["Full name", "E-mail", "Sessions"],
            ["Ann Ash", "ann@leeds.gov.uk", 3],
            ["Bob Bell", "bob@leeds.gov.uk", "=1+2"],
        ]
    )
    upload = parse(data, filename="people.xlsx", questions=[count], ticket_type_id=None, max_members=30)
    assert upload.rows[0].problems == [] and upload.rows[0].answers == {str(count.id): 3}
    assert upload.rows[1].problems == [
        "Sessions starts with “=”, which a spreadsheet runs as a formula: remove that character."
    ]
    with pytest.raises(UploadRefused) as refused:
        parse(b"PK\x03\x04broken", filename="x.xlsx", questions=[], ticket_type_id=None, max_members=30)
    assert "cannot be read" in refused.value.message


async def test_an_email_already_registered_is_named(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    await post_registration(client, registration_body(tickets["delegate"], email="taken@leeds.gov.uk"))
    gone = await post_registration(client, registration_body(tickets["delegate"], email="gone@leeds.gov.uk"))
    async with database.transaction() as db:
        await db.execute(
            sa.update(Registration)
            .where(col(Registration.id) == uuid.UUID(gone["id"]))
            .values(status=Status.cancelled)
        )
    csv = HEADER + "\nTaken,TAKEN@leeds.gov.uk,,,,\nFree,free@leeds.gov.uk,,,,\nGone,gone@leeds.gov.uk,,,,\n"
    upload = _parse(csv.encode())
    async with database.read() as db:
        conference = await places.get_conference(db)
        assert conference.id is not None
        await group_upload.mark_registered(db, conference_id=conference.id, rows=upload.rows)
    assert upload.rows[0].problems == [
        "TAKEN@leeds.gov.uk is already registered for the conference: take them off the list (they keep their "
        "own booking)."
    ]
    assert (
        upload.rows[1].problems == [] and upload.rows[2].problems == []
    )  # a cancelled booking may book again
