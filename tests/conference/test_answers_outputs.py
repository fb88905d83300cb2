"""Where the answers to the registration questions are read back (conference/answers.py): the console's
registration page, the delegate list as CSV and XLSX (a column per question), the personal-data download; gone
after erasure; and still readable as given after the question changes."""

from __future__ import annotations

import csv
import html
import io
import uuid
from typing import Any

import httpx
import openpyxl
import pytest

from conference import questions
from conference.core.db import Database
from conference.core.models import Registration
from tests.factories import ORGANISER, make_question, registration_body
from tests.support import HTML, bearer, csrf, organiser_token

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
async def answered(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> dict[str, Any]:
    """Two questions, and Ada who answered both (her manage token and id), and Bo who answered only the required
    one; the organiser's client is signed in to the console."""
    diet = await make_question(
        database, "Dietary choice", "single_choice", required=True, options=["Vegan", "Halal", "Any"]
    )
    table = await make_question(database, "Table number", "number")
    ada = await organiser.post(
        "/api/v1/registrations",
        json=registration_body(
            tickets["delegate"], name="Ada Lovelace", answers={str(diet): "Halal", str(table): 12}
        ),
    )
    bo = await organiser.post(
        "/api/v1/registrations",
        json=registration_body(tickets["delegate"], name="Bo Diddley", answers={str(diet): "Any"}),
    )
    assert ada.status_code == bo.status_code == 201, (ada.text, bo.text)
    return {"diet": diet, "table": table, "ada": ada.json(), "bo": bo.json()}


def _csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def _xlsx(response: httpx.Response) -> list[list[Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).worksheets[0]
    return [["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)]


async def test_answers_show_in_the_console_and_the_exports_a_column_per_question(
    organiser: httpx.AsyncClient, answered: dict[str, Any]
) -> None:
    page = await organiser.get(f"/console/registrations/{answered['ada']['id']}", headers=HTML)
    assert page.status_code == 200
    text = html.unescape(page.text)
    section = text[text.index('id="answers"') :]
    assert "<dt>Dietary choice" in section and "<dd>Halal</dd>" in section
    assert "<dt>Table number" in section and "<dd>12</dd>" in section

    rows = {row["Reference"]: row for row in _csv(await organiser.get("/console/exports/delegates.csv"))}
    ada, bo = rows[answered["ada"]["reference"]], rows[answered["bo"]["reference"]]
    assert (ada["Dietary choice"], ada["Table number"]) == ("Halal", "12")
    assert (bo["Dietary choice"], bo["Table number"]) == ("Any", "")

    sheet = _xlsx(await organiser.get("/console/exports/delegates.xlsx"))
    header = sheet[0]
    assert header[-2:] == ["Dietary choice", "Table number"]
    by_reference = {row[0]: row for row in sheet[1:]}
    assert by_reference[answered["ada"]["reference"]][-2:] == ["Halal", "12"]
    assert by_reference[answered["bo"]["reference"]][-2:] == ["Any", ""]


async def test_answers_are_in_the_personal_data_download_and_gone_after_erasure(
    organiser: httpx.AsyncClient, database: Database, answered: dict[str, Any]
) -> None:
    client, ada = organiser, answered["ada"]
    data = (await client.get(f"/manage/{ada['manage_token']}/data.json")).json()
    assert data["answers"] == [
        {
            "question_id": str(answered["diet"]),
            "question": "Dietary choice",
            "question_now": "Dietary choice",
            "kind": "single_choice",
            "answer": "Halal",
            "value": "Halal",
        },
        {
            "question_id": str(answered["table"]),
            "question": "Table number",
            "question_now": "Table number",
            "kind": "number",
            "answer": "12",
            "value": 12,
        },
    ]
    assert "answers to the organisers' questions" in data["about"]["what"]

    confirm = await client.get(f"/manage/{ada['manage_token']}/erase", headers=HTML)
    erased = await client.post(
        f"/manage/{ada['manage_token']}/erase", data={"csrf_token": csrf(confirm.text)}, headers=HTML
    )
    assert erased.status_code == 200
    async with database.read() as db:
        r = await db.get(Registration, uuid.UUID(ada["id"]))
    assert r is not None and r.erased_at is not None and r.answers is None

    organiser_h = bearer(await organiser_token(database))
    assert (await client.get(f"/api/v1/registrations/{ada['id']}", headers=organiser_h)).json()[
        "answers"
    ] == {}
    rows = {row["Reference"]: row for row in _csv(await client.get("/console/exports/delegates.csv"))}
    assert (rows[ada["reference"]]["Dietary choice"], rows[ada["reference"]]["Table number"]) == ("", "")
    assert rows[answered["bo"]["reference"]]["Dietary choice"] == "Any"  # the others' answers stay
    download = (
        await client.get(f"/api/v1/registrations/{ada['id']}/personal-data", headers=organiser_h)
    ).json()
    assert download["answers"] == []
    page = html.unescape((await client.get(f"/console/registrations/{ada['id']}", headers=HTML)).text)
    assert "Halal" not in page


async def test_changing_a_question_keeps_old_answers_readable(
    organiser: httpx.AsyncClient, database: Database, answered: dict[str, Any]
) -> None:
    client, ada = organiser, answered["ada"]
    # The organisers reword the question and drop the option Ada chose; then make the table a text question.
    async with database.transaction() as db:
        reworded = questions.check_question(
            {"label": "Meal preference", "kind": "single_choice", "options": "Vegan\nVegetarian\nAny"},
            ticket_types=[],
        )
        await questions.update_question(db, question_id=answered["diet"], data=reworded, actor=ORGANISER)
        as_text = questions.check_question({"label": "Table number", "kind": "text"}, ticket_types=[])
        await questions.update_question(db, question_id=answered["table"], data=as_text, actor=ORGANISER)
        await questions.set_hidden(db, question_id=answered["table"], hidden=True, actor=ORGANISER)

    page = html.unescape((await client.get(f"/console/registrations/{ada['id']}", headers=HTML)).text)
    section = page[page.index('id="answers"') :]
    assert "Meal preference" in section and "answered when it read “Dietary choice”" in section
    assert "<dd>Halal</dd>" in section and "<dd>12</dd>" in section and "(no longer asked)" in section

    manage = html.unescape((await client.get(f"/manage/{ada['manage_token']}", headers=HTML)).text)
    assert "<dt>Meal preference</dt><dd>Halal</dd>" in manage

    rows = {row["Reference"]: row for row in _csv(await client.get("/console/exports/delegates.csv"))}
    assert (rows[ada["reference"]]["Meal preference"], rows[ada["reference"]]["Table number"]) == (
        "Halal",
        "12",
    )

    data = (await client.get(f"/manage/{ada['manage_token']}/data.json")).json()
    assert data["answers"][0] | {"question_id": ""} == {
        "question_id": "",
        "question": "Dietary choice",
        "question_now": "Meal preference",
        "kind": "single_choice",
        "answer": "Halal",
        "value": "Halal",
    }
    got = (
        await client.get(
            f"/api/v1/registrations/{ada['id']}", headers=bearer(await organiser_token(database))
        )
    ).json()
    assert got["answers"][str(answered["diet"])]["label"] == "Dietary choice"
    assert got["answers"][str(answered["diet"])]["version"] == 1

    # Changing answers now: the question as it reads now, and the hidden question's answer left as it was.
    form = await client.get(f"/manage/{ada['manage_token']}/answers", headers=HTML)
    assert "Meal preference" in form.text and "Table number" not in form.text
    saved = await client.post(
        f"/manage/{ada['manage_token']}/answers",
        data={"csrf_token": csrf(form.text), f"answers_{answered['diet']}": "Vegetarian"},
        headers=HTML,
    )
    assert saved.status_code == 303, saved.text
    async with database.read() as db:
        r = await db.get(Registration, uuid.UUID(ada["id"]))
    assert r is not None and r.answers is not None
    assert r.answers[str(answered["diet"])] == {
        "label": "Meal preference",
        "kind": "single_choice",
        "version": 2,
        "value": "Vegetarian",
        "text": "Vegetarian",
    }
    assert r.answers[str(answered["table"])]["text"] == "12"
