"""Issue 23's console fixes in a real browser, at a laptop's width (1366 x 768) and a phone's (390 x 844): the
dashboard's workshop chart draws each workshop against its own seats with the counts in its tooltip, the
registrations list ticks every row at once, the audit log's details open on demand, the mark-paid form asks for
the day, amount and reference; no page scrolls sideways and each passes axe.

The server is `conference serve` in its own process on a fresh database (support.live_server)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference.core.db import Database
from conference.core.models import AuditEntry, Invoice
from tests.browser import live_site
from tests.factories import invoice_body, registration_body
from tests.support import assert_axe_clean, make_settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

WIDTHS = ((1366, 768), (390, 844))
LONG_TITLE = "Residential care homes and children's homes: keeping children safe at night and 1 more"


class Live(NamedTuple):
    base: str
    token: str
    registration_id: str
    invoice_id: str


async def _programme(url: str, booked: list[uuid.UUID]) -> None:
    """A 4-seat room with 3 booked (a long title) and a 300-seat hall with 1; an audit entry with long details."""
    database = Database.from_settings(make_settings(url))
    try:
        async with database.transaction() as db:
            cosy, big = await live_site.workshops(db, [("Small", 4, LONG_TITLE), ("Hall", 300, "Big")])
            db.add(
                AuditEntry(
                    actor="organiser:seed",
                    action="conference.registration.updated",
                    subject="WIDE-1",
                    data={"changes": {f"field_{n}": "v" * 80 for n in range(12)}, "note": "n" * 400},
                )
            )
        async with database.transaction() as db:
            await live_site.book_seats(db, database.settings, list(zip(booked, (cosy, cosy, cosy, big))))
    finally:
        await database.dispose()


async def _invoice_of(url: str, registration_id: str) -> str:
    database = Database.from_settings(make_settings(url))
    try:
        async with database.read() as db:
            return str(
                (
                    await db.execute(
                        sa.select(col(Invoice.id)).where(
                            col(Invoice.registration_id) == uuid.UUID(registration_id)
                        )
                    )
                ).scalar_one()
            )
    finally:
        await database.dispose()


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[Live]:
    with live_site.dashboard_site(database_url, tmp_path, capacity=50) as (base, tickets, token):

        def post(body: dict[str, Any]) -> dict[str, Any]:
            answer = httpx.post(base + "/api/v1/registrations", timeout=10, json=body)
            assert answer.status_code == 201, answer.text
            made: dict[str, Any] = answer.json()
            return made

        ids = [uuid.UUID(post(registration_body(tickets["delegate"]))["id"]) for _ in range(4)]
        for n in range(2):  # awaiting approval, with their addresses to judge by
            post(registration_body(tickets["press"], email=f"reporter{n}@gazette.example", sector="other"))
        invoiced = post(invoice_body(tickets["exhibitor"]))
        asyncio.run(_programme(database_url, ids))
        yield Live(base, token, invoiced["id"], asyncio.run(_invoice_of(database_url, invoiced["id"])))


def _no_sideways_scroll(page: Page, where: str) -> None:
    wide: int = page.evaluate("document.documentElement.scrollWidth")
    seen: int = page.evaluate("window.innerWidth")
    assert wide <= seen, f"{where}: {wide} px wide in a {seen} px window"


@pytest.mark.parametrize(("width", "height"), WIDTHS)
def test_console_pages_at_a_laptops_and_a_phones_width(
    live: Live, page: Page, tmp_path: Path, width: int, height: int
) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size({"width": width, "height": height})
    live_site.sign_in_with_token(page, live.base, live.token)

    # The dashboard: fill as a share of each workshop's own seats, counts in the tooltip, the title unclipped.
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('chart-workshops'))")
    chart = page.evaluate(
        """() => { const c = Chart.getChart(document.getElementById('chart-workshops'));
                   const tip = c.options.plugins.tooltip.callbacks.label;
                   return {labels: c.data.labels, data: c.data.datasets.map(d => d.data),
                           max: c.scales.x.max, yWidth: c.scales.y.width, chartWidth: c.width,
                           tips: [tip({dataIndex: 1, datasetIndex: 0}), tip({dataIndex: 0, datasetIndex: 1})]}; }"""
    )
    # In title order: Big (1 of 300), then the long one (3 of 4).
    assert chart["data"] == [[0.3, 75], [99.7, 25]] and chart["max"] == 100
    assert chart["tips"] == ["3 of 4 seats booked (75%)", "299 seats free"]
    first = chart["labels"][1]
    assert first[0] == "Tue 8 Dec 2026, 11:00" and " ".join(first[1:]) == LONG_TITLE  # wrapped, nothing cut
    assert chart["yWidth"] <= chart["chartWidth"] / 2  # Chart.js's limit, which clipped the unwrapped label
    page.get_by_text("Workshop fill as a table").click()
    expect(page.locator("#table-workshops tr", has_text="Big")).to_contain_text("0%")
    _no_sideways_scroll(page, "dashboard")
    assert_axe_clean(page, f"dashboard at {width} px")
    page.screenshot(path=str(tmp_path / f"dashboard-{width}.png"), full_page=True)

    # The awaiting-approval list: the emails, and every row ticked at once (the heading's box, or the link).
    page.goto(live.base + "/console/registrations?status=awaiting_approval")
    expect(page.locator("#registrations")).to_contain_text("reporter0@gazette.example")
    boxes = page.locator('input[name="registration"]')
    expect(boxes).to_have_count(2)
    if width > 720:
        page.get_by_label("Tick all 2 awaiting approval on this page").check()
    else:  # on a phone the table's headings are hidden: the link does it, in place
        page.locator("#tick-all-link a").click()
        expect(page.locator("#tick-all-link a")).to_have_text("Untick all")
    assert page.url.endswith("status=awaiting_approval")  # no reload
    for n in range(2):
        expect(boxes.nth(n)).to_be_checked()
    _no_sideways_scroll(page, "registrations")
    assert_axe_clean(page, f"registrations at {width} px")

    # The audit log: a line of details, the whole on demand, no page wider than the window.
    page.goto(live.base + "/console/audit?subject=WIDE-1")
    summary = page.locator("#audit details summary")
    expect(summary).to_contain_text("changes: 12 fields; note: nnnn")
    expect(page.locator("#audit details pre")).to_be_hidden()
    summary.click()
    expect(page.locator("#audit details pre")).to_contain_text('"field_11"')
    _no_sideways_scroll(page, "audit log")
    assert_axe_clean(page, f"audit log at {width} px")
    page.screenshot(path=str(tmp_path / f"audit-{width}.png"), full_page=True)

    # The mark-paid form: the day and the total filled in, the reference asked for.
    page.goto(f"{live.base}/console/registrations/{live.registration_id}/invoices/{live.invoice_id}/paid")
    expect(page.get_by_label("Amount received")).to_have_value("540.00")
    _no_sideways_scroll(page, "mark paid")
    assert_axe_clean(page, f"mark paid at {width} px")
