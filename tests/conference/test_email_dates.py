"""Issue 23 in emails and documents: a confirmation email and an invoice (its email and its PDF) say dates the one
way pages do ("Tue 8 Dec 2026, 09:00", a day as "Tue 8 Dec 2026"), in the conference's time zone, never as ISO
strings nor spelled out ("Tuesday 8 December 2026")."""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import Any

import httpx
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import Conference
from conference.core.settings import Settings
from tests.factories import invoice_body
from tests.support import body_of, emails, flat, pdf_text, post_registration, register

# The format (core/formats.py): "Tue 8 Dec 2026", optionally ", 09:30".
DAY = r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}"
ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
SPELLED_OUT = re.compile(
    r"(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March|April|June|July|August|"
    r"September|October|November|December)"
)


def pdf_of(message: EmailMessage) -> str:
    (pdf,) = [
        p.get_payload(decode=True)
        for p in message.iter_attachments()
        if str(p.get_filename()).endswith(".pdf")
    ]
    assert isinstance(pdf, bytes)
    return flat(pdf_text(pdf)[0])


def assert_one_format(text: str) -> None:
    assert not ISO.findall(text), ISO.findall(text)
    assert not SPELLED_OUT.findall(text), SPELLED_OUT.findall(text)


async def test_the_confirmation_says_when_in_the_one_format(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database, settings: Settings
) -> None:
    await register(client, tickets["delegate"], name="Ada Lovelace")
    (message,) = await emails(database, settings, "registration")
    text = body_of(message)
    # The factory's event: 09:00 UTC on 8 December 2026 to 17:00 UTC the next day; London is on GMT then.
    assert "When: Tue 8 Dec 2026, 09:00 to Wed 9 Dec 2026, 17:00" in text
    assert_one_format(text)


async def test_the_confirmation_reads_in_the_conferences_time_zone(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database, settings: Settings
) -> None:
    async with database.transaction() as db:
        await db.execute(sa.update(Conference).values(timezone="Asia/Tokyo"))
    await register(client, tickets["delegate"], name="Ada Lovelace")
    (message,) = await emails(database, settings, "registration")
    assert "When: Tue 8 Dec 2026, 18:00 to Thu 10 Dec 2026, 02:00" in body_of(message)


async def test_an_invoice_and_its_pdf_say_days_in_the_one_format(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database, settings: Settings
) -> None:
    await post_registration(client, invoice_body(tickets["exhibitor"], name="Paying Person"))
    (message,) = await emails(database, settings, "invoice")
    body = body_of(message)
    assert re.search(rf"Due date: {DAY}\n", body), body
    assert_one_format(body)

    text = pdf_of(message)
    assert "Test Conference, Tue 8 Dec 2026 to Wed 9 Dec 2026: Exhibitor place" in text
    assert re.search(rf"Date of issue {DAY}", text) and re.search(rf"Due date {DAY}", text), text
    assert re.search(rf"\(by {DAY}\)", text), text  # the payment terms
    assert_one_format(text)
