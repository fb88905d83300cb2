"""The print run is read with GET and recorded with POST (issue 15, L6): `GET /api/v1/badges.pdf` changes nothing
whoever asks (a signed-in browser sends its SameSite=Lax cookie on a link from another site), and
`POST /api/v1/badges/print` marks the badges printed, with the page's CSRF token when a console session asks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import AuditEntry, Registration
from tests.support import bearer, csrf, organiser_token, pdf_text, sign_in

CONFIRMED = 3  # the `people` fixture: ada, grace and extra hold places


@pytest.fixture
async def organiser(database: Database) -> dict[str, str]:
    return bearer(await organiser_token(database))


async def printed(database: Database) -> dict[str, bool]:
    async with database.read() as db:
        rows = (await db.execute(sa.select(Registration.name, Registration.badge_printed_at))).all()
    return {name: at is not None for name, at in rows}


async def actions(database: Database) -> list[str]:
    async with database.read() as db:
        return list((await db.execute(sa.select(AuditEntry.action))).scalars())


async def test_get_marks_nothing_however_often(
    client: httpx.AsyncClient, database: Database, people: dict[str, Any], organiser: dict[str, str]
) -> None:
    for _ in range(2):
        response = await client.get("/api/v1/badges.pdf?not_printed=1", headers=organiser)
        assert response.status_code == 200, response.text
        assert response.headers["x-badge-count"] == str(CONFIRMED)
    assert not any((await printed(database)).values())
    assert "badges.printed" not in await actions(database)
    assert (await actions(database)).count("badges.print_run.downloaded") == 2  # downloads stay accountable


async def test_post_marks_the_run_printed(
    client: httpx.AsyncClient, database: Database, people: dict[str, Any], organiser: dict[str, str]
) -> None:
    response = await client.post("/api/v1/badges/print", json={"not_printed": True}, headers=organiser)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert "no-store" in response.headers["cache-control"]
    assert response.headers["x-badge-count"] == str(CONFIRMED)
    text = " ".join(pdf_text(response.content)[0].split())
    assert people["ada"]["name"] in text and people["waiting"]["name"] not in text
    stamped = await printed(database)
    assert {name for name, done in stamped.items() if done} == {
        people[k]["name"] for k in ("ada", "grace", "extra")
    }
    assert (await actions(database)).count("badges.printed") == 1
    # The next run of badges not printed yet is empty, whichever way it is asked for.
    again = await client.post("/api/v1/badges/print", json={"not_printed": True}, headers=organiser)
    assert again.status_code == 404 and again.json()["error"]["code"] == "no_badges"
    assert (await client.get("/api/v1/badges.pdf?not_printed=1", headers=organiser)).status_code == 404
    # A reprint of everyone is always possible; a body is optional.
    assert (await client.post("/api/v1/badges/print", headers=organiser)).status_code == 200


async def test_post_filters_and_checks_its_body(
    client: httpx.AsyncClient, database: Database, people: dict[str, Any], organiser: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/badges/print", json={"ticket_type": "delegate", "layout": "a6-4"}, headers=organiser
    )
    assert response.status_code == 200 and response.headers["x-badge-count"] == str(CONFIRMED)
    assert 'filename="badges-a6-4.pdf"' in response.headers["content-disposition"]
    none = await client.post("/api/v1/badges/print", json={"organisation": "Nobody Ltd"}, headers=organiser)
    assert none.status_code == 404
    for body, field in (
        ({"layout": "letter"}, "layout"),
        ({"not_printed": "perhaps"}, "not_printed"),
        ({"colour": "red"}, "colour"),
    ):
        bad = await client.post("/api/v1/badges/print", json=body, headers=organiser)
        assert bad.status_code == 422 and field in bad.json()["error"]["fields"], bad.text


async def test_post_roles(
    client: httpx.AsyncClient, database: Database, people: dict[str, Any], staff: dict[str, str]
) -> None:
    assert (await client.post("/api/v1/badges/print")).status_code == 401
    assert (await client.post("/api/v1/badges/print", headers=staff)).status_code == 403
    delegate = bearer(people["ada"]["manage_token"])
    assert (await client.post("/api/v1/badges/print", headers=delegate)).status_code == 403
    assert not any((await printed(database)).values())


async def test_a_console_session_needs_the_csrf_token_to_print(
    client: httpx.AsyncClient, database: Database, people: dict[str, Any]
) -> None:
    await sign_in(client, await organiser_token(database))  # the browser's session cookie, no bearer token
    # A link from another site: the Lax cookie rides along on a GET, which now changes nothing.
    assert (await client.get("/api/v1/badges.pdf?not_printed=1")).status_code == 200
    assert not any((await printed(database)).values())
    # A cross-site form or script cannot send the header: refused, nothing marked.
    refused = await client.post("/api/v1/badges/print", json={"not_printed": True})
    assert refused.status_code == 401
    wrong = await client.post("/api/v1/badges/print", json={}, headers={"x-csrf-token": "forged"})
    assert wrong.status_code == 401
    assert not any((await printed(database)).values())
    # The console's own page has the token.
    token = csrf((await client.get("/login")).text)
    done = await client.post(
        "/api/v1/badges/print", json={"not_printed": True}, headers={"x-csrf-token": token}
    )
    assert done.status_code == 200, done.text
    assert sum((await printed(database)).values()) == CONFIRMED
