"""Issue 17's journey, by clicking only: from an empty database with one organiser account (made with `conference
user add`), an organiser sets the event up (details, capacity, a free and a priced ticket type, a required choice
question and an optional text question, two rooms, two slots, a session), opens registration; a delegate registers
through `/` answering the questions; the organiser finds the answers in the registration's console view and in
the CSV and XLSX exports, then moves the session to another room, cancels it (the confirmation says who is told),
restores it, and checks `/programme`.

The server is `conference serve` in its own process; nothing is seeded but the organiser's account.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from tests import support

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

ORGANISER = "organiser@council.example"
PASSWORD = "set up the whole event by clicking"
LONDON = ZoneInfo("Europe/London")
STRAND = "Which strand interests you most?"
NOTE = "Anything the organisers should know?"


def local(days: int, hour: int, minute: int = 0) -> str:
    """A datetime-local value `days` from today, London time."""
    today = datetime.now(LONDON).date()
    moment = datetime(today.year, today.month, today.day, hour, minute, tzinfo=LONDON) + timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def base(database_url: str, tmp_path: Path) -> object:
    support.require_chromium()
    added = subprocess.run(
        [
            sys.executable,
            "-m",
            "conference.server.cli",
            "user",
            "add",
            ORGANISER,
            "--role",
            "organiser",
            "--name",
            "Events team",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        env={
            **os.environ,
            "CONFERENCE_DATABASE_URL": database_url,
            "CONFERENCE_SECRET_KEY": support.SECRET_KEY,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert added.returncode == 0, added.stderr
    with support.live_server(database_url, log_path=tmp_path / "server.log") as url:
        yield url


def test_an_organiser_sets_up_and_runs_the_event_by_clicking(base: str, page: Page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    status = page.get_by_role("status")

    # Sign in: with nothing set up, the console opens on the set-up form.
    page.goto(base + "/console")
    page.get_by_label("Email address").fill(ORGANISER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up your event")

    page.get_by_label("Event name").fill("Safer Communities Conference 2027")
    page.get_by_label(re.compile("^Starts")).fill(local(120, 9))
    page.get_by_label(re.compile("^Ends")).fill(local(121, 17))
    page.get_by_label("Time zone").fill("Europe/London")
    page.get_by_label(re.compile(r"^Venue( \(optional\))?$")).fill("Leeds Conference Centre")
    page.get_by_label(re.compile("^Venue address")).fill("1 Civic Way\nLeeds LS1 1AA")
    page.get_by_label("Capacity").fill("200")
    page.get_by_role("button", name=re.compile("^Save")).click()
    expect(status).to_contain_text("The event is set up")

    # Ticket types: a free one for the public sector and a priced one paid by invoice.
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Ticket types").click()
    for name, price in (("Public sector", "0"), ("Commercial", "395")):
        page.get_by_role("link", name="Add a ticket type").click()
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_label(re.compile("^Price")).fill(price)
        if price != "0":
            page.get_by_label("Invoice against a purchase order").check()
        page.get_by_role("button", name="Add the ticket type").click()
        expect(status).to_contain_text("The ticket type is added")
        expect(page.locator("main")).to_contain_text(name)

    # Questions: one required choice, one optional text.
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Questions").click()
    page.get_by_role("link", name="Add a question").click()
    page.get_by_label("Question", exact=True).fill(STRAND)
    page.get_by_label("One choice from a list").check()
    page.get_by_label("Options").fill("Policing\nEducation\nHealth")
    page.get_by_label("Delegates must answer it").check()
    page.get_by_role("button", name="Add the question").click()
    expect(status).to_contain_text("The question is added")
    page.get_by_role("link", name="Add a question").click()
    page.get_by_label("Question", exact=True).fill(NOTE)
    page.get_by_label("Short text").check()
    page.get_by_role("button", name="Add the question").click()
    expect(status).to_contain_text("The question is added")

    # The programme: two rooms, two slots on the first day, one session.
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Programme").click()
    for room, seats in (("Aire Room", "40"), ("Calder Room", "60")):
        page.locator("#room_name").fill(room)
        page.locator("#room_capacity").fill(seats)
        page.get_by_role("button", name="Add room").click()
        expect(page.locator("#rooms")).to_contain_text(room)
    for start, end in ((local(120, 10), local(120, 11)), (local(120, 11, 30), local(120, 12, 30))):
        page.locator("#slot_start").fill(start)
        page.locator("#slot_end").fill(end)
        page.get_by_role("button", name="Add time slot").click()
    page.locator("#title").fill("Joint triage in the community")
    page.locator("#kind").select_option("workshop")
    page.locator("#room_id").select_option(label="Aire Room (40)")
    page.locator("#slot_count").fill("1")
    page.get_by_role("button", name="Add session").click()
    expect(page.locator("#sessions")).to_contain_text("Joint triage in the community")
    page.get_by_label("Delegates may book seats (first come, first served)").check()
    page.get_by_role("button", name="Save", exact=True).click()

    # Open registration.
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Event settings").click()
    page.get_by_label("Take registrations").check()
    page.get_by_role("button", name=re.compile("^Save")).click()
    expect(status).to_contain_text("saved")
    expect(page.locator("#registration-state")).to_have_text("open")

    # A delegate registers through the public form, answering the questions (the required one forgotten first).
    delegate = page.context.new_page()
    delegate.goto(base + "/")
    delegate.get_by_label("Full name").fill("Grace Okafor")
    delegate.get_by_label("Email address").fill("grace.okafor@leeds.gov.uk")
    delegate.get_by_label("Organisation", exact=True).fill("Leeds City Council")
    delegate.get_by_label("Sector", exact=True).select_option("local_authority")
    delegate.get_by_label(re.compile(r"^Public sector")).check()
    delegate.get_by_label(re.compile(f"^{re.escape(NOTE)}")).fill("Arriving by train")
    delegate.get_by_label(re.compile("^I agree")).check()
    delegate.get_by_role("button", name="Register").click()
    expect(delegate.get_by_role("alert")).to_contain_text(STRAND)
    delegate.get_by_label("Education").check()
    delegate.get_by_role("button", name="Register").click()
    expect(delegate.get_by_role("heading", level=1)).not_to_contain_text("Register")
    # ... and books a seat in the session from their booking page.
    delegate.get_by_role("link", name="Your workshops and agenda").click()
    delegate.get_by_role("button", name="Book Joint triage in the community").click()
    expect(delegate.get_by_role("status")).to_contain_text("Your seat is booked")
    delegate.close()

    # The organiser finds the answers in the registration's view and both exports.
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Registrations").click()
    page.get_by_role("row", name=re.compile("Grace Okafor")).get_by_role("link").first.click()
    answers = page.locator("main")
    expect(answers).to_contain_text(STRAND)
    expect(answers).to_contain_text("Education")
    expect(answers).to_contain_text("Arriving by train")
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Registrations").click()
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="CSV").first.click()
    rows = list(csv.DictReader(io.StringIO(Path(csv_download.value.path()).read_text(encoding="utf-8-sig"))))
    (row,) = [r for r in rows if "Grace Okafor" in r.values()]
    assert row[STRAND] == "Education" and row[NOTE] == "Arriving by train", row
    with page.expect_download() as xlsx_download:
        page.get_by_role("link", name="Excel").first.click()
    xlsx = tmp_path / "delegates.xlsx"  # openpyxl goes by the file's extension
    xlsx_download.value.save_as(xlsx)
    sheet = openpyxl.load_workbook(xlsx, read_only=True).worksheets[0]
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = table[0]
    (line,) = [r for r in table[1:] if "Grace Okafor" in r]
    assert line[header.index(STRAND)] == "Education" and line[header.index(NOTE)] == "Arriving by train"

    # The session: moved to the other room, cancelled (the confirmation first), restored.
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Programme").click()
    page.get_by_role("link", name="Edit Joint triage in the community").click()
    page.get_by_label("Room").select_option(label="Calder Room (60 seats)")
    page.get_by_role("button", name=re.compile("^Save")).click()
    expect(status).to_contain_text("The session is saved")
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Programme").click()
    expect(page.locator("#sessions")).to_contain_text("Calder Room")
    page.get_by_role("link", name="Cancel Joint triage in the community").click()
    expect(page.locator("#told")).to_contain_text("1 delegate with a seat will be emailed")
    page.get_by_role("button", name=re.compile("^Cancel “Joint triage in the community”")).click()
    expect(status).to_contain_text("1 delegate(s) with seats have been emailed")
    # No mail server here: the email is kept in the outbox, where the organiser can read it.
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Outbox").click()
    expect(page.locator("main")).to_contain_text("grace.okafor@leeds.gov.uk")
    page.goto(base + "/programme")
    expect(page.locator("main")).to_contain_text("Cancelled")
    page.goto(base + "/console/programme")
    page.get_by_role("link", name="Restore Joint triage in the community").click()
    page.get_by_role("button", name="Restore “Joint triage in the community”").click()
    expect(status).to_contain_text("restored")
    page.goto(base + "/programme")
    programme = page.locator("main")
    expect(programme).to_contain_text("Joint triage in the community")
    expect(programme).to_contain_text("Calder Room")
    expect(programme).not_to_contain_text("Cancelled")
