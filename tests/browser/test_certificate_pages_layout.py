"""The certificate pages in chromium at a laptop's and a phone's width: a genuine code's verification page, a
withdrawn one's, and the delegate's own certificate page fit without scrolling sideways and pass axe (WCAG 2.1 AA);
the delegate's page links to a PDF that downloads."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conference.core.audit import Actor
from conference.core.db import Database
from sessions.attendance.certificates import issue_certificate, withdraw_certificate
from tests import support
from tests.browser.test_phone_pages import too_wide
from tests.factories import make_conference, make_programme
from tests.sessions.attendance_support import DAY2, at, checkin, delegate, door
from tests.sessions.test_cpd_hours import A_START, C_START, D_START

if TYPE_CHECKING:
    from playwright.sync_api import Page, ViewportSize

pytestmark = pytest.mark.browser

WIDTHS: list[ViewportSize] = [{"width": 1280, "height": 800}, {"width": 390, "height": 844}]
ORGANISER = Actor("organiser", "tests")


@dataclass
class Seeded:
    token: str
    genuine: str
    withdrawn: str


async def seed(database_url: str) -> Seeded:
    settings = support.make_settings(database_url)
    database = Database.from_settings(settings)
    try:
        tickets = await make_conference(database, capacity=20)
        p = await make_programme(database)
        codes = []
        async with support.running_app(database_url) as client:
            people = [
                await delegate(
                    client,
                    tickets["delegate"],
                    name="Bartholomew Alexander Montgomery-Smythe",
                    organisation="Department for Levelling Up, Housing and Communities",
                )
                for _ in range(2)
            ]
        for person in people:
            await door(database, person)
            await door(database, person, at=DAY2, result="already_checked_in")
            for session, start in (("A", A_START), ("C", C_START), ("D", D_START)):
                await checkin(database, person, p.sessions[session], at=at(start))
            async with database.transaction() as db:
                c = await issue_certificate(
                    db, settings, registration_id=uuid.UUID(person["id"]), actor=ORGANISER
                )
            assert c is not None
            codes.append((c.id, c.code))
        async with database.transaction() as db:
            await withdraw_certificate(db, certificate_id=codes[1][0], reason="Disputed", actor=ORGANISER)
        return Seeded(people[0]["manage_token"], codes[0][1], codes[1][1])
    finally:
        await database.dispose()


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Seeded]]:
    support.require_chromium()
    seeded = asyncio.run(seed(database_url))
    with support.live_server(database_url, log_path=tmp_path / "server.log") as base:
        yield base, seeded


def test_certificate_pages_fit_and_pass_axe(site: tuple[str, Seeded], page: Page, artifacts: Path) -> None:
    base, seeded = site
    pages = {
        "genuine": f"/verify/{seeded.genuine}",
        "withdrawn": f"/verify/{seeded.withdrawn}",
        "mine": f"/manage/{seeded.token}/certificate",
    }
    problems: list[str] = []
    for viewport in WIDTHS:
        page.set_viewport_size(viewport)
        for name, path in pages.items():
            page.goto(base + path)
            if problem := too_wide(page):
                problems.append(f"{name} at {viewport['width']}: {problem}")
                page.screenshot(path=str(artifacts / f"{name}-{viewport['width']}.png"), full_page=True)
            support.assert_axe_clean(page, f"{name} at {viewport['width']}")
    assert not problems, problems
    page.goto(base + pages["genuine"])
    assert "Certificate verified" in page.inner_text("h1")
    assert "Montgomery-Smythe" in page.inner_text("#certificate-name")
    page.goto(base + pages["withdrawn"])
    assert page.inner_text("h1") == "Certificate withdrawn"
    page.goto(base + pages["mine"])
    with page.expect_download() as download:
        page.click("#certificate-download")
    saved = artifacts / "certificate.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
