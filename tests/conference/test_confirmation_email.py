"""Emails people can act on (issue 18): the confirmation as a mail client receives it (parsed with Python's `email`
package from what the SMTP server got): a plain-text and an HTML part, the event's name as the sender, the dates,
venue, address and travel notes, the ticket's link and PDF (whose QR admits at the door once), the manage link,
and an .ics read back by `icalendar`. Then: every part escapes a name with markup, the waiting list's emails give
the position as it is when sent, and a promotion says what to do next."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

import httpx
import icalendar
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import Conference, Registration, Status, TicketType
from conference.core.settings import Settings
from conference.web.auth import create_api_token
from tests.factories import invoice_body, make_conference
from tests.support import (
    BASE_URL,
    MANAGE_LINK,
    Mailbox,
    all_sent,
    bearer,
    body_of,
    code_for,
    decode,
    emails,
    post_registration,
    raster,
    register,
    scan,
)

ADDRESS = "Leeds Conference Centre\nWoodhouse Lane\nLeeds LS2 9JT"
TRAVEL = "Ten minutes' walk from Leeds station. No parking on site: use the Merrion Centre car park."
TICKET_LINK = re.compile(re.escape(BASE_URL) + r"/ticket/(m_[A-Za-z0-9_-]+)")


async def set_venue(database: Database) -> None:
    async with database.transaction() as db:
        await db.execute(sa.update(Conference).values(venue_address=ADDRESS, travel_notes=TRAVEL))


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None, "no HTML part"
    content = part.get_content()
    assert isinstance(content, str)
    return content


def attachments(message: EmailMessage) -> dict[str, tuple[str, bytes]]:
    """Attachment file name → (content type, bytes)."""
    found = {}
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found[str(part.get_filename())] = (part.get_content_type(), payload)
    return found


async def test_the_confirmation_has_both_parts_the_event_the_ticket_and_a_calendar_file(
    mail_client: httpx.AsyncClient, tickets: dict[str, Any], mailbox: Mailbox, database: Database
) -> None:
    await set_venue(database)
    created = await register(
        mail_client, tickets["delegate"], name="Ada Lovelace", organisation="Leeds City Council"
    )
    await all_sent(database, 1)
    (message,) = await mailbox.wait_for(1)

    # The event's name is the sender's display name; the address stays the configured one.
    assert parseaddr(str(message["From"])) == ("Test Conference", "registrations@conference.example")
    assert message.get_content_type() == "multipart/mixed"
    text, html = body_of(message), html_of(message)
    for part in (text, html):
        assert "Tue 8 Dec 2026, 09:00 to Wed 9 Dec 2026, 17:00" in part
        assert "Test Hall" in part and "Woodhouse Lane" in part and "Leeds LS2 9JT" in part
        assert "Ten minutes" in part and "Merrion Centre car park" in part
        assert created["reference"] in part
    # One manage link (the booking) and the ticket's link, at the same token, in both parts.
    assert MANAGE_LINK.findall(text) == [created["manage_token"]]
    assert TICKET_LINK.findall(text) == [created["manage_token"]]
    assert f'href="{BASE_URL}/manage/{created["manage_token"]}"' in html
    assert f'href="{BASE_URL}/ticket/{created["manage_token"]}"' in html
    assert '<meta name="viewport"' in html and "max-width:600px" in html

    files = attachments(message)
    assert set(files) == {f"ticket-{created['reference']}.pdf", "event.ics"}
    kind, ics = files["event.ics"]
    assert kind == "text/calendar"
    calendar = icalendar.Calendar.from_ical(ics)
    (event,) = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == datetime(2026, 12, 8, 9, tzinfo=UTC)
    assert event.decoded("dtend") == datetime(2026, 12, 9, 17, tzinfo=UTC)
    assert str(event["location"]) == "Test Hall, Leeds Conference Centre, Woodhouse Lane, Leeds LS2 9JT"
    assert str(event["summary"]) == "Test Conference"

    # The attached ticket's QR is the badge's code, and the door admits it once.
    kind, pdf = files[f"ticket-{created['reference']}.pdf"]
    assert kind == "application/pdf"
    (qr,) = decode(raster(pdf)[0])
    async with database.transaction() as db:
        staff = bearer(await create_api_token(db, role="staff", name="Door"))
    first = await scan(mail_client, staff, qr.text)
    assert first.json()["result"] == "ok" and first.json()["attendee"]["name"] == "Ada Lovelace"
    assert (await scan(mail_client, staff, qr.text)).json()["result"] == "already_checked_in"
    # The linked ticket page shows the same code's QR.
    page = await mail_client.get(f"/ticket/{created['manage_token']}")
    assert page.status_code == 200 and "<svg" in page.text and created["reference"] in page.text


async def test_every_part_escapes_a_name_with_markup(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database, settings: Settings
) -> None:
    name = '<img src=x onerror="alert(1)"> Ada & <b>Bob</b>'
    await register(client, tickets["delegate"], name=name)
    (message,) = await emails(database, settings, "registration")
    assert f"Dear {name}," in body_of(message)  # plain text is plain: as typed
    html = html_of(message)
    assert "Dear &lt;img src=x onerror=&quot;alert(1)&quot;&gt; Ada &amp; &lt;b&gt;Bob&lt;/b&gt;," in html
    assert "<img" not in html and "<b>" not in html and 'onerror="' not in html


async def test_other_emails_have_both_parts_and_the_event_as_sender(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database, settings: Settings
) -> None:
    created = await register(client, tickets["delegate"])
    cancelled = await client.delete(
        f"/api/v1/registrations/{created['id']}", headers=bearer(created["manage_token"])
    )
    assert cancelled.status_code == 200
    (message,) = await emails(database, settings, "cancelled")
    assert parseaddr(str(message["From"]))[0] == "Test Conference"
    assert "has been cancelled" in body_of(message) and "has been cancelled" in html_of(message)
    assert attachments(message) == {}  # no ticket for a cancelled place
    assert "/ticket/" not in body_of(message)


async def test_waiting_list_emails_give_the_position_and_a_promotion_says_what_to_do_next(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    tickets = await make_conference(database, capacity=1)
    async with database.transaction() as db:  # an invoice here holds the place until it is paid
        await db.execute(
            sa.update(TicketType).where(TicketType.id == tickets["exhibitor"]).values(invoice_confirms=False)
        )
    first = await register(client, tickets["delegate"], name="First Person")
    paying = await post_registration(client, invoice_body(tickets["exhibitor"], name="Paying Person"))
    third = await register(client, tickets["delegate"], name="Third Person")
    assert (paying["status"], third["status"]) == ("waitlisted", "waitlisted")

    by_name = {body_of(m).split(",", 1)[0]: m for m in await emails(database, settings, "registration")}
    assert "on the waiting list (position 1)" in body_of(by_name["Dear Paying Person"])
    third_text = body_of(by_name["Dear Third Person"])
    assert "on the waiting list (position 2)" in third_text
    assert "on the waiting list (position 2)" in html_of(by_name["Dear Third Person"])
    assert attachments(by_name["Dear Third Person"]) == {} and "/ticket/" not in third_text
    assert "Tue 8 Dec 2026" in third_text  # when the event is, all the same

    # The first place is given up: the invoice payer moves up and is told there is nothing to do but wait for
    # the invoice to be paid (no ticket yet); the third is now first in line, which an email sent now says.
    assert (
        await client.delete(f"/api/v1/registrations/{first['id']}", headers=bearer(first["manage_token"]))
    ).status_code == 200
    (promoted,) = await emails(database, settings, "promoted")
    text = body_of(promoted)
    assert "Dear Paying Person" in text and "What to do next: nothing for you" in text
    assert "invoice" in text and attachments(promoted) == {} and "/ticket/" not in text
    resent = await client.post("/api/v1/registrations/resend-link", json={"email": third["email"]})
    assert resent.status_code == 202
    (again,) = await emails(database, settings, "manage_link")
    assert "on the waiting list (position 1)" in body_of(again)

    # The invoice payer cancels in turn: the third moves up to a confirmed place, with nothing to do, and the
    # ticket and calendar file come with the news.
    assert (
        await client.delete(f"/api/v1/registrations/{paying['id']}", headers=bearer(paying["manage_token"]))
    ).status_code == 200
    promoted_third = [m for m in await emails(database, settings, "promoted") if "Third Person" in body_of(m)]
    (message,) = promoted_third
    text = body_of(message)
    assert "There is nothing more you need to do" in text
    assert TICKET_LINK.findall(text) == [third["manage_token"]]
    files = attachments(message)
    assert set(files) == {f"ticket-{third['reference']}.pdf", "event.ics"}
    (qr,) = decode(raster(files[f"ticket-{third['reference']}.pdf"][1])[0])
    assert qr.text == code_for(settings, third)
    async with database.read() as db:
        row = await db.get(Registration, uuid.UUID(third["id"]))
        assert row is not None and row.status == Status.confirmed
