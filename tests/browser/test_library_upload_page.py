"""A speaker's slides and resources page (/proposal/<token>/resources) in a real browser (Debian's chromium), at
1280 px and on a 390 px phone: the proposal page links to it; a real PDF is uploaded through the form and listed as
waiting for the organisers; a web page renamed .pdf is refused with the error summary naming the file; a long
link is shared; neither width scrolls sideways; no serious or critical axe-core problem. Screenshots of both widths
are kept in the test's directory.

The server is `conference serve` in its own process on a fresh database, storing files in the test's directory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from conference.core.db import Database
from conference.web.auth import create_api_token
from tests import support
from tests.factories import make_conference, proposal_body, set_call
from tests.sessions import library_files as make
from tests.support import make_settings

if TYPE_CHECKING:
    from playwright.sync_api import Page, ViewportSize

pytestmark = pytest.mark.browser

WIDE: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
LONG_URL = "https://www.gov.uk/government/publications/" + "front-door-referrals-evaluation-" * 4 + "report"


@dataclass
class Site:
    base: str
    token: str
    library: Path


async def _seed(url: str) -> str:
    database = Database.from_settings(make_settings(url))
    try:
        await make_conference(database, capacity=50)
        await set_call(database, open_=True)
        async with database.transaction() as db:
            return await create_api_token(db, role="organiser", name="Organiser")
    finally:
        await database.dispose()


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[Site]:
    support.require_chromium()
    organiser = asyncio.run(_seed(database_url))
    library = tmp_path / "library"
    env = {"CONFERENCE_LIBRARY_DIR": str(library)}
    with support.live_server(database_url, env=env, log_path=tmp_path / "server.log") as base:
        made = httpx.post(base + "/api/v1/proposals", json=proposal_body(), timeout=10).json()
        decided = httpx.post(
            base + "/api/v1/proposals/decisions",
            headers={"authorization": f"Bearer {organiser}"},
            json={"decision": "accept", "proposal_ids": [made["id"]]},
            timeout=10,
        )
        assert decided.status_code == 200, decided.text
        yield Site(base, made["edit_token"], library)


def _fits(page: Page) -> None:
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"{page.url} scrolls sideways at {inner} px: {scroll} px wide"


def test_a_speaker_uploads_slides_and_the_page_fits_wide_and_phone(
    site: Site, page: Page, tmp_path: Path, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    slides = tmp_path / "Front door slides.pdf"
    slides.write_bytes(make.make_pdf())
    lying = tmp_path / "handout.pdf"
    lying.write_bytes(make.make_html())

    page.set_viewport_size(WIDE)
    page.goto(f"{site.base}/proposal/{site.token}")
    page.get_by_role("link", name="Share your slides and resources").click()
    expect(page.get_by_role("heading", name="Share your slides and resources")).to_be_visible()

    upload = page.locator("#resource-upload")
    upload.get_by_label("Title (optional)").fill("Our slides")
    upload.get_by_label("File").set_input_files(str(slides))
    upload.get_by_label("Who may see it").select_option("delegates")
    upload.get_by_role("button", name="Upload the file").click()
    expect(page.locator("#message")).to_contain_text("your file is uploaded")
    item = page.locator("#resources li").first
    expect(item).to_contain_text("Our slides")
    expect(item).to_contain_text("Front door slides.pdf")
    expect(item).to_contain_text("Waiting for the organisers")
    expect(item).to_contain_text("Delegates only")
    assert [p.read_bytes() for p in site.library.iterdir()] == [slides.read_bytes()]

    links = page.locator("#resource-link")
    links.get_by_label("Title").fill("The full evaluation report")
    links.get_by_label("Address").fill(LONG_URL)
    links.get_by_role("button", name="Share the link").click()
    expect(page.locator("#message")).to_contain_text("your link is added")
    expect(page.locator("#resources")).to_contain_text(LONG_URL)
    _fits(page)
    support.assert_axe_clean(page, "the resources page at 1280 px")
    page.screenshot(path=str(artifacts / "resources-1280.png"), full_page=True)

    page.set_viewport_size(PHONE)
    page.goto(f"{site.base}/proposal/{site.token}/resources")
    upload = page.locator("#resource-upload")
    upload.get_by_label("Title (optional)").fill("Handout")
    upload.get_by_label("File").set_input_files(str(lying))
    upload.get_by_role("button", name="Upload the file").click()
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("File: This is a web page or XML file, not a document.")
    expect(page.locator("#file-error")).to_contain_text("Choose the file again")
    expect(page.locator("#resource-upload").get_by_label("Title (optional)")).to_have_value("Handout")
    assert len(list(site.library.iterdir())) == 1
    _fits(page)
    support.assert_axe_clean(page, "the refused upload at 390 px")
    page.screenshot(path=str(artifacts / "resources-390.png"), full_page=True)
