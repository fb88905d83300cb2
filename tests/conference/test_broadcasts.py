"""Messages to groups of delegates: who each segment reaches, the staggered queue, the real mail worker sending the
copies to a real SMTP server, failures on the message's page, validation, and all-or-nothing."""

from __future__ import annotations

import asyncio
import itertools
import re
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlmodel import col

from conference import broadcasts
from conference.core import errors
from conference.core.db import Database
from conference.core.models import AuditEntry, Broadcast, OutboxEmail, Registration, Sector, Status
from conference.core.security import hash_token, manage_token
from conference.core.settings import Settings
from conference.mail import outbox, sender
from conference.places import get_conference
from conference.web.auth import create_api_token
from sessions import wiring
from sessions.models import Kind, RoomCreate, SeatBooking, SeatStatus, SessionCreate, TimeSlotCreate
from sessions.workshops import programme
from tests.factories import ORGANISER
from tests.support import (
    BASE_URL,
    MANAGE_LINK,
    Mailbox,
    body_of,
    csrf,
    eventually,
    make_settings,
    running_app,
    sign_in,
    smtp_env,
    start_smtp,
)

HTML = {"accept": "text/html"}
SECRET = "test-secret-key-that-is-long-enough-0123456789"  # make_settings' CONFERENCE_SECRET_KEY
_numbers = itertools.count(1)
_hours = itertools.count()


@pytest.fixture(autouse=True)
def _sessions_installed() -> None:
    """The `session` segment is sessions' (a hook): install it as create_app does, for the tests without an app."""
    wiring.install()


# --- building delegates directly, in every state ---------------------------------------------------------------


async def add_registration(
    database: Database, ticket_type_id: Any, status: Status, *, name: str = "", erased: bool = False
) -> Registration:
    n = next(_numbers)
    rid = uuid.uuid4()
    now = datetime.now(UTC)
    r = Registration(
        id=rid,
        conference_id=1,
        ticket_type_id=ticket_type_id,
        number=n,
        reference=f"NC-T{n:05d}",
        status=status,
        name=name or f"Delegate {n}",
        email=f"delegate{n}-{rid.hex[:6]}@leeds.gov.uk",
        email_key=f"delegate{n}-{rid.hex[:6]}@leeds.gov.uk",
        organisation="Leeds City Council",
        sector=Sector.local_authority,
        manage_token_hash=hash_token(manage_token(SECRET, rid, 1)),
        consent_at=now,
        cancelled_at=now if status == Status.cancelled else None,
        erased_at=now if erased else None,
    )
    async with database.transaction() as db:
        r.conference_id = (await get_conference(db)).id or 0
        db.add(r)
    return r


async def add_workshop(database: Database, title: str = "Trauma-informed practice") -> uuid.UUID:
    async with database.transaction() as db:
        room = await programme.create_room(
            db, data=RoomCreate(name=f"Room {title[:20]}", capacity=20), actor=ORGANISER
        )
        start = datetime(2026, 12, 8, 9, tzinfo=UTC) + timedelta(hours=next(_hours) % 8)  # distinct slots
        slot = await programme.create_slot(
            db, data=TimeSlotCreate(starts_at=start, ends_at=start + timedelta(hours=1)), actor=ORGANISER
        )
        session = await programme.create_session(
            db,
            data=SessionCreate(title=title, kind=Kind.workshop, room_id=room.id, start_slot_id=slot.id),
            actor=ORGANISER,
        )
        return session.id


async def add_seat(database: Database, session_id: uuid.UUID, r: Registration, status: SeatStatus) -> None:
    async with database.transaction() as db:
        db.add(SeatBooking(session_id=session_id, registration_id=r.id, status=status, number=next(_numbers)))


async def audience_ids(database: Database, segment: str, ref: Any = "") -> list[uuid.UUID]:
    async with database.read() as db:
        reached = await broadcasts.audience(db, segment=segment, ref=str(ref))
    return [r.registration_id for r in reached.recipients]


