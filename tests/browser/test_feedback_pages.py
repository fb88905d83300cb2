"""Issue 21's feedback, by clicking, in Debian's chromium against `conference serve`: a delegate checked in at the
door and to a workshop (real check-in rows) opens "Tell us how it went" from their booking, rates the workshop with
a comment, and an organiser sees it on /console/feedback and the workshop's own results page, without the
delegate's name. Screenshots at 1280 and 390 px; no page scrolls sideways."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from conference.core.db import Database
from conference.core.settings import Settings
from tests import support
from tests.browser.live_site import ORGANISER, seed
from tests.browser.test_phone_pages import too_wide
from tests.factories import Programme, registration_body
from tests.sessions.feedback_world import check_in, past_programme

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

PASSWORD = "read the delegates' feedback"
NAME = "Priya Feedbackgiver"
COMMENT = "The case study from Bradford was the most useful hour of the day."


@dataclass
class Site:
    base: str
    manage_link: str
    session_id: str


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[Site]:
    support.require_chromium()
    made: dict[str, Programme] = {}

    async def then(database: Database, _settings: Settings) -> None:
        made["programme"], _shift = await past_programme(database)

    tickets = asyncio.run(seed(database_url, password=PASSWORD, then=then))
    session_id = str(made["programme"].sessions["A"])
    with support.live_server(database_url, log_path=tmp_path / "server.log") as base:
        with httpx.Client(base_url=base, timeout=30) as http:
            response = http.post(
                "/api/v1/registrations",
                json=registration_body(tickets["delegate"], name=NAME, organisation="Bradford Council"),
            )
            assert response.status_code == 201, response.text
            person: dict[str, Any] = response.json()

        async def admit() -> None:
            database = Database.from_settings(support.make_settings(database_url))
            try:
                await check_in(database, person, "door")
                await check_in(database, person, session_id)
            finally:
                await database.dispose()

        asyncio.run(admit())
        yield Site(base, f"{base}/manage/{person['manage_token']}", session_id)


def _shoot(page: Page, url: str, name: str, artifacts: Path) -> None:
    """The page at a laptop's and a phone's width: a screenshot of each, and no sideways scroll."""
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(url)
        page.screenshot(path=str(artifacts / f"{name}-{width}.png"), full_page=True)
        assert not (problem := too_wide(page)), f"{name} at {width}: {problem}"
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_delegate_rates_a_session_and_the_organiser_sees_it(
    site: Site, page: Page, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(site.manage_link)
    page.locator("#feedback-link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Tell us how it went")
    expect(page.locator("#feedback-targets")).to_contain_text("Workshop A")
    expect(page.locator("#feedback-targets")).not_to_contain_text("Workshop B")
    _shoot(page, page.url, "feedback-list", artifacts)

    page.get_by_role("link", name="Workshop A").click()
    expect(page.locator("#anonymity")).to_contain_text("without your name")
    _shoot(page, page.url, "feedback-form", artifacts)
    # A refusal first: no rating chosen; the comment is kept and the rating named.
    page.get_by_label("Comment").fill(COMMENT)
    page.get_by_role("button", name="Send my feedback").click()
    expect(page.locator("#error-summary")).to_contain_text("Choose a rating from 1 (poor) to 5 (excellent).")
    expect(page.get_by_label("Comment")).to_have_value(COMMENT)
    page.get_by_label("4", exact=True).check()
    page.get_by_role("button", name="Send my feedback").click()
    expect(page.get_by_role("status")).to_have_text("Thank you: your feedback is saved.")
    expect(page.locator(f"#target-{site.session_id}")).to_contain_text("you rated it 4 out of 5")

    support.console_sign_in(page, site.base, "/console/feedback", email=ORGANISER, password=PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Feedback")
    results = page.locator("#feedback-results")
    expect(results).to_contain_text("4.0 out of 5 on average, from 1 answer")
    _shoot(page, page.url, "console-feedback", artifacts)
    results.get_by_role("link", name="Workshop A").click()
    expect(page.locator("#comments")).to_contain_text(COMMENT)
    expect(page.locator("main")).not_to_contain_text(NAME)
    expect(page.locator("main")).not_to_contain_text("Bradford Council")
    _shoot(page, page.url, "console-feedback-session", artifacts)
