"""After the event the manage page leads with what the event left (the certificate, feedback, the library) and
drops what no longer makes sense (the ticket's QR code, cancelling the place); before it, it is as it was."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import Conference, utcnow
from tests.support import organiser_token, register

HTML = {"accept": "text/html"}


async def _page(client: httpx.AsyncClient, person: dict[str, Any]) -> str:
    response = await client.get(f"/manage/{person['manage_token']}", headers=HTML)
    assert response.status_code == 200, response.text
    return response.text


async def test_the_manage_page_before_and_after_the_event(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    person = await register(client, tickets["delegate"])
    before = await _page(client, person)
    assert 'id="after-the-event"' not in before
    assert 'id="ticket-qr"' in before and "Cancel this registration" in before
    for link in ("certificate-link", "feedback-link", "library-link"):
        assert f'id="{link}"' in before

    async with database.transaction() as db:  # the event took place last week
        await db.execute(
            sa.update(Conference).values(
                starts_at=utcnow() - timedelta(days=8), ends_at=utcnow() - timedelta(days=7)
            )
        )
    after = await _page(client, person)
    section = after.split('id="after-the-event"', 1)[1].split("</section>", 1)[0]
    for link, path in (
        ("certificate-link", "certificate"),
        ("feedback-link", "feedback"),
        ("library-link", "library"),
    ):
        assert f'href="/manage/{person["manage_token"]}/{path}" id="{link}"' in section
        assert after.count(f'id="{link}"') == 1
    assert after.index('id="after-the-event"') < after.index('id="personal-data"')
    assert 'id="ticket-qr"' not in after and "Cancel this registration" not in after


async def test_a_delegate_cannot_cancel_once_the_event_is_over_but_an_organiser_can(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    mine, theirs = await register(client, tickets["delegate"]), await register(client, tickets["delegate"])
    async with database.transaction() as db:
        await db.execute(
            sa.update(Conference).values(
                starts_at=utcnow() - timedelta(days=8), ends_at=utcnow() - timedelta(days=7)
            )
        )
    refused = await client.delete(
        f"/api/v1/registrations/{mine['id']}", headers={"authorization": f"Bearer {mine['manage_token']}"}
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "event_over"
    assert (
        await client.get(
            f"/api/v1/registrations/{mine['id']}", headers={"authorization": f"Bearer {mine['manage_token']}"}
        )
    ).json()["status"] == "confirmed"
    token = await organiser_token(database)
    done = await client.delete(
        f"/api/v1/registrations/{theirs['id']}", headers={"authorization": f"Bearer {token}"}
    )
    assert done.status_code == 200, done.text
