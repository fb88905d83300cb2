"""Every delegate page on a phone (issue 18), in Debian's chromium: at 390×844 and at 320 px wide nothing scrolls
sideways (`document.documentElement.scrollWidth <= innerWidth`); the programme shows its list, not its grid; a
duplicate ranking is shown beside the workshop with nothing lost; a seat is swapped by clicking; and axe-core finds
no serious or critical problem on the agenda (with and without a problem shown), the programme's list and the
session page.

The server is `conference serve` in its own process on a fresh database; axe-core comes from node_modules.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from conference.core.db import Database
from conference.web.auth import create_api_token
from tests import support
from tests.factories import make_conference, make_programme, registration_body
from tests.support import make_settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

PHONES = [{"width": 390, "height": 844}, {"width": 320, "height": 640}]
# Long words are what push a narrow page sideways: an organisation's full name, an address, a workshop title.
LONG_ORGANISATION = "Metropolitan Borough Council Safeguarding Partnership (Children, Families and Education)"
LONG_EMAIL = "firstname.middlename.lastname-safeguarding@metropolitanboroughcouncil.gov.uk"


@dataclass
class Event:
    base: str
    token: str
    sessions: dict[str, str]


async def _seed(url: str) -> tuple[dict[str, Any], dict[str, str], str]:
    database = Database.from_settings(make_settings(url))
    try:
        tickets = await make_conference(database, capacity=50)
        p = await make_programme(database)
        async with database.transaction() as db:
            organiser = await create_api_token(db, role="organiser", name="Phone test set-up")
        return tickets, {k: str(v) for k, v in p.sessions.items()}, organiser
    finally:
        await database.dispose()


@pytest.fixture
def event(database_url: str, tmp_path: Path) -> Iterator[Event]:
    support.require_chromium()
    tickets, sessions, organiser = asyncio.run(_seed(database_url))
    with support.live_server(database_url, log_path=tmp_path / "server.log") as base:
        phase = httpx.patch(
            base + "/api/v1/seat-booking",
            json={"choices_open": True, "booking_open": True},
            headers={"authorization": f"Bearer {organiser}"},
            timeout=10,
        )
        assert phase.status_code == 200, phase.text
        body = registration_body(tickets["delegate"], organisation=LONG_ORGANISATION, email=LONG_EMAIL)
        delegate = httpx.post(base + "/api/v1/registrations", json=body, timeout=10).json()
        yield Event(base, delegate["manage_token"], sessions)


def too_wide(page: Page) -> str:
    """'' when the page fits the viewport's width; else how wide it is and the widest elements sticking out."""
    found: dict[str, Any] = page.evaluate(
        """() => {
          const width = window.innerWidth, scroll = document.documentElement.scrollWidth;
          const out = [];
          if (scroll > width) {
            for (const el of document.querySelectorAll('body *')) {
              const r = el.getBoundingClientRect();
              if (r.right > width + 0.5 && r.width > 0) {
                out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${el.className}: ${Math.round(r.right)}`);
              }
            }
          }
          return {width, scroll, out: out.slice(0, 8)};
        }"""
    )
    if found["scroll"] <= found["width"]:
        return ""
    return f"{found['scroll']} px wide on {found['width']}: {found['out']}"


def delegate_pages(event: Event) -> dict[str, str]:
    t = event.token
    a = event.sessions["A"]
    return {
        "registration form": "/",
        "manage": f"/manage/{t}",
        "agenda": f"/manage/{t}/agenda",
        "talks": f"/manage/{t}/talks",
        "programme": "/programme",
        "session page": f"/programme/sessions/{a}",
        "delegate's session page": f"/manage/{t}/programme/sessions/{a}",
        "payment return (unknown payment)": "/payment/return?session_id=cs_test_unknown",
        "payment return (left the payment page)": f"/payment/return?cancelled=1&payment={uuid.uuid4()}",
        "message (an invalid link)": "/manage/m_not-a-link-anybody-holds",
        "privacy notice": "/privacy",
        "accessibility statement": "/accessibility",
    }


