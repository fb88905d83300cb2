"""Issue 23's console fixes, without a browser: the awaiting-approval list shows each delegate's email and can tick
every row on the page without JavaScript; the audit log shows a short summary of each entry's details with the
whole on demand; a message whose copies were all kept (no mail server) says so instead of "0 of 68 done"."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx

from conference import broadcasts
from conference.console import audit as console_audit
from conference.console import messages as console_messages
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import AuditEntry
from tests.factories import registration_body
from tests.support import HTML, post_registration

ORGANISER = Actor("organiser", "test")


async def test_awaiting_approval_shows_the_email_and_ticks_all_without_javascript(
    organiser: httpx.AsyncClient, tickets: dict[str, Any]
) -> None:
    client = organiser
    waiting = [
        await post_registration(
            client, registration_body(tickets["press"], email=f"reporter{n}@gazette.example", sector="other")
        )
        for n in range(2)  # the press ticket's cap
    ]
    assert {w["status"] for w in waiting} == {"awaiting_approval"}
    listing = await client.get("/console/registrations?status=awaiting_approval", headers=HTML)
    assert listing.status_code == 200
    rows = listing.text[listing.text.index('id="registrations"') :]
    for n in range(2):
        assert f'<span class="reg-email">reporter{n}@gazette.example</span>' in rows
    boxes = re.findall(r'<input type="checkbox" name="registration"[^>]*>', rows)
    assert len(boxes) == 2 and not any("checked" in b for b in boxes)
    # The script's tick box in the heading is hidden until the script shows it; the link works without it.
    assert re.search(
        r'<input type="checkbox" id="choose-all" data-select-all="registration"[^>]* hidden>', rows
    )
    link = re.search(
        r'<p class="select-all-link" id="tick-all-link"><a href="([^"]+)"[^>]*>([^<]+)</a>', listing.text
    )
    assert link and link.group(2) == "Tick all 2 awaiting approval on this page"
    ticked = await client.get(unescape(link.group(1)), headers=HTML)
    assert ticked.status_code == 200
    boxes = re.findall(r'<input type="checkbox" name="registration"[^>]*>', ticked.text)
    assert len(boxes) == 2 and all(b.endswith(" checked>") for b in boxes)
    assert "status=awaiting_approval" in unescape(link.group(1))  # the filter is kept
    assert ">Untick all</a>" in ticked.text


async def test_the_audit_log_summarises_details_and_shows_the_rest_on_demand(
    organiser: httpx.AsyncClient, database: Database
) -> None:
    long = "x" * 300
    async with database.transaction() as db:
        db.add(
            AuditEntry(
                actor="organiser:test",
                action="conference.registration.updated",
                subject="P-1",
                data={
                    "status": "confirmed",
                    "by": None,
                    "changed": ["name", "email"],
                    "note": long,
                    "flag": True,
                },
            )
        )
    page = await organiser.get("/console/audit?subject=P-1", headers=HTML)
    assert page.status_code == 200
    cell = re.search(r'<td data-label="Details">(.*?)</td>', page.text, re.DOTALL)
    assert cell
    short = re.search(r"<summary>(.*?)<span", cell.group(1), re.DOTALL)
    assert short
    # Empty values are left out; three fields (by name) in words, then how many more; long values cut short.
    assert short.group(1) == "changed: 2 items; flag: yes; note: " + "x" * 39 + "…; and 1 more"
    whole = re.search(r"<pre>(.*?)</pre>", cell.group(1), re.DOTALL)
    assert whole and long in whole.group(1) and "&#34;flag&#34;: true" in whole.group(1)
    assert console_audit.summary({}) == "" and console_audit.summary("plain") == "plain"


def test_delivery_summary_says_what_happened() -> None:
    counts = dict.fromkeys(broadcasts.DELIVERY_STATES, 0)
    kept = {**counts, "kept": 68}
    assert console_messages.delivery_summary(kept, 68).startswith(
        "Not emailed: no mail server is configured, so all 68 copies are kept in the outbox"
    )
    mixed = {**counts, "sent": 60, "failed": 2, "queued": 5, "sending": 1}
    assert console_messages.delivery_summary(mixed, 68) == (
        "62 of 68 done: 60 delivered to the mail server, 2 failed, 6 waiting to be sent"
    )
    assert console_messages.delivery_summary({**counts, "sent": 3}, 3) == (
        "All 3 done: 3 delivered to the mail server"
    )


async def test_a_message_kept_without_a_mail_server_says_so(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    for _ in range(2):
        await post_registration(organiser, registration_body(tickets["delegate"]))
    async with database.transaction() as db:
        sent = await broadcasts.send(
            db,
            settings=database.settings,  # no SMTP_URL in tests: every copy is kept
            segment="all",
            ref="",
            subject="Parking",
            body="Use car park B.",
            actor=ORGANISER,
        )
    page = await organiser.get(f"/console/messages/{sent.id}", headers=HTML)
    assert page.status_code == 200
    said = re.search(r'<span id="progress-summary">(.*?)</span>', page.text, re.DOTALL)
    assert said and said.group(1).startswith(
        "Not emailed: no mail server is configured, so all 2 copies are kept"
    )
    assert "0 of 2 done" not in page.text
    assert re.search(r'<progress id="progress" max="2" value="2"', page.text)
    assert "Read the kept copies in the outbox</a>" in page.text
