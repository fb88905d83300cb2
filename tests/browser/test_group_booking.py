"""Issue 20's group booking in a real browser (Debian's chromium driven by Playwright): a lead books 5 colleagues
from a CSV upload on one purchase order, one member corrects their name from their own link, the lead cancels
another (a credit note is issued), and the console shows the group. axe-core finds no serious problem on any page,
and the public pages fit a 390-pixel phone without sideways scrolling.

The server is `conference serve` in its own process on a fresh database.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference.core.db import Database
from conference.core.models import Conference, Registration, TicketType, utcnow
from conference.core.security import manage_token
from tests import support
from tests.factories import make_conference, make_console_user
from tests.support import SECRET_KEY, make_settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

PHONE_WIDTH = 390
ORGANISER, PASSWORD = "organiser@conference.example", "a long organiser passphrase 42"
COLLEAGUES = [(f"Colleague {n}", f"colleague{n}@leeds.gov.uk") for n in range(1, 6)]


async def _seed(url: str) -> dict[str, uuid.UUID]:
    settings = make_settings(url)
    database = Database.from_settings(settings)
    try:
        tickets = await make_conference(database, capacity=20)
        await make_console_user(database, settings, email=ORGANISER, password=PASSWORD)
        now = utcnow().replace(second=0, microsecond=0)
        async with database.transaction() as db:  # a month ahead: delegates may still change their details
            await db.execute(
                sa.update(Conference).values(
                    starts_at=now + timedelta(days=30), ends_at=now + timedelta(days=31)
                )
            )
            # The priced type, with no cap of its own: the group takes 5 of the conference's 20 places.
            await db.execute(
                sa.update(TicketType).where(col(TicketType.id) == tickets["exhibitor"]).values(cap=None)
            )
        return tickets
    finally:
        await database.dispose()


async def _members(url: str) -> list[Registration]:
    database = Database.from_settings(make_settings(url))
    try:
        async with database.read() as db:
            stmt = (
                sa.select(Registration)
                .where(col(Registration.group_id).is_not(None))
                .order_by(col(Registration.number))
            )
            return list((await db.execute(stmt)).scalars())
    finally:
        await database.dispose()


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    support.require_chromium()
    asyncio.run(_seed(database_url))
    with support.live_server(database_url, log_path=tmp_path / "server.log") as base:
        yield base, database_url


def fits(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH, "sideways scroll at 390 px"


def test_a_lead_books_five_colleagues_from_a_csv_on_one_po_and_manages_the_group(
    server: tuple[str, str], page: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    base, url = server
    page.set_viewport_size({"width": PHONE_WIDTH, "height": 844})
    page.goto(base + "/")
    page.get_by_role("link", name="Book as a group").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Book places for a group of colleagues")
    support.assert_axe_clean(page, "the group form")
    fits(page)

    page.get_by_label("Your full name").fill("Lena Lead")
    page.get_by_label("Your email address").fill("lena.lead@leeds.gov.uk")
    page.get_by_label("Organisation", exact=True).fill("Leeds City Council")
    page.get_by_label("Sector", exact=True).select_option("local_authority")
    page.get_by_role("radio", name=re.compile(r"^Exhibitor")).check()
    page.get_by_role("radio", name=re.compile(r"One invoice")).check()
    page.get_by_label("Organisation to invoice").fill("Leeds City Council")
    page.get_by_label("Finance contact", exact=True).fill("Accounts Payable")
    page.get_by_label("Finance contact's email").fill("ap@leeds.gov.uk")
    page.get_by_label("Invoice address").fill("Civic Hall, Calverley Street, Leeds LS1 1UR")
    page.get_by_label("Purchase order number").fill("PO-2026-0042")

    csv = tmp_path / "colleagues.csv"
    csv.write_bytes(
        ("\ufeffName,Email,Job title\n" + "".join(f"{n},{e},Officer\n" for n, e in COLLEAGUES)).encode()
    )
    page.get_by_text("Upload a spreadsheet of names instead").click()
    page.get_by_label(re.compile("File of colleagues")).set_input_files(str(csv))
    page.get_by_role("button", name="Upload and preview").click()
    preview = page.locator("#preview")
    expect(preview).to_contain_text("5 people read from the file")
    expect(preview).to_contain_text("No problems found")
    expect(page.locator("#preview-table tbody tr")).to_have_count(5)
    page.screenshot(path=str(tmp_path / "1-preview.png"), full_page=True)
    support.assert_axe_clean(page, "the group form with its preview")
    fits(page)

    page.get_by_label(re.compile("My colleagues know I am booking")).check()
    page.get_by_role("button", name="Book 5 places").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Group booking received")
    lead_page = page.url.split("?")[0]
    members = page.locator("#members tbody tr")
    expect(members).to_have_count(5)
    for name, _ in COLLEAGUES:
        expect(page.locator("#members")).to_contain_text(name)
    expect(page.locator("#group-summary")).to_contain_text("PO-2026-0042")
    expect(page.locator("#group-invoices")).to_contain_text("Invoice")
    support.assert_axe_clean(page, "the lead's page")
    fits(page)

    # One invoice for the group, on the purchase order, a line per colleague.
    link = page.locator("#group-invoices a").first
    with page.expect_download() as got:
        link.click()
    text, _pages = support.pdf_text(Path(got.value.path()).read_bytes())
    assert "PO-2026-0042" in text
    for name, _ in COLLEAGUES:
        assert name in text

    # Colleague 1 corrects their name from their own link (the one emailed to them).
    with ThreadPoolExecutor(1) as pool:  # playwright's own event loop runs in this thread
        booked = pool.submit(asyncio.run, _members(url)).result()
    assert [m.email for m in booked] == [e for _, e in COLLEAGUES]
    first, second = booked[0], booked[1]
    page.goto(f"{base}/manage/{manage_token(SECRET_KEY, first.id, first.token_version)}")
    page.get_by_role("link", name="Change your details").click()
    page.get_by_label("Full name").fill("Colleague One-Smith")
    page.get_by_role("button", name="Save my details").click()
    expect(page.locator("#details-saved")).to_have_text("Your details are saved.")

    # The lead cancels Colleague 2: confirmed first, then a credit note for that line.
    page.goto(lead_page)
    expect(page.locator("#members")).to_contain_text("Colleague One-Smith")
    page.get_by_role("link", name="Cancel Colleague 2's place").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Cancel Colleague 2's place?")
    support.assert_axe_clean(page, "the cancel confirmation")
    page.get_by_role("button", name="Yes, cancel Colleague 2's place").click()
    expect(page.locator("#done")).to_contain_text("credit note")
    expect(page.locator(f"#member-{second.reference}")).to_contain_text("Cancelled")
    credit = page.locator("#group-invoices a", has_text="Credit note")
    expect(credit).to_have_count(1)
    with page.expect_download() as got:
        credit.click()
    text, _pages = support.pdf_text(Path(got.value.path()).read_bytes())
    assert "Colleague 2" in text and "Colleague 3" not in text
    with page.expect_download() as got:
        page.get_by_role("link", name="Download the group as a CSV").click()
    sheet = Path(got.value.path()).read_text()
    assert "Colleague One-Smith" in sheet and "cancelled" in sheet
    page.screenshot(path=str(tmp_path / "2-lead-page.png"), full_page=True)

    # The console lists the group (filtered by organisation), and its page shows the members as they are now.
    page.set_viewport_size({"width": 1024, "height": 900})
    support.console_sign_in(page, base, "/console/groups", email=ORGANISER, password=PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Group bookings")
    page.get_by_label("Organisation", exact=True).fill("leeds")
    page.get_by_label("Payment", exact=True).select_option("invoice")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#groups tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Leeds City Council")
    expect(rows.first).to_contain_text("4 of 5")
    support.assert_axe_clean(page, "the console's groups")
    with page.expect_download() as got:
        page.get_by_role("link", name="Download these groups as CSV").click()
    assert "PO-2026-0042" in Path(got.value.path()).read_text(encoding="utf-8-sig")
    rows.first.get_by_role("link").click()
    expect(page.locator("#members")).to_contain_text("Colleague One-Smith")
    expect(page.locator("#group-details")).to_contain_text("PO-2026-0042")
    support.assert_axe_clean(page, "the console's group page")
