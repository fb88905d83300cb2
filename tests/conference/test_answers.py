"""Answering the registration questions (conference/answers.py): on the registration form (every problem at once,
each on its field, values kept), through the API's `answers` (bad types refused naming the question), and on the
delegate's manage page until the deadline."""

from __future__ import annotations

import html
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference import answers, questions
from conference.core import errors
from conference.core.db import Database
from conference.core.models import AuditEntry, Registration, utcnow
from conference.core.question_models import Question, QuestionKind
from tests.factories import ORGANISER, make_question, registration_body
from tests.support import HTML, bearer, count_rows, csrf, organiser_token, staff_token


@pytest.fixture
async def asked(database: Database, tickets: dict[str, Any]) -> dict[str, uuid.UUID]:
    """Five questions: three for everyone (one required choice, a required yes/no, an optional number printed on
    the badge), a required text for Press tickets only, and an optional date."""
    return {
        "diet": await make_question(
            database, "Dietary choice", "single_choice", required=True, options=["Vegan", "Vegetarian", "Any"]
        ),
        "photo": await make_question(database, "May we photograph you?", "yes_no", required=True),
        "table": await make_question(database, "Table number", "number", on_badge=True),
        "outlet": await make_question(
            database,
            "Which outlet do you write for?",
            "text",
            required=True,
            ticket_type_ids=[tickets["press"]],
        ),
        "arrival": await make_question(database, "Arrival date", "date", help_text="When you travel"),
    }


async def _registration(database: Database, registration_id: str) -> Registration:
    async with database.read() as db:
        found = await db.get(Registration, uuid.UUID(registration_id))
    assert found is not None
    return found


# --- the registration form -------------------------------------------------------------------------------------


def _form(ticket: Any, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "Grace Hopper",
        "email": "grace.hopper@leeds.gov.uk",
        "organisation": "Leeds City Council",
        "sector": "local_authority",
        "ticket_type_id": str(ticket),
        "consent": "yes",
    }
    values.update(overrides)
    return values


def _field(question: uuid.UUID) -> str:
    return f"answers_{question}"


async def test_the_form_asks_the_questions_and_refuses_every_problem_at_once_on_its_field(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any], asked: dict[str, uuid.UUID]
) -> None:
    page = await client.get("/", headers=HTML)
    for label in (
        "Dietary choice",
        "May we photograph you?",
        "Table number (optional)",
        "Arrival date (optional)",
    ):
        assert label in html.unescape(page.text), label
    # Asked of some ticket types only: shown, with a note saying which (the page has no script).
    assert "Only for Press tickets." in page.text
    assert "When you travel" in page.text

    token = csrf(page.text)
    refused = await client.post(
        "/register",
        data=_form(tickets["delegate"], csrf_token=token, name="", **{_field(asked["table"]): "twelve"}),
        headers=HTML,
    )
    assert refused.status_code == 422
    text = html.unescape(refused.text)
    summary = text[text.index('id="error-summary"') : text.index("</ul>", text.index('id="error-summary"'))]
    links = [
        "#name",
        f"#{_field(asked['diet'])}",
        f"#{_field(asked['photo'])}",
        f"#{_field(asked['table'])}",
    ]
    positions = [summary.index(f'href="{link}"') for link in links]
    assert positions == sorted(positions), "the summary follows the form's order"
    assert f"#{_field(asked['outlet'])}" not in summary  # asked of Press tickets only
    assert "Dietary choice: Answer this question." in summary
    assert "May we photograph you?: Choose yes or no." in summary
    assert "Table number: Give a number, like 12 or 2.5." in summary
    # Each error sits on its field, and what was typed is kept.
    assert f'id="{_field(asked["table"])}-error"' in text
    assert 'value="twelve"' in text and 'aria-invalid="true"' in text
    assert await count_rows(database, Registration) == 0

    # The Press ticket's own question is checked for a Press ticket.
    press = await client.post(
        "/register",
        data=_form(
            tickets["press"],
            csrf_token=token,
            **{_field(asked["diet"]): "Vegan", _field(asked["photo"]): "no"},
        ),
        headers=HTML,
    )
    assert press.status_code == 422
    assert f'href="#{_field(asked["outlet"])}"' in press.text
    assert 'value="Vegan" checked' in press.text  # the choice made is kept

    done = await client.post(
        "/register",
        data=_form(
            tickets["delegate"],
            csrf_token=token,
            **{
                _field(asked["diet"]): "Vegetarian",
                _field(asked["photo"]): "yes",
                _field(asked["table"]): " 12 ",
                _field(asked["arrival"]): "2026-12-07",
                # Typed into the Press question, then a Delegate ticket chosen: not kept.
                _field(asked["outlet"]): "The Gazette",
            },
        ),
        headers=HTML,
    )
    assert done.status_code == 303, done.text
    async with database.read() as db:
        r = (await db.execute(sa.select(Registration))).scalar_one()
    assert r.answers == {
        str(asked["diet"]): {
            "label": "Dietary choice",
            "kind": "single_choice",
            "version": 1,
            "value": "Vegetarian",
            "text": "Vegetarian",
        },
        str(asked["photo"]): {
            "label": "May we photograph you?",
            "kind": "yes_no",
            "version": 1,
            "value": True,
            "text": "Yes",
        },
        str(asked["table"]): {
            "label": "Table number",
            "kind": "number",
            "version": 1,
            "value": 12,
            "text": "12",
        },
        str(asked["arrival"]): {
            "label": "Arrival date",
            "kind": "date",
            "version": 1,
            "value": "2026-12-07",
            "text": "7 December 2026",
        },
    }


