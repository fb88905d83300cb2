"""The organisers' console in a real browser: sign in with email and password, approve a delegate, export the
delegate list as CSV; and axe-core's accessibility rules over the pages delegates, door staff and organisers use.

The server is `conference serve` in its own process on a fresh database. axe-core comes from node_modules (npm
devDependency), injected into each page by Playwright (which is not subject to the page's CSP).
"""

from __future__ import annotations

import asyncio
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from conference.core.db import Database
from tests import support
from tests.factories import make_conference, make_console_user, registration_body
from tests.support import make_settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

PASSWORD = "console test passphrase"
ORGANISER = "organiser@example.org"
STAFF = "door@example.org"


@dataclass
class Event:
    base: str
    manage_token: str
    awaiting: dict[str, Any]


async def _seed(url: str) -> dict[str, Any]:
    settings = make_settings(url)
    database = Database.from_settings(settings)
    try:
        tickets = await make_conference(database, capacity=50)
        for email, role in ((ORGANISER, "organiser"), (STAFF, "staff")):
            await make_console_user(database, settings, email=email, password=PASSWORD, role=role)
        return tickets
    finally:
        await database.dispose()


@pytest.fixture
def event(database_url: str, tmp_path: Path) -> Iterator[Event]:
    support.require_chromium()
    tickets = asyncio.run(_seed(database_url))
    with support.live_server(database_url, log_path=tmp_path / "server.log") as base:
        made = [
            httpx.post(base + "/api/v1/registrations", json=body, timeout=10).json()
            for body in (
                registration_body(tickets["delegate"], name="Grace Hopper", email="grace@leeds.gov.uk"),
                registration_body(
                    tickets["press"], name="Ida Tarbell", email="ida@press.example", organisation="Gazette"
                ),
            )
        ]
        assert made[1]["status"] == "awaiting_approval", made
        yield Event(base, made[0]["manage_token"], made[1])


def test_organiser_signs_in_approves_a_delegate_and_exports_csv(
    event: Event, page: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page.goto(event.base + "/login")
    page.get_by_label("Email address").fill(ORGANISER)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not right")

    support.console_sign_in(
        page,
        event.base,
        "/console/registrations?status=awaiting_approval",
        email=ORGANISER,
        password=PASSWORD,
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Registrations")
    page.get_by_role("link", name=event.awaiting["reference"]).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ida Tarbell")
    page.get_by_role("button", name=re.compile(r"^Approve")).click()
    expect(page.get_by_role("status")).to_contain_text("approved")

    page.goto(event.base + "/console/registrations")
    with page.expect_download() as download:
        page.locator("#exports li").filter(has_text="Delegate list").get_by_role("link", name="CSV").click()
    path = tmp_path / "delegates.csv"
    download.value.save_as(path)
    assert re.match(r"delegates-\d{4}-\d{2}-\d{2}\.csv", download.value.suggested_filename)
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = {row["Reference"]: row for row in csv.DictReader(f)}
    assert rows[event.awaiting["reference"]]["Status"] in ("Confirmed", "confirmed")
    assert len(rows) == 2


# --- accessibility ------------------------------------------------------------------------------------------


def test_axe_finds_no_serious_problems_on_public_staff_and_console_pages(event: Event, page: Page) -> None:
    from playwright.sync_api import expect

    checked: list[str] = []

    def check(path: str) -> None:
        page.goto(event.base + path)
        page.wait_for_load_state("networkidle")
        support.assert_axe_clean(page, path)
        checked.append(path)

    check("/")
    # The registration form again, showing its errors (error summary, aria-invalid fields).
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("alert")).to_be_visible()
    support.assert_axe_clean(page, "/ with errors")
    check(f"/manage/{event.manage_token}")
    check(f"/manage/{event.manage_token}/erase")
    check("/programme")
    check("/call")
    check("/login")
    check("/password/forgot")

    support.console_sign_in(page, event.base, "/scan", email=STAFF, password=PASSWORD)
    expect(page).to_have_url(re.compile(r"/scan"))
    check("/scan")
    page.context.clear_cookies()

    support.console_sign_in(page, event.base, "/console/dashboard", email=ORGANISER, password=PASSWORD)
    expect(page.locator("canvas").first).to_be_visible()
    check("/console/dashboard")
    check("/console/registrations")
    check("/console/account")
    check("/console/users")
    check("/console/messages/new")
    check("/console/audit")
    check(f"/console/registrations/{event.awaiting['id']}")
    assert len(checked) == 15


def test_axe_catches_a_real_problem(event: Event, page: Page) -> None:
    """The check above could pass by running nothing: here an unlabelled field must be found."""
    page.goto(event.base + "/")
    page.evaluate("document.querySelector('label[for=email]').remove()")
    found = support.axe_problems(page)
    assert any(v["id"] == "label" for v in found), support.describe_axe(found)
