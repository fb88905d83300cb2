"""Issue 18 in a real browser (Debian's chromium driven by Playwright) on a 390-pixel phone: the registration form
shows every problem at once with the focus on its summary, and payment fields only for a priced ticket; a delegate
corrects their details and transfers their place by clicking; the old link's page offers "Lost your link?". axe-core
finds no serious or critical problem on any of these pages.

The server is `conference serve` in its own process on a fresh database; axe-core comes from node_modules.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import Conference, utcnow
from tests import support
from tests.factories import make_conference, registration_body
from tests.support import make_settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


async def _seed(url: str) -> dict[str, uuid.UUID]:
    database = Database.from_settings(make_settings(url))
    try:
        tickets = await make_conference(database, capacity=20)
        now = utcnow().replace(second=0, microsecond=0)
        async with database.transaction() as db:  # a month ahead: changes are still open
            await db.execute(
                sa.update(Conference).values(
                    starts_at=now + timedelta(days=30), ends_at=now + timedelta(days=31)
                )
            )
        return tickets
    finally:
        await database.dispose()


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, uuid.UUID]]]:
    support.require_chromium()
    tickets = asyncio.run(_seed(database_url))
    with support.live_server(database_url, log_path=tmp_path / "server.log") as base:
        yield base, tickets


def focused_id(page: Page) -> str:
    return str(page.evaluate("document.activeElement ? document.activeElement.id : ''"))


def test_the_form_shows_every_problem_at_once_focused_and_payment_only_for_a_priced_ticket(
    server: tuple[str, dict[str, uuid.UUID]], page: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    base, _tickets = server
    page.set_viewport_size(PHONE)
    page.goto(base + "/")
    payment = page.locator("#payment")
    expect(payment).to_be_hidden()  # no ticket chosen yet
    page.get_by_role("radio", name=re.compile(r"^Delegate")).check()
    expect(payment).to_be_hidden()
    expect(page.get_by_label("Invoice address", exact=True)).to_be_hidden()
    page.get_by_role("radio", name=re.compile(r"^Exhibitor")).check()
    expect(payment).to_be_visible()
    expect(page.get_by_label("Invoice address", exact=True)).to_be_visible()
    page.get_by_role("radio", name=re.compile(r"^Delegate")).check()
    expect(payment).to_be_hidden()
    support.assert_axe_clean(page, "/")

    page.goto(base + "/")
    page.get_by_role("button", name="Register").click()
    summary = page.get_by_role("alert")
    expect(summary.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(summary.get_by_role("link")).to_have_count(6)
    expect(page.locator("#error-summary")).to_be_focused()
    assert focused_id(page) == "error-summary"
    page.screenshot(path=str(tmp_path / "1-all-errors.png"), full_page=True)
    support.assert_axe_clean(page, "/register with every problem")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # "Lost your link?" opens in place.
    page.get_by_text("Already registered? Lost your link?").click()
    expect(page.get_by_label("Your registration email")).to_be_visible()
    support.assert_axe_clean(page, "/ with the lost-link form open")


def test_a_delegate_corrects_their_details_and_transfers_their_place_by_clicking(
    server: tuple[str, dict[str, uuid.UUID]], page: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    base, tickets = server
    body = registration_body(tickets["delegate"], email="ada.lovelace@leeds.gov.uk", name="Ada Lovelace")
    made = httpx.post(base + "/api/v1/registrations", json=body, timeout=30)
    assert made.status_code == 201, made.text
    old = made.json()["manage_token"]
    page.set_viewport_size(PHONE)

    page.goto(f"{base}/manage/{old}")
    page.get_by_role("link", name="Change your details").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your details")
    support.assert_axe_clean(page, "the details form")
    page.get_by_label("Full name").fill("")
    page.get_by_label("Email address").fill("ada@gmail.com")
    page.get_by_role("button", name="Save my details").click()
    expect(page.get_by_role("alert").get_by_role("link")).to_have_count(2)
    expect(page.locator("#error-summary")).to_be_focused()
    support.assert_axe_clean(page, "the details form with problems")
    page.get_by_label("Full name").fill("Ada King")
    page.get_by_label("Email address").fill("ada.lovelace@leeds.gov.uk")
    page.get_by_label("Dietary requirements").fill("Vegetarian")
    page.get_by_role("button", name="Save my details").click()
    expect(page.locator("#details-saved")).to_have_text("Your details are saved.")
    expect(page.locator(".summary").first).to_contain_text("Ada King")

    page.get_by_role("link", name="Transfer your place to a colleague").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Transfer your place to a colleague")
    support.assert_axe_clean(page, "the transfer form")
    page.get_by_role("button", name="Transfer my place").click()
    expect(page.locator("#error-summary")).to_be_focused()
    support.assert_axe_clean(page, "the transfer form with problems")
    page.get_by_label("Your colleague's full name").fill("Grace Hopper")
    page.get_by_label("Your colleague's email address").fill("grace.hopper@leeds.gov.uk")
    page.get_by_label(re.compile("my place goes to my colleague")).check()
    page.get_by_role("button", name="Transfer my place").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your place has been transferred")
    page.screenshot(path=str(tmp_path / "2-transferred.png"), full_page=True)
    support.assert_axe_clean(page, "the transferred page")

    response = page.goto(f"{base}/manage/{old}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Lost your link?")).to_be_visible()
    support.assert_axe_clean(page, "the invalid-link page")
    page.get_by_label("Your registration email").fill("ada.lovelace@leeds.gov.uk")
    page.get_by_role("button", name="Email me my booking link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.goto(f"{base}/lost-link")
    support.assert_axe_clean(page, "/lost-link")
    page.get_by_role("button", name="Email me my booking link").click()
    expect(page.locator("#error-summary")).to_be_focused()
    support.assert_axe_clean(page, "/lost-link with a problem")
