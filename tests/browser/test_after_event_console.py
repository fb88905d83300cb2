"""The organisers' "After the event" console in Debian's chromium, at a laptop's 1,280 px and a phone's 390 px: the
page (rules, certificates, emails, the delegates with their certificates), a delegate's page and the run page fit
the width (no sideways scroll) with no serious accessibility problem; pressing "Issue certificates" opens the run
page, whose progress bar its script (static/after_event.js) moves to the end without a reload.

The server is `conference serve` in its own process on a fresh database; screenshots go to the test's artifacts.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import utcnow
from conference.core.settings import Settings
from sessions.models.attendance import CertificateRun
from tests import support
from tests.browser import live_site
from tests.browser.test_phone_pages import too_wide
from tests.factories import make_programme
from tests.sessions.after_event_world import Event, attend, issue_all
from tests.support import register, running_app

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page

pytestmark = pytest.mark.browser

PASSWORD = "after the event passphrase"
ORGANISER = live_site.ORGANISER
T = TypeVar("T")
WIDTHS = [{"width": 1280, "height": 900}, {"width": 390, "height": 844}]


@dataclass
class Seeded:
    database_url: str
    ids: list[str] = field(default_factory=list)


def in_thread(work: Callable[[Database], Awaitable[T]], database_url: str) -> T:
    """Run `work` on the test's database from the test itself (Playwright's sync API owns this thread's loop)."""

    async def run() -> T:
        database = Database.from_settings(support.make_settings(database_url))
        try:
            return await work(database)
        finally:
            await database.dispose()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


async def _unfinished_run(database: Database) -> str:
    async with database.transaction() as db:
        conference_id = (await db.execute(sa.text("SELECT id FROM conference"))).scalar_one()
        run = CertificateRun(conference_id=conference_id, started_by="organiser:Elsewhere", total=3, done=1)
        db.add(run)
    return str(run.id)


def _finish(run_id: str) -> Callable[[Database], Awaitable[None]]:
    async def finish(database: Database) -> None:
        async with database.transaction() as db:
            run = await db.get(CertificateRun, uuid.UUID(run_id))
            assert run is not None
            run.done, run.issued, run.finished_at = 3, 2, utcnow()

    return finish


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Seeded]]:
    seeded = Seeded(database_url)

    async def finished(database: Database, settings: Settings) -> None:
        programme = await make_programme(database)
        async with running_app(database_url) as client:
            tickets = await client.get("/api/v1/ticket-types")
            delegate = next(t["id"] for t in tickets.json() if t["name"] == "Delegate")
            people: list[dict[str, Any]] = [
                await register(
                    client,
                    delegate,
                    name=name,
                    organisation="Greater Manchester Fire and Rescue Service, Community Safety Directorate",
                )
                for name in ("Aisha Rahman-Whitfield", "Tomasz Kowalczyk-Brennan", "Bea Long")
            ]
        event = Event({}, programme, people)
        await attend(database, event, 0, "A", "C", "D")
        await attend(database, event, 1, "Long")
        await attend(database, event, 2)
        await issue_all(database, settings)
        seeded.ids = [p["id"] for p in people]

    with live_site.served(database_url, tmp_path, password=PASSWORD, then=finished) as (base, _tickets):
        yield base, seeded


def test_the_after_event_console_fits_a_laptop_and_a_phone_and_its_run_page_moves_by_itself(
    site: tuple[str, Seeded], page: Page, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    base, seeded = site
    errors: list[str] = []

    def logged(message: ConsoleMessage) -> None:
        # The rules form refused on purpose answers 422, which chromium logs: the page's own answer, not a script's.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    page.on("console", logged)
    support.console_sign_in(page, base, "/console/after-event", email=ORGANISER, password=PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("After the event")
    expect(page.locator("#delegates")).to_contain_text("Aisha Rahman-Whitfield")
    wide: list[str] = []
    pages = {
        "after-event": "/console/after-event",
        "delegate": f"/console/after-event/delegates/{seeded.ids[0]}",
        "withdraw": f"/console/after-event/delegates/{seeded.ids[0]}/withdraw",
    }
    for viewport in WIDTHS:
        page.set_viewport_size(viewport)  # type: ignore[arg-type]
        for name, path in pages.items():
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(artifacts / f"{name}-{viewport['width']}.png"), full_page=True)
            if problem := too_wide(page):
                wide.append(f"{name} at {viewport['width']}: {problem}")
        support.assert_axe_clean(page, f"withdraw page at {viewport['width']}")
    assert not wide, "\n".join(wide)

    page.set_viewport_size(WIDTHS[0])  # type: ignore[arg-type]
    page.goto(base + "/console/after-event")
    support.assert_axe_clean(page, "/console/after-event")
    page.get_by_label("Daily cap (optional)").fill("lots")
    page.get_by_role("button", name="Save the CPD rules").click()
    expect(page.get_by_role("alert")).to_contain_text("Daily cap: Give a number of hours from 0.5 to 24")
    expect(page.get_by_label("Daily cap (optional)")).to_have_value("lots")
    support.assert_axe_clean(page, "/console/after-event with an error")
    page.get_by_role("button", name="Issue certificates").click()
    expect(page).to_have_url(re.compile(r"/console/after-event/runs/[0-9a-f-]{36}$"))
    run_url = page.url
    # The script polls the run's JSON and moves the bar: the page says finished without being reloaded.
    expect(page.locator("#run")).to_have_attribute("data-finished", "true")
    expect(page.locator("#run-state")).to_contain_text("Finished")
    expect(page.locator("#run-next")).to_be_visible()
    assert page.url == run_url
    assert page.locator("#run-progress").evaluate("p => [p.value, p.max]") == [3, 3]
    page.screenshot(path=str(artifacts / "run-1280.png"), full_page=True)
    support.assert_axe_clean(page, "run page")

    # A run under way (started by another worker, say): its page moves as the run's row does, without a reload.
    run_id = in_thread(_unfinished_run, seeded.database_url)
    page.goto(f"{base}/console/after-event/runs/{run_id}")
    expect(page.locator("#run-state")).to_contain_text("Still running")
    expect(page.locator("#run-refresh")).to_be_visible()
    expect(page.locator("#run-done")).to_have_text("1")
    in_thread(_finish(run_id), seeded.database_url)
    expect(page.locator("#run-state")).to_contain_text("Finished")
    expect(page.locator("#run-done")).to_have_text("3")
    expect(page.locator("#run-issued")).to_have_text("2")
    expect(page.locator("#run-refresh")).to_be_hidden()
    assert page.locator("#run-progress").evaluate("p => [p.value, p.max]") == [3, 3]
    page.set_viewport_size(WIDTHS[1])  # type: ignore[arg-type]
    page.reload()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(artifacts / "run-390.png"), full_page=True)
    assert not too_wide(page), too_wide(page)
    assert not errors, errors
