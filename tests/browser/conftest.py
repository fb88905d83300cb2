"""What every browser test shares: a page in a fresh context of Debian's chromium (launched as support.LAUNCH_ARGS
says)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests import support
from tests.support import BROWSER_PATIENCE_MS, CONTEXT, LAUNCH_ARGS

if TYPE_CHECKING:  # playwright is imported lazily, so that a missing install skips instead of erroring
    from playwright.sync_api import Page


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """playwright's expect() waits up to BROWSER_PATIENCE_MS for what it expects, as actions do (set on each
    context): its own default, 5 s, is not the context's, and is too little on a busy machine."""
    try:
        from playwright.sync_api import expect
    except ImportError:  # the tests skip (support.require_chromium)
        yield
        return
    expect.set_options(timeout=BROWSER_PATIENCE_MS)
    yield
    expect.set_options(timeout=5_000)  # playwright's default


@pytest.fixture
def page() -> Iterator[Page]:
    support.require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=support.CHROMIUM, args=LAUNCH_ARGS)
        try:
            context = browser.new_context(**CONTEXT, accept_downloads=True)
            context.set_default_timeout(BROWSER_PATIENCE_MS)
            yield context.new_page()
            context.close()
        finally:
            browser.close()
