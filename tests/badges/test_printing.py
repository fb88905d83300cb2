"""Badges over the database: who gets one (confirmed places only), surname order, filters, marking printed, the
API's routes and roles, and `conference badges print`."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image
from starlette.routing import Route

from badges import api as badges_api
from badges.codes import BadgeClaim, signer_for, verify_with
from badges.printing import badge_data, mark_printed
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import AuditEntry, Registration, Status
from conference.core.settings import Settings
from conference.server.app import create_app
from conference.web.auth import create_api_token
from tests.factories import make_conference, registration_body
from tests.support import bearer, decode, make_settings, pdf_text, raster

CONFIRMED_IN_ORDER = ["Zoë Adams", "Cher", "ann evans", "Siân Evans", "Łucja Nowak"]


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app, with the badge routes mounted here if conference/server/app.py does not mount them yet."""
    app = create_app(settings)
    names = {getattr(r, "name", None) for r in app.router.routes}
    names |= {getattr(r, "name", None) for m in app.router.routes for r in getattr(m, "routes", [])}
    if "api-badges-pdf" not in names:
        for route in reversed(badges_api.routes):
            assert isinstance(route, Route)
            app.router.routes.insert(
                0, Route("/api/v1" + route.path, route.endpoint, methods=route.methods, name=route.name)
            )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@pytest.fixture
async def people(client: httpx.AsyncClient, database: Database) -> dict[str, dict[str, Any]]:
    tickets = await make_conference(database, capacity=20)
    rows = [
        ("sian", "Siân Evans", "Cyngor Caerdydd"),
        ("zoe", "Zoë Adams", "Leeds City Council"),
        ("lucja", "Łucja Nowak", "LEEDS  CITY COUNCIL"),
        ("cher", "Cher", "Leeds City Council Housing"),
        ("ann", "ann evans", "NHS England"),
        ("bob", "Bob Brown", "Leeds City Council"),
        ("carol", "Carol Cancel", "Leeds City Council"),
        ("wendy", "Wendy Wait", "Leeds City Council"),
        ("will", "Will Waitlist", "Leeds City Council"),
    ]
    made: dict[str, dict[str, Any]] = {}
    for key, name, org in rows:
        response = await client.post(
            "/api/v1/registrations", json=registration_body(tickets["delegate"], name=name, organisation=org)
        )
        assert response.status_code == 201, response.text
        made[key] = {**response.json(), "name": name}
    # Cancel first: a cancellation moves the waiting list up.
    cancelled = await client.delete(
        f"/api/v1/registrations/{made['carol']['id']}", headers=bearer(made["carol"]["manage_token"])
    )
    assert cancelled.status_code == 200
    async with database.transaction() as db:

        def by(key: str) -> Any:
            return Registration.id == uuid.UUID(made[key]["id"])

        await db.execute(sa.update(Registration).where(by("cher")).values(ticket_type_id=tickets["speaker"]))
        await db.execute(sa.update(Registration).where(by("bob")).values(status=Status.pending_payment))
        await db.execute(sa.update(Registration).where(by("wendy")).values(status=Status.awaiting_approval))
        await db.execute(sa.update(Registration).where(by("will")).values(status=Status.waitlisted))
    made["_tickets"] = {k: str(v) for k, v in tickets.items()}
    return made


@pytest.fixture
async def organiser(database: Database) -> dict[str, str]:
    async with database.transaction() as db:
        return bearer(await create_api_token(db, role="organiser", name="Badge desk"))


@pytest.fixture
async def staff(database: Database) -> dict[str, str]:
    async with database.transaction() as db:
        return bearer(await create_api_token(db, role="staff", name="Door A"))


async def printed_at(database: Database) -> dict[str, Any]:
    async with database.read() as db:
        return dict((await db.execute(sa.select(Registration.name, Registration.badge_printed_at))).all())


