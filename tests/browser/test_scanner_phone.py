"""The door scanner (/scan) on a phone in a queue (issue 19), in chromium at 390×844 with touch: the camera
first and the keyboard left down after a camera scan; a reload with no network opened from the service worker,
its scan synced when the network returns; undo of the last admission, once, audited; and search that offers
"Check in" only when it can succeed.

Chromium's fake camera plays a Y4M video of a real badge QR, as in test_scanner.py (the helpers both use are in
scanning.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx
import pytest
import sqlalchemy as sa

from badges.render import qr_png
from conference.core.models import AuditEntry, Checkin
from tests.browser import scanning

if TYPE_CHECKING:  # playwright is imported lazily, so that a missing install skips instead of erroring
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "en-GB",
}


class Live(NamedTuple):
    base: str
    database_url: str
    staff_token: str
    ada: dict[str, Any]
    code: str
    cancelled: dict[str, Any]


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[Live]:
    with scanning.door_server(database_url, tmp_path, staff="Phone A") as (base, tickets, token):
        ada = scanning.register(base, tickets["delegate"], "Ada Lovelace")
        charles = scanning.register(base, tickets["delegate"], "Charles Babbage")
        gone = httpx.delete(
            f"{base}/api/v1/registrations/{charles['id']}",
            headers={"authorization": f"Bearer {charles['manage_token']}"},
            timeout=10,
        )
        assert gone.status_code in (200, 204), gone.text
        yield Live(base, database_url, token, ada, scanning.badge_code(database_url, ada), charles)


@pytest.fixture
def phone() -> Iterator[Any]:
    """Makes a phone-sized browser context; `camera` is the Y4M file it films."""
    with scanning.browsers(PHONE) as make:
        yield make


def _sign_in(page: Page, live: Live) -> None:
    from playwright.sync_api import expect

    scanning.sign_in_at_the_door(page, live.base, live.staff_token)
    expect(page.locator("#list-info")).to_contain_text("Kept for offline use: The conference (main door)")


def _scans(url: str) -> list[tuple[str, bool]]:
    query = sa.select(Checkin.result, Checkin.offline).order_by(Checkin.scanned_at)
    return [(r.result, r.offline) for r in scanning.read_rows(url, query)]


def test_on_a_phone_the_camera_comes_first_and_a_camera_scan_leaves_the_keyboard_down(
    live: Live, phone: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    camera = tmp_path / "badge.y4m"
    scanning.write_y4m(camera, qr_png(live.code))
    page = phone(camera).new_page()
    _sign_in(page, live)
    start = page.get_by_role("button", name="Start camera")
    code = page.get_by_label("Badge code")
    # The camera above the form fields, the full width of the screen.
    camera_box, code_box = start.bounding_box(), code.bounding_box()
    assert camera_box is not None and code_box is not None
    assert camera_box["y"] < code_box["y"]
    assert camera_box["width"] > 390 * 0.8
    expect(code).not_to_be_focused()  # nothing pops the keyboard up on arrival either

    start.click()
    result = page.locator("#result")
    expect(result.locator(".result-title")).to_have_text("Checked in")
    expect(result).to_contain_text("Ada Lovelace")
    video = page.locator("#video").bounding_box()
    assert video is not None and video["width"] > 390 * 0.8
    expect(code).not_to_be_focused()
    page.get_by_role("button", name="Next").click()
    expect(result).to_have_text("Ready to scan.")
    expect(code).not_to_be_focused()  # nor after the answer is cleared
    page.screenshot(path=str(tmp_path / "phone-camera.png"), full_page=True)
    assert _scans(live.database_url) == [("ok", False)]


def test_a_reload_offline_opens_from_the_service_worker_and_its_scan_syncs_later(
    live: Live, phone: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    context = phone()
    page = context.new_page()
    _sign_in(page, live)
    # Installable: the manifest is linked and names the scanner as its start.
    manifest = httpx.get(live.base + "/scan/manifest.webmanifest", timeout=10).json()
    assert manifest["start_url"] == "/scan" and manifest["display"] == "standalone"
    # The service worker controls the page and has kept it.
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.wait_for_function(
        "(async () => !!(await (await caches.open('scanner-v1')).match('/scan')))()", polling=200
    )

    context.set_offline(True)
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check-in")
    network = page.locator("#network")
    expect(network).to_contain_text("Offline")
    expect(page.locator("#list-info")).to_contain_text("Kept for offline use: The conference (main door)")
    code = page.get_by_label("Badge code")
    code.tap()
    page.keyboard.type(live.code)
    page.keyboard.press("Enter")
    result = page.locator("#result")
    expect(result.locator(".result-title")).to_have_text("Checked in")
    expect(result.locator(".result-offline")).to_contain_text("Offline answer")
    expect(network).to_contain_text("Offline — 1 scan waiting")
    page.screenshot(path=str(tmp_path / "phone-offline.png"), full_page=True)
    assert _scans(live.database_url) == []

    context.set_offline(False)
    expect(network).to_contain_text("Online — 0 scans waiting")
    assert _scans(live.database_url) == [("ok", True)]


def test_undo_takes_back_the_last_admission_once_and_is_audited(live: Live, phone: Any) -> None:
    from playwright.sync_api import expect

    page = phone().new_page()
    _sign_in(page, live)
    page.get_by_label("Badge code").tap()
    page.keyboard.type(live.code)
    page.keyboard.press("Enter")
    result = page.locator("#result")
    expect(result.locator(".result-title")).to_have_text("Checked in")
    page.get_by_role("button", name="Next").click()

    last = page.locator("#last-admission")
    expect(last).to_contain_text("Last checked in: Ada Lovelace at")
    undo = last.get_by_role("button", name="Undo this check-in")
    undo.click()
    expect(page.locator("#undo-message")).to_have_text(
        "Check-in undone: Ada Lovelace is not checked in any more."
    )
    expect(undo).to_be_hidden()  # once: there is nothing left to undo
    assert _scans(live.database_url) == [("undone", False)]
    audited = scanning.read_rows(
        live.database_url,
        sa.select(AuditEntry.actor, AuditEntry.subject).where(AuditEntry.action == "badges.checkin.undone"),
    )
    assert [(a.actor, a.subject) for a in audited] == [("staff:Phone A", live.ada["reference"])]

    # Undone, she can be let in again (by the same badge).
    page.get_by_label("Badge code").tap()
    page.keyboard.type(live.code)
    page.keyboard.press("Enter")
    expect(result.locator(".result-title")).to_have_text("Checked in")
    assert sorted(r for r, _offline in _scans(live.database_url)) == ["ok", "undone"]


def test_search_offers_check_in_only_when_it_can_succeed(live: Live, phone: Any) -> None:
    from playwright.sync_api import expect

    page = phone().new_page()
    _sign_in(page, live)
    search = page.get_by_role("search")
    search.get_by_label("Name, reference or organisation").fill("babbage")
    search.get_by_role("button", name="Search").click()
    found = page.locator("#search-results li")
    expect(found).to_have_count(1)
    expect(found).to_contain_text("Charles Babbage")
    expect(found.locator(".search-standing")).to_have_text("Cancelled")
    expect(found.get_by_role("button")).to_have_count(0)  # no "Check in": the server would refuse it
    expect(found.get_by_role("link", name=re.compile("Print badge"))).to_have_count(0)

    search.get_by_label("Name, reference or organisation").fill("lovelace")
    search.get_by_role("button", name="Search").click()
    expect(found.locator(".search-standing")).to_have_text("Not yet")
    expect(found.get_by_role("button", name="Check in Ada Lovelace")).to_be_visible()
    assert _scans(live.database_url) == []
