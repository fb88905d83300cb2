"""The event settings in a real browser: an organiser corrects a refused form and saves it, writes the privacy
notice, and a visitor reaches it from the registration form's consent box and the accessibility statement from the
footer; axe-core finds no serious or critical problem on any of these pages (WCAG 2.1 A and AA).

The server is `conference serve` in its own process on a fresh database; axe-core comes from node_modules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests import support
from tests.browser import live_site

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

ORGANISER, PASSWORD = live_site.ORGANISER, "event settings passphrase"


@pytest.fixture
def base(database_url: str, tmp_path: Path) -> Iterator[str]:
    with live_site.served(database_url, tmp_path, password=PASSWORD) as (url, _tickets):
        yield url


def test_organiser_sets_up_the_event_and_visitors_reach_its_notices(base: str, page: Page) -> None:
    from playwright.sync_api import expect

    support.console_sign_in(page, base, "/console/event", email=ORGANISER, password=PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Event settings")
    support.assert_axe_clean(page, "/console/event")

    # Refused: every problem in the summary, each a link to its field; what was typed stays.
    page.get_by_label("Time zone").fill("Mars/Olympus_Mons")
    page.get_by_label("Capacity").fill("lots")
    page.locator("#venue").fill("Civic Hall")
    page.get_by_role("button", name="Save event settings").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Time zone")
    expect(summary).to_contain_text("Capacity")
    expect(page.locator("#venue")).to_have_value("Civic Hall")
    support.assert_axe_clean(page, "/console/event with errors")
    summary.get_by_role("link", name=re.compile("^Capacity")).click()
    expect(page.get_by_label("Capacity")).to_be_focused()

    page.get_by_label("Time zone").fill("Europe/London")
    page.get_by_label("Capacity").fill("750")
    page.get_by_label("Contact email").fill("events@leeds.gov.uk")
    page.get_by_label("Accessibility at the venue").fill("Step-free entrance on Portland Crescent.")
    page.get_by_role("button", name="Save event settings").click()
    expect(page.get_by_role("status")).to_contain_text("saved")
    expect(page.locator("#places-held")).to_contain_text("of 750")

    page.get_by_role("link", name="Privacy notice and accessibility statement").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Privacy notice and accessibility statement")
    support.assert_axe_clean(page, "/console/event/notices")
    page.locator("#privacy_notice").fill("Leeds City Council runs this event.\n\nAsk us anything.")
    page.get_by_role("button", name="Save privacy notice").click()
    expect(page.get_by_role("status")).to_contain_text("privacy notice is saved")

    # A visitor: the consent box links to the notice (in a new tab, so the form keeps what was typed).
    page.context.clear_cookies()
    page.goto(base + "/")
    with page.expect_popup() as popup:
        page.locator("label[for=consent]").get_by_role("link", name=re.compile("privacy notice")).click()
    notice = popup.value
    notice.wait_for_load_state()
    expect(notice.get_by_role("heading", level=1)).to_have_text("Privacy notice")
    expect(notice.locator("#notice")).to_contain_text("Leeds City Council runs this event.")
    support.assert_axe_clean(notice, "/privacy")
    notice.close()

    page.get_by_role("contentinfo").get_by_role("link", name="Accessibility statement").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Accessibility statement")
    expect(page.locator("#venue-access")).to_contain_text("Step-free entrance")
    expect(page.get_by_role("contentinfo")).to_contain_text("events@leeds.gov.uk")
    support.assert_axe_clean(page, "/accessibility")