async def count(database: Database, model: Any, *where: Any) -> int:
    async with database.read() as db:
        return int(
            (await db.execute(sa.select(sa.func.count()).select_from(model).where(*where))).scalar_one()
        )


async def rows(database: Database, model: Any, *where: Any, order: Any = None) -> list[Any]:
    async with database.read() as db:
        stmt = sa.select(model).where(*where)
        if order is not None:
            stmt = stmt.order_by(order)
        return list((await db.execute(stmt)).scalars())


def smtp_settings(database_url: str) -> Settings:
    return make_settings(
        database_url, CONFERENCE_SMTP_URL="smtp://127.0.0.1:1"
    )  # rows queued, never delivered here


# --- segments ------------------------------------------------------------------------------------------------


async def test_segments_pick_exactly_the_right_delegates(database: Database, tickets: dict[str, Any]) -> None:
    delegate, exhibitor, press = tickets["delegate"], tickets["exhibitor"], tickets["press"]
    a = await add_registration(database, delegate, Status.confirmed)
    b = await add_registration(database, exhibitor, Status.pending_payment)
    c = await add_registration(database, press, Status.awaiting_approval)
    d = await add_registration(database, delegate, Status.waitlisted)
    e = await add_registration(database, delegate, Status.cancelled)
    f = await add_registration(database, delegate, Status.confirmed, erased=True)
    g = await add_registration(database, delegate, Status.waitlisted, erased=True)
    h = await add_registration(database, tickets["public"], Status.confirmed)
    i = await add_registration(database, delegate, Status.confirmed)
    workshop = await add_workshop(database)
    other = await add_workshop(database, "Another workshop")
    await add_seat(database, workshop, a, SeatStatus.booked)
    await add_seat(database, workshop, h, SeatStatus.booked)
    await add_seat(database, workshop, i, SeatStatus.waitlisted)  # a waiting-list place is not a seat
    await add_seat(database, workshop, e, SeatStatus.cancelled)
    await add_seat(database, workshop, f, SeatStatus.booked)  # erased since
    await add_seat(database, other, i, SeatStatus.booked)

    assert await audience_ids(database, "all") == [a.id, b.id, c.id, h.id, i.id]  # arrival order
    assert await audience_ids(database, "ticket_type", delegate) == [a.id, i.id]
    assert await audience_ids(database, "ticket_type", exhibitor) == [b.id]
    assert await audience_ids(database, "ticket_type", press) == [c.id]
    assert await audience_ids(database, "session", workshop) == [a.id, h.id]
    assert await audience_ids(database, "session", other) == [i.id]
    assert await audience_ids(database, "waitlist") == [d.id]
    assert g.id not in await audience_ids(database, "waitlist")

    # A registration cancelled after its seat was booked (the seat not yet released) is not in the workshop's group.
    async with database.transaction() as db:
        await db.execute(
            sa.update(Registration).where(col(Registration.id) == h.id).values(status=Status.cancelled)
        )
    assert await audience_ids(database, "session", workshop) == [a.id]

    async with database.read() as db:
        options = await broadcasts.segment_options(db)
    assert options["counts"] == {"all": 4, "waitlist": 1}
    assert {o.label: o.count for o in options["ticket_types"]}["Delegate"] == 2
    assert sorted((o.value, o.count) for o in options["sessions"]) == sorted(
        [(str(workshop), 1), (str(other), 1)]
    )


# --- validation ----------------------------------------------------------------------------------------------

