"""The ticket-type and hand-booking pages in a real browser: an organiser adds an early-bird type and books a
complimentary speaker by clicking, and axe-core finds no serious or critical problem on any of these pages (also
when they show their errors).

The server is `conference serve` in its own process on a fresh database; axe-core comes from node_modules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests import support
from tests.browser import live_site

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

PASSWORD = "ticket types test passphrase"
ORGANISER = live_site.ORGANISER


@dataclass
class Event:
    base: str
    tickets: dict[str, Any]


@pytest.fixture
def event(database_url: str, tmp_path: Path) -> Iterator[Event]:
    with live_site.served(database_url, tmp_path, password=PASSWORD) as (base, tickets):
        yield Event(base, tickets)


def test_organiser_sets_up_a_type_and_books_by_hand_and_axe_finds_nothing_serious(
    event: Event, page: Page
) -> None:
    from playwright.sync_api import expect

    checked: list[str] = []

    def check(what: str) -> None:
        page.wait_for_load_state("networkidle")
        support.assert_axe_clean(page, what)
        checked.append(what)

    support.console_sign_in(page, event.base, "/console/ticket-types", email=ORGANISER, password=PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Ticket types")
    check("the list")
    page.get_by_role("link", name="Add a ticket type").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a ticket type")
    check("the new form")

    # Wrong on purpose: every problem in the summary, linked to its field.
    page.get_by_label("Price before VAT").fill("-10")
    page.get_by_label("Places of this type").fill("500")
    page.get_by_role("button", name="Add the ticket type").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Give the ticket type a name")
    expect(summary).to_contain_text("cannot be negative")
    expect(summary).to_contain_text("capacity of 50 places")
    check("the form with its errors")
    expect(summary.get_by_role("link", name=re.compile("Price before VAT"))).to_have_attribute(
        "href", "#price"
    )

    page.get_by_label("Name").fill("Early bird")
    page.get_by_label("Price before VAT").fill("299.50")
    page.get_by_label("Places of this type").fill("20")
    page.get_by_label("On sale until (optional)").fill("2099-10-31T23:59")
    page.get_by_role("button", name="Add the ticket type").click()
    expect(page.get_by_role("status")).to_contain_text("The ticket type is added.")
    row = page.locator("#ticket-types tr").filter(has_text="Early bird")
    expect(row).to_contain_text("£299.50 + 20% VAT")
    expect(row).to_contain_text("31 Oct 2099")
    check("the list after adding")

    row.get_by_role("button", name=re.compile("^Up")).click()
    expect(page.get_by_role("status")).to_contain_text("order is saved")
    page.locator("#ticket-types tr").filter(has_text="Early bird").get_by_role(
        "link", name="Early bird", exact=True
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit Early bird")
    check("the edit form")
    page.goto(event.base + f"/console/ticket-types/{event.tickets['speaker']}/delete")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Delete the ticket type Speaker")
    check("the delete confirmation")

    page.get_by_role("navigation", name="Console").get_by_role("link", name="Add a registration").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a registration by hand")
    check("the booking form")
    page.get_by_role("button", name="Add the registration").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose a ticket type")
    check("the booking form with its errors")
    page.get_by_label("Ticket type", exact=True).select_option(str(event.tickets["speaker"]))
    page.get_by_label("Full name", exact=True).fill("Dr Keynote")
    page.get_by_label("Email address", exact=True).fill("keynote@university.ac.uk")
    page.get_by_label("Organisation", exact=True).fill("University of Leeds")
    page.get_by_label("Sector").select_option("further_higher_education")
    page.get_by_label(re.compile("^Complimentary")).check()
    page.get_by_role("button", name="Add the registration").click()
    done = page.get_by_role("status")
    expect(done).to_contain_text("added and confirmed")
    expect(done).to_contain_text("Dr Keynote")
    check("the booking form after booking")
    done.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dr Keynote")
    assert len(checked) == 9
