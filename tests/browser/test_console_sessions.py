"""A session edited, cancelled and restored in a real browser by clicking, and axe-core over every page of it (the
edit form, with and without errors; the cancel and restore confirmations; /programme and the delegate's agenda
showing "Cancelled"; the programme console page with its menu; the schedule page asking to confirm a draft that is
no better than the published one; the audit log in words). Issue 17.

The server is `conference serve` in its own process on a fresh database; axe-core comes from node_modules.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from conference.core.db import Database
from conference.web.auth import create_api_token
from tests import support
from tests.factories import (
    make_conference,
    make_console_user,
    make_programme,
    proposal_body,
    registration_body,
    set_call,
)
from tests.support import make_settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

PASSWORD = "sessions test passphrase"
ORGANISER = "organiser@example.org"


@dataclass
class Event:
    base: str
    token: str  # an organiser's API token, for setting up through the API
    sessions: dict[str, str]
    rooms: dict[str, str]
    slots: list[str]
    delegate: dict[str, Any]


async def _seed(url: str) -> tuple[str, dict[str, Any], Any]:
    settings = make_settings(url)
    database = Database.from_settings(settings)
    try:
        tickets = await make_conference(database, capacity=50)
        programme = await make_programme(database)
        await set_call(database, open_=True)
        await make_console_user(database, settings, email=ORGANISER, password=PASSWORD)
        async with database.transaction() as db:
            token = await create_api_token(db, role="organiser", name="Browser set-up")
        return token, tickets, programme
    finally:
        await database.dispose()


@pytest.fixture
def event(database_url: str, tmp_path: Path) -> Iterator[Event]:
    support.require_chromium()
    token, tickets, p = asyncio.run(_seed(database_url))
    with support.live_server(database_url, log_path=tmp_path / "server.log") as base:
        delegate = httpx.post(
            base + "/api/v1/registrations", json=registration_body(tickets["delegate"]), timeout=10
        ).json()
        booked = httpx.post(
            f"{base}/api/v1/registrations/{delegate['id']}/sessions",
            json={"session_id": str(p.sessions["C"])},
            headers={"authorization": f"Bearer {delegate['manage_token']}"},
            timeout=10,
        )
        assert booked.status_code == 201, booked.text
        yield Event(
            base,
            token,
            {k: str(v) for k, v in p.sessions.items()},
            {k: str(v) for k, v in p.rooms.items()},
            [str(s) for s in p.slots],
            delegate,
        )


def test_edit_cancel_and_restore_by_clicking_and_every_page_passes_axe(event: Event, page: Page) -> None:
    from playwright.sync_api import expect

    checked: list[str] = []

    def check(what: str) -> None:
        page.wait_for_load_state("networkidle")
        support.assert_axe_clean(page, what)
        checked.append(what)

    support.console_sign_in(page, event.base, "/console/programme", email=ORGANISER, password=PASSWORD)
    expect(page.get_by_role("navigation", name="Console")).to_be_visible()
    check("programme console page")

    # Edit: a blank title and too many seats are both named at once; then the room changes.
    page.get_by_role("link", name="Edit Workshop C").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Edit “Workshop C”")
    check("edit page")
    page.get_by_label("Title").fill("")
    page.get_by_label("Seats").fill("99")
    page.get_by_role("button", name=re.compile("^Save")).click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Title")
    expect(summary).to_contain_text("The room has only 3 seats")
    check("edit page with errors")
    page.get_by_label("Title").fill("Workshop C, moved")
    page.get_by_label("Seats").fill("")
    page.get_by_label("Room").select_option(label="Hall (400 seats)")
    page.get_by_role("button", name=re.compile("^Save")).click()
    expect(page.get_by_role("status")).to_contain_text("The session is saved")

    # Cancel: the confirmation says one delegate will be told.
    page.get_by_role("link", name="Cancel Workshop C, moved").click()
    expect(page.locator("#told")).to_contain_text("1 delegate with a seat will be emailed")
    check("cancel confirmation")
    page.get_by_role("button", name=re.compile("^Cancel “Workshop C, moved” and email 1 delegate")).click()
    expect(page.get_by_role("status")).to_contain_text("1 delegate(s) with seats have been emailed")

    page.goto(event.base + "/programme")
    expect(page.locator(f"#session-{event.sessions['C']}")).to_contain_text("Cancelled")
    check("/programme with a cancelled session")
    page.goto(event.base + f"/manage/{event.delegate['manage_token']}/agenda")
    expect(page.locator("#agenda")).to_contain_text("Cancelled")
    check("agenda with a cancelled session")

    # Restore: the confirmation says the seat comes back.
    page.goto(event.base + "/console/programme")
    page.get_by_role("link", name="Restore Workshop C, moved").click()
    expect(page.locator("#given-back")).to_contain_text("1 of 1 seat goes back to the delegates who had them")
    check("restore confirmation")
    page.get_by_role("button", name="Restore “Workshop C, moved”").click()
    expect(page.get_by_role("status")).to_contain_text("restored; 1 seat(s) given back")
    page.goto(event.base + "/programme")
    expect(page.locator(f"#session-{event.sessions['C']}")).not_to_contain_text("Cancelled")

    page.goto(event.base + "/console/audit")
    expect(page.locator("#audit")).to_contain_text("Session restored")
    expect(page.locator("#audit")).to_contain_text("Session cancelled")
    check("audit log in words")

    # A published programme from talks, a booked delegate, and a draft that moves their workshop.
    draft_id = publish_then_move(event)
    page.goto(event.base + f"/console/programme/schedule?draft={draft_id}")
    expect(page.locator("#not-better")).to_contain_text("1 booked delegate is emailed")
    check("schedule page asking for confirmation")
    page.get_by_role("button", name=re.compile("^Publish draft")).click()
    expect(page.get_by_role("alert")).to_contain_text("Tick the box")
    check("schedule page refusing an unconfirmed publish")
    page.get_by_label(re.compile("^Publish it anyway")).check()
    page.get_by_role("button", name=re.compile("^Publish draft")).click()
    expect(page.get_by_role("status")).to_contain_text("The version is published")
    assert len(checked) == 10


def publish_then_move(event: Event) -> int:
    """Through the API: a confirmed panel published at 14:00 on day one, a delegate's seat in it, and a draft
    with the panel moved to day two (returns the draft's id)."""
    h = {"authorization": f"Bearer {event.token}"}
    with httpx.Client(base_url=event.base, timeout=30) as api:
        body = proposal_body(title="Panel on shared triage", format="panel", duration_minutes=60)
        talk = api.post("/api/v1/proposals", json=body).json()
        assert api.post(
            "/api/v1/proposals/decisions",
            headers=h,
            json={"decision": "accept", "proposal_ids": [talk["id"]]},
        ).is_success
        confirm = {"authorization": f"Bearer {talk['edit_token']}"}
        assert api.post(f"/api/v1/proposals/{talk['id']}/confirm", headers=confirm).is_success

        def build(slot: int) -> dict[str, Any]:
            pin = {"talk_id": talk["id"], "slot_id": event.slots[slot], "room_id": event.rooms["Small"]}
            made = api.post("/api/v1/schedule/build", headers=h, json={"time_limit": 2, "pins": [pin]})
            assert made.status_code == 201, made.text
            draft: dict[str, Any] = made.json()
            return draft

        first = build(2)
        assert api.post("/api/v1/schedule/publish", headers=h, json={"draft_id": first["id"]}).is_success
        panel = next(
            s
            for d in api.get("/api/v1/programme").json()["days"]
            for t in d["slots"]
            for s in t["sessions"]
            if s["title"] == body["title"]
        )
        seat = api.post(
            f"/api/v1/registrations/{event.delegate['id']}/sessions",
            headers={"authorization": f"Bearer {event.delegate['manage_token']}"},
            json={"session_id": panel["id"]},
        )
        assert seat.status_code == 201, seat.text
        return int(build(4)["id"])
