"""The organisers' dashboard in a real browser: an organiser signs in through /login with an API token, the five
charts draw (Chart.js from node_modules) with the seeded figures, nothing trips the Content-Security-Policy, and a
registration made after the page loaded shows in the figures, the charts and the tables at the next poll.

The server is `conference serve` in its own process on a fresh database (the live-server pattern of
test_registration_page.py); Playwright's sync API drives Debian's chromium.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference.console import dashboard as console_dashboard
from conference.core.db import Database
from conference.core.models import Checkin, Registration
from tests.browser import live_site
from tests.factories import registration_body
from tests.support import BROWSER_PATIENCE_MS, make_settings

if TYPE_CHECKING:  # playwright is imported lazily, so that a missing install skips instead of erroring
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

CHARTS = ("registrations", "sectors", "regions", "workshops", "arrivals")


class Live(NamedTuple):
    base: str
    token: str
    tickets: dict[str, uuid.UUID]


async def _programme_and_arrivals(url: str, ids: list[uuid.UUID]) -> None:
    """Registered over three days, one workshop with two seats booked, three door arrivals."""
    database = Database.from_settings(make_settings(url))
    try:
        now = datetime.now(UTC)
        async with database.transaction() as db:
            for n, registration_id in enumerate(ids):  # the day before yesterday, yesterday, today
                await db.execute(
                    sa.update(Registration)
                    .where(col(Registration.id) == registration_id)
                    .values(created_at=now - timedelta(days=len(ids) - 1 - n))
                )
            (workshop,) = await live_site.workshops(db, [("Room 1", 4, "Data sharing")])
        async with database.transaction() as db:
            await live_site.book_seats(db, database.settings, [(i, workshop) for i in ids[:2]])
            door = datetime(2026, 12, 8, 8, 30, tzinfo=UTC)
            db.add_all(
                [
                    Checkin(
                        registration_id=registration_id,
                        list="door",
                        result="ok",
                        staff="staff:Door",
                        scanned_at=door + timedelta(minutes=minutes),
                    )
                    for minutes, registration_id in zip((0, 1, 12), ids)
                ]
            )
    finally:
        await database.dispose()


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[Live]:
    with live_site.dashboard_site(database_url, tmp_path, capacity=10) as (base, tickets, token):
        ids = []
        for sector, region in (("police", "London"), ("police", "Wales"), ("health", "London")):
            answer = httpx.post(
                base + "/api/v1/registrations",
                timeout=10,
                json=registration_body(tickets["delegate"], sector=sector, region=region),
            )
            assert answer.status_code == 201, answer.text
            ids.append(uuid.UUID(answer.json()["id"]))
        asyncio.run(_programme_and_arrivals(database_url, ids))
        yield Live(base, token, tickets)


def _sign_in(page: Page, live: Live) -> list[str]:
    """Sign in through the login form with the organiser's API token; returns the CSP complaints seen from then on."""
    complaints: list[str] = []
    page.on("console", lambda m: complaints.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: complaints.append(f"page error: {e}"))
    live_site.sign_in_with_token(page, live.base, live.token)
    return complaints


def _chart(page: Page, name: str) -> dict[str, Any]:
    data: dict[str, Any] = page.evaluate(
        """(id) => { const c = Chart.getChart(document.getElementById(id));
                     return {labels: c.data.labels, datasets: c.data.datasets.map(d => d.data)}; }""",
        f"chart-{name}",
    )
    return data


def _painted(page: Page, name: str) -> int:
    """How many of the canvas's pixels are not transparent (a blank canvas has none)."""
    count: int = page.evaluate(
        """(id) => { const canvas = document.getElementById(id);
                     const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                     let painted = 0; for (let i = 3; i < pixels.length; i += 4) if (pixels[i]) painted++;
                     return painted; }""",
        f"chart-{name}",
    )
    return count