async def test_multiple_choice_and_long_text_on_the_form(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    topics = await make_question(
        database, "Topics", "multiple_choice", required=True, options=["Housing", "Policing", "Schools"]
    )
    story = await make_question(database, "Your story", "long_text")
    page = await client.get("/", headers=HTML)
    token = csrf(page.text)
    refused = await client.post("/register", data=_form(tickets["delegate"], csrf_token=token), headers=HTML)
    assert refused.status_code == 422 and f'href="#{_field(topics)}"' in refused.text
    done = await client.post(
        "/register",
        data={
            **_form(tickets["delegate"], csrf_token=token),
            _field(topics): ["Schools", "Housing"],
            _field(story): "Line one\nline two",
        },
        headers=HTML,
    )
    assert done.status_code == 303, done.text
    async with database.read() as db:
        r = (await db.execute(sa.select(Registration))).scalar_one()
    assert r.answers is not None
    assert r.answers[str(topics)]["value"] == ["Housing", "Schools"]  # in the question's order
    assert r.answers[str(topics)]["text"] == "Housing; Schools"
    assert r.answers[str(story)]["text"] == "Line one\nline two"


# --- the API ---------------------------------------------------------------------------------------------------


async def test_the_api_refuses_bad_answers_naming_each_question_and_writes_nothing(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any], asked: dict[str, uuid.UUID]
) -> None:
    unknown = str(uuid.uuid4())
    body = registration_body(
        tickets["delegate"],
        answers={
            str(asked["diet"]): ["Vegan"],  # a list for one choice
            str(asked["photo"]): "yes",  # JSON booleans only
            str(asked["table"]): True,  # a boolean is not a number
            str(asked["arrival"]): "2026-13-01",
            str(asked["outlet"]): "The Gazette",  # not asked of a Delegate ticket
            unknown: "x",
        },
    )
    response = await client.post("/api/v1/registrations", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["fields"] == {
        f"answers.{asked['diet']}": "Choose one of the options given.",
        f"answers.{asked['photo']}": "Answer yes or no (true or false).",
        f"answers.{asked['table']}": "Give a number, like 12 or 2.5.",
        f"answers.{asked['outlet']}": "This question is not asked of the chosen ticket type.",
        f"answers.{asked['arrival']}": "Give a real date like 2026-12-08 (year, month, day).",
        f"answers.{unknown}": "No question has this id: the questions are listed at /api/v1/questions.",
    }
    assert "“Table number” (Give a number, like 12 or 2.5)" in error["message"]
    assert await count_rows(database, Registration) == 0

    missing = await client.post("/api/v1/registrations", json=registration_body(tickets["delegate"]))
    assert missing.status_code == 422
    assert set(missing.json()["error"]["fields"]) == {f"answers.{asked['diet']}", f"answers.{asked['photo']}"}

    not_an_object = await client.post(
        "/api/v1/registrations", json=registration_body(tickets["delegate"], answers=["Vegan"])
    )
    assert not_an_object.status_code == 422 and "answers" in not_an_object.json()["error"]["fields"]
    assert await count_rows(database, Registration) == 0


async def test_the_api_takes_answers_by_question_id_and_gives_them_back(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any], asked: dict[str, uuid.UUID]
) -> None:
    listed = (await client.get("/api/v1/questions")).json()
    assert [q["label"] for q in listed] == [
        "Dietary choice",
        "May we photograph you?",
        "Table number",
        "Which outlet do you write for?",
        "Arrival date",
    ]
    assert listed[3]["ticket_type_ids"] == [str(tickets["press"])] and listed[0]["ticket_type_ids"] == []
    body = registration_body(
        tickets["press"],
        answers={
            str(asked["diet"]): "Any",
            str(asked["photo"]): False,
            str(asked["table"]): 7.5,
            str(asked["outlet"]): "  The Gazette ",
        },
    )
    created = await client.post("/api/v1/registrations", json=body)
    assert created.status_code == 201, created.text
    made = created.json()

    organiser = bearer(await organiser_token(database))
    got = (await client.get(f"/api/v1/registrations/{made['id']}", headers=organiser)).json()
    assert got["answers"] == {
        str(asked["diet"]): {
            "label": "Dietary choice",
            "kind": "single_choice",
            "version": 1,
            "value": "Any",
            "text": "Any",
        },
        str(asked["photo"]): {
            "label": "May we photograph you?",
            "kind": "yes_no",
            "version": 1,
            "value": False,
            "text": "No",
        },
        str(asked["table"]): {
            "label": "Table number",
            "kind": "number",
            "version": 1,
            "value": 7.5,
            "text": "7.5",
        },
        str(asked["outlet"]): {
            "label": "Which outlet do you write for?",
            "kind": "text",
            "version": 1,
            "value": "The Gazette",
            "text": "The Gazette",
        },
    }
    own = (
        await client.get(f"/api/v1/registrations/{made['id']}", headers=bearer(made["manage_token"]))
    ).json()
    assert own["answers"] == got["answers"]
    # Door staff see what check-in needs, not the answers.
    staff = (
        await client.get(f"/api/v1/registrations/{made['id']}", headers=bearer(await staff_token(database)))
    ).json()
    assert "answers" not in staff
    listing = (await client.get("/api/v1/registrations", headers=organiser)).json()
    assert listing["data"][0]["answers"] == got["answers"]


