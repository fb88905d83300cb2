"""Registration questions, the organisers' side (conference/questions.py, console/questions.py, api/questions.py):
the rules a question must meet (every problem at once), and making, editing, reordering and hiding questions in
the console, with the deadline for changing answers."""

from __future__ import annotations

import html
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference import questions
from conference.core import errors
from conference.core.db import Database
from conference.core.models import AuditEntry, Conference
from conference.core.question_models import Question, QuestionKind
from tests.factories import make_question
from tests.support import HTML, csrf


def _values(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "label": "Which table are you on?",
        "kind": "single_choice",
        "options": "Table 1\nTable 2",
        "help_text": "",
        "ticket_type_ids": [],
        "required": "yes",
        "on_badge": "",
    }
    values.update(overrides)
    return values


def test_a_question_with_many_problems_is_refused_naming_each_field_at_once() -> None:
    known = [uuid.uuid4()]
    with pytest.raises(errors.InvalidInput) as refused:
        questions.check_question(
            _values(
                label="  ",
                options="Vegan\nvegetarian\n VEGAN ",
                help_text="x" * 501,
                ticket_type_ids=[str(uuid.uuid4())],
            ),
            ticket_types=known,
        )
    fields = refused.value.fields or {}
    assert list(fields) == ["label", "help_text", "options", "ticket_type_ids"]
    assert fields["label"] == "Enter the question delegates will read."
    assert "“VEGAN” is listed twice" in fields["options"]
    assert "500 characters" in fields["help_text"]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"kind": "colour"}, "kind", "Choose what kind of answer"),
        ({"options": "Only one"}, "options", "at least two options"),
        ({"options": "\n".join(f"Table {n}" for n in range(51))}, "options", "at most 50"),
        ({"options": "Yes\n" + "y" * 201}, "options", "200 characters or fewer"),
        ({"label": "Line one\nline two"}, "label", "one line"),
        ({"label": "Q" * 201}, "label", "200 characters or fewer"),
        ({"kind": "long_text", "on_badge": "yes"}, "on_badge", "does not fit on a badge"),
        ({"kind": "multiple_choice", "on_badge": "yes"}, "on_badge", "does not fit on a badge"),
        ({"label": "which TABLE are  you on?"}, "label", "already reads like this"),
    ],
)
def test_a_bad_question_is_refused_with_a_clear_message(
    overrides: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(errors.InvalidInput) as refused:
        questions.check_question(
            _values(**overrides), ticket_types=[], other_labels=["Which table are you on?", "Diet"]
        )
    assert field in (refused.value.fields or {})
    assert message in (refused.value.fields or {})[field]


def test_a_good_question_is_tidied() -> None:
    ticket = uuid.uuid4()
    data = questions.check_question(
        _values(
            options=" Table 1 \n\n Table 2\n", ticket_type_ids=[str(ticket), str(ticket)], on_badge="yes"
        ),
        ticket_types=[ticket],
    )
    assert data.options == ["Table 1", "Table 2"]
    assert data.ticket_type_ids == [str(ticket)]
    assert data.required and data.on_badge and data.kind == QuestionKind.single_choice
    # Options belong to choices only: a kind changed away from choices leaves its list behind.
    assert questions.check_question(_values(kind="number"), ticket_types=[]).options == []


async def test_same_label_twice_is_refused_by_the_service_too(
    database: Database, tickets: dict[str, Any]
) -> None:
    await make_question(database, "Table number", "number")
    with pytest.raises(errors.InvalidInput) as refused:
        await make_question(database, " table  NUMBER ", "text")
    assert "already reads like this" in (refused.value.fields or {})["label"]


async def _form(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path, headers=HTML)
    assert page.status_code == 200, page.text
    return csrf(page.text)


async def _questions(database: Database) -> list[Question]:
    async with database.read() as db:
        return await questions.all_questions(db)


async def test_organisers_add_edit_reorder_and_hide_questions_in_the_console(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser
    token = await _form(client, "/console/questions/new")

    # Every problem at once, each linked from the summary to its field, what was typed kept; nothing saved.
    bad = await client.post(
        "/console/questions",
        data={
            "csrf_token": token,
            "label": "Dietary choice",
            "kind": "single_choice",
            "options": "Vegan\nvegan",
            "help_text": "h" * 600,
            "ticket_type_ids": "not-a-ticket",
        },
        headers=HTML,
    )
    assert bad.status_code == 422
    page = html.unescape(bad.text)
    for field in ("options", "help_text", "ticket_type_ids"):
        assert f'href="#{field}"' in page, field
    assert "“vegan” is listed twice" in page
    assert 'value="Dietary choice"' in page
    assert await _questions(database) == []

    made = await client.post(
        "/console/questions",
        data={
            "csrf_token": token,
            "label": "Dietary choice",
            "kind": "single_choice",
            "options": "Vegan\nVegetarian\nNo preference",
            "required": "yes",
            "ticket_type_ids": str(tickets["delegate"]),
        },
        headers=HTML,
    )
    assert made.status_code == 303 and made.headers["location"].endswith("/console/questions?done=created")
    second = await client.post(
        "/console/questions",
        data={"csrf_token": token, "label": "Table number", "kind": "number", "on_badge": "yes"},
        headers=HTML,
    )
    assert second.status_code == 303
    diet, table = await _questions(database)
    assert (diet.label, diet.required, diet.ticket_type_ids) == (
        "Dietary choice",
        True,
        [str(tickets["delegate"])],
    )
    assert (table.kind, table.on_badge, table.required, table.ticket_type_ids) == (
        QuestionKind.number,
        True,
        False,
        [],
    )

    listing = await client.get("/console/questions?done=created", headers=HTML)
    assert "The question is added" in listing.text
    assert listing.text.index("Dietary choice") < listing.text.index("Table number")
    assert "Every ticket type" in listing.text and "Delegate" in listing.text

    moved = await client.post(
        f"/console/questions/{table.id}/move", data={"csrf_token": token, "direction": "up"}, headers=HTML
    )
    assert moved.status_code == 303 and moved.headers["location"].endswith("done=moved")
    assert [q.label for q in await _questions(database)] == ["Table number", "Dietary choice"]
    again = await client.post(
        f"/console/questions/{table.id}/move", data={"csrf_token": token, "direction": "up"}, headers=HTML
    )
    assert again.headers["location"].endswith("done=not_moved")

    # Editing: the form comes filled in; a change to what delegates read makes a new version.
    edit = await client.get(f"/console/questions/{diet.id}", headers=HTML)
    assert "Vegan\nVegetarian\nNo preference" in html.unescape(edit.text)
    saved = await client.post(
        f"/console/questions/{diet.id}",
        data={
            "csrf_token": token,
            "label": "Your dietary choice",
            "kind": "single_choice",
            "options": "Vegan\nVegetarian\nHalal\nNo preference",
            "required": "yes",
        },
        headers=HTML,
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("done=saved")
    diet = next(q for q in await _questions(database) if q.id == diet.id)
    assert (diet.label, diet.version, diet.ticket_type_ids) == ("Your dietary choice", 2, [])
    same = await client.post(
        f"/console/questions/{table.id}",
        data={"csrf_token": token, "label": "Table number", "kind": "number", "on_badge": "yes"},
        headers=HTML,
    )
    assert same.headers["location"].endswith("done=unchanged")

    # Hidden: off the public form, still listed in the console.
    hidden = await client.post(
        f"/console/questions/{table.id}/visibility", data={"csrf_token": token, "hidden": "yes"}, headers=HTML
    )
    assert hidden.headers["location"].endswith("done=hidden")
    assert "Table number" not in (await client.get("/", headers=HTML)).text
    assert "Your dietary choice" in (await client.get("/", headers=HTML)).text
    assert "Hidden" in (await client.get("/console/questions", headers=HTML)).text
    public = (await client.get("/api/v1/questions")).json()
    assert [q["label"] for q in public] == ["Your dietary choice"]
    assert public[0]["options"] == ["Vegan", "Vegetarian", "Halal", "No preference"]

    async with database.read() as db:
        actions = list(
            (
                await db.execute(
                    sa.select(col(AuditEntry.action))
                    .where(col(AuditEntry.action).like("conference.question.%"))
                    .order_by(col(AuditEntry.id))
                )
            ).scalars()
        )
    assert actions == [
        "conference.question.created",
        "conference.question.created",
        "conference.question.moved",
        "conference.question.updated",
        "conference.question.hidden",
    ]


async def test_unknown_question_is_404_and_a_bad_move_is_refused(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    token = await _form(organiser, "/console/questions")
    missing = await organiser.get(f"/console/questions/{uuid.uuid4()}", headers=HTML)
    assert missing.status_code == 404
    question = await make_question(database, "Table number", "number")
    sideways = await organiser.post(
        f"/console/questions/{question}/move", data={"csrf_token": token, "direction": "left"}, headers=HTML
    )
    assert sideways.status_code == 422
    assert "Move a question up or down" in sideways.text


async def test_the_deadline_for_changing_answers_is_set_in_the_console(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    token = await _form(organiser, "/console/questions")
    bad = await organiser.post(
        "/console/questions/deadline",
        data={"csrf_token": token, "answers_editable_until": "next tuesday"},
        headers=HTML,
    )
    assert bad.status_code == 422
    assert 'href="#answers_editable_until"' in bad.text and 'value="next tuesday"' in bad.text
    late = await organiser.post(
        "/console/questions/deadline",
        data={"csrf_token": token, "answers_editable_until": "2026-12-10T09:00"},
        headers=HTML,
    )
    assert late.status_code == 422 and "before the conference ends" in late.text

    saved = await organiser.post(
        "/console/questions/deadline",
        data={"csrf_token": token, "answers_editable_until": "2026-12-01T17:00"},
        headers=HTML,
    )
    assert saved.status_code == 303
    async with database.read() as db:
        conference = (await db.execute(sa.select(Conference))).scalar_one()
    # 17:00 in London in December is 17:00 UTC.
    assert conference.answers_editable_until == datetime(2026, 12, 1, 17, tzinfo=UTC)
    page = await organiser.get("/console/questions?done=deadline", headers=HTML)
    assert "1 Dec 2026, 17:00" in page.text and 'value="2026-12-01T17:00"' in page.text

    cleared = await organiser.post(
        "/console/questions/deadline", data={"csrf_token": token, "answers_editable_until": ""}, headers=HTML
    )
    assert cleared.status_code == 303
    async with database.read() as db:
        conference = (await db.execute(sa.select(Conference))).scalar_one()
    assert conference.answers_editable_until is None
