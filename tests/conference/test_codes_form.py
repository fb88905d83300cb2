"""The public registration form's Code field: a code that cannot be used is refused on the field (and no place
is held); a complimentary code books a priced ticket with nothing to pay and no billing details asked."""

from __future__ import annotations

import html
from typing import Any

import httpx
import sqlalchemy as sa

from conference.core.code_models import Code, Discount
from conference.core.db import Database
from conference.core.models import Registration
from conference.places import get_conference
from tests.conference.test_pages import HTML, form, open_form
from tests.support import count_rows


async def _make_code(database: Database, text: str, **settings: Any) -> None:
    async with database.transaction() as db:
        conference = await get_conference(db)
        assert conference.id is not None
        db.add(Code(conference_id=conference.id, text=text, **settings))


async def test_an_unknown_code_is_shown_on_its_field_and_holds_no_place(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database
) -> None:
    token = await open_form(client)
    page = await client.post(
        "/register", data=form(tickets["delegate"], csrf_token=token, code="WRONG-CODE"), headers=HTML
    )
    assert page.status_code == 422
    text = html.unescape(page.text)
    assert 'id="code-error"' in text and "We don't recognise this code" in text
    assert '<a href="#code">Code: ' in text  # the summary links to the field
    assert 'value="WRONG-CODE"' in text  # as typed
    assert await count_rows(database, Registration) == 0


async def test_a_complimentary_code_books_a_priced_ticket_with_nothing_to_pay(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database
) -> None:
    await _make_code(database, "SPONSOR-ACME", discount=Discount.complimentary, max_uses=2)
    token = await open_form(client)
    # No payment method and no billing details: the code makes the place free.
    page = await client.post(
        "/register", data=form(tickets["exhibitor"], csrf_token=token, code="sponsor-acme"), headers=HTML
    )
    assert page.status_code == 303, page.text
    async with database.read() as db:
        (registration,) = (await db.execute(sa.select(Registration))).scalars()
    assert registration.status.value == "confirmed" and registration.price_pence == 0
    assert registration.payment_method.value == "none"