# --- the manage page -------------------------------------------------------------------------------------------


async def test_the_delegate_changes_answers_on_the_manage_page_until_the_deadline(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any], asked: dict[str, uuid.UUID]
) -> None:
    body = registration_body(
        tickets["delegate"],
        answers={str(asked["diet"]): "Vegan", str(asked["photo"]): True, str(asked["table"]): 4},
    )
    made = (await client.post("/api/v1/registrations", json=body)).json()
    manage = f"/manage/{made['manage_token']}"

    page = await client.get(manage, headers=HTML)
    assert page.status_code == 200
    assert "Dietary choice" in page.text and "Vegan" in page.text and "Table number" in page.text
    assert f'{manage}/answers"' in page.text

    form = await client.get(f"{manage}/answers", headers=HTML)
    assert form.status_code == 200
    assert (
        'value="Vegan" checked' in form.text
        and 'value="yes" checked' in form.text
        and 'value="4"' in form.text
    )
    assert "Which outlet" not in form.text  # not asked of a Delegate ticket
    token = csrf(form.text)

    refused = await client.post(
        f"{manage}/answers",
        data={"csrf_token": token, _field(asked["photo"]): "no", _field(asked["table"]): "4.5.6"},
        headers=HTML,
    )
    assert refused.status_code == 422
    assert (
        f'href="#{_field(asked["diet"])}"' in refused.text
        and f'href="#{_field(asked["table"])}"' in refused.text
    )
    assert 'value="no" checked' in refused.text and 'value="4.5.6"' in refused.text
    assert (await _registration(database, made["id"])).answers[str(asked["diet"])]["value"] == "Vegan"  # type: ignore[index]

    saved = await client.post(
        f"{manage}/answers",
        data={
            "csrf_token": token,
            _field(asked["diet"]): "Any",
            _field(asked["photo"]): "no",
            _field(asked["table"]): "",
        },
        headers=HTML,
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("?answers=saved")
    answers = (await _registration(database, made["id"])).answers or {}
    assert {k: v["text"] for k, v in answers.items()} == {
        str(asked["diet"]): "Any",
        str(asked["photo"]): "No",
    }
    assert "Your answers are saved." in (await client.get(saved.headers["location"], headers=HTML)).text
    async with database.read() as db:
        (entry,) = (
            await db.execute(
                sa.select(AuditEntry).where(
                    col(AuditEntry.action) == "conference.registration.answers_changed"
                )
            )
        ).scalars()
    assert entry.actor == f"attendee:{made['reference']}" and entry.data == {
        "count": 3
    }  # how many, never what

    # After the deadline: no link, the page says so, and a post changes nothing.
    async with database.transaction() as db:
        await questions.set_answers_deadline(db, until=utcnow() - timedelta(minutes=1), actor=ORGANISER)
    assert f'{manage}/answers"' not in (await client.get(manage, headers=HTML)).text
    closed = await client.get(f"{manage}/answers", headers=HTML)
    assert closed.status_code == 200 and "can no longer be changed" in closed.text
    late = await client.post(
        f"{manage}/answers",
        data={"csrf_token": token, _field(asked["diet"]): "Vegan", _field(asked["photo"]): "yes"},
        headers=HTML,
    )
    assert late.status_code == 409 and "deadline for changes has passed" in late.text
    assert ((await _registration(database, made["id"])).answers or {})[str(asked["diet"])]["text"] == "Any"


def _question(kind: str, **fields: Any) -> Question:
    return Question(id=uuid.uuid4(), conference_id=1, label="Q", kind=QuestionKind(kind), **fields)


@pytest.mark.parametrize(
    ("kind", "value", "problem"),
    [
        ("number", 10**400, "sensible size"),  # too big for a float: refused, not an OverflowError
        ("number", float("nan"), "sensible size"),
        ("number", "12", "Give a number"),  # the API takes JSON numbers (the form turns text into one)
        ("yes_no", 1, "Answer yes or no"),
        ("text", "two\nlines", "one line"),
        ("text", "x" * 201, "200 characters"),
        ("long_text", "bad \x00 byte", "control character"),
        ("multiple_choice", ["A", "Z"], "only from the options"),
        ("multiple_choice", "A", "as a list"),
        ("date", "1899-12-31", "between 1900 and 2100"),
        ("date", 20261208, "Give a date"),
    ],
)
def test_a_wrong_answer_is_refused_naming_the_question(kind: str, value: Any, problem: str) -> None:
    question = _question(kind, options=["A", "B"] if "choice" in kind else [])
    with pytest.raises(errors.InvalidInput) as refused:
        answers.check_answers([question], ticket_type_id=None, given={str(question.id): value})
    assert problem in (refused.value.fields or {})[f"answers.{question.id}"]
    assert "“Q”" in refused.value.message


def test_answers_to_questions_no_longer_asked_are_kept_when_others_change() -> None:
    hidden, asked = _question("text", hidden=True), _question("number")
    kept = {str(hidden.id): {"label": "Old", "kind": "text", "version": 1, "value": "x", "text": "x"}}
    stored = answers.check_answers([hidden, asked], ticket_type_id=None, given={str(asked.id): 3}, kept=kept)
    assert stored[str(hidden.id)]["text"] == "x" and stored[str(asked.id)]["text"] == "3"
