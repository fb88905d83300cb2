"""Issue 21's library, by clicking, in Debian's chromium against `conference serve`: a speaker uploads three real
PDFs from their proposal link (/proposal/{token}/resources), an organiser approves each on /console/library with
a different visibility (everyone; delegates only; public-sector delegates only), and then an anonymous visitor on
/library, a community-sector delegate on their /manage/{token}/library and a police delegate on theirs each see
(and can download) exactly what they should. Screenshots at 1280 and 390 px; no page scrolls sideways."""

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
from conference.core.settings import Settings
from conference.web.auth import create_api_token
from tests import support
from tests.browser.live_site import ORGANISER, seed
from tests.browser.test_phone_pages import too_wide
from tests.factories import proposal_body, registration_body, set_call
from tests.sessions.library_files import make_pdf

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

PASSWORD = "approve the speakers' slides"
# Title → (the visibility the organiser chooses, its label on the console's select)
ITEMS = {
    "Slides for everyone": ("public", "Everyone"),
    "Notes for delegates": ("delegates", "Delegates only"),
    "Data for trusted partners": ("public_sector", "Public-sector delegates only (trusted partners)"),
}
TALK = "Knife crime in the classroom"


@dataclass
class Site:
    base: str
    speaker_link: str
    faith_link: str
    police_link: str


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[Site]:
    support.require_chromium()
    token = ""

    async def then(database: Database, _settings: Settings) -> None:
        nonlocal token
        await set_call(database, open_=True)
        async with database.transaction() as db:
            token = await create_api_token(db, role="organiser", name="Library test")

    tickets = asyncio.run(seed(database_url, password=PASSWORD, then=then))
    env = {"CONFERENCE_LIBRARY_DIR": str(tmp_path / "library")}
    with support.live_server(database_url, env=env, log_path=tmp_path / "server.log") as base:
        with httpx.Client(base_url=base, timeout=30) as http:

            def ok(response: httpx.Response, status: int = 200) -> Any:
                assert response.status_code == status, response.text
                return response.json()

            talk = ok(
                http.post(
                    "/api/v1/proposals",
                    json=proposal_body(
                        title=TALK,
                        abstract="A police-led programme of lessons that cut school exclusions.",
                        sector="police",
                    ),
                ),
                201,
            )
            ok(
                http.post(
                    "/api/v1/proposals/decisions",
                    headers=support.bearer(token),
                    json={"decision": "accept", "proposal_ids": [talk["id"]]},
                )
            )
            ok(
                http.post(
                    f"/api/v1/proposals/{talk['id']}/confirm", headers=support.bearer(talk["edit_token"])
                )
            )
            faith = ok(
                http.post(
                    "/api/v1/registrations",
                    json=registration_body(
                        tickets["delegate"], sector="community_faith", organisation="Leeds Faith Forum"
                    ),
                ),
                201,
            )
            police = ok(
                http.post(
                    "/api/v1/registrations",
                    json=registration_body(
                        tickets["delegate"], sector="police", organisation="West Yorkshire Police"
                    ),
                ),
                201,
            )
        yield Site(
            base,
            f"{base}/proposal/{talk['edit_token']}",
            f"{base}/manage/{faith['manage_token']}",
            f"{base}/manage/{police['manage_token']}",
        )


def _shoot(page: Page, url: str, name: str, artifacts: Path) -> None:
    """The page at a laptop's and a phone's width: a screenshot of each, and no sideways scroll."""
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(url)
        page.screenshot(path=str(artifacts / f"{name}-{width}.png"), full_page=True)
        assert not (problem := too_wide(page)), f"{name} at {width}: {problem}"
    page.set_viewport_size({"width": 1280, "height": 900})


def _listed(page: Page) -> list[str]:
    titles: list[str] = page.locator("#library-entries .lib-resource a").all_inner_texts()
    return sorted(t.strip() for t in titles)


def _download(page: Page, title: str, artifacts: Path) -> bytes:
    with page.expect_download() as download:
        page.get_by_role("link", name=title).click()
    saved = artifacts / f"{title}.pdf"
    download.value.save_as(saved)
    return saved.read_bytes()


