"""The registration questions in a real browser: an organiser adds a question by clicking, a delegate answers it
on the registration form (with no script: a question for some ticket types only is shown with its note and
checked for the type chosen), and axe-core finds no serious or critical problem on the new pages and the pages
that now show answers, with and without their errors.

The server is `conference serve` in its own process on a fresh database; axe-core comes from node_modules.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from conference.core.db import Database
from tests import support
from tests.factories import make_conference, make_console_user, make_question, registration_body
from tests.support import make_settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

PASSWORD = "questions test passphrase"
ORGANISER = "organiser@example.org"


@dataclass
class Event:
    base: str
    manage_token: str
    registration_id: str
    question_id: str


async def _seed(url: str) -> dict[str, Any]:
    settings = make_settings(url)
    database = Database.from_settings(settings)
    try:
        tickets = await make_conference(database, capacity=50)
        diet = await make_question(
            database, "Dietary choice", "single_choice", required=True, options=["Vegan", "Halal", "Any"]
        )
        await make_question(
            database,
            "Which outlet do you write for?",
            "text",
            required=True,
            ticket_type_ids=[tickets["press"]],
        )
        await make_question(database, "Topics", "multiple_choice", options=["Housing", "Policing"])
        await make_question(database, "Arrival date", "date", help_text="The day you travel")
        await make_console_user(database, settings, email=ORGANISER, password=PASSWORD)
        return {"tickets": tickets, "diet": diet}
    finally:
        await database.dispose()


@pytest.fixture
def event(database_url: str, tmp_path: Path) -> Iterator[Event]:
    support.require_chromium()
    seeded = asyncio.run(_seed(database_url))
    with support.live_server(database_url, log_path=tmp_path / "server.log") as base:
        body = registration_body(
            seeded["tickets"]["delegate"], name="Grace Hopper", answers={str(seeded["diet"]): "Halal"}
        )
        made = httpx.post(base + "/api/v1/registrations", json=body, timeout=10)
        assert made.status_code == 201, made.text
        yield Event(base, made.json()["manage_token"], made.json()["id"], str(seeded["diet"]))


def test_an_organiser_adds_a_question_and_a_delegate_answers_it_without_script(
    event: Event, page: Page
) -> None:
    from playwright.sync_api import expect

    support.console_sign_in(page, event.base, "/console/questions", email=ORGANISER, password=PASSWORD)
    page.get_by_role("link", name="Add a question").click()
    page.get_by_label("Question", exact=True).fill("Table number")
    page.get_by_label("Number", exact=True).check()
    page.get_by_label("Print the answer on the badge").check()
    page.get_by_role("button", name="Add the question").click()
    expect(page.get_by_role("status")).to_contain_text("The question is added")
    expect(page.locator("#questions-table")).to_contain_text("Table number")
    page.context.clear_cookies()

    page.goto(event.base + "/")
    expect(page.get_by_text("Only for Press tickets.")).to_be_visible()
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Email address").fill("ada@leeds.gov.uk")
    page.get_by_label("Organisation", exact=True).fill("Leeds City Council")
    page.get_by_label("Sector", exact=True).select_option("local_authority")
    page.get_by_label(re.compile(r"^Delegate")).check()
    page.get_by_label("Table number (optional)").fill("twelve")
    page.get_by_label(re.compile(r"^I agree")).check()
    page.get_by_role("button", name="Register").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Dietary choice: Answer this question.")
    expect(summary).to_contain_text("Table number: Give a number")
    expect(summary).not_to_contain_text("outlet")  # asked of Press tickets only
    # The summary's link takes the reader to the question.
    summary.get_by_role("link", name=re.compile("^Dietary choice")).click()
    expect(page.locator(f"#answers_{event.question_id}")).to_be_focused()
    expect(page.get_by_label("Table number (optional)")).to_have_value("twelve")
    page.get_by_label("Vegan").check()
    page.get_by_label("Table number (optional)").fill("12")
    page.get_by_role("button", name="Register").click()
    expect(page.locator("#confirmation")).to_be_visible()
    answers = page.locator("#answers")
    expect(answers).to_contain_text("Dietary choice")
    expect(answers).to_contain_text("Vegan")
    expect(answers).to_contain_text("12")


def test_axe_finds_no_serious_problems_on_the_question_and_answer_pages(event: Event, page: Page) -> None:
    from playwright.sync_api import expect

    checked: list[str] = []

    def check(what: str) -> None:
        page.wait_for_load_state("networkidle")
        support.assert_axe_clean(page, what)
        checked.append(what)

    page.goto(event.base + "/")
    check("/ with questions")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("alert")).to_be_visible()
    check("/ with errors on the answers")

    manage = f"/manage/{event.manage_token}"
    page.goto(event.base + manage)
    check(manage)
    page.goto(event.base + manage + "/answers")
    check(manage + "/answers")
    page.get_by_label("Any").check()
    page.get_by_label("Arrival date (optional)").fill("1800-01-01")
    page.get_by_role("button", name="Save my answers").click()
    expect(page.get_by_role("alert")).to_contain_text("Arrival date")
    check(manage + "/answers with errors")

    support.console_sign_in(page, event.base, "/console/questions", email=ORGANISER, password=PASSWORD)
    check("/console/questions")
    page.get_by_role("button", name="Save the deadline").click()
    check("/console/questions after saving")
    page.goto(event.base + "/console/questions/new")
    check("/console/questions/new")
    page.get_by_label("One choice from a list").check()
    page.get_by_label("Options").fill("Same\nsame")
    page.get_by_role("button", name="Add the question").click()
    expect(page.get_by_role("alert")).to_contain_text("listed twice")
    check("/console/questions/new with errors")
    page.goto(event.base + f"/console/questions/{event.question_id}")
    check("/console/questions/{id}")
    page.goto(event.base + f"/console/registrations/{event.registration_id}")
    expect(page.locator("#answers")).to_contain_text("Halal")
    check("/console/registrations/{id} with answers")
    assert len(checked) == 11
