"""Codes in a real browser, with no script: an organiser makes a code by clicking and sees it used, makes codes in
bulk and downloads their CSV; a delegate's wrong code is shown on its field; axe-core finds no serious or critical
problem on the codes pages (with and without their errors).

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

PASSWORD = "codes test passphrase"
ORGANISER = live_site.ORGANISER


@pytest.fixture
def base(database_url: str, tmp_path: Path) -> Iterator[str]:
    with live_site.served(database_url, tmp_path, password=PASSWORD) as (url, _tickets):
        yield url


def test_an_organiser_makes_codes_and_a_delegate_uses_one_without_script(base: str, page: Page) -> None:
    from playwright.sync_api import expect

    checked: list[str] = []

    def check(what: str) -> None:
        page.wait_for_load_state("networkidle")
        support.assert_axe_clean(page, what)
        checked.append(what)

    support.console_sign_in(page, base, "/console/codes", email=ORGANISER, password=PASSWORD)
    check("/console/codes, empty")
    page.get_by_role("link", name="Make a code").click()
    check("/console/codes/new")
    page.get_by_label("Code (optional)").fill("no")
    page.get_by_label("Percentage off").check()
    page.get_by_label("Amount off (optional)").fill("250")
    page.get_by_role("button", name="Make the code").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Amount off: Give the percentage off")
    check("/console/codes/new with errors")
    page.get_by_label("Code (optional)").fill("speakers-2026")
    page.get_by_label("Who it is for (optional)").fill("Speakers")
    page.get_by_label("Complimentary (nothing to pay)").check()
    page.get_by_label("Use limit").fill("5")
    page.get_by_role("button", name="Make the code").click()
    expect(page.get_by_role("status")).to_contain_text("The code is made")
    expect(page.get_by_role("heading", level=1)).to_contain_text("SPEAKERS-2026")
    check("/console/codes/{id}")

    page.goto(base + "/console/codes/bulk")
    page.get_by_label("How many codes").fill("5")
    page.get_by_label("Start each code with (optional)").fill("police")
    page.get_by_role("button", name="Make the codes").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("5 codes made in bulk")
    check("/console/codes/batch/{id}")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download these codes (CSV)").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert len(re.findall(r"^POLICE-", text, flags=re.MULTILINE)) == 5
    page.goto(base + "/console/codes")
    expect(page.locator("#codes")).to_contain_text("SPEAKERS-2026")
    check("/console/codes, with codes")
    page.context.clear_cookies()

    page.goto(base + "/")
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Email address").fill("ada@leeds.gov.uk")
    page.get_by_label("Organisation", exact=True).fill("Leeds City Council")
    page.get_by_label("Sector", exact=True).select_option("local_authority")
    page.get_by_label(re.compile(r"^Exhibitor")).check()
    page.get_by_label("Code (optional)").fill("SPEAKERS-2062")
    page.get_by_label(re.compile(r"^I agree")).check()
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("alert")).to_contain_text("Code: We don't recognise this code")
    check("/ with a wrong code")
    page.get_by_label("Code (optional)").fill("speakers-2026")
    page.get_by_role("button", name="Register").click()
    expect(page.locator("#confirmation")).to_be_visible()
    assert len(checked) == 7