def test_speaker_uploads_organiser_approves_and_each_viewer_sees_the_right_items(
    site: Site, page: Page, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1280, "height": 900})
    status = page.get_by_role("status")

    # The speaker uploads three real PDFs from their proposal link.
    page.goto(site.speaker_link)
    page.locator("#resources-link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Share your slides and resources")
    for n, title in enumerate(ITEMS):
        pdf = artifacts / f"upload-{n}.pdf"
        pdf.write_bytes(make_pdf(title))
        form = page.locator("#resource-upload")
        form.get_by_label("Title (optional)").fill(title)
        form.get_by_label("File").set_input_files(str(pdf))
        form.get_by_role("button", name="Upload the file").click()
        expect(page.locator("#resources")).to_contain_text(title)
    _shoot(page, page.url, "speaker-resources", artifacts)

    # Nothing is public before an organiser approves it.
    page.goto(site.base + "/library")
    expect(page.locator("#library-entries")).to_contain_text(TALK)
    assert _listed(page) == []

    # The organiser approves each with its own visibility.
    support.console_sign_in(page, site.base, "/console/library", email=ORGANISER, password=PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Library")
    expect(page.locator("#pending-count")).to_have_text("3 items are waiting for approval.")
    _shoot(page, site.base + "/console/library", "console-library", artifacts)
    for title, (value, label) in ITEMS.items():
        item = page.locator("li.lib-item", has_text=title)
        with page.expect_download() as download:
            item.get_by_role("link", name=re.compile("^Download")).click()
        checked = artifacts / f"checked-{value}.pdf"
        download.value.save_as(checked)
        assert checked.read_bytes().startswith(b"%PDF")
        item.get_by_label("Who may see it").select_option(label=label)
        item.get_by_role("button", name="Approve").click()
        expect(status).to_contain_text("Approved: the item is in the library.")
        assert page.locator("li.lib-item", has_text=title).get_attribute("data-status") == "approved"
    expect(page.locator("#pending-count")).to_have_text("Nothing is waiting for approval.")

    # An anonymous visitor (a fresh browser context: no console session) sees the public item only.
    visitor = page.context.browser.new_context(**support.CONTEXT, accept_downloads=True)  # type: ignore[union-attr]
    try:
        anonymous = visitor.new_page()
        anonymous.set_default_timeout(support.BROWSER_PATIENCE_MS)
        anonymous.goto(site.base + "/programme")
        anonymous.get_by_role("navigation", name="Site").get_by_role("link", name="Library").click()
        expect(anonymous.locator("#library-entries")).to_contain_text(TALK)
        assert _listed(anonymous) == ["Slides for everyone"]
        expect(anonymous.locator(".lib-hidden")).to_have_text(
            "1 more item for delegates; 1 more item for public-sector delegates."
        )
        assert (
            "Slides for everyone: slide 1"
            in support.pdf_text(_download(anonymous, "Slides for everyone", artifacts))[0]
        )
        anonymous.get_by_label("Sector").select_option(label="Police")
        anonymous.get_by_role("button", name="Search").click()
        expect(anonymous).to_have_url(re.compile(r"/library\?q=&theme=&sector=police$"))
        expect(anonymous.locator("#library-count")).to_contain_text("1 of 1 talk match")
        _shoot(anonymous, site.base + "/library", "library-anonymous", artifacts)
    finally:
        visitor.close()

    # A delegate from a community organisation: the delegates' item too, not the trusted partners'.
    page.goto(site.faith_link)
    page.get_by_role("link", name="The best-practice library").click()
    expect(page.locator("#viewer-note")).to_contain_text("As a delegate you see the public items")
    assert _listed(page) == ["Notes for delegates", "Slides for everyone"]
    expect(page.locator(".lib-hidden")).to_have_text("1 more item for public-sector delegates.")
    notes = _download(page, "Notes for delegates", artifacts)
    assert "Notes for delegates: slide 1" in support.pdf_text(notes)[0]
    _shoot(page, page.url, "library-delegate", artifacts)

    # A police delegate: all three.
    page.goto(site.police_link + "/library")
    expect(page.locator("#viewer-note")).to_contain_text("As a public-sector delegate you see every item")
    assert _listed(page) == ["Data for trusted partners", "Notes for delegates", "Slides for everyone"]
    assert page.locator(".lib-hidden").count() == 0
    data = _download(page, "Data for trusted partners", artifacts)
    assert "Data for trusted partners: slide 1" in support.pdf_text(data)[0]
    _shoot(page, page.url, "library-public-sector", artifacts)

    # The speaker's page shows each item as in the library.
    page.goto(site.speaker_link + "/resources")
    for title in ITEMS:
        expect(page.locator("#resources li", has_text=title)).not_to_contain_text(
            "Waiting for the organisers"
        )
