"""Email against a real SMTP server: aiosmtpd listening on a free port, the app's own mail worker sending to it.

The app runs in-process (its lifespan starts the MailWorker in the test's event loop), so the tests wait for
mail with `await` (never time.sleep): the worker only makes progress while the test yields to the loop.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlmodel import SQLModel

from conference.core.db import Database
from conference.core.models import OutboxEmail, Registration
from conference.core.security import hash_token
from conference.server.app import create_app
from conference.web.auth import create_api_token
from tests.conftest import make_settings
from tests.factories import registration_body

BASE_URL = "http://testserver"  # make_settings' CONFERENCE_BASE_URL: the host manage links point at
MANAGE_LINK = re.compile(re.escape(BASE_URL) + r"/manage/(m_[A-Za-z0-9_-]+)")
DELIVERY_TIMEOUT = 10.0


# --- the SMTP server ------------------------------------------------------------------------------------------


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts (called on the controller's thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self._messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [m for _, m in self._messages]

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for rcpt, m in self._messages if address in rcpt]

    async def wait_for(self, count: int, timeout: float = DELIVERY_TIMEOUT) -> list[EmailMessage]:
        await eventually(lambda: len(self.messages) >= count, timeout, f"{count} email(s) delivered")
        return self.messages


def start_smtp(mailbox: Mailbox, port: int) -> Controller:
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


# --- the app --------------------------------------------------------------------------------------------------


@asynccontextmanager
async def running_app(database_url: str, **env: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan (engines, mail worker) running, and a client that talks to it in-process."""
    app = create_app(make_settings(database_url, **env))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client:
            yield client


def smtp_env(port: int) -> dict[str, str]:
    return {"CONFERENCE_SMTP_URL": f"smtp://127.0.0.1:{port}", "CONFERENCE_MAIL_RETRY_SECONDS": "0.2"}


@pytest.fixture
async def mail_client(
    database_url: str, tickets: dict[str, Any], smtp_server: Controller, smtp_port: int
) -> AsyncIterator[httpx.AsyncClient]:
    """A client for an app that sends through the test's SMTP server (the conference is seeded first)."""
    async with running_app(database_url, **smtp_env(smtp_port)) as client:
        yield client


# --- helpers --------------------------------------------------------------------------------------------------


async def eventually(
    check: Callable[[], bool] | Callable[[], Awaitable[bool]], timeout: float, what: str
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


async def outbox_rows(database: Database) -> list[OutboxEmail]:
    async with database.read() as db:
        return list((await db.execute(sa.select(OutboxEmail).order_by(OutboxEmail.created_at))).scalars())


async def all_sent(database: Database, count: int) -> None:
    """Wait until exactly `count` outbox rows exist and every one is marked sent."""

    async def check() -> bool:
        rows = await outbox_rows(database)
        return len(rows) == count and all(r.status == "sent" for r in rows)

    await eventually(check, DELIVERY_TIMEOUT, f"{count} outbox row(s) marked sent")


async def register(client: httpx.AsyncClient, ticket: Any, **overrides: Any) -> dict[str, Any]:
    body = registration_body(ticket, **overrides)
    response = await client.post("/api/v1/registrations", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    result["email"] = body["email"]
    return result


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


async def database_dump(database: Database) -> str:
    """Every row of every table, as text: for checking a secret is stored nowhere."""
    chunks = []
    async with database.read() as db:
        for table in SQLModel.metadata.sorted_tables:
            chunks.append(repr((await db.execute(sa.select(table))).all()))
    return "\n".join(chunks)


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
    async with running_app(database_url, **smtp_env(smtp_port)) as client:  # nothing listens on smtp_port yet
        started = time.monotonic()
        created = await register(client, tickets["delegate"])
        assert time.monotonic() - started < 2.0, "registering must not wait for the mail server"

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
