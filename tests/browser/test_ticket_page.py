"""The e-ticket in a real browser (Debian's chromium) on a 390×844 phone: the booking page's QR, read by zxing-cpp
from a screenshot of the page, checks in at the door through the API (`ok`, then `already_checked_in`); the QR is
drawn with no request of its own (it still shows with the server gone); the booking page with its ticket, the
ticket page and the page of a cancelled place's ticket fit the screen and have no serious or critical axe-core
problem.

The server is `conference serve` in its own process on a fresh database; axe-core comes from node_modules.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from PIL import Image

from conference.core.db import Database
from conference.web.auth import create_api_token
from tests import support
from tests.factories import make_conference, registration_body
from tests.support import make_settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PHONE = {"width": 390, "height": 844}


@dataclass
class Event:
    base: str
    staff: dict[str, str]
    delegate: dict[str, Any]
    cancelled: dict[str, Any]


async def _seed(url: str) -> tuple[dict[str, Any], str]:
    database = Database.from_settings(make_settings(url))
    try:
        tickets = await make_conference(database, capacity=50)
        async with database.transaction() as db:
            staff = await create_api_token(db, role="staff", name="Door")
        return tickets, staff
    finally:
        await database.dispose()


@pytest.fixture
def event(database_url: str, tmp_path: Path) -> Iterator[Event]:
    support.require_chromium()
    tickets, staff = asyncio.run(_seed(database_url))
    with support.live_server(database_url, log_path=tmp_path / "server.log") as base:
        delegate = httpx.post(
            base + "/api/v1/registrations",
            json=registration_body(tickets["delegate"], name="Ada Lovelace"),
            timeout=10,
        ).json()
        leaving = httpx.post(
            base + "/api/v1/registrations", json=registration_body(tickets["delegate"]), timeout=10
        ).json()
        gone = httpx.delete(
            f"{base}/api/v1/registrations/{leaving['id']}",
            headers={"authorization": f"Bearer {leaving['manage_token']}"},
            timeout=10,
        )
        assert gone.status_code == 200, gone.text
        yield Event(base, {"authorization": f"Bearer {staff}"}, delegate, leaving)


def axe_violations(page: Page) -> list[dict[str, Any]]:
    if not AXE.exists():
        support.skip_or_fail("axe-core is not installed: run `npm ci`", "CONFERENCE_REQUIRE_BROWSER")
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def describe(violations: list[dict[str, Any]]) -> str:
    return json.dumps(
        [
            {"rule": v["id"], "help": v["help"], "where": [n["target"] for n in v["nodes"]][:5]}
            for v in violations
        ],
        indent=1,
    )


def fits(page: Page) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


def screenshot_code(page: Page) -> str:
    shot = page.locator("#ticket-qr").screenshot()
    (found,) = support.decode(Image.open(io.BytesIO(shot)).convert("L"))
    return str(found.text)


def scan(event: Event, code: str) -> str:
    answer = httpx.post(
        event.base + "/api/v1/checkins", json={"code": code, "list": "door"}, headers=event.staff, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["result"])


def test_the_ticket_on_a_phone_scans_at_the_door_and_passes_axe(event: Event, page: Page) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size(PHONE)
    token = event.delegate["manage_token"]
    page.goto(f"{event.base}/manage/{token}")
    qr = page.locator("#ticket-qr svg")
    expect(qr).to_be_visible()
    # Large: most of a phone's width (a quiet zone included), never wider than the screen.
    box = qr.bounding_box()
    assert box is not None and 280 <= box["width"] <= PHONE["width"], box
    assert fits(page), "the booking page scrolls sideways"
    found = axe_violations(page)
    assert not found, f"booking page with its ticket: {describe(found)}"

    code = screenshot_code(page)
    assert code.startswith(event.delegate["reference"] + ".1.")
    assert scan(event, code) == "ok"
    assert scan(event, code) == "already_checked_in"

    page.get_by_role("link", name="Open your ticket").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your ticket")
    expect(page.locator("#ticket-name")).to_have_text("Ada Lovelace")
    assert screenshot_code(page) == code
    assert fits(page), "the ticket page scrolls sideways"
    found = axe_violations(page)
    assert not found, f"ticket page: {describe(found)}"
    with page.expect_download() as download:
        page.locator("#ticket-pdf").click()
    assert download.value.suggested_filename == f"ticket-{event.delegate['reference']}.pdf"

    # The QR needs nothing from the network once the page is loaded: blocked, it is still drawn the same.
    page.route("**/*", lambda route: route.abort())
    assert screenshot_code(page) == code


def test_a_cancelled_places_ticket_page_has_no_qr_and_passes_axe(event: Event, page: Page) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size(PHONE)
    page.goto(f"{event.base}/ticket/{event.cancelled['manage_token']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("No ticket for this booking")
    expect(page.locator("#no-ticket")).to_contain_text("This booking is cancelled")
    assert page.locator("svg").count() == 0
    assert fits(page)
    found = axe_violations(page)
    assert not found, f"no-ticket page: {describe(found)}"
