"""The certificate pages (sessions/attendance/pages.py): /verify/<code> for a genuine, altered, unknown, withdrawn
and superseded code, as HTML and JSON, rate limited, never showing an email or a reference; the delegate's page and
PDF download from their manage link."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.settings import Settings
from sessions.attendance.certificates import ALPHABET, issue_certificate, verify_url, withdraw_certificate
from sessions.models import Certificate
from tests.factories import Programme, make_conference, make_programme
from tests.sessions.attendance_support import DAY2, at, checkin, delegate, door, organiser_scan
from tests.sessions.test_certificates import pdf_qr_texts, pdf_text
from tests.sessions.test_cpd_hours import A_START, C_START, D_START
from tests.support import BASE_URL, make_settings, running_app

ORGANISER = Actor("organiser", "tests")
JSON = {"accept": "application/json"}


@pytest.fixture
async def world(client: httpx.AsyncClient, database: Database) -> tuple[dict[str, uuid.UUID], Programme]:
    tickets = await make_conference(database, capacity=50)
    return tickets, await make_programme(database)


async def attended(client: httpx.AsyncClient, database: Database, world: Any) -> dict[str, Any]:
    tickets, p = world
    person = await delegate(client, tickets["delegate"], name="Amara Okafor", organisation="Kent Police")
    await door(database, person)
    await checkin(database, person, p.sessions["A"], at=at(A_START))
    await checkin(database, person, p.sessions["C"], at=at(C_START))
    return person


async def issue(database: Database, settings: Settings, person: dict[str, Any]) -> Certificate:
    async with database.transaction() as db:
        c = await issue_certificate(db, settings, registration_id=uuid.UUID(person["id"]), actor=ORGANISER)
    assert c is not None
    return c


def one_character_off(code: str) -> str:
    last = code[-1]
    return code[:-1] + ALPHABET[(ALPHABET.index(last) + 1) % len(ALPHABET)]


async def test_a_genuine_code_shows_what_the_certificate_says_and_nothing_private(
    client: httpx.AsyncClient, database: Database, settings: Settings, world: Any
) -> None:
    person = await attended(client, database, world)
    c = await issue(database, settings, person)
    page = await client.get(f"/verify/{c.code}")
    assert page.status_code == 200
    for expected in (
        "Certificate verified",
        "Amara Okafor",
        "Kent Police",
        "Test Conference",
        "Tue 8 Dec 2026 to Wed 9 Dec 2026",
        "2 hours",
        c.code,
    ):
        assert expected in page.text, expected
    assert '<dd id="certificate-sessions">2</dd>' in page.text
    assert person["email"] not in page.text and person["reference"] not in page.text
    # Typed by hand: lower case, spaces instead of dashes.
    assert (await client.get(f"/verify/{c.code.lower().replace('-', '%20')}")).status_code == 200
    answer = await client.get(f"/verify/{c.code}", headers=JSON)
    assert answer.status_code == 200
    body = answer.json()
    assert body["state"] == "genuine" and body["valid"] is True
    assert (body["name"], body["organisation"], body["event"]["name"]) == (
        "Amara Okafor",
        "Kent Police",
        "Test Conference",
    )
    assert (body["cpd_minutes"], body["cpd_hours"], body["sessions_count"]) == (120, 2.0, 2)
    assert body["event"]["starts_at"].startswith("2026-12-08")
    assert person["email"] not in answer.text and person["reference"] not in answer.text


async def test_a_code_altered_by_one_character_is_refused(
    client: httpx.AsyncClient, database: Database, settings: Settings, world: Any
) -> None:
    person = await attended(client, database, world)
    c = await issue(database, settings, person)
    altered = one_character_off(c.code)
    page = await client.get(f"/verify/{altered}")
    assert page.status_code == 404
    assert "Code not recognised" in page.text and "at least one character is wrong" in page.text
    assert "Amara Okafor" not in page.text
    answer = await client.get(f"/verify/{altered}", headers=JSON)
    assert answer.status_code == 404 and answer.json()["state"] == "altered" and "name" not in answer.json()
    unknown = await client.get("/verify/nothing-like-a-code", headers=JSON)
    assert unknown.status_code == 404 and unknown.json()["state"] == "unknown"


async def test_withdrawn_and_superseded_codes_are_refused_with_when(
    client: httpx.AsyncClient, database: Database, settings: Settings, world: Any
) -> None:
    _tickets, p = world
    person = await attended(client, database, world)
    first = await issue(database, settings, person)
    # A correction: day 2 added, so the first certificate is replaced.
    await door(database, person, at=DAY2, result="already_checked_in")
    await organiser_scan(database, person, p.sessions["D"], at=at(D_START))
    second = await issue(database, settings, person)
    assert second.code != first.code
    replaced = await client.get(f"/verify/{first.code}")
    assert replaced.status_code == 410
    assert "Certificate replaced" in replaced.text and "Replaced on" in replaced.text
    assert "Amara Okafor" not in replaced.text
    async with database.transaction() as db:
        await withdraw_certificate(
            db, certificate_id=second.id, reason="Attendance disputed", actor=ORGANISER
        )
    withdrawn = await client.get(f"/verify/{second.code}")
    assert withdrawn.status_code == 410
    assert "Certificate withdrawn" in withdrawn.text and "Withdrawn on" in withdrawn.text
    assert "Amara Okafor" not in withdrawn.text and "Attendance disputed" not in withdrawn.text
    body = (await client.get(f"/verify/{second.code}", headers=JSON)).json()
    assert body["state"] == "withdrawn" and body["valid"] is False and body["no_longer_valid_since"]


async def test_verification_is_rate_limited(database_url: str, database: Database) -> None:
    async with running_app(database_url, CONFERENCE_RATE_LIMIT="3/minute") as limited:
        statuses = [
            (await limited.get(f"/verify/{one_character_off('ABCD-EFGH-JKMN-PQRS')}")).status_code
            for _ in range(4)
        ]
    assert statuses == [404, 404, 404, 429]


async def test_the_manage_page_links_to_the_certificate_and_the_pdf_downloads(
    client: httpx.AsyncClient, database: Database, settings: Settings, world: Any
) -> None:
    person = await attended(client, database, world)
    token = person["manage_token"]
    manage = await client.get(f"/manage/{token}")
    assert f'href="/manage/{token}/certificate" id="certificate-link"' in manage.text
    none_yet = await client.get(f"/manage/{token}/certificate")
    assert none_yet.status_code == 200 and "You have no certificate of attendance yet." in none_yet.text
    early = await client.get(f"/manage/{token}/certificate.pdf")
    assert early.status_code == 303 and early.headers["location"].endswith(f"/manage/{token}/certificate")
    c = await issue(database, settings, person)
    page = await client.get(f"/manage/{token}/certificate")
    assert page.status_code == 200
    for expected in ("2 hours", "Workshop A", "Workshop C", "1 hour", c.code, verify_url(settings, c.code)):
        assert expected in page.text, expected
    download = await client.get(f"/manage/{token}/certificate.pdf")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"] == f'attachment; filename="certificate-{c.code}.pdf"'
    assert "no-store" in download.headers["cache-control"]
    text = pdf_text(download.content)
    assert "Amara Okafor" in text and "2 hours" in text and c.code in text
    assert pdf_qr_texts(download.content) == [f"{BASE_URL}/verify/{c.code}"]
    # Another link, or none: not found.
    assert (await client.get("/manage/m_nobody/certificate.pdf")).status_code == 404


def test_settings_base_url_is_the_verify_urls_host(database_url: str) -> None:
    settings = make_settings(database_url, CONFERENCE_BASE_URL="https://events.example.gov.uk/")
    assert (
        verify_url(settings, "ABCD-EFGH-JKMN-PQRS")
        == "https://events.example.gov.uk/verify/ABCD-EFGH-JKMN-PQRS"
    )
