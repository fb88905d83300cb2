"""Issue 18, "forms without dead ends", the registration form: every problem at once in the error summary (an empty
form used to show 2 of its 6), the summary focused without a script, no payment fields asked of a free ticket,
and the privacy notice linked from the consent box."""

from __future__ import annotations

import re
from typing import Any

import httpx
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import Registration
from tests.support import HTML, count_rows, csrf

REQUIRED = ["name", "email", "organisation", "sector", "ticket_type_id", "consent"]
BILLING = [
    "billing_organisation",
    "billing_contact_name",
    "billing_email",
    "billing_address",
    "billing_purchase_order",
]


def summary_links(page: str) -> list[str]:
    section = page.split('id="error-summary"', 1)[1].split("</div>", 1)[0]
    return re.findall(r'href="#([^"]+)"', section)


async def post(client: httpx.AsyncClient, values: dict[str, str]) -> httpx.Response:
    home = await client.get("/", headers=HTML)
    return await client.post("/register", data={**values, "csrf_token": csrf(home.text)}, headers=HTML)


def person(ticket: Any, **overrides: str) -> dict[str, str]:
    return {
        "name": "Grace Hopper",
        "email": "grace.hopper@leeds.gov.uk",
        "organisation": "Leeds City Council",
        "sector": "local_authority",
        "ticket_type_id": str(ticket),
        "consent": "yes",
        **overrides,
    }


async def test_an_empty_form_lists_every_required_field_at_once(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    refused = await post(client, {})
    assert refused.status_code == 422
    # The summary links each field in the form's order (the ticket to its first radio, the box to itself).
    links = summary_links(refused.text)
    assert links == ["name", "email", "organisation", "sector", "ticket_type_id-0", "consent"], links
    for text in (
        "Choose a ticket type.",
        "Choose the sector you work in.",
        "You must agree to the privacy notice",
    ):
        assert text in refused.text
    for name in REQUIRED:
        assert f'id="{name}-error"' in refused.text, name
    assert await count_rows(database, Registration) == 0


async def test_the_summary_takes_the_focus_without_a_script(
    client: httpx.AsyncClient, tickets: dict[str, Any]
) -> None:
    refused = await post(client, person(tickets["delegate"], email="nope"))
    summary = re.search(r"<div class=\"error-summary\"[^>]*>", refused.text)
    assert summary is not None
    assert 'tabindex="-1"' in summary.group(0) and "autofocus" in summary.group(0)
    assert 'role="alert"' in summary.group(0)
    assert refused.text.count(" autofocus") == 1  # one element takes it
    assert "<script" not in refused.text


async def test_a_priced_ticket_paid_by_invoice_lists_its_billing_problems_with_the_rest(
    client: httpx.AsyncClient, tickets: dict[str, Any]
) -> None:
    refused = await post(client, person(tickets["exhibitor"], name="", consent="", payment_method="invoice"))
    assert refused.status_code == 422
    assert summary_links(refused.text) == ["name", *BILLING, "consent"]


async def test_a_payment_method_the_ticket_cannot_take_is_listed_with_the_rest(
    client: httpx.AsyncClient, tickets: dict[str, Any]
) -> None:
    # No card payments on this service (no Stripe key): a card choice is a problem beside the others.
    refused = await post(client, person(tickets["exhibitor"], organisation="", payment_method="card"))
    assert refused.status_code == 422
    assert summary_links(refused.text) == ["organisation", "payment_method"]
    assert "Card payment is not available; choose invoice." in refused.text


async def test_a_free_ticket_is_never_asked_for_payment(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    home = await client.get("/", headers=HTML)
    # Only the priced ticket's radio is marked: the stylesheet shows the payment section once it is chosen.
    radios = re.findall(r'<input type="radio" id="ticket_type_id-\d+"[^>]*>', home.text)
    priced = [r for r in radios if "data-priced" in r]
    assert len(priced) == 1 and str(tickets["exhibitor"]) in priced[0]
    style = (await client.get("/static/style.css")).text
    assert "#register-form:not(:has(input[data-priced]:checked)) #payment { display: none; }" in style

    # A free ticket sent with an invoice chosen and no billing details: nothing about payment is refused.
    made = await client.post(
        "/register",
        data={**person(tickets["delegate"], payment_method="invoice"), "csrf_token": csrf(home.text)},
        headers=HTML,
    )
    assert made.status_code == 303, made.text
    async with database.read() as db:
        registration = (await db.execute(sa.select(Registration))).scalar_one()
    assert registration.payment_method.value == "none" and registration.billing is None


async def test_the_consent_box_links_the_privacy_notice(
    client: httpx.AsyncClient, tickets: dict[str, Any]
) -> None:
    home = (await client.get("/", headers=HTML)).text
    label = re.search(r'<label for="consent">(.*?)</label>', home, re.S)
    assert label is not None and 'href="/privacy"' in label.group(1)
    assert (await client.get("/privacy", headers=HTML)).status_code == 200