def test_no_delegate_page_scrolls_sideways_on_a_phone(event: Event, page: Page, artifacts: Path) -> None:
    from playwright.sync_api import expect

    wide: list[str] = []
    for viewport in PHONES:
        page.set_viewport_size(viewport)
        for name, path in delegate_pages(event).items():
            page.goto(event.base + path)
            page.wait_for_load_state()
            if problem := too_wide(page):
                wide.append(f"{name} at {viewport['width']}: {problem}")
                page.screenshot(path=str(artifacts / f"{viewport['width']}-{name}.png"), full_page=True)
        # The registration form with every problem shown (the longest version of the page).
        page.goto(event.base + "/")
        form = page.locator("form[action$='/register']")
        form.evaluate("f => f.noValidate = true")
        form.locator("button[type=submit]").click()
        page.wait_for_load_state()
        expect(page.locator("#error-summary")).to_be_visible()
        if problem := too_wide(page):
            wide.append(f"registration form with errors at {viewport['width']}: {problem}")
    assert not wide, "\n".join(wide)


def test_the_programme_is_a_list_on_a_phone_and_a_grid_on_a_laptop(event: Event, page: Page) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size(PHONES[0])
    page.goto(event.base + "/programme")
    expect(page.locator("#list-2026-12-08")).to_be_visible()
    expect(page.locator(".prog-grid").first).to_be_hidden()
    support.assert_axe_clean(page, "programme list")
    page.locator(f"#item-{event.sessions['A']}").get_by_role("link", name="Workshop A").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Workshop A")
    expect(page.locator("#seats")).to_contain_text("3 of 3 seats left")
    support.assert_axe_clean(page, "session page")

    page.set_viewport_size({"width": 1024, "height": 900})
    page.goto(event.base + "/programme")
    expect(page.locator(".prog-grid").first).to_be_visible()
    expect(page.locator("#list-2026-12-08")).to_be_hidden()


def test_rank_with_a_duplicate_then_swap_a_seat_by_clicking(event: Event, page: Page) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size(PHONES[0])
    agenda = f"{event.base}/manage/{event.token}/agenda"
    page.goto(agenda)
    a, b, c = (event.sessions[k] for k in ("A", "B", "C"))

    # Two workshops at 10:00 both "choice 1": the problem beside each, every choice kept, nothing saved.
    page.locator(f"#rank-{a}").select_option("1")
    page.locator(f"#rank-{b}").select_option("1")
    page.locator(f"#rank-{c}").select_option("2")
    page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_role("alert")).to_contain_text("Workshop A")
    expect(page.locator("#error-summary")).to_be_focused()  # a screen reader starts at the problem
    expect(page.locator(f"#rank-{a}-error")).to_contain_text("also your choice 1")
    expect(page.locator(f"#rank-{b}-error")).to_contain_text("also your choice 1")
    expect(page.locator(f"#rank-{a}")).to_have_value("1")
    expect(page.locator(f"#rank-{b}")).to_have_value("1")
    expect(page.locator(f"#rank-{c}")).to_have_value("2")
    assert not too_wide(page), too_wide(page)
    support.assert_axe_clean(page, "agenda with a problem")
    page.get_by_role("alert").get_by_role("link").first.click()
    expect(page.locator(f"#rank-{a}")).to_be_focused()
    page.locator(f"#rank-{b}").select_option("2")
    page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_role("status")).to_contain_text("Your choices are saved")

    # Book A, then swap it for B: "Book" is not offered at 10:00 any more, "Swap" is.
    page.get_by_role("button", name="Book Workshop A").click()
    expect(page.get_by_role("status")).to_contain_text("Your seat is booked")
    row_b = page.locator(f"#workshop-{b}")
    expect(row_b.get_by_role("button", name=re.compile("^Book"))).to_have_count(0)
    expect(row_b).to_contain_text("You have a seat in “Workshop A” at this time")
    assert not too_wide(page), too_wide(page)
    support.assert_axe_clean(page, "agenda with a seat")
    row_b.get_by_role("button", name="Swap Workshop A for Workshop B").click()
    expect(page.get_by_role("status")).to_contain_text("Your seat is swapped")
    expect(page.locator("#agenda")).to_contain_text("Workshop B")
    expect(page.locator("#agenda")).not_to_contain_text("Workshop A")
    expect(page.locator(f"#workshop-{a}").get_by_role("button", name=re.compile("^Swap"))).to_be_visible()
    assert not too_wide(page), too_wide(page)
