"""The e-ticket (badges/ticket.py, badges/ticket_pages.py): the badge's own signed code, as an inline QR on the
booking page and the ticket page and on a one-page PDF, read back by an independent decoder (zxing-cpp) and
scanned at the door (`ok`, then `already_checked_in`). A reissued badge replaces the ticket and the old QR answers
`invalid`; a transfer ends the old link's ticket; a place without a confirmed status gets a page with no QR."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import sqlalchemy as sa

from badges.render import QR_BORDER, qr_matrix
from badges.ticket import qr_svg
from conference import delegates
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import Conference, Registration, Status
from conference.core.settings import Settings
from tests.support import (
    MANAGE_LINK,
    bearer,
    body_of,
    code_for,
    decode,
    emails,
    flat,
    organiser_token,
    pdf_text,
    raster,
    register,
    scan,
    staff_token,
)


def svg_of(html: str) -> str:
    found = re.search(r'<div class="ticket-qr" id="ticket-qr">(<svg.*?</svg>)</div>', html, re.S)
    assert found, "no inline QR on the page"
    return found.group(1)


def svg_modules(svg: str) -> list[list[bool]]:
    """The dark modules an SVG drawn by qr_svg paints (each run "Mx yhNv1h-Nz"), quiet zone taken off."""
    size = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))  # type: ignore[union-attr]
    n = size - 2 * QR_BORDER
    grid = [[False] * n for _ in range(n)]
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", svg):
        for c in range(int(x), int(x) + int(w)):
            grid[int(y) - QR_BORDER][c - QR_BORDER] = True
    return grid


async def ticket_code(client: httpx.AsyncClient, token: str) -> str:
    """The code the ticket's PDF carries, as zxing-cpp reads it from the rendered page."""
    pdf = await client.get(f"/ticket/{token}.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["cache-control"] == "private, no-store"
    (page,) = raster(pdf.content)
    (found,) = decode(page)
    return str(found.text)


async def test_the_ticket_is_the_badge_and_the_door_admits_it_once(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database, settings: Settings
) -> None:
    async with database.transaction() as db:
        await db.execute(sa.update(Conference).values(venue_address="Woodhouse Lane\nLeeds LS2 9JT"))
    ada = await register(client, tickets["delegate"], name="Ada Lovelace", organisation="Leeds City Council")
    token = ada["manage_token"]

    pdf = await client.get(f"/ticket/{token}.pdf")
    text, pages = pdf_text(pdf.content)
    assert pages == 1
    for expected in (
        "Test Conference",
        "Ada Lovelace",
        "Leeds City Council",
        "DELEGATE",
        f"Booking reference {ada['reference']}",
        "Tue 8 Dec 2026",
        "Test Hall",
        "Leeds LS2 9JT",
    ):
        assert expected in flat(text), expected
    code = await ticket_code(client, token)
    assert code == code_for(settings, ada)  # exactly what the printed badge carries

    # The booking page and the ticket page show the same code as an inline QR (no request for an image).
    manage = await client.get(f"/manage/{token}")
    assert svg_modules(svg_of(manage.text)) == qr_matrix(code)
    assert f'href="/ticket/{token}.pdf"' in manage.text and f'href="/ticket/{token}"' in manage.text
    page = await client.get(f"/ticket/{token}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert svg_of(page.text) == qr_svg(
        code, label=f"QR code of your ticket, booking reference {ada['reference']}"
    )
    assert "Ada Lovelace" in page.text and "Woodhouse Lane" in page.text

    staff = bearer(await staff_token(database))
    first = (await scan(client, staff, code)).json()
    assert first["result"] == "ok" and first["attendee"]["name"] == "Ada Lovelace"
    assert (await scan(client, staff, code, device="door-b")).json()["result"] == "already_checked_in"


async def test_a_reissued_badge_replaces_the_ticket_and_the_old_qr_is_invalid(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database, settings: Settings
) -> None:
    grace = await register(client, tickets["delegate"], name="Grace Hopper")
    old = await ticket_code(client, grace["manage_token"])
    organiser = bearer(await organiser_token(database))
    reissued = await client.post(f"/api/v1/registrations/{grace['id']}/badge/reissue", headers=organiser)
    assert reissued.status_code == 200

    new = await ticket_code(client, grace["manage_token"])
    assert new != old and new == code_for(settings, grace, version=2)
    assert svg_modules(svg_of((await client.get(f"/manage/{grace['manage_token']}")).text)) == qr_matrix(new)
    staff = bearer(await staff_token(database))
    refused = (await scan(client, staff, old)).json()
    assert refused["result"] == "invalid" and refused["attendee"]["name"] == "Grace Hopper"
    assert (await scan(client, staff, new)).json()["result"] == "ok"


async def test_a_transfer_ends_the_old_ticket_and_gives_the_colleague_theirs(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database, settings: Settings
) -> None:
    first = await register(client, tickets["delegate"], name="Ada Lovelace")
    old_code = await ticket_code(client, first["manage_token"])
    async with database.transaction() as db:
        await delegates.substitute(
            db,
            settings=settings,
            registration_id=uuid.UUID(first["id"]),
            details=delegates.parse_details(
                {
                    "name": "Grace Colleague",
                    "email": "grace.colleague@leeds.gov.uk",
                    "organisation": "Leeds City Council",
                    "sector": "local_authority",
                }
            ),
            actor=Actor("organiser", "tests"),
        )
    # The old link's ticket is gone (the invalid-link page), and its QR no longer admits anyone.
    assert (await client.get(f"/ticket/{first['manage_token']}")).status_code == 404
    assert (await client.get(f"/ticket/{first['manage_token']}.pdf")).status_code == 404
    staff = bearer(await staff_token(database))
    assert (await scan(client, staff, old_code)).json()["result"] == "invalid"

    # The colleague's confirmation carries their own link; their ticket admits them, once.
    # (Emails are composed when sent: the first, withdrawn, would say the same to the colleague's address.)
    welcome = (await emails(database, settings, "registration"))[-1]
    assert "transferred to you" in body_of(welcome)
    (new_token,) = MANAGE_LINK.findall(body_of(welcome))
    new_code = await ticket_code(client, new_token)
    assert new_code == code_for(settings, first, version=2)
    admitted = (await scan(client, staff, new_code)).json()
    assert admitted["result"] == "ok" and admitted["attendee"]["name"] == "Grace Colleague"
    assert (await scan(client, staff, new_code)).json()["result"] == "already_checked_in"


async def test_a_place_without_a_ticket_gets_a_clear_page_and_no_qr(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database
) -> None:
    leaving = await register(client, tickets["delegate"], name="Ida Leaving")
    owing = await register(client, tickets["delegate"], name="Owen Owing")
    cancelled = await client.delete(
        f"/api/v1/registrations/{leaving['id']}", headers=bearer(leaving["manage_token"])
    )
    assert cancelled.status_code == 200
    async with database.transaction() as db:
        await db.execute(
            sa.update(Registration)
            .where(Registration.id == uuid.UUID(owing["id"]))
            .values(status=Status.pending_payment)
        )
    for person, words in ((leaving, "This booking is cancelled"), (owing, "until payment arrives")):
        token = person["manage_token"]
        for path in (f"/ticket/{token}", f"/ticket/{token}.pdf"):
            answer = await client.get(path)
            assert answer.status_code == 409 and answer.headers["content-type"].startswith("text/html")
            assert "No ticket for this booking" in answer.text and words in answer.text
            assert "<svg" not in answer.text
        manage = await client.get(f"/manage/{token}")
        assert manage.status_code == 200 and "<svg" not in manage.text and "/ticket/" not in manage.text
    # A link that belongs to nobody: the invalid-link page, as for the booking page.
    assert (await client.get("/ticket/m_nobody")).status_code == 404
