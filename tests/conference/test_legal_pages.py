"""The privacy notice (/privacy) and the accessibility statement (/accessibility): public pages with the organisers'
texts, reachable from the registration form's consent box and every page's footer."""

from __future__ import annotations

import re
from typing import Any

import httpx

from conference.core.db import Database
from tests.support import HTML, bearer, organiser_token


async def patch(client: httpx.AsyncClient, database: Database, **fields: Any) -> None:
    response = await client.patch(
        "/api/v1/conference", json=fields, headers=bearer(await organiser_token(database))
    )
    assert response.status_code == 200, response.text


def links(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)"', html)


async def test_the_form_and_every_footer_link_to_both_pages(
    client: httpx.AsyncClient, tickets: dict[str, Any]
) -> None:
    home = (await client.get("/", headers=HTML)).text
    consent = re.search(r'<label for="consent">(.*?)</label>', home, re.S)
    assert consent and 'href="/privacy"' in consent.group(1)
    for path in ("/", "/programme", "/call", "/login", "/privacy", "/accessibility"):
        page = await client.get(path, headers=HTML)
        assert page.status_code == 200, path
        footer = page.text[page.text.index('<footer class="site-footer">') :]
        assert {"/privacy", "/accessibility"} <= set(links(footer)), path


async def test_the_pages_show_the_organisers_texts_as_paragraphs_escaped(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    empty = (await client.get("/privacy", headers=HTML)).text
    assert "have not published their full privacy notice" in empty
    await patch(
        client,
        database,
        privacy_notice="Leeds City Council runs this event.\n\nWe keep <b>your</b> details\nfor 90 days.\n",
        accessibility_statement="These pages meet WCAG 2.1 AA.\r\n\r\nReport problems to us.",
        venue="Civic Hall",
        venue_address="Portland Crescent\nLeeds",
        accessibility_notes="Step-free entrance on Portland Crescent.",
        travel_notes="Ten minutes from the station.",
        contact_email="events@leeds.gov.uk",
    )
    privacy = (await client.get("/privacy", headers=HTML)).text
    assert '<p class="prewrap">Leeds City Council runs this event.</p>' in privacy
    assert "We keep &lt;b&gt;your&lt;/b&gt; details\nfor 90 days." in privacy  # text, never markup
    assert "<b>your</b>" not in privacy and "have not published" not in privacy
    assert 'href="mailto:events@leeds.gov.uk"' in privacy
    accessible = (await client.get("/accessibility", headers=HTML)).text
    assert accessible.count('<p class="prewrap">') >= 4  # two paragraphs, the address, the venue's notes
    assert "Report problems to us." in accessible and "Step-free entrance" in accessible
    assert "Ten minutes from the station." in accessible and 'id="the-venue"' in accessible
    home = (await client.get("/", headers=HTML)).text
    assert 'href="/accessibility#the-venue"' in home  # the venue's details are a link away from the form
    assert 'href="mailto:events@leeds.gov.uk"' in home  # the contact address in the footer
