"""The after-event emails: scheduling queues one row per delegate at the chosen time (the mail sender claims a
row only once its time has come), a new time moves the rows still waiting and an empty one removes them, nobody
gets the same email twice; delivered through a real SMTP server, "your certificate" carries the PDF and its links,
and "tell us how it went" links /manage/{token}/feedback with the sessions to rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import httpx
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from sqlmodel import col

from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import AuditEntry, OutboxEmail, utcnow
from conference.core.settings import Settings
from sessions.attendance import followup
from sessions.attendance.certificates import verify_url
from sessions.attendance.followup import CERTIFICATE_READY, FEEDBACK_INVITE
from tests.sessions.after_event_world import Event, attend, current, finished_event, issue_all, outbox, scan
from tests.support import (
    BASE_URL,
    HTML,
    Mailbox,
    body_of,
    csrf,
    eventually,
    flat,
    make_settings,
    organiser_token,
    pdf_text,
    running_app,
    sign_in,
    smtp_env,
)

ORGANISER = Actor("organiser", "Events team")
PAGE = "/console/after-event"


async def _three_came_two_certified(
    database: Database, client: httpx.AsyncClient, settings: Settings
) -> Event:
    event = await finished_event(database, client, delegates=4)
    await attend(database, event, 0, "A", "C")
    await attend(database, event, 1, "B")
    await attend(database, event, 2)  # admitted at the door, no session verified: no certificate
    await issue_all(database, settings)  # delegate 3 never came
    return event


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def _schedule(
    client: httpx.AsyncClient, token: str, certificate_at: str, feedback_at: str
) -> httpx.Response:
    return await client.post(
        PAGE + "/emails",
        data={"csrf_token": token, "certificate_at": certificate_at, "feedback_at": feedback_at},
        headers=HTML,
    )


async def test_scheduling_queues_each_delegate_once_at_the_chosen_time_and_rescheduling_moves_them(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    event = await _three_came_two_certified(database, client, settings)
    await sign_in(client, await organiser_token(database))
    token = csrf((await client.get(PAGE, headers=HTML)).text)
    scheduled = await _schedule(client, token, "2026-12-10T09:00", "2026-12-10T10:30")
    assert scheduled.status_code == 303 and scheduled.headers["location"].endswith("?done=emails_scheduled")
    certs, invites = await outbox(database, CERTIFICATE_READY), await outbox(database, FEEDBACK_INVITE)
    assert [r.registration_id for r in certs].count(event.id(0)) == 1 and len(certs) == 2
    assert {r.registration_id for r in certs} == {event.id(0), event.id(1)}
    assert {r.registration_id for r in invites} == {event.id(0), event.id(1), event.id(2)} and len(
        invites
    ) == 3
    # December in Europe/London is UTC: 09:00 there is 09:00Z.
    assert {_utc(r.next_attempt_at) for r in certs} == {datetime(2026, 12, 10, 9, 0, tzinfo=UTC)}
    assert {_utc(r.next_attempt_at) for r in invites} == {datetime(2026, 12, 10, 10, 30, tzinfo=UTC)}
    assert {r.to_address for r in certs} == {event.people[0]["email"], event.people[1]["email"]}
    page = await client.get(scheduled.headers["location"], headers=HTML)
    assert "The email times are saved" in page.text and 'value="2026-12-10T09:00"' in page.text
    assert "scheduled for Thu 10 Dec 2026, 09:00" in page.text

    moved = await _schedule(client, token, "2026-12-11T08:15", "2026-12-10T10:30")
    assert moved.status_code == 303
    again = await outbox(database, CERTIFICATE_READY)
    assert {r.id for r in again} == {r.id for r in certs}  # the same rows, moved; none added
    assert {_utc(r.next_attempt_at) for r in again} == {datetime(2026, 12, 11, 8, 15, tzinfo=UTC)}
    assert len(await outbox(database, FEEDBACK_INVITE)) == 3

    cleared = await _schedule(client, token, "", "2026-12-10T10:30")
    assert cleared.status_code == 303
    assert await outbox(database, CERTIFICATE_READY) == []
    assert len(await outbox(database, FEEDBACK_INVITE)) == 3
    async with database.read() as db:
        entries = list(
            (
                await db.execute(
                    sa.select(AuditEntry).where(
                        col(AuditEntry.action) == "sessions.after_event.emails_scheduled"
                    )
                )
            ).scalars()
        )
    assert len(entries) == 3
    assert entries[0].data["certificate_ready_queued"] == 2 and entries[0].data["feedback_invite_queued"] == 3
    assert (
        entries[1].data["certificate_ready_moved"] == 2 and entries[2].data["certificate_ready_removed"] == 2
    )


async def test_a_delegate_already_emailed_is_not_emailed_again_by_a_later_scheduling(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    event = await _three_came_two_certified(database, client, settings)
    at = datetime(2026, 12, 10, 9, tzinfo=UTC)
    async with database.transaction() as db:
        await followup.schedule_followups(
            db, settings, conference_id=1, certificate_at=at, feedback_at=None, actor=ORGANISER
        )
    async with database.transaction() as db:  # the first delegate's went
        await db.execute(
            sa.update(OutboxEmail)
            .where(col(OutboxEmail.registration_id) == event.id(0))
            .values(status="sent", sent_at=utcnow(), attempts=1)
        )
    await scan(database, event.id(2), str(event.programme.sessions["D"]))  # a certificate for delegate 2 too
    await issue_all(database, settings)
    # The run queued delegate 2's email at the time already chosen, as it would from the console or the CLI.
    assert sorted(str(r.registration_id) for r in await outbox(database, CERTIFICATE_READY)) == sorted(
        str(event.id(n)) for n in (0, 1, 2)
    )
    async with database.transaction() as db:
        done = await followup.schedule_followups(
            db,
            settings,
            conference_id=1,
            certificate_at=at + timedelta(days=1),
            feedback_at=None,
            actor=ORGANISER,
        )
    assert (done[CERTIFICATE_READY].queued, done[CERTIFICATE_READY].moved) == (0, 2)
    rows = await outbox(database, CERTIFICATE_READY)
    assert sorted(str(r.registration_id) for r in rows) == sorted(str(event.id(n)) for n in (0, 1, 2))
    sent = next(r for r in rows if r.registration_id == event.id(0))
    assert sent.status == "sent" and _utc(sent.next_attempt_at) != at + timedelta(days=1)


async def test_the_email_form_names_a_bad_time_and_queues_nothing(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    await _three_came_two_certified(database, client, settings)
    await sign_in(client, await organiser_token(database))
    token = csrf((await client.get(PAGE, headers=HTML)).text)
    garbled = await _schedule(client, token, "next tuesday", "")
    assert garbled.status_code == 422
    assert 'id="certificate_at-error"' in garbled.text and "Give a date and time" in garbled.text
    assert 'value="next tuesday"' in garbled.text
    early = await _schedule(client, token, "2026-12-10T09:00", "2026-12-01T09:00")
    assert early.status_code == 422
    assert 'id="feedback_at-error"' in early.text and "after the event starts" in early.text
    assert await outbox(database, CERTIFICATE_READY) == [] and await outbox(database, FEEDBACK_INVITE) == []


async def test_the_emails_are_delivered_at_their_time_with_the_certificate_attached(
    database_url: str, database: Database, smtp_server: Controller, smtp_port: int, mailbox: Mailbox
) -> None:
    smtp_settings = make_settings(database_url, **smtp_env(smtp_port))
    async with running_app(database_url, **smtp_env(smtp_port)) as client:
        event = await _three_came_two_certified(database, client, smtp_settings)
        await mailbox.wait_for(4)  # the registration confirmations; then only the after-event emails

        def after_event(subject: str) -> list[EmailMessage]:
            return [m for m in mailbox.messages if subject in m["Subject"]]

        async with database.transaction() as db:
            await followup.schedule_followups(
                db,
                smtp_settings,
                conference_id=1,
                certificate_at=utcnow() - timedelta(minutes=1),
                feedback_at=utcnow() + timedelta(days=1),
                actor=ORGANISER,
            )
        await eventually(lambda: len(after_event("certificate")) >= 2, what="two certificate emails")
        for n in (0, 1):
            certificate = await current(database, event.id(n))
            assert certificate is not None
            (message,) = [m for m in mailbox.to(event.people[n]["email"]) if "certificate" in m["Subject"]]
            assert "your certificate of attendance" in message["Subject"]
            body = body_of(message)
            assert f"{BASE_URL}/manage/{event.people[n]['manage_token']}/certificate" in body
            assert verify_url(smtp_settings, certificate.code) in body
            attachments = [(p.get_filename(), p.get_content()) for p in message.iter_attachments()]
            assert [name for name, _ in attachments] == [f"certificate-{certificate.code}.pdf"]
            text, _pages = pdf_text(attachments[0][1])
            assert event.people[n]["name"] in flat(text) and certificate.code in flat(text)
        # The invitations' time has not come: still waiting, never tried.
        invites = await outbox(database, FEEDBACK_INVITE)
        assert len(invites) == 3 and all(r.status == "queued" and r.attempts == 0 for r in invites)

        async with database.transaction() as db:
            await followup.schedule_followups(
                db,
                smtp_settings,
                conference_id=1,
                certificate_at=utcnow() - timedelta(minutes=1),
                feedback_at=utcnow(),
                actor=ORGANISER,
            )
        await eventually(
            lambda: len(after_event("tell us how it went")) >= 3, what="three feedback invitations"
        )
        (invite,) = [m for m in mailbox.to(event.people[0]["email"]) if "tell us how it went" in m["Subject"]]
        body = body_of(invite)
        assert f"{BASE_URL}/manage/{event.people[0]['manage_token']}/feedback" in body
        assert f"{BASE_URL}/manage/{event.people[0]['manage_token']}/library" in body
        assert "Workshop A" in body and "Workshop C" in body
        (other,) = [m for m in mailbox.to(event.people[2]["email"]) if "tell us how it went" in m["Subject"]]
        assert not list(other.iter_attachments())
        assert len(mailbox.to(event.people[3]["email"])) == 1  # never came: their registration email only

        async def all_sent() -> bool:
            rows = await outbox(database, FEEDBACK_INVITE) + await outbox(database, CERTIFICATE_READY)
            return len(rows) == 5 and all(r.status == "sent" for r in rows)

        await eventually(all_sent, what="every after-event email marked sent")
        assert (
            len(mailbox.messages) == 4 + 5
        )  # nobody got a second copy, and delegate 3 (absent) nothing more


async def test_certificates_issued_after_the_scheduling_are_emailed_at_the_chosen_time(
    client: httpx.AsyncClient, database: Database
) -> None:
    event = await finished_event(database, client, delegates=3)
    await attend(database, event, 0, "A")
    await attend(database, event, 1, "B", "D")
    await sign_in(client, await organiser_token(database))
    token = csrf((await client.get(PAGE, headers=HTML)).text)
    scheduled = await _schedule(client, token, "2026-12-10T09:00", "")
    assert scheduled.status_code == 303
    assert await outbox(database, CERTIFICATE_READY) == []  # nobody holds a certificate yet
    started = await client.post(PAGE + "/issue", data={"csrf_token": token})
    assert started.status_code == 303

    async def queued() -> bool:
        return len(await outbox(database, CERTIFICATE_READY)) == 2

    await eventually(queued, what="the run's certificate emails to be queued")
    rows = await outbox(database, CERTIFICATE_READY)
    assert {r.registration_id for r in rows} == {event.id(0), event.id(1)}
    assert {_utc(r.next_attempt_at) for r in rows} == {datetime(2026, 12, 10, 9, 0, tzinfo=UTC)}
