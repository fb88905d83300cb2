"""The HTML registration form in-process: CSRF protection and the duplicate-email page."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import AuditEntry, OutboxEmail, Registration
from tests.support import count_rows

HTML = {"accept": "text/html,application/xhtml+xml"}
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


async def open_form(client: httpx.AsyncClient) -> str:
    """GET the home page as a browser would (it sets the csrf cookie); returns the form's csrf_token."""
    page = await client.get("/", headers=HTML)
    assert page.status_code == 200
    assert "csrf" in client.cookies
    match = CSRF_FIELD.search(page.text)
    assert match is not None
    return html.unescape(match.group(1))


def form(ticket: Any, **overrides: str) -> dict[str, str]:
    values = {
        "name": "Grace Hopper",
        "email": "grace.hopper@leeds.gov.uk",
        "organisation": "Leeds City Council",
        "sector": "local_authority",
        "ticket_type_id": str(ticket),
        "consent": "yes",
    }
    values.update(overrides)
    return values


async def test_form_post_without_csrf_token_is_refused_and_writes_nothing(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database
) -> None:
    token = await open_form(client)

    missing = await client.post("/register", data=form(tickets["delegate"]), headers=HTML)
    assert missing.status_code == 403
    assert "This form has expired" in missing.text
    assert "text/html" in missing.headers["content-type"]

    forged_token = token[:-1] + ("A" if token[-1] != "A" else "B")
    forged = await client.post(
        "/register", data=form(tickets["delegate"], csrf_token=forged_token), headers=HTML
    )
    assert forged.status_code == 403

    # The field without its cookie (a cross-site post carries no SameSite=Strict cookie) is refused too.
    cookie = client.cookies["csrf"]
    client.cookies.clear()
    no_cookie = await client.post("/register", data=form(tickets["delegate"], csrf_token=token), headers=HTML)
    assert no_cookie.status_code == 403

    for model in (Registration, OutboxEmail, AuditEntry):
        assert await count_rows(database, model) == 0, model.__name__

    # The same form with the token and its cookie goes through: the refusals above were the CSRF check.
    client.cookies.set("csrf", cookie)
    accepted = await client.post("/register", data=form(tickets["delegate"], csrf_token=token), headers=HTML)
    assert accepted.status_code == 303
    assert await count_rows(database, Registration) == 1


async def test_duplicate_email_on_the_form_offers_to_resend_the_booking_link(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database
) -> None:
    token = await open_form(client)
    first = await client.post("/register", data=form(tickets["delegate"], csrf_token=token), headers=HTML)
    assert first.status_code == 303
    location = first.headers["location"]
    assert re.search(r"/manage/m_[A-Za-z0-9_-]+\?new=1$", location), location
    confirmation = await client.get(location, headers=HTML)
    assert confirmation.status_code == 200
    assert re.search(r"NC-[A-Z2-9]{6}", confirmation.text)

    again = await client.post(
        "/register",
        data=form(tickets["delegate"], email="Grace.Hopper@Leeds.gov.uk", name="G. Hopper", csrf_token=token),
        headers=HTML,
    )
    assert again.status_code == 409
    page = again.text
    assert "There is a problem" in page
    assert "This email address is already registered." in page
    assert "Email me my booking link" in page
    resend_form = re.search(
        r'<form method="post" action="([^"]+)" class="notice" id="resend">(.*?)</form>', page, re.S
    )
    assert resend_form is not None
    assert resend_form.group(1).endswith("/resend-link")
    assert 'name="email" value="Grace.Hopper@Leeds.gov.uk"' in resend_form.group(2)
    assert 'value="G. Hopper"' in page  # what was typed is kept
    assert await count_rows(database, Registration) == 1

    resent = await client.post(
        "/resend-link", data={"csrf_token": token, "email": "Grace.Hopper@Leeds.gov.uk"}, headers=HTML
    )
    assert resent.status_code == 200
    assert "Check your email" in resent.text
    async with database.read() as db:
        kinds = list(
            (await db.execute(sa.select(OutboxEmail.kind).order_by(OutboxEmail.created_at))).scalars()
        )
    assert kinds == ["registration", "manage_link"]
