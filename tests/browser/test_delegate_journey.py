"""Issue 18's journey on a 390×844 phone: a delegate registers with mistakes (every problem at once, focus on the
summary), then correctly; with no mail server the confirmation email waits in the console's outbox, where the
organiser opens it and follows its ticket link; the ticket's QR, read by zxing-cpp from a screenshot of the
ticket page and from its PDF (the one the email attaches), checks in through the API (`ok`, then `already_checked_in`); no page on
the way scrolls sideways. (Ranking with a duplicate and swapping a seat on the same phone: test_phone_pages.py.)

The server is `conference serve` in its own process on a fresh database.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from PIL import Image

from conference import accounts
from conference.core.audit import Actor
from conference.core.db import Database
from conference.web.auth import create_api_token
from tests import support
from tests.factories import make_conference
from tests.support import make_settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
ORGANISER = "events@council.example"
PASSWORD = "the delegate journey on a phone"
EMAIL = "ada.lovelace@leeds.gov.uk"


async def _seed(url: str) -> str:
    settings = make_settings(url)
    database = Database.from_settings(settings)
    try:
        await make_conference(database, capacity=50)
        async with database.transaction() as db:
            user = await accounts.add_user(
                db, settings, email=ORGANISER, role="organiser", actor=Actor("cli"), invite=False
            )
            await accounts.set_password(db, user, PASSWORD, actor=Actor("cli"))
            return await create_api_token(db, role="staff", name="Door")
    finally:
        await database.dispose()


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    support.require_chromium()
    staff = asyncio.run(_seed(database_url))
    with support.live_server(database_url, log_path=tmp_path / "server.log") as base:
        yield base, {"authorization": f"Bearer {staff}"}


def fits(page: Page) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


def scan(base: str, staff: dict[str, str], code: str) -> str:
    answer = httpx.post(
        base + "/api/v1/checkins", json={"code": code, "list": "door"}, headers=staff, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["result"])


def test_register_then_open_the_ticket_from_the_outbox_and_check_in(
    server: tuple[str, dict[str, str]], page: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    base, staff = server
    page.set_viewport_size(PHONE)

    # Mistakes first: every problem at once, the summary focused, what was typed kept.
    page.goto(base + "/")
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Email address").fill("not an address")
    page.get_by_role("button", name="Register").click()
    summary = page.get_by_role("alert")
    for field in ("Email address", "Organisation", "Sector", "Ticket type", "Privacy notice"):
        expect(summary).to_contain_text(field)
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.get_by_label("Full name")).to_have_value("Ada Lovelace")
    assert fits(page), "the form with its errors scrolls sideways"

    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Organisation", exact=True).fill("Leeds City Council")
    page.get_by_label("Sector", exact=True).select_option("local_authority")
    page.get_by_role("radio", name=re.compile(r"^Delegate")).check()
    page.get_by_label(re.compile("^I agree")).check()
    page.get_by_role("button", name="Register").click()
    expect(page.locator("#ticket-qr svg")).to_be_visible()
    assert fits(page), "the booking page scrolls sideways"

    # The organiser reads the kept confirmation in the outbox and follows its ticket link.
    page.goto(base + "/console/outbox")
    page.get_by_label("Email address").fill(ORGANISER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label(re.compile("^Recipient")).fill(EMAIL)
    page.get_by_role("button", name="Find").click()
    page.locator("#outbox a").first.click()
    body = page.locator("main")
    expect(body).to_contain_text("Ada Lovelace")
    expect(body).to_contain_text("ticket")
    ticket_link = page.locator("main a[href*='/ticket/']").first
    assert fits(page), "the outbox's email page scrolls sideways"
    ticket_link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your ticket")
    assert fits(page), "the ticket page scrolls sideways"
    pdf_href = page.locator("#ticket-pdf").get_attribute("href")

    shot = page.locator("#ticket-qr").screenshot()
    (on_screen,) = support.decode(Image.open(io.BytesIO(shot)).convert("L"))
    assert pdf_href is not None
    pdf = httpx.get(pdf_href if pdf_href.startswith("http") else base + pdf_href, timeout=30)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    (pdf_page,) = support.raster(pdf.content)
    (on_paper,) = support.decode(pdf_page)
    assert on_screen.text == on_paper.text

    assert scan(base, staff, str(on_paper.text)) == "ok"
    assert scan(base, staff, str(on_screen.text)) == "already_checked_in"
