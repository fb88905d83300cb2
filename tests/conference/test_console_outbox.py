"""The mail outbox in the console (conference/console/outbox.py, conference/mail/browse.py): the list, found by
recipient, status and kind; one email shown as it would be sent, its links as links and its text escaped; sending
again one that failed, through a real SMTP server (aiosmtpd); and organisers only."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import col

from conference import accounts, broadcasts
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import AuditEntry, OutboxEmail
from conference.core.settings import Settings
from conference.mail import browse
from tests.factories import invoice_body
from tests.support import (
    BASE_URL,
    HTML,
    MANAGE_LINK,
    Mailbox,
    all_sent,
    csrf,
    organiser_token,
    outbox_rows,
    post_registration,
    register,
    sign_in,
    staff_token,
)

RESET_LINK = re.compile(re.escape(BASE_URL) + r"/password/reset/(pr_[A-Za-z0-9_-]+)")


async def _rows(database: Database) -> list[OutboxEmail]:
    return await outbox_rows(database)


async def _audit(database: Database, action: str) -> list[AuditEntry]:
    async with database.read() as db:
        stmt = sa.select(AuditEntry).where(col(AuditEntry.action) == action).order_by(col(AuditEntry.id))
        return list((await db.execute(stmt)).scalars())


def _table_rows(page: str) -> list[str]:
    body = page.split('id="outbox">', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", body, re.S)


async def _set_status(database: Database, message_id: uuid.UUID, **values: Any) -> None:
    async with database.transaction() as db:
        await db.execute(sa.update(OutboxEmail).where(col(OutboxEmail.id) == message_id).values(**values))


# --- the list -------------------------------------------------------------------------------------------------


async def test_the_outbox_lists_every_email_newest_first_and_finds_by_recipient_status_and_kind(
    organiser: httpx.AsyncClient, tickets: dict[str, Any], database: Database
) -> None:
    first = await register(organiser, tickets["delegate"], email="ada.lovelace@leeds.gov.uk")
    second = await register(organiser, tickets["delegate"], email="grace.hopper@york.gov.uk")
    rows = await _rows(database)
    assert {r.status for r in rows} == {"kept"}  # no mail server in these tests

    page = await organiser.get("/console/outbox")
    assert page.status_code == 200
    listed = _table_rows(page.text)
    assert len(listed) == 2
    # Newest first.
    assert second["email"] in listed[0] and first["email"] in listed[1]
    assert "Kept (no mail server)" in listed[0]
    assert 'id="no-mail-server"' in page.text

    found = await organiser.get("/console/outbox", params={"q": "GRACE.hopper"})
    assert found.status_code == 200
    (only,) = _table_rows(found.text)
    assert second["email"] in only and first["email"] not in found.text

    # Part of an address, and a LIKE wildcard is only a character.
    assert len(_table_rows((await organiser.get("/console/outbox", params={"q": "gov.uk"})).text)) == 2
    nothing = await organiser.get("/console/outbox", params={"q": "%"})
    assert "No emails match these filters." in nothing.text

    by_status = await organiser.get("/console/outbox", params={"status": "failed"})
    assert "No emails match these filters." in by_status.text
    by_kind = await organiser.get("/console/outbox", params={"kind": "registration", "status": "kept"})
    assert len(_table_rows(by_kind.text)) == 2


async def test_bad_filters_are_named_and_nothing_is_listed(
    organiser: httpx.AsyncClient, tickets: dict[str, Any]
) -> None:
    await register(organiser, tickets["delegate"])
    page = await organiser.get(
        "/console/outbox", params={"q": "x" * 300, "status": "lost", "kind": "<script>", "page": "many"}
    )
    assert page.status_code == 422
    summary = page.text.split('id="error-summary"', 1)[1].split("</div>", 1)[0]
    assert 'href="#q"' in summary and 'href="#status"' in summary and 'href="#kind"' in summary
    assert "Choose a status from the list." in summary
    assert "<script>" not in page.text
    assert _table_rows(page.text) == ['<td colspan="6">Correct the filters above.</td>']


async def test_the_list_is_paged(
    organiser: httpx.AsyncClient, tickets: dict[str, Any], database: Database
) -> None:
    async with database.transaction() as db:
        for n in range(browse.PER_PAGE + 3):
            db.add(OutboxEmail(kind="manage_link", to_address=f"person{n}@example.org", status="kept"))
    first = await organiser.get("/console/outbox")
    assert len(_table_rows(first.text)) == browse.PER_PAGE
    assert 'rel="next"' in first.text
    second = await organiser.get("/console/outbox", params={"page": "2"})
    assert len(_table_rows(second.text)) == 3
    assert "Page 2 of 2" in second.text


# --- one email ------------------------------------------------------------------------------------------------


async def test_a_kept_password_reset_shows_its_body_and_a_working_link_and_the_view_is_audited(
    organiser: httpx.AsyncClient, tickets: dict[str, Any], database: Database, settings: Settings
) -> None:
    async with database.transaction() as db:
        user = await accounts.add_user(
            db, settings, email="lost@example.org", role="organiser", actor=Actor("cli"), invite=False
        )
        await accounts.start_reset(db, settings, user)
    (row,) = [r for r in await _rows(database) if r.kind == "password_reset"]
    assert row.status == "kept"

    listed = await organiser.get("/console/outbox", params={"q": "lost@"})
    assert f"/console/outbox/{row.id}" in listed.text
    assert "Console password reset" in listed.text
    assert await _audit(database, "conference.outbox.viewed") == []  # the list shows no message's text

    page = await organiser.get(f"/console/outbox/{row.id}")
    assert page.status_code == 200
    assert "Reset your conference console password" in page.text  # the subject
    assert 'id="sensitive"' in page.text
    body = page.text.split('id="body">', 1)[1].split("</div>", 1)[0]
    assert "Someone (we hope you) asked to reset the password" in body
    (token,) = set(RESET_LINK.findall(body))
    link = f"{BASE_URL}/password/reset/{token}"
    assert f'<a href="{link}" rel="noreferrer noopener">{link}</a>' in body
    assert f'<li><a href="{link}"' in page.text  # and in the list of links
    # The link is the live one: it opens the reset form.
    form = await organiser.get(f"/password/reset/{token}")
    assert form.status_code == 200

    (viewed,) = await _audit(database, "conference.outbox.viewed")
    assert viewed.subject == str(row.id)
    assert viewed.actor.startswith("organiser")
    assert "lost@example.org" not in str(viewed.data) and token not in str(viewed.data)


async def test_a_messages_text_is_escaped_and_only_http_links_are_links(
    organiser: httpx.AsyncClient, tickets: dict[str, Any], database: Database, settings: Settings
) -> None:
    created = await register(organiser, tickets["delegate"], name="Ada Lovelace")
    async with database.transaction() as db:
        await broadcasts.send(
            db,
            settings=settings,
            segment="all",
            ref="",
            subject="Joining <b>instructions</b>",
            body='Dear {name}, <script>alert("x")</script> see https://example.org/venue. '
            "Not a link: javascript:alert(1)",
            actor=Actor("organiser", "tests"),
            per_minute="60",
        )
    (row,) = [r for r in await _rows(database) if r.kind == broadcasts.KIND]
    page = await organiser.get(f"/console/outbox/{row.id}")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<b>instructions</b>" not in page.text
    body = page.text.split('id="body">', 1)[1].split("</div>", 1)[0]
    assert "&lt;script&gt;" in body
    assert (
        '<a href="https://example.org/venue" rel="noreferrer noopener">https://example.org/venue</a>.' in body
    )
    assert 'href="javascript' not in page.text
    # The delegate's own booking link ends every copy.
    assert MANAGE_LINK.search(body)
    assert created["manage_token"] in body


async def test_an_invoice_email_lists_its_pdf(
    organiser: httpx.AsyncClient, tickets: dict[str, Any], database: Database
) -> None:
    await post_registration(organiser, invoice_body(tickets["exhibitor"]))
    (row,) = [r for r in await _rows(database) if r.kind == "invoice"]
    page = await organiser.get(f"/console/outbox/{row.id}")
    assert page.status_code == 200
    attachments = page.text.split('id="attachments">', 1)[1].split("</ul>", 1)[0]
    assert re.search(r"<li>[^<]+\.pdf \(application/pdf, [\d,]+ bytes\)</li>", attachments), attachments


async def test_a_message_that_cannot_be_composed_says_so_without_a_500(
    organiser: httpx.AsyncClient, tickets: dict[str, Any], database: Database
) -> None:
    async with database.transaction() as db:
        row = OutboxEmail(kind="registration", to_address="gone@example.org", registration_id=uuid.uuid4())
        row.status, row.last_error = "failed", "LookupError"
        db.add(row)
    page = await organiser.get(f"/console/outbox/{row.id}")
    assert page.status_code == 200
    assert 'id="compose-problem"' in page.text and "LookupError" in page.text
    assert (await organiser.get(f"/console/outbox/{uuid.uuid4()}")).status_code == 404


# --- sending again --------------------------------------------------------------------------------------------


async def test_a_failed_email_is_sent_again_through_the_mail_server(
    mail_client: httpx.AsyncClient, tickets: dict[str, Any], database: Database, mailbox: Mailbox
) -> None:
    await sign_in(mail_client, await organiser_token(database))
    created = await register(mail_client, tickets["delegate"], name="Ada Lovelace")
    await all_sent(database, 1)
    await mailbox.wait_for(1)
    (row,) = await _rows(database)
    # As the sender leaves an email it gave up on (conference/mail/sender.py).
    await _set_status(
        database, row.id, status="failed", attempts=12, last_error="SMTPRecipientsRefused (SMTP 550)"
    )

    page = await mail_client.get(f"/console/outbox/{row.id}")
    assert "Failed" in page.text and "SMTPRecipientsRefused (SMTP 550)" in page.text
    answer = await mail_client.post(f"/console/outbox/{row.id}/resend", data={"csrf_token": csrf(page.text)})
    assert answer.status_code == 303
    assert answer.headers["location"].endswith(f"/console/outbox/{row.id}?done=resent")

    (resent,) = await _audit(database, "conference.outbox.resent")
    assert resent.subject == str(row.id)
    assert resent.data["previous_status"] == "failed" and resent.data["previous_attempts"] == 12

    messages = await mailbox.wait_for(2)
    assert [m["To"] for m in messages] == [created["email"], created["email"]]
    await all_sent(database, 1)
    (after,) = await _rows(database)
    assert after.attempts == 1 and after.last_error == ""
    done = await mail_client.get(answer.headers["location"])
    assert "queued to be sent again" in done.text and 'id="status">Sent<' in done.text
    assert 'id="resend"' not in done.text  # a sent email is not offered again


async def test_resending_is_refused_for_an_email_not_failed_and_without_a_mail_server(
    mail_client: httpx.AsyncClient, tickets: dict[str, Any], database: Database, organiser: httpx.AsyncClient
) -> None:
    # With a mail server: a sent email is refused (409, the page says why), and nothing is queued.
    await sign_in(mail_client, await organiser_token(database))
    await register(mail_client, tickets["delegate"])
    await all_sent(database, 1)
    (row,) = await _rows(database)
    page = await mail_client.get(f"/console/outbox/{row.id}")
    refused = await mail_client.post(f"/console/outbox/{row.id}/resend", data={"csrf_token": csrf(page.text)})
    assert refused.status_code == 409
    assert "Only an email that failed or was kept can be sent again; this one is sent." in refused.text
    # Without the page's CSRF token: refused before anything is done.
    assert (await mail_client.post(f"/console/outbox/{row.id}/resend", data={})).status_code == 403
    assert (await _rows(database))[0].status == "sent"

    # Without a mail server (the `organiser` client's app): a kept email can't be sent from the console.
    await _set_status(database, row.id, status="kept")
    page = await organiser.get(f"/console/outbox/{row.id}")
    assert "can't be sent from here" in page.text and "Send again" not in page.text
    refused = await organiser.post(f"/console/outbox/{row.id}/resend", data={"csrf_token": csrf(page.text)})
    assert refused.status_code == 409 and "No mail server is set up" in refused.text
    assert (await _rows(database))[0].status == "kept"
    assert await _audit(database, "conference.outbox.resent") == []


# --- who may ------------------------------------------------------------------------------------------------


async def test_only_organisers_see_the_outbox(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database
) -> None:
    await register(client, tickets["delegate"])
    (row,) = await _rows(database)
    paths = ["/console/outbox", f"/console/outbox/{row.id}"]
    for path in paths:  # not signed in: to the sign-in page
        answer = await client.get(path, headers=HTML)
        assert answer.status_code == 303 and "/login?next=" in answer.headers["location"], path
    await sign_in(client, await staff_token(database))
    for path in paths:
        answer = await client.get(path)
        assert answer.status_code == 403, path
        assert row.to_address not in answer.text
    form = await client.get("/console/account")
    answer = await client.post(f"/console/outbox/{row.id}/resend", data={"csrf_token": csrf(form.text)})
    assert answer.status_code == 403
    assert await _audit(database, "conference.outbox.viewed") == []
