"""The organisers' console in a real browser: sign in with email and password, approve a delegate, export the
delegate list as CSV; and axe-core's accessibility rules over the pages delegates, door staff and organisers use.

The server is `conference serve` in its own process on a fresh database. axe-core comes from node_modules (npm
devDependency), injected into each page by Playwright (which is not subject to the page's CSP).
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from conference import accounts
from conference.core.audit import Actor
from conference.core.db import Database
from tests import support
from tests.factories import make_conference, registration_body
from tests.support import make_settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "console test passphrase"
ORGANISER = "organiser@example.org"
STAFF = "door@example.org"
# WCAG 2.1 A and AA, the level public-sector sites in the UK must meet.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


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
        async with database.transaction() as db:
            for email, role in ((ORGANISER, "organiser"), (STAFF, "staff")):
                user = await accounts.add_user(
                    db, settings, email=email, role=role, actor=Actor("cli"), invite=False
                )
                await accounts.set_password(db, user, PASSWORD, actor=Actor("cli"))
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


def sign_in(page: Page, base: str, email: str, path: str) -> None:
    from playwright.sync_api import expect

    page.goto(base + path)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_organiser_signs_in_approves_a_delegate_and_exports_csv(
    event: Event, page: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page.goto(event.base + "/login")
    page.get_by_label("Email address").fill(ORGANISER)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not right")

    sign_in(page, event.base, ORGANISER, "/console/registrations?status=awaiting_approval")
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


def axe_violations(page: Page) -> list[dict[str, Any]]:
    if not AXE.exists():
        support.skip_or_fail("axe-core is not installed: run `npm ci`", "CONFERENCE_REQUIRE_BROWSER")
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def describe(violations: list[dict[str, Any]]) -> str:
    return json.dumps(
        [
            {
                "rule": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "where": [n["target"] for n in v["nodes"]][:5],
            }
            for v in violations
        ],
        indent=1,
    )


def test_axe_finds_no_serious_problems_on_public_staff_and_console_pages(event: Event, page: Page) -> None:
    from playwright.sync_api import expect

    checked: list[str] = []

    def check(path: str) -> None:
        page.goto(event.base + path)
        page.wait_for_load_state("networkidle")
        found = axe_violations(page)
        assert not found, f"{path}: {describe(found)}"
        checked.append(path)

    check("/")
    # The registration form again, showing its errors (error summary, aria-invalid fields).
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("alert")).to_be_visible()
    found = axe_violations(page)
    assert not found, f"/ with errors: {describe(found)}"
    check(f"/manage/{event.manage_token}")
    check(f"/manage/{event.manage_token}/erase")
    check("/programme")
    check("/call")
    check("/login")
    check("/password/forgot")

    sign_in(page, event.base, STAFF, "/scan")
    expect(page).to_have_url(re.compile(r"/scan"))
    check("/scan")
    page.context.clear_cookies()

    sign_in(page, event.base, ORGANISER, "/console/dashboard")
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
    found = axe_violations(page)
    assert any(v["id"] == "label" for v in found), describe(found)
