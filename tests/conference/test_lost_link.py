"""Issue 18, "Lost your link?": the form on `/`, on /lost-link and on every invalid-link page, posting to the
existing resend endpoint, which never says whether an address is registered and is rate limited."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference.core.db import Database
from conference.core.models import Conference, OutboxEmail
from conference.core.security import email_verify_token, manage_token
from tests.factories import make_conference
from tests.support import HTML, SECRET_KEY, bearer, csrf, register, running_app

FORM = 'id="lost-link-email"'


async def lost_link_kinds(database: Database, to: str) -> list[str]:
    async with database.read() as db:
        stmt = sa.select(col(OutboxEmail.kind)).where(col(OutboxEmail.to_address) == to)
        return [k for k in (await db.execute(stmt)).scalars() if k == "manage_link"]


def without_csrf(page: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", page)


async def test_the_form_is_on_the_home_page_whether_registration_is_open_or_not(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    page = await client.get("/", headers=HTML)
    assert FORM in page.text and '<details class="lost-link-box" id="lost-link">' in page.text
    assert re.search(r'<form method="post" action="[^"]*/resend-link" class="lost-link"', page.text)
    async with database.transaction() as db:
        await db.execute(sa.update(Conference).values(registration_open=False))
    closed = await client.get("/", headers=HTML)
    assert 'id="registration-closed"' in closed.text and FORM in closed.text
    own = await client.get("/lost-link", headers=HTML)
    assert own.status_code == 200 and FORM in own.text


@pytest.mark.parametrize(
    "path",
    ["/manage/{m}", "/manage/{m}/agenda", "/manage/{m}/details", "/manage/{m}/transfer", "/verify-email/{v}"],
)
async def test_every_invalid_link_page_offers_the_form(
    client: httpx.AsyncClient, tickets: dict[str, Any], path: str
) -> None:
    nobody = uuid.uuid4()
    url = path.format(
        m=manage_token(SECRET_KEY, nobody, 1), v=email_verify_token(SECRET_KEY, nobody, "x@example.org", 1)
    )
    page = await client.get(url, headers=HTML)
    assert page.status_code == 404
    assert FORM in page.text and "Lost your link?" in page.text
    # Machines get the JSON error, without the form.
    machine = await client.get(url)
    assert machine.status_code == 404 and machine.json()["error"]["code"] == "not_found"
    # Other pages that fail are not about a lost link.
    assert FORM not in (await client.get("/no-such-page", headers=HTML)).text


async def test_the_answer_never_says_whether_the_address_is_registered(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    made = await register(client, tickets["delegate"])
    cancelled = await register(client, tickets["delegate"])
    assert (
        await client.delete(
            f"/api/v1/registrations/{cancelled['id']}", headers=bearer(cancelled["manage_token"])
        )
    ).status_code in (200, 204)
    home = await client.get("/", headers=HTML)
    answers = []
    for email in (made["email"].upper(), "nobody.here@leeds.gov.uk", cancelled["email"]):
        response = await client.post(
            "/resend-link", data={"email": email, "csrf_token": csrf(home.text)}, headers=HTML
        )
        answers.append((response.status_code, without_csrf(response.text)))
    assert answers[0][0] == 200 and "If that address is registered" in answers[0][1]
    assert answers[0] == answers[1] == answers[2]  # the same page, word for word
    assert await lost_link_kinds(database, made["email"]) == ["manage_link"]
    assert await lost_link_kinds(database, "nobody.here@leeds.gov.uk") == []
    assert await lost_link_kinds(database, cancelled["email"]) == []


async def test_a_wrong_address_comes_back_with_the_problem_in_the_summary(
    client: httpx.AsyncClient, tickets: dict[str, Any]
) -> None:
    home = await client.get("/", headers=HTML)
    refused = await client.post(
        "/resend-link", data={"email": "not an address", "csrf_token": csrf(home.text)}, headers=HTML
    )
    assert refused.status_code == 422
    assert 'href="#lost-link-email"' in refused.text and 'id="error-summary" autofocus' in refused.text
    assert 'value="not an address"' in refused.text and 'aria-invalid="true"' in refused.text


async def test_the_form_is_rate_limited_per_client(database_url: str, database: Database) -> None:
    await make_conference(database)
    async with running_app(database_url, CONFERENCE_RATE_LIMIT="3/minute") as client:
        home = await client.get("/", headers=HTML)
        data = {"email": "someone@leeds.gov.uk", "csrf_token": csrf(home.text)}
        statuses = [
            (await client.post("/resend-link", data=data, headers=HTML)).status_code for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 429]
        limited = await client.post("/resend-link", data=data, headers=HTML)
        assert limited.status_code == 429 and "Too many requests" in limited.text
        assert limited.headers["retry-after"] == "60"