GOOD = {
    "segment": "all",
    "ref": "",
    "subject": "Joining instructions",
    "body": "Dear {name}, see you soon.",
    "per_minute": 60,
}


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"segment": "everyone"}, "segment", "Choose who the message goes to."),
        ({"segment": "ticket_type"}, "ticket_type_id", "Choose one of the ticket types listed."),
        (
            {"segment": "ticket_type", "ref": "not-a-uuid"},
            "ticket_type_id",
            "Choose one of the ticket types listed.",
        ),
        (
            {"segment": "ticket_type", "ref": str(uuid.uuid4())},
            "ticket_type_id",
            "Choose one of the ticket types listed.",
        ),
        (
            {"segment": "session", "ref": str(uuid.uuid4())},
            "session_id",
            "Choose one of the workshops listed.",
        ),
        ({"subject": ""}, "subject", "Enter a subject."),
        ({"subject": "   "}, "subject", "Enter a subject."),
        ({"subject": "x" * 201}, "subject", "Use at most 200 characters in the subject."),
        ({"subject": "Hello\r\nBcc: everyone@example.org"}, "subject", "Write the subject on one line."),
        ({"body": ""}, "body", "Enter the message."),
        ({"body": " \n "}, "body", "Enter the message."),
        (
            {"body": "x" * 10_001},
            "body",
            "Use at most 10,000 characters in the message (this one has 10,001).",
        ),
        ({"per_minute": 0}, "per_minute", broadcasts.RATE_PROBLEM),
        ({"per_minute": 601}, "per_minute", broadcasts.RATE_PROBLEM),
        ({"per_minute": "fast"}, "per_minute", broadcasts.RATE_PROBLEM),
        (
            {"segment": "waitlist"},
            "segment",
            "Nobody is in this group (Everyone on the waiting list) at the moment; choose another.",
        ),
    ],
)
async def test_send_refuses_bad_input_and_writes_nothing(
    database: Database,
    settings: Settings,
    tickets: dict[str, Any],
    changes: dict[str, Any],
    field: str,
    text: str,
) -> None:
    await add_registration(database, tickets["delegate"], Status.confirmed)
    args = {**GOOD, **changes}
    with pytest.raises(errors.InvalidInput) as raised:
        async with database.transaction() as db:
            await broadcasts.send(db, settings=settings, actor=ORGANISER, **args)
    assert raised.value.fields == {field: text}
    with pytest.raises(errors.InvalidInput):  # the preview checks the same
        async with database.read() as db:
            await broadcasts.preview(db, **args)
    assert await count(database, Broadcast) == 0
    assert await count(database, OutboxEmail) == 0


