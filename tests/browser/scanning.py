"""What the door scanner's browser tests (test_scanner.py, test_scanner_phone.py) share: a conference served live
with a staff token, delegates registered over HTTP, chromium with a fake camera that films a badge, signing in as
door staff, and reading what the server recorded.

Chromium's fake camera plays a Y4M video of a real badge QR (signed like the printed ones), so the page's own
decoder (BarcodeDetector where chromium has one, else zxing-wasm from node_modules) reads it.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from PIL import Image

from badges import scanner
from badges.codes import BadgeSigner
from conference.core.db import Database
from conference.web.auth import create_api_token
from tests import support
from tests.factories import make_conference, registration_body
from tests.support import BROWSER_PATIENCE_MS, LAUNCH_ARGS, make_settings

if TYPE_CHECKING:  # playwright is imported lazily, so that a missing install skips instead of erroring
    from playwright.sync_api import BrowserContext, Page

FRAME = (640, 480)


async def _seed(url: str, staff: str) -> tuple[dict[str, uuid.UUID], str]:
    database = Database.from_settings(make_settings(url))
    try:
        tickets = await make_conference(database, capacity=10)
        async with database.transaction() as db:
            token = await create_api_token(db, role="staff", name=staff)
        return tickets, token
    finally:
        await database.dispose()  # before the server starts: no connection of ours outlives the seeding


@contextmanager
def door_server(
    database_url: str, tmp_path: Path, *, staff: str
) -> Iterator[tuple[str, dict[str, uuid.UUID], str]]:
    """A conference (capacity 10) served live (its log in `tmp_path`), with a staff token named `staff`: (base URL,
    tickets, token)."""
    support.require_chromium()
    for relative, _media_type in scanner.VENDOR.values():
        if not (scanner.NODE_MODULES / relative).is_file():
            pytest.fail(
                f"{relative} is missing from node_modules: run `npm ci` (./scripts/test does)", pytrace=False
            )
    tickets, token = asyncio.run(_seed(database_url, staff))
    with support.live_server(database_url, log_path=tmp_path / "server.log") as base:
        yield base, tickets, token


def register(base: str, ticket: uuid.UUID, name: str) -> dict[str, Any]:
    """A delegate registered through the live server's API: its 201 answer."""
    answer = httpx.post(base + "/api/v1/registrations", json=registration_body(ticket, name=name), timeout=10)
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def badge_code(database_url: str, delegate: dict[str, Any]) -> str:
    """The code printed on the delegate's (first) badge."""
    return BadgeSigner.from_settings(make_settings(database_url)).code_for(delegate["reference"], 1)


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


@contextmanager
def browsers(context_options: dict[str, Any]) -> Iterator[Callable[..., BrowserContext]]:
    """Makes browser contexts with `context_options` (and closes everything afterwards): `make(camera)` films
    the Y4M file `camera`, `make()` has no camera."""
    support.require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = []

        def make(camera: Path | None = None) -> BrowserContext:
            args = list(LAUNCH_ARGS)
            if camera is not None:
                args += [
                    "--use-fake-device-for-media-stream",
                    "--use-fake-ui-for-media-stream",
                    f"--use-file-for-fake-video-capture={camera}",
                ]
            browser = p.chromium.launch(executable_path=support.CHROMIUM, args=args)
            launched.append(browser)
            context = browser.new_context(**context_options)
            context.set_default_timeout(BROWSER_PATIENCE_MS)
            return context

        try:
            yield make
        finally:
            for browser in launched:
                browser.close()


def sign_in_at_the_door(page: Page, base: str, staff_token: str) -> None:
    """Sign in with a door device's API token, which lands on the scanner (/scan)."""
    from playwright.sync_api import expect

    page.goto(base + "/login")
    page.get_by_role("link", name="Sign in with an API token (door devices)").click()
    page.get_by_label("API token").fill(staff_token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(base + "/scan")


def read_rows(database_url: str, query: Any) -> list[Any]:
    """The rows of `query`, read in a thread: playwright's sync API runs its own event loop in this one."""

    async def read() -> list[Any]:
        database = Database.from_settings(make_settings(database_url))
        try:
            async with database.read() as db:
                return list((await db.execute(query)).all())
        finally:
            await database.dispose()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read()).result()
