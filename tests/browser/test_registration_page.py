"""The registration form and the manage page in a real browser (Debian's chromium driven by Playwright).

The server is `conference serve` in its own process on a fresh database, seeded before it starts. The tests
use Playwright's sync API: they are plain functions, so no event loop is running while it drives chromium.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from conference.core.db import Database
from tests import support
from tests.factories import make_conference, registration_body
from tests.support import make_settings

if TYPE_CHECKING:  # playwright is imported lazily, so that a missing install skips instead of erroring
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

REFERENCE = re.compile(r"NC-[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{6}")


async def _seed(url: str) -> dict[str, uuid.UUID]:
    database = Database.from_settings(make_settings(url))
    try:
        return await make_conference(database, capacity=5)
    finally:
        await database.dispose()  # before the server starts: no connection of ours outlives the seeding


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, uuid.UUID]]]:
    support.require_chromium()
    tickets = asyncio.run(_seed(database_url))
    with support.live_server(database_url, log_path=tmp_path / "server.log") as base:
        yield base, tickets


def test_form_errors_are_summarised_kept_and_fixed(
    server: tuple[str, dict[str, uuid.UUID]], page: Page, tmp_path: Path
) -> None:
    support.require_chromium()
    from playwright.sync_api import expect

    base, _tickets = server
    page.goto(base + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Test Conference")
    expect(page.locator("#places")).to_contain_text("5 of 5 places left")

    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Email address").fill("not-an-email")
    page.get_by_label("Organisation", exact=True).fill("Leeds City Council")
    page.get_by_label("Sector", exact=True).select_option(label="Local authority")
    page.get_by_role("radio", name=re.compile(r"^Delegate")).check()
    page.get_by_label(re.compile("I agree to the privacy notice")).check()
    page.get_by_role("button", name="Register").click()

    summary = page.get_by_role("alert")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(page).to_have_title(re.compile(r"^Error: "))
    links = summary.get_by_role("link")
    expect(links).to_have_count(1)
    expect(links).to_have_attribute("href", "#email")
    expect(links).to_contain_text("Email address")
    email = page.get_by_label("Email address")
    expect(email).to_have_value("not-an-email")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#email-error")).to_be_visible()
    # Everything else typed or chosen is still there.
    expect(page.get_by_label("Full name")).to_have_value("Ada Lovelace")
    expect(page.get_by_label("Organisation", exact=True)).to_have_value("Leeds City Council")
    expect(page.get_by_label("Sector", exact=True)).to_have_value("local_authority")
    expect(page.get_by_role("radio", name=re.compile(r"^Delegate"))).to_be_checked()
    expect(page.get_by_label(re.compile("I agree to the privacy notice"))).to_be_checked()
    page.screenshot(path=str(tmp_path / "1-error-summary.png"), full_page=True)

    links.click()
    expect(page).to_have_url(re.compile(r"#email$"))
    expect(email).to_be_focused()

    email.fill("ada.lovelace@leeds.gov.uk")
    page.get_by_role("button", name="Register").click()

    expect(page).to_have_url(re.compile(r"/manage/m_[A-Za-z0-9_-]+\?new=1$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Registration received")
    reference = page.locator(".reference")
    expect(reference).to_have_text(REFERENCE)
    expect(page.locator("#status")).to_have_text("Your place is confirmed")
    expect(page.locator(".summary")).to_contain_text("ada.lovelace@leeds.gov.uk")
    expect(page.locator(".summary")).to_contain_text(reference.inner_text())
    page.screenshot(path=str(tmp_path / "2-confirmation.png"), full_page=True)


def test_cancel_from_the_manage_page(
    server: tuple[str, dict[str, uuid.UUID]], page: Page, tmp_path: Path
) -> None:
    support.require_chromium()
    from playwright.sync_api import expect

    base, tickets = server
    response = httpx.post(
        base + "/api/v1/registrations", json=registration_body(tickets["delegate"], name="Alan Turing")
    )
    assert response.status_code == 201, response.text
    created = response.json()

    page.goto(f"{base}/manage/{created['manage_token']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your booking")
    expect(page.locator("#status")).to_have_text("Your place is confirmed")
    page.get_by_role("link", name="Cancel this registration").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Cancel your registration?")
    expect(page.get_by_text(created["reference"])).to_be_visible()
    page.screenshot(path=str(tmp_path / "3-cancel-confirm.png"), full_page=True)
    page.get_by_role("button", name="Yes, cancel my registration").click()

    expect(page).to_have_url(f"{base}/manage/{created['manage_token']}")
    expect(page.locator("#status")).to_have_text("This registration is cancelled")
    expect(page.get_by_role("link", name="Cancel this registration")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "4-cancelled.png"), full_page=True)

    api = httpx.get(
        f"{base}/api/v1/registrations/{created['id']}",
        headers={"authorization": f"Bearer {created['manage_token']}"},
    )
    assert api.status_code == 200
    assert api.json()["status"] == "cancelled"