async def audits(database: Database, action: str) -> list[AuditEntry]:
    async with database.read() as db:
        return list((await db.execute(sa.select(AuditEntry).where(AuditEntry.action == action))).scalars())


# --- the service ------------------------------------------------------------------------------------------------


async def test_badges_for_confirmed_places_only_in_surname_order(
    database: Database, settings: Settings, people: dict[str, Any]
) -> None:
    signer = signer_for(settings)
    async with database.read() as db:
        badges = await badge_data(db, signer)
    assert [b.name for b in badges] == CONFIRMED_IN_ORDER
    for b in badges:
        assert signer.verify(b.code) == BadgeClaim(b.reference, 1)
        assert b.registration_id is not None
    assert {b.name: b.ticket_type for b in badges}["Cher"] == "Speaker"


async def test_filters(database: Database, settings: Settings, people: dict[str, Any]) -> None:
    signer = signer_for(settings)
    async with database.read() as db:

        async def names(**filters: Any) -> list[str]:
            return [b.name for b in await badge_data(db, signer, **filters)]

        assert await names(ticket_type="speaker") == ["Cher"]
        assert await names(ticket_type=people["_tickets"]["speaker"]) == ["Cher"]
        assert await names(ticket_type=" DELEGATE ") == [
            "Zoë Adams",
            "ann evans",
            "Siân Evans",
            "Łucja Nowak",
        ]
        assert await names(ticket_type="Press") == []
        # Exact but for case and spacing: "Leeds City Council Housing" is another organisation.
        assert await names(organisation="leeds city council") == ["Zoë Adams", "Łucja Nowak"]
        assert await names(registration_id=uuid.UUID(people["sian"]["id"])) == ["Siân Evans"]
        assert await names(registration_id=uuid.UUID(people["bob"]["id"])) == []  # pending payment
        assert await names(ticket_type="", organisation="  ") == CONFIRMED_IN_ORDER  # blank = no filter
    async with database.transaction() as db:
        await mark_printed(db, [uuid.UUID(people["zoe"]["id"])])
    async with database.read() as db:
        assert await names(not_printed=True) == ["Cher", "ann evans", "Siân Evans", "Łucja Nowak"]


async def test_mark_printed_stamps_them_and_audits_the_count_only(
    database: Database, people: dict[str, Any]
) -> None:
    ids = [uuid.UUID(people[k]["id"]) for k in ("sian", "ann")]
    async with database.transaction() as db:
        assert await mark_printed(db, ids + ids, actor=Actor("organiser", "Badge desk")) == 2
    stamped = await printed_at(database)
    assert stamped["Siân Evans"] is not None and stamped["ann evans"] is not None
    assert stamped["Zoë Adams"] is None
    [entry] = await audits(database, "badges.printed")
    assert entry.data == {"count": 2}
    assert entry.actor == "organiser:Badge desk"


# --- the API ------------------------------------------------------------------------------------------------------


async def test_print_run_pdf_for_organisers_marks_printed(
    client: httpx.AsyncClient,
    database: Database,
    people: dict[str, Any],
    organiser: dict[str, str],
    staff: dict[str, str],
) -> None:
    assert (await client.get("/api/v1/badges.pdf")).status_code == 401
    assert (await client.get("/api/v1/badges.pdf", headers=staff)).status_code == 403
    attendee = bearer(people["sian"]["manage_token"])
    assert (await client.get("/api/v1/badges.pdf", headers=attendee)).status_code == 403
    assert all(v is None for v in (await printed_at(database)).values())

    response = await client.post("/api/v1/badges/print", headers=organiser)  # GET /badges.pdf marks nothing
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert "no-store" in response.headers["cache-control"]
    assert response.headers["x-badge-count"] == "5"
    text, pages = pdf_text(response.content)
    assert pages == 1
    flat = " ".join(text.split())
    positions = [flat.index(name) for name in CONFIRMED_IN_ORDER]
    assert positions == sorted(positions)
    assert "Bob Brown" not in flat and "Carol" not in flat and "Wendy" not in flat and "Will" not in flat

    stamped = await printed_at(database)
    assert {n for n, at in stamped.items() if at is not None} == set(CONFIRMED_IN_ORDER)
    [entry] = await audits(database, "badges.printed")
    assert entry.data == {"count": 5}

    again = await client.post("/api/v1/badges/print", json={"not_printed": True}, headers=organiser)
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "no_badges"
    assert (await client.get("/api/v1/badges.pdf?not_printed=1", headers=organiser)).status_code == 404
    # Without not_printed, a reprint of everyone is always possible.
    assert (await client.get("/api/v1/badges.pdf?layout=a6-4", headers=organiser)).status_code == 200


