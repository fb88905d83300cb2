"""Issue 23, in Debian's chromium: at a laptop's 1,366×768 and a phone's 390×844, no page of the site scrolls
sideways (`document.documentElement.scrollWidth <= innerWidth`) and no page logs a JavaScript error.

Every page is every GET page route of the app (tests/page_walk.py: its parameters filled with the demo's real ids
and private links), walked by an organiser signed in with a password, over the demo event with its delegates, hand
bookings, call for talks, published programme, workshop seats, an invoice, a cancelled delegate and a message. A
page with a wrong link (a made-up password-reset token, say) is walked too: its error page must fit as well. The
server is `conference serve` in its own process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conference.server.app import create_app
from tests import page_walk, support
from tests.browser.test_phone_pages import too_wide

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page, ViewportSize

pytestmark = pytest.mark.browser

WIDTHS: list[ViewportSize] = [{"width": 1366, "height": 768}, {"width": 390, "height": 844}]


@dataclass
class Site:
    base: str
    paths: dict[str, str]


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[Site]:
    support.require_chromium()
    seeded = asyncio.run(page_walk.seed(database_url))
    paths = page_walk.page_paths(create_app(support.make_settings(database_url)).routes, seeded)
    with support.live_server(database_url, log_path=tmp_path / "server.log") as base:
        yield Site(base, paths)


def test_no_page_scrolls_sideways_or_logs_a_javascript_error(site: Site, page: Page, artifacts: Path) -> None:
    problems: list[str] = []
    current = {"url": ""}

    def logged(message: ConsoleMessage) -> None:
        # A page answered 404 or 409 on purpose (a wrong link, a ticket type that cannot be deleted) has chromium
        # log its status: that is the page's own answer, not a script's error.
        own_status = (
            message.text.startswith("Failed to load resource")
            and message.location.get("url") == current["url"]
        )
        if message.type == "error" and not own_status:
            problems.append(f"console error on {current['url']}: {message.text}")

    page.on("console", logged)
    page.on("pageerror", lambda error: problems.append(f"script error on {current['url']}: {error}"))
    support.console_sign_in(
        page, site.base, "/console", email=page_walk.ORGANISER, password=page_walk.PASSWORD
    )
    assert "/login" not in page.url, "the organiser could not sign in"

    for viewport in WIDTHS:
        page.set_viewport_size(viewport)
        for name, path in site.paths.items():
            current["url"] = site.base + path
            response = page.goto(current["url"])
            page.wait_for_load_state("load")
            assert response is not None and response.status < 500, (name, response and response.status)
            assert not path.startswith("/console") or "/login" not in page.url, f"{name}: sent to sign in"
            if problem := too_wide(page):
                problems.append(f"{name} ({path}) at {viewport['width']}: {problem}")
                shot = f"{viewport['width']}-{name.strip('/').replace('/', '_').replace(':', '')[:80]}.png"
                page.screenshot(path=str(artifacts / shot), full_page=True)
    assert not problems, "\n".join(problems)
