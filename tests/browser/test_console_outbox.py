"""The outbox in a real browser: an organiser without a mail server finds a colleague's password-reset email by
recipient, opens it and follows its link; axe-core finds no serious or critical problem on the outbox's pages
(the list, the list with a wrong filter, one email).

The server is `conference serve` in its own process on a fresh database; axe-core comes from node_modules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conference import accounts
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.settings import Settings
from tests import support
from tests.browser import live_site

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

PASSWORD = "outbox test passphrase"
ORGANISER = live_site.ORGANISER
LOST = "lost.colleague@example.org"


async def _invite_a_colleague(database: Database, settings: Settings) -> None:
    async with database.transaction() as db:
        # A colleague's invitation: kept in the outbox, as there is no mail server.
        await accounts.add_user(db, settings, email=LOST, role="staff", actor=Actor("cli"))


@pytest.fixture
def base(database_url: str, tmp_path: Path) -> Iterator[str]:
    with live_site.served(database_url, tmp_path, password=PASSWORD, then=_invite_a_colleague) as (url, _):
        yield url


def test_an_organiser_reads_a_kept_invitation_and_the_pages_pass_axe(base: str, page: Page) -> None:
    from playwright.sync_api import expect

    support.console_sign_in(page, base, "/console/outbox", email=ORGANISER, password=PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Outbox")
    expect(page.locator(".brand")).to_have_text("Test Conference")  # the event's own name in the header
    support.assert_axe_clean(page, "/console/outbox")

    page.get_by_label("Recipient").fill("lost.colleague")
    page.get_by_role("button", name="Find").click()
    rows = page.locator("#outbox tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Console account invitation")
    rows.first.get_by_role("link").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your conference console account")
    expect(page.locator("#sensitive")).to_be_visible()
    link = page.locator("#body a")
    expect(link).to_have_count(1)
    support.assert_axe_clean(page, "one email")
    link.click()
    expect(page).to_have_url(re.compile(r"/password/reset/pr_"))
    expect(page.get_by_label(re.compile("password", re.I)).first).to_be_visible()

    page.goto(base + "/console/outbox?status=lost")
    expect(page.get_by_role("alert")).to_contain_text("Choose a status from the list.")
    support.assert_axe_clean(page, "/console/outbox with errors")