def test_the_charts_draw_and_the_figures_follow_new_registrations(
    live: Live, page: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    complaints = _sign_in(page, live)
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    page.wait_for_function(
        "(ids) => window.Chart && ids.every(id => Chart.getChart(document.getElementById('chart-' + id)))",
        arg=list(CHARTS),
    )
    expect(page.locator("#dash-refresh")).to_have_text(
        f"Updated every {console_dashboard.POLL_SECONDS} seconds while this page is open."
    )

    registrations = _chart(page, "registrations")
    assert len(registrations["labels"]) == 3
    assert registrations["datasets"] == [[1, 2, 3], [1, 2, 3], [10, 10, 10]]
    sectors = _chart(page, "sectors")
    assert dict(zip(sectors["labels"], sectors["datasets"][0]))["Police"] == 2
    assert dict(zip(sectors["labels"], sectors["datasets"][0]))["Health"] == 1
    regions = _chart(page, "regions")
    assert dict(zip(regions["labels"], regions["datasets"][0])) == {
        **{label: 0 for label in regions["labels"]},
        "London": 2,
        "Wales": 1,
    }
    # Drawn as a share of the room's 4 seats (booked, then free), the slot and the title on lines of their own.
    assert _chart(page, "workshops") == {
        "labels": [["Tue 8 Dec 2026, 11:00", "Data sharing"]],
        "datasets": [[50], [50]],
    }
    assert _chart(page, "arrivals") == {"labels": ["08:30", "08:35", "08:40"], "datasets": [[2, 0, 1]]}
    for name in CHARTS:
        assert _painted(page, name) > 500, f"{name} chart is blank"

    figures = page.locator("#figures")
    expect(figures).to_have_attribute("aria-live", "polite")
    expect(page.locator('[data-figure="registrations.live"]')).to_have_text("3")
    expect(page.locator('[data-figure="places.left"]')).to_have_text("7")
    expect(page.locator('[data-figure="arrivals.so_far"]')).to_have_text("3")
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

    # A registration made after the page loaded: the next poll brings it in, without a reload.
    page.evaluate("window.notReloaded = true")
    answer = httpx.post(
        live.base + "/api/v1/registrations",
        timeout=10,
        json=registration_body(live.tickets["delegate"], sector="health", region="Scotland"),
    )
    assert answer.status_code == 201, answer.text
    within = console_dashboard.POLL_SECONDS * 1000 + BROWSER_PATIENCE_MS  # the next poll, however slow
    expect(page.locator('[data-figure="registrations.live"]')).to_have_text("4", timeout=within)
    expect(page.locator('[data-figure="places.left"]')).to_have_text("6")
    assert page.evaluate("window.notReloaded") is True
    sectors = _chart(page, "sectors")
    assert dict(zip(sectors["labels"], sectors["datasets"][0]))["Health"] == 2
    assert _chart(page, "registrations")["datasets"][0][-1] == 4
    # The text alternative follows too.
    page.get_by_text("Delegates by region as a table").click()
    expect(page.locator("#table-regions tr", has_text="Scotland")).to_contain_text("1")
    page.screenshot(path=str(tmp_path / "dashboard-updated.png"), full_page=True)
    assert not complaints, complaints


def test_without_charts_the_tables_carry_the_figures_and_an_ended_session_is_said(
    live: Live, page: Page
) -> None:
    from playwright.sync_api import expect

    _sign_in(page, live)
    page.route("**/console/vendor/chart.umd.js", lambda route: route.fulfill(status=503, body="missing"))
    page.reload()
    expect(page.locator(".notice", has_text="The charts could not be loaded")).to_be_visible()
    page.get_by_text("Arrivals as a table").click()
    expect(page.locator("#table-arrivals tbody tr").first).to_contain_text("08:30")
    expect(page.locator('[data-figure="registrations.live"]')).to_have_text("3")
    # The session ends (signed out elsewhere): the next poll says so, with a way back, and polling stops.
    page.context.clear_cookies()
    problem = page.get_by_role("alert")
    expect(problem).to_contain_text(
        "Your session has ended", timeout=console_dashboard.POLL_SECONDS * 1000 + BROWSER_PATIENCE_MS
    )
    expect(problem.get_by_role("link", name="Sign in again")).to_have_attribute(
        "href", "/login?next=%2Fconsole%2Fdashboard"
    )
