"""What every browser test shares: how Debian's chromium is launched, and a page in a fresh context."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests import support

if TYPE_CHECKING:  # playwright is imported lazily, so that a missing install skips instead of erroring
    from playwright.sync_api import Page

LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CONTEXT = {"viewport": {"width": 1024, "height": 900}, "locale": "en-GB"}


@pytest.fixture
def page() -> Iterator[Page]:
    support.require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=support.CHROMIUM, args=LAUNCH_ARGS)
        try:
            context = browser.new_context(**CONTEXT, accept_downloads=True)
            context.set_default_timeout(10_000)
            yield context.new_page()
            context.close()
        finally:
            browser.close()
