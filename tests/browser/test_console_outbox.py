"""The outbox in a real browser: an organiser without a mail server finds a colleague's password-reset email by
recipient, opens it and follows its link; axe-core finds no serious or critical problem on the outbox's pages
(the list, the list with a wrong filter, one email).

The server is `conference serve` in its own process on a fresh database; axe-core comes from node_modules.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from conference import accounts
from conference.core.audit import Actor
from conference.core.db import Database
from tests import support
from tests.factories import make_conference
from tests.support import make_settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]  # WCAG 2.1 A and AA
PASSWORD = "outbox test passphrase"
ORGANISER = "organiser@example.org"
LOST = "lost.colleague@example.org"


async def _seed(url: str) -> None:
    settings = make_settings(url)
    database = Database.from_settings(settings)
    try:
        await make_conference(database, capacity=50)
        async with database.transaction() as db:
            user = await accounts.add_user(
                db, settings, email=ORGANISER, role="organiser", actor=Actor("cli"), invite=False
            )
            await accounts.set_password(db, user, PASSWORD, actor=Actor("cli"))
            # A colleague's invitation: kept in the outbox, as there is no mail server.
            await accounts.add_user(db, settings, email=LOST, role="staff", actor=Actor("cli"))
    finally:
        await database.dispose()


@pytest.fixture
def base(database_url: str, tmp_path: Path) -> Iterator[str]:
    support.require_chromium()
    asyncio.run(_seed(database_url))
    with support.live_server(database_url, log_path=tmp_path / "server.log") as url:
        yield url


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


def test_an_organiser_reads_a_kept_invitation_and_the_pages_pass_axe(base: str, page: Page) -> None:
    from playwright.sync_api import expect

    page.goto(base + "/console/outbox")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Email address").fill(ORGANISER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Outbox")
    expect(page.locator(".brand")).to_have_text("Test Conference")  # the event's own name in the header
    found = axe_violations(page)
    assert not found, f"/console/outbox: {describe(found)}"

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
    found = axe_violations(page)
    assert not found, f"one email: {describe(found)}"
    link.click()
    expect(page).to_have_url(re.compile(r"/password/reset/pr_"))
    expect(page.get_by_label(re.compile("password", re.I)).first).to_be_visible()

    page.goto(base + "/console/outbox?status=lost")
    expect(page.get_by_role("alert")).to_contain_text("Choose a status from the list.")
    found = axe_violations(page)
    assert not found, f"/console/outbox with errors: {describe(found)}"