async def test_print_run_filters_and_layout(
    client: httpx.AsyncClient, database: Database, people: dict[str, Any], organiser: dict[str, str]
) -> None:
    response = await client.get(
        "/api/v1/badges.pdf",
        params={"organisation": "LEEDS CITY COUNCIL", "layout": "a6-4"},
        headers=organiser,
    )
    assert response.status_code == 200
    text, pages = pdf_text(response.content)
    assert pages == 1 and "Zoë Adams" in text and "Łucja Nowak" in text and "Cher" not in text
    assert response.headers["x-badge-count"] == "2"
    speakers = await client.get("/api/v1/badges.pdf?ticket_type=Speaker", headers=organiser)
    assert speakers.headers["x-badge-count"] == "1"
    assert all(at is None for at in (await printed_at(database)).values())  # a GET marks nothing


@pytest.mark.parametrize(
    ("query", "field"), [("layout=letter", "layout"), ("not_printed=maybe", "not_printed")]
)
async def test_print_run_bad_parameters(
    client: httpx.AsyncClient, people: dict[str, Any], organiser: dict[str, str], query: str, field: str
) -> None:
    response = await client.get(f"/api/v1/badges.pdf?{query}", headers=organiser)
    assert response.status_code == 422
    assert field in response.json()["error"]["fields"]


async def test_own_badge_png_decodes_and_verifies_with_the_published_key(
    client: httpx.AsyncClient, people: dict[str, Any], staff: dict[str, str]
) -> None:
    sian = people["sian"]
    response = await client.get(
        f"/api/v1/registrations/{sian['id']}/badge.png", headers=bearer(sian["manage_token"])
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert "no-store" in response.headers["cache-control"]
    [found] = decode(Image.open(io.BytesIO(response.content)))
    key = await client.get("/api/v1/badges/public-key", headers=staff)
    assert key.status_code == 200
    assert key.json()["algorithm"] == "Ed25519"
    assert verify_with(key.json()["public_key"], found.text) == BadgeClaim(sian["reference"], 1)


async def test_own_badge_pdf(client: httpx.AsyncClient, database: Database, people: dict[str, Any]) -> None:
    zoe = people["zoe"]
    response = await client.get(
        f"/api/v1/registrations/{zoe['id']}/badge.pdf", headers=bearer(zoe["manage_token"])
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert f"badge-{zoe['reference']}.pdf" in response.headers["content-disposition"]
    text, pages = pdf_text(response.content)
    assert pages == 1 and "Zoë Adams" in text
    [page] = raster(response.content, dpi=150)
    [found] = decode(page)
    assert found.text.startswith(f"{zoe['reference']}.1.")
    # A delegate's own download is not the organisers' print run.
    assert (await printed_at(database))["Zoë Adams"] is None
    card = await client.get(
        f"/api/v1/registrations/{zoe['id']}/badge.pdf?layout=a4-8", headers=bearer(zoe["manage_token"])
    )
    assert card.status_code == 200
    bad = await client.get(
        f"/api/v1/registrations/{zoe['id']}/badge.pdf?layout=x", headers=bearer(zoe["manage_token"])
    )
    assert bad.status_code == 422


@pytest.mark.parametrize("suffix", ["badge.pdf", "badge.png"])
async def test_badge_roles(
    client: httpx.AsyncClient,
    database: Database,
    people: dict[str, Any],
    organiser: dict[str, str],
    staff: dict[str, str],
    suffix: str,
) -> None:
    url = f"/api/v1/registrations/{people['sian']['id']}/{suffix}"
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=bearer("m_not-a-real-token"))).status_code == 401
    other = await client.get(url, headers=bearer(people["zoe"]["manage_token"]))
    assert other.status_code == 403
    # Staff print badges at the desk for delegates who came without one; organisers print anything.
    assert (await client.get(url, headers=staff)).status_code == 200
    assert (await client.get(url, headers=organiser)).status_code == 200
    entries = await audits(database, "badges.badge.downloaded")
    assert [(e.subject, e.actor.split(":")[0]) for e in entries] == [
        (people["sian"]["reference"], "staff"),
        (people["sian"]["reference"], "organiser"),
    ]
    missing = await client.get(f"/api/v1/registrations/{uuid.uuid4()}/{suffix}", headers=organiser)
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("who", "words"),
    [
        ("bob", "waiting for payment"),
        ("wendy", "approval"),
        ("will", "waiting list"),
        ("carol", "cancelled"),
    ],
)
@pytest.mark.parametrize("suffix", ["badge.pdf", "badge.png"])
async def test_no_badge_without_a_confirmed_place(
    client: httpx.AsyncClient,
    people: dict[str, Any],
    organiser: dict[str, str],
    who: str,
    words: str,
    suffix: str,
) -> None:
    url = f"/api/v1/registrations/{people[who]['id']}/{suffix}"
    for headers in (organiser, bearer(people[who]["manage_token"])):
        response = await client.get(url, headers=headers)
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "no_place"
        assert words in response.json()["error"]["message"]


