"""The door scanner (/scan) in a real browser: a badge held up to the camera, a door that loses its network,
and a delegate without a badge.

Chromium's fake camera plays a Y4M video of a real badge QR (signed like the printed ones), so the page's own
decoder (BarcodeDetector where chromium has one, else zxing-wasm from node_modules) reads it. The offline test
cuts the browser's network with Playwright, scans with the handheld input, and checks the queue reaches the
server when the network returns.
"""

from __future__ import annotations

import asyncio
import io
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image

from badges import scanner
from badges.codes import BadgeSigner
from badges.render import qr_png
from conference.core.db import Database
from conference.core.models import Checkin
from conference.web.auth import create_api_token
from tests import support
from tests.factories import make_conference, registration_body
from tests.support import BROWSER_PATIENCE_MS, CONTEXT, LAUNCH_ARGS, make_settings

if TYPE_CHECKING:  # playwright is imported lazily, so that a missing install skips instead of erroring
    from playwright.sync_api import BrowserContext, Page

pytestmark = pytest.mark.browser

FRAME = (640, 480)


class Live(NamedTuple):
    base: str
    database_url: str
    staff_token: str
    delegate: dict[str, Any]
    code: str


async def _seed(url: str) -> tuple[dict[str, uuid.UUID], str]:
    database = Database.from_settings(make_settings(url))
    try:
        tickets = await make_conference(database, capacity=10)
        async with database.transaction() as db:
            token = await create_api_token(db, role="staff", name="Door A")
        return tickets, token
    finally:
        await database.dispose()  # before the server starts: no connection of ours outlives the seeding


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[Live]:
    support.require_chromium()
    for relative, _media_type in scanner.VENDOR.values():
        if not (scanner.NODE_MODULES / relative).is_file():
            pytest.fail(
                f"{relative} is missing from node_modules: run `npm ci` (./scripts/test does)", pytrace=False
            )
    tickets, token = asyncio.run(_seed(database_url))
    with support.live_server(database_url, log_path=tmp_path / "server.log") as base:
        answer = httpx.post(
            base + "/api/v1/registrations",
            json=registration_body(tickets["delegate"], name="Ada Lovelace"),
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        delegate = answer.json()
        code = BadgeSigner.from_settings(make_settings(database_url)).code_for(delegate["reference"], 1)
        yield Live(base, database_url, token, delegate, code)


def write_y4m(path: Path, png: bytes, *, frames: int = 10) -> None:
    """A YUV4MPEG2 (4:2:0) video of the QR, large and centred on white: what chromium plays as its camera."""
    width, height = FRAME
    qr = Image.open(io.BytesIO(png)).convert("L")
    side = int(height * 0.85)
    canvas = Image.new("L", FRAME, 255)
    corner = ((width - side) // 2, (height - side) // 2)
    canvas.paste(qr.resize((side, side), Image.Resampling.NEAREST), corner)
    # Studio-range luma (16 black to 235 white), as a camera's I420 frames have it; no colour.
    luma = canvas.point(lambda v: 16 + v * 219 // 255).tobytes()
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for _ in range(frames):
            out.write(b"FRAME\n" + luma + chroma + chroma)


@pytest.fixture
def browser_for(tmp_path: Path) -> Iterator[Any]:
    """Makes a browser context (and closes everything afterwards); `camera` is the Y4M file it films."""
    support.require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browsers = []

        def make(camera: Path | None = None) -> BrowserContext:
            args = list(LAUNCH_ARGS)
            if camera is not None:
                args += [
                    "--use-fake-device-for-media-stream",
                    "--use-fake-ui-for-media-stream",
                    f"--use-file-for-fake-video-capture={camera}",
                ]
            browser = p.chromium.launch(executable_path=support.CHROMIUM, args=args)
            browsers.append(browser)
            context = browser.new_context(**CONTEXT)
            context.set_default_timeout(BROWSER_PATIENCE_MS)
            return context

        try:
            yield make
        finally:
            for browser in browsers:
                browser.close()


def _sign_in(page: Page, live: Live) -> list[str]:
    """Sign in as door staff (which lands on /scan); returns the CSP complaints chromium makes from now on."""
    from playwright.sync_api import expect

    complaints: list[str] = []
    page.on("console", lambda m: complaints.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(live.base + "/login")
    page.get_by_role(
        "link", name="Sign in with an API token (door devices)"
    ).click()  # a door device's way in
    page.get_by_label("API token").fill(live.staff_token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live.base + "/scan")
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
    """(result, offline, device) of every scan recorded, in scan order (read in a thread: Playwright)."""

    async def read() -> list[tuple[str, bool, str]]:
        database = Database.from_settings(make_settings(url))
        try:
            async with database.read() as db:
                rows = await db.execute(
                    sa.select(Checkin.result, Checkin.offline, Checkin.device).order_by(Checkin.scanned_at)
                )
                return [(r.result, r.offline, r.device) for r in rows]
        finally:
            await database.dispose()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read()).result()


def test_a_badge_held_up_to_the_camera_checks_the_delegate_in(
    live: Live, browser_for: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    camera = tmp_path / "badge.y4m"
    write_y4m(camera, qr_png(live.code))
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
    expect(result.locator(".result-title")).to_have_text("Not a valid badge: bad signature")
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