async def test_every_problem_is_named_at_once(
    database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    with pytest.raises(errors.InvalidInput) as raised:
        async with database.read() as db:
            await broadcasts.preview(db, segment="ticket_type", ref="", subject="", body="", per_minute="0")
    assert set(raised.value.fields or {}) == {"ticket_type_id", "subject", "body", "per_minute"}


async def test_the_name_placeholder_is_a_plain_replacement(
    database: Database, tickets: dict[str, Any]
) -> None:
    await add_registration(database, tickets["delegate"], Status.confirmed, name="Ada {Lovelace}")
    body = "Dear {name},\n{0.__class__} {email} {{name}} {name!r} %s {"
    async with database.read() as db:
        shown = await broadcasts.preview(
            db, segment="all", ref="", subject="  Hello  ", body=body + "\r\n\r\n"
        )
    assert shown.count == 1 and shown.subject == "Hello"
    assert shown.body.startswith(
        "Dear Ada {Lovelace},\n{0.__class__} {email} {Ada {Lovelace}} {name!r} %s {\n\n"
    )
    assert broadcasts.LINK_PLACEHOLDER in shown.body and "/manage/" not in shown.body
    assert shown.sample.reference in shown.body


# --- the queue -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("per_minute", "gap"), [(60, 1.0), (30, 2.0), (600, 0.1), (1, 60.0)])
async def test_copies_are_due_at_the_chosen_rate(
    database: Database, database_url: str, tickets: dict[str, Any], per_minute: int, gap: float
) -> None:
    people = [await add_registration(database, tickets["delegate"], Status.confirmed) for _ in range(5)]
    async with database.transaction() as db:
        sent = await broadcasts.send(
            db,
            settings=smtp_settings(database_url),
            segment="all",
            ref="",
            subject="Parking",
            body="Use car park B.",
            actor=ORGANISER,
            per_minute=per_minute,
        )
    queued = await rows(database, OutboxEmail, order=OutboxEmail.next_attempt_at)
    assert [q.registration_id for q in queued] == [p.id for p in people]
    offsets = [(q.next_attempt_at - sent.created_at).total_seconds() for q in queued]
    assert offsets == pytest.approx([i * gap for i in range(5)], abs=1e-3)
    assert {(q.kind, q.status, q.broadcast_id) for q in queued} == {("broadcast", "queued", sent.id)}
    assert all(q.context == {} for q in queued)  # nothing but the address: the text comes from the broadcast
    (b,) = await rows(database, Broadcast)
    assert (b.recipients, b.per_minute, b.segment, b.segment_label, b.created_by) == (
        5,
        per_minute,
        "all",
        broadcasts.SEGMENTS["all"],
        "organiser:tests",
    )


async def test_the_mail_worker_claims_only_copies_that_are_due(
    database: Database, database_url: str, tickets: dict[str, Any]
) -> None:
    for _ in range(4):
        await add_registration(database, tickets["delegate"], Status.confirmed)
    async with database.transaction() as db:
        await broadcasts.send(
            db,
            settings=smtp_settings(database_url),
            segment="all",
            ref="",
            subject="Parking",
            body="Use car park B.",
            actor=ORGANISER,
            per_minute=6,
        )
    claimed = await sender.claim_due(database)  # what MailWorker does on each tick
    assert len(claimed) == 1  # the next is due 10 s later
    assert await sender.claim_due(database) == []


async def test_all_or_nothing(
    database: Database, settings: Settings, tickets: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(5):
        await add_registration(database, tickets["delegate"], Status.confirmed)
    real = outbox.outbox_row
    calls = itertools.count(1)

    def failing_third(*args: Any, **kwargs: Any) -> dict[str, Any]:
        if next(calls) == 3:
            raise RuntimeError("injected failure while queueing the third copy")
        return real(*args, **kwargs)

    monkeypatch.setattr(broadcasts, "outbox_row", failing_third)
    with pytest.raises(RuntimeError, match="injected"):
        async with database.transaction() as db:
            await broadcasts.send(
                db, settings=settings, segment="all", ref="", subject="S", body="B", actor=ORGANISER
            )
    assert await count(database, Broadcast) == 0
    assert await count(database, OutboxEmail) == 0
    assert await count(database, AuditEntry, AuditEntry.action == "conference.broadcast.sent") == 0


# --- through the console, with the real mail worker and a real SMTP server ---------------------------------


async def organiser_client(database: Database, client: httpx.AsyncClient) -> None:
    async with database.transaction() as db:
        token = await create_api_token(db, role="organiser", name="Message organiser")
    await sign_in(client, token)


async def compose_and_preview(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    page = await client.get("/console/messages/new", headers=HTML)
    assert page.status_code == 200, page.text
    data = {"segment": "all", "ticket_type_id": "", "session_id": "", "per_minute": "600", **fields}
    return await client.post(
        "/console/messages/preview", data={"csrf_token": csrf(page.text), **data}, headers=HTML
    )


def send_form(preview_html: str) -> dict[str, str]:
    form = re.search(
        r'<form method="post" action="[^"]*/console/messages" id="send-form">(.*?)</form>',
        preview_html,
        re.DOTALL,
    )
    assert form, preview_html
    return {
        unescape(n): unescape(v)
        for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(1))
    }


async def test_a_message_reaches_a_workshop_through_the_real_mail_worker(
    database_url: str,
    database: Database,
    tickets: dict[str, Any],
    mailbox: Mailbox,
    smtp_server: Any,
    smtp_port: int,
) -> None:
    workshop = await add_workshop(database)
    booked = [
        await add_registration(database, tickets["delegate"], Status.confirmed, name=n)
        for n in ("Grace Hopper", "Alan Turing", "Mary Somerville")
    ]
    for r in booked:
        await add_seat(database, workshop, r, SeatStatus.booked)
    erased = await add_registration(database, tickets["delegate"], Status.confirmed, erased=True)
    await add_seat(database, workshop, erased, SeatStatus.booked)
    elsewhere = await add_registration(database, tickets["delegate"], Status.confirmed)

    async with running_app(database_url, **smtp_env(smtp_port)) as client:
        await organiser_client(database, client)
        preview = await compose_and_preview(
            client,
            segment="session",
            session_id=str(workshop),
            subject="Room change for your workshop",
            body="Dear {name},\n\nThe workshop has moved to Room 4.",
        )
        assert preview.status_code == 200, preview.text
        html = unescape(preview.text)
        assert "It goes to 3 delegates" in html
        assert "Workshop: Trauma-informed practice" in html
        assert "Dear Grace Hopper," in html and "The workshop has moved to Room 4." in html
        assert erased.name not in html and elsewhere.name not in html
        fields = send_form(preview.text)
        assert fields["expected"] == "3" and fields["segment"] == "session"
        assert fields["body"] == "Dear {name},\n\nThe workshop has moved to Room 4."

        sent = await client.post("/console/messages", data=fields, headers=HTML)
        assert sent.status_code == 303, sent.text
        match = re.fullmatch(
            BASE_URL + r"/console/messages/([0-9a-f-]{36})\?done=sent", sent.headers["location"]
        )
        assert match, sent.headers["location"]
        broadcast_id = uuid.UUID(match.group(1))

        # The same confirm form posted again (a double click) sends nothing more.
        again = await client.post("/console/messages", data=fields, headers=HTML)
        assert again.status_code == 303 and again.headers["location"].endswith("?done=already")

        messages = await mailbox.wait_for(3)

        async def all_sent() -> bool:
            copies = await rows(database, OutboxEmail, OutboxEmail.broadcast_id == broadcast_id)
            return len(copies) == 3 and all(c.status == "sent" for c in copies)

        await eventually(all_sent, 15, "3 copies sent")
        page = await client.get(f"/console/messages/{broadcast_id}", headers=HTML)
        listing = await client.get("/console/messages", headers=HTML)

    assert len(mailbox.messages) == 3
    assert sorted(m["To"] for m in messages) == sorted(r.email for r in booked)
    for r in booked:
        (message,) = mailbox.to(r.email)
        assert message["Subject"] == "Room change for your workshop"
        body = body_of(message).replace("\r\n", "\n")
        assert body.startswith(f"Dear {r.name},\n\nThe workshop has moved to Room 4.\n")
        assert f"Booking reference: {r.reference}" in body
        assert MANAGE_LINK.findall(body) == [manage_token(SECRET, r.id, 1)]
        assert "Test Conference" in body
    (b,) = await rows(database, Broadcast)
    assert (
        b.id == broadcast_id
        and b.recipients == 3
        and b.segment == "session"
        and b.segment_ref == str(workshop)
    )
    (entry,) = await rows(database, AuditEntry, AuditEntry.action == "conference.broadcast.sent")
    assert entry.subject == str(broadcast_id)
    assert entry.data == {
        "segment": "session",
        "segment_ref": str(workshop),
        "recipients": 3,
        "per_minute": 600,
    }
    assert "@" not in repr(entry.data)
    # No link, token or text of the message is stored on the queued copies.
    for copy in await rows(database, OutboxEmail):
        assert copy.context == {}

    assert page.status_code == 200
    text = unescape(page.text)
    assert re.search(r'id="count-sent">3<', text) and re.search(r'id="count-failed">0<', text)
    assert listing.status_code == 200 and "Room change for your workshop" in listing.text
    assert "organiser:Message organiser" in listing.text


class RefusingMailbox(Mailbox):
    """Accepts mail, except for addresses starting with "bounce" (the server answers 550)."""

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.startswith("bounce"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"


async def test_a_failed_delivery_is_shown_on_the_message_page(
    database_url: str, database: Database, tickets: dict[str, Any], smtp_port: int
) -> None:
    good = await add_registration(database, tickets["delegate"], Status.waitlisted)
    bad = await add_registration(database, tickets["delegate"], Status.waitlisted)
    async with database.transaction() as db:
        await db.execute(
            sa.update(Registration).where(col(Registration.id) == bad.id).values(email="bounce@leeds.gov.uk")
        )
    mailbox = RefusingMailbox()
    controller = start_smtp(mailbox, smtp_port)
    try:
        async with running_app(
            database_url, **smtp_env(smtp_port), CONFERENCE_MAIL_MAX_ATTEMPTS="1"
        ) as client:
            await organiser_client(database, client)
            preview = await compose_and_preview(
                client, segment="waitlist", subject="Waiting list news", body="Hello {name}"
            )
            assert preview.status_code == 200, preview.text
            sent = await client.post("/console/messages", data=send_form(preview.text), headers=HTML)
            assert sent.status_code == 303
            location = sent.headers["location"]

            async def settled() -> bool:
                copies = await rows(database, OutboxEmail)
                return sorted(c.status for c in copies) == ["failed", "sent"]

            await eventually(settled, 15, "one copy sent and one failed")
            page = await client.get(location, headers=HTML)
    finally:
        controller.stop()

    assert [m["To"] for m in mailbox.messages] == [good.email]
    assert page.status_code == 200
    html = unescape(page.text)
    assert "The message is queued." in html
    assert re.search(r'id="count-sent">1<', html) and re.search(r'id="count-failed">1<', html)
    failures = re.search(r'<table class="table" id="failures">(.*?)</table>', html, re.DOTALL)
    assert failures
    assert bad.reference in failures.group(1) and "bounce@leeds.gov.uk" in failures.group(1)
    assert "SMTPRecipientsRefused" in failures.group(1) and "Failed" in failures.group(1)
    assert good.email not in failures.group(1)
    (viewed,) = await rows(database, AuditEntry, AuditEntry.action == "conference.broadcast.viewed")
    assert viewed.data == {"personal_data": True, "addresses_shown": 1}
    assert viewed.actor == "organiser:Message organiser"


async def test_a_copy_for_a_delegate_erased_after_queueing_is_not_sent(
    database: Database, database_url: str, tickets: dict[str, Any]
) -> None:
    r = await add_registration(database, tickets["delegate"], Status.confirmed)
    settings = smtp_settings(database_url)
    async with database.transaction() as db:
        await broadcasts.send(
            db, settings=settings, segment="all", ref="", subject="S", body="B", actor=ORGANISER
        )
    async with database.transaction() as db:
        await db.execute(
            sa.update(Registration).where(col(Registration.id) == r.id).values(erased_at=datetime.now(UTC))
        )
    (copy,) = await rows(database, OutboxEmail)
    async with database.read() as db:
        with pytest.raises(broadcasts.RecipientErased):
            await broadcasts.compose(db, settings, copy)


# --- the console's refusals ----------------------------------------------------------------------------------


async def test_console_validation_errors_are_shown_and_nothing_is_sent(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    await add_registration(database, tickets["delegate"], Status.confirmed)
    await organiser_client(database, client)
    bad = await compose_and_preview(client, subject="", body="x" * 10_001, per_minute="0")
    assert bad.status_code == 422
    html = unescape(bad.text)
    assert "There is a problem" in html
    assert "Subject: Enter a subject." in html
    assert "Message: Use at most 10,000 characters in the message (this one has 10,001)." in html
    assert f"Sending rate: {broadcasts.RATE_PROBLEM}" in html

    empty = await compose_and_preview(client, segment="waitlist", subject="S", body="B")
    assert empty.status_code == 422
    assert (
        "Nobody is in this group (Everyone on the waiting list) at the moment; choose another."
        in unescape(empty.text)
    )

    no_ticket = await compose_and_preview(client, segment="ticket_type", subject="S", body="B")
    assert no_ticket.status_code == 422 and "Ticket type: Choose one of the ticket types listed." in unescape(
        no_ticket.text
    )

    # Posted straight to send (no preview), with a problem: refused the same way.
    page = await client.get("/console/messages/new", headers=HTML)
    direct = await client.post(
        "/console/messages",
        data={
            "csrf_token": csrf(page.text),
            "segment": "all",
            "subject": "S",
            "body": "",
            "per_minute": "60",
        },
        headers=HTML,
    )
    assert direct.status_code == 422 and "Message: Enter the message." in unescape(direct.text)
    # Without the CSRF field: refused before anything is read.
    forged = await client.post(
        "/console/messages", data={"segment": "all", "subject": "S", "body": "B"}, headers=HTML
    )
    assert forged.status_code == 403
    assert await count(database, Broadcast) == 0 and await count(database, OutboxEmail) == 0


async def test_a_group_that_changed_since_the_preview_is_shown_again(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    await add_registration(database, tickets["delegate"], Status.confirmed)
    await organiser_client(database, client)
    preview = await compose_and_preview(client, subject="S", body="B")
    fields = send_form(preview.text)
    assert fields["expected"] == "1"
    await add_registration(database, tickets["delegate"], Status.confirmed)
    changed = await client.post("/console/messages", data=fields, headers=HTML)
    assert changed.status_code == 409
    html = unescape(changed.text)
    assert "it was 1 and is now 2" in html and "It goes to 2 delegates" in html
    assert send_form(changed.text)["expected"] == "2"
    assert await count(database, Broadcast) == 0


async def test_only_organisers(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    some = uuid.uuid4()
    for path in ("/console/messages", "/console/messages/new", f"/console/messages/{some}"):
        response = await client.get(path, headers=HTML)
        assert response.status_code == 303 and "/login?next=" in response.headers["location"], path
    async with database.transaction() as db:
        staff = await create_api_token(db, role="staff", name="Door staff")
    await sign_in(client, staff)
    for path in ("/console/messages", "/console/messages/new", f"/console/messages/{some}"):
        assert (await client.get(path, headers=HTML)).status_code == 403, path
    page = await client.get("/login")
    for path in ("/console/messages", "/console/messages/preview"):
        response = await client.post(
            path,
            data={"csrf_token": csrf(page.text), "segment": "all", "subject": "S", "body": "B"},
            headers=HTML,
        )
        assert response.status_code == 403, path
    assert await count(database, Broadcast) == 0


async def test_an_unknown_message_is_404(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    await organiser_client(database, client)
    assert (await client.get(f"/console/messages/{uuid.uuid4()}", headers=HTML)).status_code == 404


async def test_the_same_form_posted_twice_at_once_sends_once(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(3):
        await add_registration(database, tickets["delegate"], Status.confirmed)
    await organiser_client(database, client)
    fields = send_form((await compose_and_preview(client, subject="Once", body="Only once")).text)
    real = broadcasts.audience

    async def slow_audience(*args: Any, **kwargs: Any) -> broadcasts.Audience:
        # Both submissions find no broadcast with the form's id before either writes one (on PostgreSQL; SQLite's
        # single writer runs the second after the first, which then finds it).
        await asyncio.sleep(0.3)
        return await real(*args, **kwargs)

    monkeypatch.setattr(broadcasts, "audience", slow_audience)
    first, second = await asyncio.gather(
        *(client.post("/console/messages", data=fields, headers=HTML) for _ in range(2))
    )
    assert first.status_code == second.status_code == 303
    assert sorted(r.headers["location"].rsplit("=", 1)[1] for r in (first, second)) == ["already", "sent"]
    assert await count(database, Broadcast) == 1
    assert await count(database, OutboxEmail) == 3
    assert await count(database, AuditEntry, AuditEntry.action == "conference.broadcast.sent") == 1