async def test_public_key_roles(
    client: httpx.AsyncClient, settings: Settings, people: dict[str, Any], organiser: dict[str, str]
) -> None:
    url = "/api/v1/badges/public-key"
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=bearer(people["sian"]["manage_token"]))).status_code == 403
    response = await client.get(url, headers=organiser)
    assert response.json() == {"algorithm": "Ed25519", "public_key": signer_for(settings).public_key_b64}


# --- the command line ---------------------------------------------------------------------------------------------


def test_cli_prints_and_marks(tmp_path: Path, database_url: str) -> None:
    import asyncio

    settings = make_settings(database_url)

    async def seed() -> list[str]:
        database = Database.from_settings(settings)
        try:
            tickets = await make_conference(database, capacity=20)
            app = create_app(settings)
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
            ):
                for name in ("Siân Evans", "Zoë Adams", "Cher"):
                    r = await c.post(
                        "/api/v1/registrations", json=registration_body(tickets["delegate"], name=name)
                    )
                    assert r.status_code == 201
            return [name for name in ("Zoë Adams", "Cher", "Siân Evans")]
        finally:
            await database.dispose()

    expected = asyncio.run(seed())
    out = tmp_path / "badges.pdf"
    env = {
        **os.environ,
        "CONFERENCE_DATABASE_URL": database_url,
        "CONFERENCE_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "conference.server.cli", "badges", "print", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    result = cli("--out", str(out), "--layout", "a6-4")
    assert result.returncode == 0, result.stderr
    assert "3 badges on 1 pages" in result.stderr and "3 marked printed" in result.stderr
    assert "badge" in result.stderr and "3/3" in result.stderr  # tqdm's bar
    text, pages = pdf_text(out.read_bytes())
    assert pages == 1
    positions = [" ".join(text.split()).index(n) for n in expected]
    assert positions == sorted(positions)
    again = cli("--out", str(tmp_path / "again.pdf"), "--not-printed")
    assert again.returncode == 1 and "nothing to print" in again.stderr
    assert cli("--out", str(out), "--layout", "letter").returncode == 2
