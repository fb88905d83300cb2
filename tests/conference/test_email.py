"""Email against a real SMTP server: aiosmtpd listening on a free port, the app's own mail worker sending to it.

The app runs in-process (its lifespan starts the MailWorker in the test's event loop), so the tests wait for
mail with `await` (never time.sleep): the worker only makes progress while the test yields to the loop.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any

import httpx
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import OutboxEmail, Registration
from conference.core.security import hash_token
from conference.web.auth import create_api_token
from tests.support import (
    DELIVERY_TIMEOUT,
    MANAGE_LINK,
    PATIENCE,
    Mailbox,
    all_sent,
    bearer,
    body_of,
    database_dump,
    eventually,
    outbox_rows,
    register,
    running_app,
    smtp_env,
    start_smtp,
)

# --- tests ----------------------------------------------------------------------------------------------------


async def test_registration_sends_confirmation_with_a_working_manage_link(
    mail_client: httpx.AsyncClient, tickets: dict[str, Any], mailbox: Mailbox, database: Database
) -> None:
    created = await register(mail_client, tickets["delegate"], name="Ada Lovelace")
    await all_sent(database, 1)
    (message,) = await mailbox.wait_for(1)

    assert message["To"] == created["email"]
    assert created["reference"] in message["Subject"]
    body = body_of(message)
    assert "Dear Ada Lovelace" in body
    assert created["reference"] in body
    assert "Your place is confirmed." in body
    links = MANAGE_LINK.findall(body)
    assert len(links) == 1, body
    token = links[0]
    assert token == created["manage_token"]

    page = await mail_client.get(f"/manage/{token}")
    assert page.status_code == 200
    assert created["reference"] in page.text
    api = await mail_client.get(f"/api/v1/registrations/{created['id']}", headers=bearer(token))
    assert api.status_code == 200
    assert api.json()["reference"] == created["reference"]

    # The link is rendered at send time: the queue holds no token, nor anything the link could be rebuilt from.
    (row,) = await outbox_rows(database)
    assert row.kind == "registration" and row.to_address == created["email"] and row.attempts == 1
    stored = repr({column: getattr(row, column) for column in OutboxEmail.model_fields})
    assert token not in stored and hash_token(token) not in stored
    assert "m_" not in repr(row.context) and "manage" not in repr(row.context)
    assert token not in await database_dump(database)


async def test_registration_is_answered_while_smtp_is_down_and_retried_once_it_is_back(
    database_url: str, tickets: dict[str, Any], database: Database, mailbox: Mailbox, smtp_port: int
) -> None:
    # At first the mail server takes connections and never answers: a registration that waited for it (for the
    # email to go, or for the send to fail) could only be answered once the app gave up on the connection.
    held: list[asyncio.StreamWriter] = []
    given_up = asyncio.Event()  # the app closed a connection the silent server held

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        with suppress(ConnectionError):
            await reader.read()  # b"" once the app closes the connection
        given_up.set()

    silent = await asyncio.start_server(hold, "127.0.0.1", smtp_port)
    async with running_app(database_url, **smtp_env(smtp_port)) as client:
        created = await asyncio.wait_for(register(client, tickets["delegate"]), PATIENCE)
        assert not given_up.is_set(), "registering must not wait for the mail server"

        # Then the mail server is down (nothing listens on smtp_port): the attempt fails and is queued again.
        silent.close()
        for writer in held:
            writer.close()
        await silent.wait_closed()

        async def failed_and_requeued() -> bool:
            rows = await outbox_rows(database)
            return (
                len(rows) == 1
                and rows[0].status == "queued"
                and rows[0].attempts >= 1
                and rows[0].last_error != ""
            )

        await eventually(failed_and_requeued, DELIVERY_TIMEOUT, "the first delivery attempt to fail")
        (row,) = await outbox_rows(database)
        assert row.sent_at is None
        assert created["email"] not in row.last_error  # only the error's class is recorded

        controller = start_smtp(mailbox, smtp_port)
        try:
            await mailbox.wait_for(1)
            await all_sent(database, 1)
            await asyncio.sleep(0.5)  # a second delivery, if there were one, would have had its chance
            messages = mailbox.messages
        finally:
            controller.stop()

    assert len(messages) == 1
    assert messages[0]["To"] == created["email"]
    assert created["reference"] in body_of(messages[0])
    (row,) = await outbox_rows(database)
    assert row.status == "sent" and row.sent_at is not None and row.last_error == ""
    assert row.attempts >= 2  # delivered by a retry, not the first attempt


async def test_waitlisted_delegate_is_emailed_when_a_place_comes_up(
    mail_client: httpx.AsyncClient, tickets: dict[str, Any], mailbox: Mailbox, database: Database
) -> None:
    confirmed = [await register(mail_client, tickets["delegate"]) for _ in range(5)]
    assert {r["status"] for r in confirmed} == {"confirmed"}
    waiting = await register(mail_client, tickets["delegate"])
    assert waiting["status"] == "waitlisted" and waiting["waitlist_position"] == 1
    await all_sent(database, 6)
    await mailbox.wait_for(6)

    (waitlist_email,) = mailbox.to(waiting["email"])
    waitlist_body = body_of(waitlist_email)
    assert "waiting list (position 1)" in waitlist_body
    assert waiting["reference"] in waitlist_body

    leaving = confirmed[2]
    response = await mail_client.delete(
        f"/api/v1/registrations/{leaving['id']}", headers=bearer(leaving["manage_token"])
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    await all_sent(database, 8)
    await mailbox.wait_for(8)

    (cancelled,) = mailbox.to(leaving["email"])[1:]
    assert "cancelled" in cancelled["Subject"]
    registration_email, promoted = mailbox.to(waiting["email"])
    assert registration_email is waitlist_email
    assert "a place has come up" in promoted["Subject"]
    assert waiting["reference"] in promoted["Subject"]
    promoted_body = body_of(promoted)
    assert "a place at Test Conference has come up and it is now yours" in promoted_body
    assert "Your place is confirmed." in promoted_body
    assert MANAGE_LINK.findall(promoted_body) == [waiting["manage_token"]]
    me = await mail_client.get(
        f"/api/v1/registrations/{waiting['id']}", headers=bearer(waiting["manage_token"])
    )
    assert me.json()["status"] == "confirmed"


async def test_without_smtp_emails_are_kept_for_organisers(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database
) -> None:
    created = await register(client, tickets["delegate"])
    await asyncio.sleep(0.3)  # no worker runs without CONFERENCE_SMTP_URL: nothing may pick the row up

    (row,) = await outbox_rows(database)
    assert (row.status, row.attempts, row.kind) == ("kept", 0, "registration")

    async with database.transaction() as db:
        organiser = await create_api_token(db, role="organiser", name="Organiser")
        staff = await create_api_token(db, role="staff", name="Door staff")
    listed = await client.get("/api/v1/outbox", headers=bearer(organiser))
    assert listed.status_code == 200
    body = listed.json()
    assert body["count"] == 1
    (entry,) = body["data"]
    assert entry["kind"] == "registration" and entry["status"] == "kept"
    assert entry["to"] == created["email"] and entry["registration_id"] == created["id"]
    assert entry["sent_at"] is None
    assert created["manage_token"] not in listed.text

    assert (await client.get("/api/v1/outbox")).status_code == 401
    assert (await client.get("/api/v1/outbox", headers=bearer("ct_not-a-real-token"))).status_code == 401
    assert (await client.get("/api/v1/outbox", headers=bearer(created["manage_token"]))).status_code == 403
    assert (await client.get("/api/v1/outbox", headers=bearer(staff))).status_code == 403


async def test_resend_link_answers_the_same_and_mails_only_registered_addresses(
    mail_client: httpx.AsyncClient, tickets: dict[str, Any], mailbox: Mailbox, database: Database
) -> None:
    created = await register(mail_client, tickets["delegate"])
    await all_sent(database, 1)

    known = await mail_client.post("/api/v1/registrations/resend-link", json={"email": created["email"]})
    unknown = await mail_client.post(
        "/api/v1/registrations/resend-link", json={"email": "nobody@leeds.gov.uk"}
    )
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()  # the answer must not reveal who is registered

    await all_sent(database, 2)
    await mailbox.wait_for(2)
    await asyncio.sleep(0.3)
    assert len(mailbox.messages) == 2
    assert mailbox.to("nobody@leeds.gov.uk") == []
    _first, resent = mailbox.to(created["email"])
    assert "your booking link" in resent["Subject"]
    body = body_of(resent)
    assert created["reference"] in body
    assert MANAGE_LINK.findall(body) == [created["manage_token"]]
    rows = await outbox_rows(database)
    assert [r.kind for r in rows] == ["registration", "manage_link"]
    assert all(r.to_address == created["email"] for r in rows)
    async with database.read() as db:
        assert (await db.execute(sa.select(sa.func.count()).select_from(Registration))).scalar_one() == 1
