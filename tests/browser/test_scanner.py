"""The door scanner (/scan) in a real browser: a badge held up to the camera, a door that loses its network,
and a delegate without a badge.

Chromium's fake camera plays a Y4M video of a real badge QR (scanning.py, shared with test_scanner_phone.py). The
offline test cuts the browser's network with Playwright, scans with the handheld input, and checks the queue
reaches the server when the network returns.
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
from conference.core.models import Checkin
from tests.browser import scanning
from tests.support import CONTEXT

if TYPE_CHECKING:  # playwright is imported lazily, so that a missing install skips instead of erroring
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser


class Live(NamedTuple):
    base: str
    database_url: str
    staff_token: str
    delegate: dict[str, Any]
    code: str


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[Live]:
    with scanning.door_server(database_url, tmp_path, staff="Door A") as (base, tickets, token):
        delegate = scanning.register(base, tickets["delegate"], "Ada Lovelace")
        yield Live(base, database_url, token, delegate, scanning.badge_code(database_url, delegate))


@pytest.fixture
def browser_for() -> Iterator[Any]:
    """Makes a browser context (and closes everything afterwards); `camera` is the Y4M file it films."""
    with scanning.browsers(CONTEXT) as make:
        yield make


def _sign_in(page: Page, live: Live) -> list[str]:
    """Sign in as door staff (which lands on /scan); returns the CSP complaints chromium makes from now on."""
    from playwright.sync_api import expect

    complaints: list[str] = []
    page.on("console", lambda m: complaints.append(m.text) if "Content Security Policy" in m.text else None)
    scanning.sign_in_at_the_door(page, live.base, live.staff_token)  # a door device's way in
    expect(page.get_by_role("heading", level=1)).to_have_text("Check-in")
    # The door list (with the public key) is kept for offline answers.
    expect(page.locator("#list-info")).to_contain_text(
        "Kept for offline use: The conference (main door), 1 delegate"
    )
    return complaints


def _door_entry(live: Live) -> dict[str, Any]:
    listing = httpx.get(
        live.base + "/api/v1/checkins/door-list?list=door",
        headers={"authorization": f"Bearer {live.staff_token}"},
        timeout=10,
    ).json()
    entries: list[dict[str, Any]] = listing["entries"]
    return next(e for e in entries if e["reference"] == live.delegate["reference"])


def _checkins(url: str) -> list[tuple[str, bool, str]]:
    """(result, offline, device) of every scan recorded, in scan order."""
    query = sa.select(Checkin.result, Checkin.offline, Checkin.device).order_by(Checkin.scanned_at)
    return [(r.result, r.offline, r.device) for r in scanning.read_rows(url, query)]


def test_a_badge_held_up_to_the_camera_checks_the_delegate_in(
    live: Live, browser_for: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    camera = tmp_path / "badge.y4m"
    scanning.write_y4m(camera, qr_png(live.code))
    page = browser_for(camera).new_page()
    complaints = _sign_in(page, live)
    page.get_by_label("This device's name").fill("door-camera")
    page.get_by_label("This device's name").press("Tab")

    page.get_by_role("button", name="Start camera").click()
    result = page.locator("#result")
    expect(result.locator(".result-title")).to_have_text("Checked in")
    expect(result).to_contain_text("Ada Lovelace")
    expect(result).to_contain_text("Leeds City Council")
    expect(page.locator("#answer")).to_have_class(re.compile(r"\banswer--ok\b"))
    expect(result).to_have_attribute("role", "status")
    # Issue 19: a camera scan leaves the text field alone (on a phone its keyboard would cover the camera).
    expect(page.get_by_label("Badge code")).not_to_be_focused()
    page.screenshot(path=str(tmp_path / "camera-checked-in.png"))

    # Chromium on Linux has no BarcodeDetector for QR codes: then the page decoded with zxing-wasm.
    native = page.evaluate("""async () => 'BarcodeDetector' in window
        && (await BarcodeDetector.getSupportedFormats()).includes('qr_code')""")
    if not native:
        assert page.evaluate("typeof window.ZXingWASM") == "object"
    assert complaints == []

    entry = _door_entry(live)
    assert entry["checked_in_at"] is not None
    # The badge stays in view: the camera does not scan it again and again.
    page.wait_for_timeout(4_000)
    assert _checkins(live.database_url) == [("ok", False, "door-camera")]


def test_a_door_without_network_checks_in_offline_and_syncs_later(
    live: Live, browser_for: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    context = browser_for()
    page = context.new_page()
    _sign_in(page, live)
    page.get_by_label("This device's name").fill("door-b")
    page.get_by_label("This device's name").press("Tab")
    code_input = page.get_by_label("Badge code")
    code_input.focus()
    network = page.locator("#network")
    result = page.locator("#result")
    expect(network).to_contain_text("Online — 0 scans waiting")
    page.screenshot(path=str(tmp_path / "scanner.png"), full_page=True)

    context.set_offline(True)
    # A handheld scanner types the code and Enter into the focused input.
    page.keyboard.type(live.code)
    page.keyboard.press("Enter")
    expect(result.locator(".result-title")).to_have_text("Checked in")
    expect(result).to_contain_text("Ada Lovelace")
    expect(result.locator(".result-offline")).to_contain_text("Offline answer")
    expect(network).to_contain_text("Offline — 1 scan waiting")
    expect(code_input).to_be_focused()
    page.screenshot(path=str(tmp_path / "offline-checked-in.png"))

    # The same badge again, and a forged one: answered from the kept list and the signature, and queued too.
    page.keyboard.type(live.code)
    page.keyboard.press("Enter")
    title = result.locator(".result-title")
    expect(title).to_have_text(re.compile(r"^Already checked in at \d\d:\d\d at door-b$"))
    expect(page.locator("#answer")).to_have_class(re.compile(r"\banswer--warning\b"))
    i = len(live.code) - 10
    forged = live.code[:i] + ("A" if live.code[i] != "A" else "B") + live.code[i + 1 :]
    page.keyboard.type(forged)
    page.keyboard.press("Enter")
    expect(result.locator(".result-title")).to_have_text("Not a valid badge")
    expect(result).to_contain_text("This badge was not issued by the organisers.")
    expect(page.locator("#answer")).to_have_class(re.compile(r"\banswer--refused\b"))
    expect(network).to_contain_text("Offline — 3 scans waiting")
    page.screenshot(path=str(tmp_path / "offline-refused.png"))
    assert _checkins(live.database_url) == []

    context.set_offline(False)
    expect(network).to_contain_text("Online — 0 scans waiting")
    assert _door_entry(live)["checked_in_at"] is not None
    recorded = _checkins(live.database_url)
    assert [(r, offline) for r, offline, _device in recorded] == [
        ("ok", True),
        ("already_checked_in", True),
        ("invalid", True),
    ]
    assert {device for _r, _o, device in recorded} == {"door-b"}
    # Nothing is left in the browser's queue after a reload either.
    page.reload()
    expect(page.locator("#network")).to_contain_text("0 scans waiting")


def test_a_delegate_without_a_badge_is_found_and_checked_in_by_reference(
    live: Live, browser_for: Any
) -> None:
    from playwright.sync_api import expect

    context = browser_for()
    page = context.new_page()
    _sign_in(page, live)
    page.get_by_label("This device's name").fill("desk")
    page.get_by_label("This device's name").press("Tab")
    search = page.get_by_role("search")
    search.get_by_label("Name, reference or organisation").fill("lovelace")
    search.get_by_role("button", name="Search").click()
    expect(page.locator("#search-message")).to_have_text("1 delegate found.")
    found = page.locator("#search-results li")
    expect(found).to_contain_text(f"Leeds City Council · {live.delegate['reference']}")
    expect(found).to_contain_text("Not yet")  # issue 19: where she stands, not just her booking's status
    # The desk prints a badge for a delegate who came without one.
    expect(found.get_by_role("link", name=re.compile("Print badge"))).to_have_attribute(
        "href", f"/scan/badge/{live.delegate['reference']}.pdf"
    )
    found.get_by_role("button", name="Check in Ada Lovelace").click()
    result = page.locator("#result")
    expect(result.locator(".result-title")).to_have_text("Checked in")
    page.get_by_role("button", name="Next").click()
    expect(result).to_have_text("Ready to scan.")
    expect(page.get_by_label("Badge code")).to_be_focused()
    # Issue 19: searched again, she shows as in, with no "Check in" (it could only be refused).
    search.get_by_role("button", name="Search").click()
    expect(found).to_contain_text(re.compile(r"In at \d\d:\d\d"))
    expect(found.get_by_role("button", name=re.compile("Check in"))).to_have_count(0)
    assert [(r, device) for r, _offline, device in _checkins(live.database_url)] == [("ok", "desk")]

    # Offline, search answers from the list kept on the device.
    context.set_offline(True)
    search.get_by_label("Name, reference or organisation").fill("ada")
    search.get_by_role("button", name="Search").click()
    expect(page.locator("#search-message")).to_have_text("1 delegate found on this device's list (offline).")
