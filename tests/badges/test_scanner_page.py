"""The scanner page in-process: who may open it, the QR reader it serves from node_modules, its CSP, and the
console session posting scans with the page's CSRF token."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from badges import scanner
from badges.codes import BadgeSigner
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.settings import Settings
from conference.web.auth import create_api_token
from sessions.models import RoomCreate, SessionCreate, TimeSlotCreate
from sessions.workshops import programme
from tests.factories import make_conference, registration_body

HTML = {"accept": "text/html"}
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGE_CSRF = re.compile(r'data-csrf-token="([^"]+)"')


def _require_node_modules() -> None:
    for relative, _media_type in scanner.VENDOR.values():
        if not (scanner.NODE_MODULES / relative).is_file():
            pytest.fail(
                f"{scanner.NODE_MODULES / relative} is missing: run `npm ci` in the repository root "
                "(./scripts/test does it)",
                pytrace=False,
            )


async def _token(database: Database, role: str, name: str) -> str:
    async with database.transaction() as db:
        return await create_api_token(db, role=role, name=name)


async def _login(client: httpx.AsyncClient, token: str, next_: str = "/console") -> httpx.Response:
    form = await client.get("/login", headers=HTML)
    match = CSRF_FIELD.search(form.text)
    assert match, form.text
    return await client.post(
        "/login", data={"token": token, "csrf_token": match.group(1), "next": next_}, headers=HTML
    )


@pytest.fixture
async def delegate(client: httpx.AsyncClient, database: Database) -> dict[str, Any]:
    tickets = await make_conference(database, capacity=10)
    body = registration_body(tickets["delegate"], name="Ada Lovelace")
    answer = await client.post("/api/v1/registrations", json=body)
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


async def test_anonymous_visitors_are_sent_to_sign_in(
    client: httpx.AsyncClient, delegate: dict[str, Any]
) -> None:
    page = await client.get("/scan", headers=HTML)
    assert page.status_code == 303
    assert page.headers["location"].endswith("/login?next=%2Fscan")


async def test_staff_land_on_the_scanner_after_signing_in(
    client: httpx.AsyncClient, database: Database, delegate: dict[str, Any]
) -> None:
    actor = Actor("organiser", "test")
    async with database.transaction() as db:
        room = await programme.create_room(db, data=RoomCreate(name="Room 1", capacity=10), actor=actor)
        start = datetime(2026, 12, 8, 11, tzinfo=UTC)
        slot = await programme.create_slot(
            db, data=TimeSlotCreate(starts_at=start, ends_at=start + timedelta(hours=1)), actor=actor
        )
        data = SessionCreate(
            title="Sharing data safely", kind="workshop", room_id=room.id, start_slot_id=slot.id
        )
        session = await programme.create_session(db, data=data, actor=actor)
        await programme.create_session(
            db,
            data=SessionCreate(title="Opening plenary", kind="plenary", start_slot_id=slot.id),
            actor=actor,
        )

    signed_in = await _login(client, await _token(database, "staff", "Door A"))
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/scan"
    page = await client.get("/scan", headers=HTML)
    assert page.status_code == 200
    assert "<h1>Check-in</h1>" in page.text and "Signed in as Door A" in page.text
    assert PAGE_CSRF.search(page.text)
    assert 'data-organiser="no"' in page.text
    assert '<option value="door">' in page.text
    option = f'<option value="{session.id}">Tue 8 Dec 2026, 11:00 · Sharing data safely (Room 1)</option>'
    assert option in page.text
    assert "Opening plenary" not in page.text  # no seats to check: only workshops are lists
    assert '<label class="label" for="code">Badge code</label>' in page.text
    assert 'role="status"' in page.text and "<script>" not in page.text and "style=" not in page.text
    script = await client.get("/scan/static/scanner.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith(
        ("text/javascript", "application/javascript")
    )
    assert (await client.get("/scan/static/scanner.css")).headers["content-type"].startswith("text/css")
    # Staff print a badge at the desk for a delegate who came without one.
    reference = delegate["reference"]
    printed = await client.get(f"/scan/badge/{reference}.pdf", headers=HTML)
    assert printed.status_code == 303 and printed.headers["location"].endswith("/badge.pdf")
    assert (await client.get(printed.headers["location"], headers=HTML)).headers[
        "content-type"
    ] == "application/pdf"


async def test_organisers_may_open_the_scanner_and_print_a_badge(
    client: httpx.AsyncClient, database: Database, delegate: dict[str, Any]
) -> None:
    signed_in = await _login(client, await _token(database, "organiser", "Org"), next_="/scan")
    assert signed_in.headers["location"] == "/scan"
    page = await client.get("/scan", headers=HTML)
    assert page.status_code == 200 and 'data-organiser="yes"' in page.text
    printed = await client.get(f"/scan/badge/{delegate['reference']}.pdf", headers=HTML)
    assert printed.status_code == 303
    assert printed.headers["location"] == f"/api/v1/registrations/{delegate['id']}/badge.pdf"
    pdf = await client.get(printed.headers["location"])  # the console session may read the badge API
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert (await client.get("/scan/badge/NC-NOBODY.pdf", headers=HTML)).status_code == 404


async def test_attendees_cannot_open_the_scanner(client: httpx.AsyncClient, delegate: dict[str, Any]) -> None:
    # A manage token is not an API token: it does not sign anybody in.
    answer = await _login(client, delegate["manage_token"], next_="/scan")
    assert answer.status_code == 401 and "This token is not valid" in answer.text
    assert (await client.get("/scan", headers=HTML)).status_code == 303


async def test_the_qr_reader_is_served_from_node_modules(client: httpx.AsyncClient) -> None:
    _require_node_modules()
    script = await client.get("/scan/vendor/zxing-reader.js")
    assert script.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.text.startswith("var ZXingWASM=")
    wasm = await client.get("/scan/vendor/zxing_reader.wasm")
    assert wasm.status_code == 200 and wasm.headers["content-type"] == "application/wasm"
    assert wasm.content[:4] == b"\0asm"
    for other in (
        "index.js",
        "package.json",
        "zxing_full.wasm",
        "..%2Fpackage.json",
        "%2E%2E%2F%2E%2E%2Fpyproject.toml",
    ):
        assert (await client.get(f"/scan/vendor/{other}")).status_code == 404, other
    assert (await client.get("/scan/vendor/zxing-wasm/package.json")).status_code == 404


async def test_a_missing_node_modules_is_a_clear_503(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(scanner, "NODE_MODULES", tmp_path / "node_modules")
    answer = await client.get("/scan/vendor/zxing_reader.wasm")
    assert answer.status_code == 503
    assert "npm ci" in answer.text and "zxing-wasm/dist/reader/zxing_reader.wasm" in answer.text


async def test_only_the_scanner_page_may_compile_webassembly(
    client: httpx.AsyncClient, database: Database, delegate: dict[str, Any]
) -> None:
    await _login(client, await _token(database, "staff", "Door A"))
    page = await client.get("/scan", headers=HTML)
    csp = page.headers["content-security-policy"]
    assert "script-src 'self' 'wasm-unsafe-eval';" in csp
    assert "'unsafe-eval'" not in csp.replace("'wasm-unsafe-eval'", "") and "'unsafe-inline'" not in csp
    for path in (
        "/",
        "/login",
        "/scan/static/scanner.js",
        "/scan/vendor/zxing-reader.js",
        "/scan/",
        "/healthz",
    ):
        other = (await client.get(path, headers=HTML)).headers["content-security-policy"]
        assert "wasm" not in other and "script-src 'self';" in other, path


async def test_the_page_posts_scans_with_its_csrf_token(
    client: httpx.AsyncClient, database: Database, settings: Settings, delegate: dict[str, Any]
) -> None:
    await _login(client, await _token(database, "staff", "Door A"))
    page = await client.get("/scan", headers=HTML)
    match = PAGE_CSRF.search(page.text)
    assert match
    code = BadgeSigner.from_settings(settings).code_for(delegate["reference"], 1)
    body = {"code": code, "list": "door", "device": "scanner-test"}
    refused = await client.post("/api/v1/checkins", json=body)
    assert refused.status_code == 401
    forged = await client.post("/api/v1/checkins", json=body, headers={"x-csrf-token": "not-the-token"})
    assert forged.status_code == 401
    admitted = await client.post("/api/v1/checkins", json=body, headers={"x-csrf-token": match.group(1)})
    assert admitted.status_code == 200, admitted.text
    assert admitted.json()["result"] == "ok" and admitted.json()["attendee"]["name"] == "Ada Lovelace"
    # What the page reads without a token (GET): the door list and search.
    listing = (await client.get("/api/v1/checkins/door-list?list=door")).json()
    assert [e["checked_in_at"] is not None for e in listing["entries"]] == [True]
    found = (await client.get("/api/v1/checkins/search?q=lovelace")).json()["data"]
    assert [p["reference"] for p in found] == [delegate["reference"]]
