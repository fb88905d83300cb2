"""Personal data: the delegate's download, erasure (manage page, API, console), and the retention rule (worker
function, CLI) — what goes, what stays for the counts and the accounts, and who may do it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from badges.codes import BadgeSigner
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import (
    AuditEntry,
    Checkin,
    Conference,
    Invoice,
    OutboxEmail,
    Payment,
    Refund,
    Registration,
    Status,
    utcnow,
)
from conference.core.settings import Settings
from conference.personal_data import ERASED_NAME, erase, erase_expired, erased_email
from sessions.models import SeatBooking, SeatStatus, SessionChoice, Star
from tests.factories import BILLING, make_conference, make_programme, registration_body, set_call
from tests.support import (
    bearer,
    csrf,
    eventually,
    make_settings,
    organiser_token,
    register,
    sign_in,
    staff_token,
    submit,
)

HTML = {"accept": "text/html"}
PERSONAL = ("name", "email", "organisation", "job_title", "region", "dietary", "access_needs")


@pytest.fixture
async def tickets(database: Database) -> dict[str, Any]:
    tickets = await make_conference(database, capacity=3)
    await set_call(database, open_=True)
    return tickets


async def rows(database: Database, model: Any, *where: Any) -> list[Any]:
    async with database.read() as db:
        return list((await db.execute(sa.select(model).where(*where))).scalars())


async def registration(database: Database, registration_id: str | uuid.UUID) -> Registration:
    async with database.read() as db:
        r = await db.get(Registration, uuid.UUID(str(registration_id)))
        assert r is not None
        return r


async def audits(database: Database, action: str) -> list[AuditEntry]:
    return await rows(database, AuditEntry, AuditEntry.action == action)


async def full_delegate(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> dict[str, Any]:
    """A delegate with something in every table: paid by invoice, a workshop seat, a ranked choice, a starred talk,
    a door check-in, a card payment and refund, emails, and a talk proposal under the same email address."""
    a = await register(
        client,
        tickets["exhibitor"],
        payment_method="invoice",
        billing=dict(BILLING),
        name="Ada Lovelace",
        job_title="Head of Safeguarding",
        region="London",
        dietary="Vegetarian",
        access_needs="Hearing loop",
    )
    organiser = bearer(await organiser_token(database))
    p = await make_programme(database)
    booked = await client.post(
        f"/api/v1/registrations/{a['id']}/sessions",
        headers=organiser,
        json={"session_id": str(p.sessions["B"])},
    )
    assert booked.status_code == 201, booked.text
    email = (await registration(database, a["id"])).email
    talk = await submit(
        client,
        title="Shared triage desks",
        speakers=[
            {"name": "Ada Lovelace", "email": email, "organisation": "Leeds City Council"},
            {"name": "Co Speaker", "email": "co.speaker@leeds.gov.uk", "organisation": "LCC"},
        ],
    )
    accepted = await client.post(
        "/api/v1/proposals/decisions",
        headers=organiser,
        json={"decision": "accept", "proposal_ids": [talk["id"]]},
    )
    assert accepted.status_code == 200, accepted.text
    starred = await client.put(
        f"/api/v1/registrations/{a['id']}/stars",
        headers=bearer(a["manage_token"]),
        json={"proposal_ids": [talk["id"]]},
    )
    assert starred.status_code == 200, starred.text
    scan = await client.post(
        "/api/v1/checkins",
        headers=bearer(await staff_token(database)),
        json={"code": BadgeSigner.from_settings(settings).code_for(a["reference"], 1), "list": "door"},
    )
    assert scan.json()["result"] == "ok", scan.text
    async with database.transaction() as db:
        payment = Payment(
            registration_id=uuid.UUID(a["id"]),
            amount_pence=1200,
            status="paid",
            refunded_pence=1200,
            checkout_session_id="cs_test_SECRET_SESSION",
            checkout_url="https://checkout.example/SECRET",
            payment_intent_id="pi_SECRET_INTENT",
            expires_at=utcnow(),
            paid_at=utcnow(),
        )
        db.add(payment)
        await db.flush()
        db.add(
            Refund(
                payment_id=payment.id,
                registration_id=payment.registration_id,
                amount_pence=1200,
                reason="duplicate",
                stripe_refund_id="re_SECRET_REFUND",
                status="succeeded",
            )
        )
        db.add(SessionChoice(registration_id=payment.registration_id, session_id=p.sessions["D"], rank=1))
        # The delegate has followed the link confirming the address (proposals matched by email need it).
        await db.execute(
            sa.update(Registration)
            .where(Registration.id == payment.registration_id)
            .values(email_verified_at=utcnow())
        )
        # A mail server would have these as queued (not yet sent) and sent: the test settings keep every email.
        db.add(
            OutboxEmail(
                kind="manage_link",
                to_address=email,
                registration_id=payment.registration_id,
                status="queued",
                context={"status": "confirmed"},
            )
        )
        db.add(
            OutboxEmail(
                kind="registration",
                to_address=email,
                registration_id=payment.registration_id,
                status="sent",
                sent_at=utcnow(),
                context={"status": "confirmed"},
            )
        )
    return {**a, "email": email, "talk": talk, "programme": p, "organiser": organiser}


# --- the download ------------------------------------------------------------------------------------------


async def test_download_holds_every_field_and_related_row_and_is_audited(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    a = await full_delegate(client, database, settings, tickets)
    response = await client.get(f"/manage/{a['manage_token']}/data.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    assert (
        response.headers["content-disposition"]
        == f'attachment; filename="personal-data-{a["reference"]}.json"'
    )
    data = response.json()
    assert "Everything" in data["about"]["what"] and data["about"]["generated_at"]
    r = data["registration"]
    assert (r["name"], r["email"], r["job_title"], r["region"], r["dietary"], r["access_needs"]) == (
        "Ada Lovelace",
        a["email"],
        "Head of Safeguarding",
        "London",
        "Vegetarian",
        "Hearing loop",
    )
    assert (
        r["reference"] == a["reference"]
        and r["status"] == "confirmed"
        and r["created_at"]
        and r["consent_at"]
    )
    assert data["ticket_type"]["name"] == "Exhibitor"
    assert data["billing"]["purchase_order"] == BILLING["purchase_order"]
    assert [(c["list"], c["result"]) for c in data["check_ins"]] == [("door", "ok")]
    assert [(p["amount_pence"], p["status"]) for p in data["payments"]] == [(1200, "paid")]
    assert [(f["amount_pence"], f["status"]) for f in data["refunds"]] == [(1200, "succeeded")]
    (invoice,) = data["invoices"]
    assert invoice["number"].startswith("INV-") and invoice["billing_email"] == BILLING["email"]
    assert invoice["gross_pence"] == 54000
    assert {e["kind"] for e in data["emails"]} >= {"registration", "invoice", "manage_link"}
    assert [(s["title"], s["status"]) for s in data["workshop_seats"]] == [("Workshop B", "booked")]
    assert "Workshop B" in [row["title"] for row in data["agenda"]]
    assert [(c["title"], c["rank"]) for c in data["workshop_choices"]] == [("Workshop D", 1)]
    assert [s["title"] for s in data["talk_stars"]] == ["Shared triage desks"]
    (proposal,) = data["talk_proposals"]
    assert (
        proposal["title"] == "Shared triage desks" and proposal["you_as_speaker"]["contact_speaker"] is True
    )
    text = response.text
    for secret in ("SECRET", "co.speaker", "Co Speaker", "manage_token", a["manage_token"]):
        assert secret not in text, secret  # no Stripe ids or URLs, no co-speaker, no tokens

    # The API gives the same to the attendee and to organisers; staff and other attendees are refused.
    api = f"/api/v1/registrations/{a['id']}/personal-data"
    mine = await client.get(api, headers=bearer(a["manage_token"]))
    assert mine.status_code == 200 and mine.json()["registration"]["email"] == a["email"]
    assert mine.headers["cache-control"] == "no-store"
    assert (await client.get(api, headers=a["organiser"])).status_code == 200
    other = await register(client, tickets["delegate"])
    assert (await client.get(api, headers=bearer(other["manage_token"]))).status_code == 403
    assert (await client.get(api, headers=bearer(await staff_token(database)))).status_code == 403
    assert (await client.get(api)).status_code == 401
    assert (
        await client.get(f"/api/v1/registrations/{uuid.uuid4()}/personal-data", headers=a["organiser"])
    ).status_code == 404

    downloads = await audits(database, "conference.personal_data.downloaded")
    assert [(d.subject, d.data["via"], d.actor.split(":")[0]) for d in downloads] == [
        (a["reference"], "manage", "attendee"),
        (a["reference"], "api", "attendee"),
        (a["reference"], "api", "organiser"),
    ]
    assert a["email"] not in json.dumps([d.data for d in downloads])


async def test_download_is_rate_limited(database_url: str, tickets: dict[str, Any]) -> None:
    from conference.server.app import create_app

    app = create_app(make_settings(database_url, CONFERENCE_RATE_LIMIT="2/minute"))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client,
    ):
        a = (await client.post("/api/v1/registrations", json=registration_body(tickets["delegate"]))).json()
        answers = [(await client.get(f"/manage/{a['manage_token']}/data.json")).status_code for _ in range(3)]
    assert answers == [200, 200, 429]


# --- erasure on the manage page ----------------------------------------------------------------------------


async def test_manage_page_erasure_with_csrf_removes_personal_data_everywhere_and_keeps_the_accounts(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    a = await full_delegate(client, database, settings, tickets)
    rid = uuid.UUID(a["id"])
    manage = await client.get(f"/manage/{a['manage_token']}", headers=HTML)
    assert "Your personal data" in manage.text and f"/manage/{a['manage_token']}/erase" in manage.text
    assert f"/manage/{a['manage_token']}/data.json" in manage.text
    confirm = await client.get(f"/manage/{a['manage_token']}/erase", headers=HTML)
    assert (
        confirm.status_code == 200 and 'id="cancel-first"' in confirm.text and "What we keep" in confirm.text
    )

    # No CSRF token (or a wrong one): refused, nothing changed.
    for data in ({}, {"csrf_token": "forged"}):
        refused = await client.post(f"/manage/{a['manage_token']}/erase", data=data, headers=HTML)
        assert refused.status_code == 403
    assert (await registration(database, rid)).erased_at is None

    done = await client.post(
        f"/manage/{a['manage_token']}/erase", data={"csrf_token": csrf(confirm.text)}, headers=HTML
    )
    assert done.status_code == 200 and "Your personal data is erased" in done.text
    assert "The registration was cancelled first" in done.text and 'id="credit"' in done.text

    r = await registration(database, rid)
    assert r.name == ERASED_NAME and r.email == r.email_key == erased_email(rid) == f"erased-{rid}@invalid"
    assert (r.organisation, r.job_title, r.region, r.dietary, r.access_needs, r.billing) == (
        "",
        "",
        "",
        "",
        "",
        None,
    )
    assert r.erased_at is not None and r.erasure_requested_at is not None
    assert (
        r.status == Status.cancelled and r.cancel_reason == "delegate" and r.sector.value == "local_authority"
    )
    assert (r.token_version, r.badge_version) == (2, 2)
    # Outbox: unsent emails to the delegate are gone, sent ones have no address or context; the invoice and
    # credit note emails to the paying organisation stay with the invoices.
    emails = await rows(database, OutboxEmail, OutboxEmail.registration_id == rid)
    assert not [
        e
        for e in emails
        if e.status in ("queued", "sending", "failed") and e.kind not in ("invoice", "credit_note")
    ]
    for e in emails:
        if e.kind in ("invoice", "credit_note"):
            assert e.to_address == BILLING["email"]
        else:
            assert (e.to_address, e.context) == ("", {}), e.kind
    assert {e.kind for e in emails} >= {"registration", "invoice", "credit_note"}
    assert await rows(database, Star, Star.registration_id == rid) == []
    assert await rows(database, SessionChoice, SessionChoice.registration_id == rid) == []
    # Kept: check-ins, payments, refunds, invoices with their billing fields, and the (now freed) seat's row.
    assert len(await rows(database, Checkin, Checkin.registration_id == rid)) == 1
    assert len(await rows(database, Payment, Payment.registration_id == rid)) == 1
    assert len(await rows(database, Refund, Refund.registration_id == rid)) == 1
    invoices = await rows(database, Invoice, Invoice.registration_id == rid)
    assert sorted(i.kind for i in invoices) == ["credit_note", "invoice"]
    assert all(
        i.billing_email == BILLING["email"] and i.purchase_order == BILLING["purchase_order"]
        for i in invoices
    )
    (seat,) = await rows(database, SeatBooking, SeatBooking.registration_id == rid)
    assert seat.status == SeatStatus.cancelled
    # Nothing personal is left in the registration, its emails or the audit trail. (The call for talks' own
    # emails to the speaker stay with the proposal, which the speaker manages through its own link.)
    for model, where in (
        (Registration, Registration.id == rid),
        (OutboxEmail, OutboxEmail.registration_id == rid),
        (AuditEntry, sa.true()),
    ):
        dump = json.dumps(
            [
                {c: str(getattr(x, c)) for c in type(x).model_fields}
                for x in await rows(database, model, where)
            ]
        )
        for value in ("Ada Lovelace", a["email"], "Head of Safeguarding", "Vegetarian", "Hearing loop"):
            assert value not in dump, (model.__name__, value)

    (entry,) = await audits(database, "conference.registration.erased")
    assert (
        entry.subject == a["reference"]
        and entry.data["reason"] == "delegate_request"
        and entry.data["cancelled"]
    )

    # The old link and badge no longer work.
    assert (await client.get(f"/manage/{a['manage_token']}", headers=HTML)).status_code == 404
    assert (await client.get(f"/manage/{a['manage_token']}/data.json")).status_code == 404
    assert (
        await client.post(
            f"/manage/{a['manage_token']}/erase", data={"csrf_token": csrf(confirm.text)}, headers=HTML
        )
    ).status_code == 404
    assert (
        await client.get(f"/api/v1/registrations/{rid}", headers=bearer(a["manage_token"]))
    ).status_code == 401
    scan = await client.post(
        "/api/v1/checkins",
        headers=bearer(await staff_token(database)),
        json={"code": BadgeSigner.from_settings(settings).code_for(a["reference"], 1), "list": "door"},
    )
    assert scan.json()["result"] == "invalid"


async def test_erasing_a_confirmed_delegate_frees_the_place_and_the_seat(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    organiser = bearer(await organiser_token(database))
    p = await make_programme(database, small_capacity=1)
    people = [await register(client, tickets["delegate"]) for _ in range(4)]  # capacity 3: the fourth waits
    assert [x["status"] for x in people] == ["confirmed"] * 3 + ["waitlisted"]
    first, second = people[0], people[1]
    for who in (first, second):
        await client.post(
            f"/api/v1/registrations/{who['id']}/sessions",
            headers=organiser,
            json={"session_id": str(p.sessions["A"])},
        )
    async with database.read() as db:
        statuses = [
            s.status
            for s in (await db.execute(sa.select(SeatBooking).order_by(SeatBooking.number))).scalars()
        ]
    assert statuses == [SeatStatus.booked, SeatStatus.waitlisted]

    answer = await client.post(
        f"/api/v1/registrations/{first['id']}/erasure", headers=bearer(first["manage_token"])
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["cancelled"] is True and answer.json()["already_erased"] is False
    assert (
        await registration(database, people[3]["id"])
    ).status == Status.confirmed  # moved up from the list
    (seat,) = await rows(database, SeatBooking, SeatBooking.registration_id == uuid.UUID(second["id"]))
    assert seat.status == SeatStatus.booked  # the freed workshop seat went to the next in line
    assert (await client.get("/api/v1/conference")).json()["registered"] == 3
    # The attendee's token is spent; the delegate's own cancellation reason applies.
    assert (
        await client.post(
            f"/api/v1/registrations/{first['id']}/erasure", headers=bearer(first["manage_token"])
        )
    ).status_code == 401
    assert (await registration(database, first["id"])).cancel_reason == "delegate"


async def test_api_erasure_is_idempotent_and_only_for_the_attendee_or_organisers(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    organiser = bearer(await organiser_token(database))
    a, b = await register(client, tickets["delegate"]), await register(client, tickets["delegate"])
    a_email = (await registration(database, a["id"])).email
    url = f"/api/v1/registrations/{a['id']}/erasure"
    assert (await client.post(url)).status_code == 401
    assert (await client.post(url, headers=bearer(b["manage_token"]))).status_code == 403
    assert (await client.post(url, headers=bearer(await staff_token(database)))).status_code == 403
    assert (
        await client.post(f"/api/v1/registrations/{uuid.uuid4()}/erasure", headers=organiser)
    ).status_code == 404
    first = await client.post(url, headers=organiser)
    assert first.status_code == 200 and first.json()["already_erased"] is False
    again = await client.post(url, headers=organiser)
    assert again.status_code == 200 and again.json()["already_erased"] is True
    assert "already been erased" in again.json()["message"]
    assert first.json()["erased_at"] == again.json()["erased_at"]
    entries = await audits(database, "conference.registration.erased")
    assert [(e.subject, e.data["reason"], e.actor) for e in entries] == [
        (a["reference"], "organiser", "organiser:Test organiser")
    ]
    r = await registration(database, a["id"])
    assert r.cancel_reason == "organiser" and r.erasure_requested_at is None
    # The erased delegate may register again with the same address (the old row no longer holds it).
    again_body = registration_body(tickets["delegate"], email=a_email)
    assert (await client.post("/api/v1/registrations", json=again_body)).status_code == 201


# --- the console -------------------------------------------------------------------------------------------


async def test_console_erase_action_with_confirmation(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    a = await register(client, tickets["delegate"], name="Grace Hopper")
    await sign_in(client, await organiser_token(database))
    page = await client.get(f"/console/registrations/{a['id']}", headers=HTML)
    assert f"/console/registrations/{a['id']}/erase" in page.text
    assert f"/api/v1/registrations/{a['id']}/personal-data" in page.text
    download = await client.get(
        f"/api/v1/registrations/{a['id']}/personal-data"
    )  # the console session reads it
    assert download.status_code == 200 and download.json()["registration"]["name"] == "Grace Hopper"
    confirm = await client.get(f"/console/registrations/{a['id']}/erase", headers=HTML)
    assert (
        confirm.status_code == 200 and "Grace Hopper" in confirm.text and 'id="cancel-first"' in confirm.text
    )
    assert (
        await client.post(f"/console/registrations/{a['id']}/erase", data={}, headers=HTML)
    ).status_code == 403
    assert (await registration(database, a["id"])).erased_at is None
    done = await client.post(
        f"/console/registrations/{a['id']}/erase", data={"csrf_token": csrf(confirm.text)}, headers=HTML
    )
    assert done.status_code == 303 and done.headers["location"].endswith("?done=erased")
    shown = await client.get(done.headers["location"], headers=HTML)
    assert ERASED_NAME in shown.text and 'id="erased"' in shown.text and "Grace Hopper" not in shown.text
    twice = await client.post(
        f"/console/registrations/{a['id']}/erase", data={"csrf_token": csrf(confirm.text)}, headers=HTML
    )
    assert twice.status_code == 409 and "already been erased" in twice.text
    assert (await client.get(f"/console/registrations/{a['id']}/erase", headers=HTML)).status_code == 409
    assert len(await audits(database, "conference.registration.erased")) == 1


async def test_console_retention_setting(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    path = "/console/settings/retention"
    assert (
        (await client.get(path, headers=HTML))
        .headers["location"]
        .endswith("/login?next=%2Fconsole%2Fsettings%2Fretention")
    )
    await sign_in(client, await staff_token(database))
    assert (await client.get(path, headers=HTML)).status_code == 403
    client.cookies.clear()
    await sign_in(client, await organiser_token(database))
    page = await client.get(path, headers=HTML)
    assert page.status_code == 200 and "no retention period is set" in page.text
    token = csrf(page.text)
    assert (
        await client.post(path, data={"retention_days": "30"}, headers=HTML)
    ).status_code == 403  # no CSRF
    for bad in ("thirty", "-1", "3651", "1.5"):
        refused = await client.post(path, data={"retention_days": bad, "csrf_token": token}, headers=HTML)
        assert refused.status_code == 422 and 'href="#retention_days"' in refused.text, bad
    saved = await client.post(path, data={"retention_days": " 30 ", "csrf_token": token}, headers=HTML)
    assert saved.status_code == 303 and saved.headers["location"].endswith("?done=saved")
    shown = await client.get(saved.headers["location"], headers=HTML)
    assert "The retention period is saved" in shown.text and "after Fri 8 Jan 2027" in shown.text
    async with database.read() as db:
        assert (await db.execute(sa.select(Conference.retention_days))).scalar_one() == 30
    cleared = await client.post(path, data={"retention_days": "", "csrf_token": token}, headers=HTML)
    assert cleared.status_code == 303
    async with database.read() as db:
        assert (await db.execute(sa.select(Conference.retention_days))).scalar_one() is None
    entries = await audits(database, "conference.conference.updated")
    assert [e.data["fields"] for e in entries] == [["retention_days"], ["retention_days"]]


# --- retention ---------------------------------------------------------------------------------------------


async def test_patch_conference_sets_retention_days(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    organiser = bearer(await organiser_token(database))
    for bad in (-1, 3651, "30", 1.5, True):
        refused = await client.patch("/api/v1/conference", json={"retention_days": bad}, headers=organiser)
        assert refused.status_code == 422 and "retention_days" in refused.json()["error"]["fields"], bad
    ok = await client.patch("/api/v1/conference", json={"retention_days": 90}, headers=organiser)
    assert ok.status_code == 200 and ok.json()["retention_days"] == 90
    assert (
        await client.patch("/api/v1/conference", json={"retention_days": None}, headers=organiser)
    ).json()["retention_days"] is None
    assert (
        await client.patch(
            "/api/v1/conference", json={"retention_days": 1}, headers=bearer(await staff_token(database))
        )
    ).status_code == 403


async def set_retention(database: Database, days: int | None) -> Conference:
    async with database.transaction() as db:
        conference = (await db.execute(sa.select(Conference))).scalar_one()
        conference.retention_days = days
        return conference


async def test_retention_erases_only_after_the_end_plus_the_days(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    people = [await register(client, tickets["delegate"]) for _ in range(4)]  # three places, one waiting
    conference = await set_retention(database, None)
    after_a_year = conference.ends_at + timedelta(days=365)
    assert await erase_expired(database, settings, now=after_a_year) == 0  # no period set: kept

    await set_retention(database, 30)
    due = conference.ends_at + timedelta(days=30)
    assert await erase_expired(database, settings, now=due - timedelta(minutes=1)) == 0
    assert await erase_expired(database, settings, now=due) == 0  # "once now > ends_at + days"
    assert [(await registration(database, x["id"])).erased_at for x in people] == [None] * len(people)
    emails_before = {e.id for e in await rows(database, OutboxEmail)}

    assert await erase_expired(database, settings, now=due + timedelta(minutes=1)) == 4
    after = [await registration(database, x["id"]) for x in people]
    assert all(r.name == ERASED_NAME and r.erased_at is not None for r in after)
    # After the conference there is no place to free: the confirmed keep their status (the counts), nothing is
    # refunded, and nobody is promoted or emailed; the waiting entry is closed.
    assert [r.status for r in after] == [Status.confirmed] * 3 + [Status.cancelled]
    assert after[3].cancel_reason == "erased"
    assert {e.id for e in await rows(database, OutboxEmail)} <= emails_before
    assert await rows(database, Refund) == []
    entries = await audits(database, "conference.registration.erased")
    assert sorted(e.subject for e in entries) == sorted(x["reference"] for x in people)
    assert {(e.actor, e.data["reason"]) for e in entries} == {("system", "retention")}
    assert await erase_expired(database, settings, now=due + timedelta(days=1)) == 0  # nothing left to do
    late = await register(client, tickets["delegate"])  # (registration still open in the test conference)
    assert await erase_expired(database, settings, now=due + timedelta(days=1)) == 1
    assert (await registration(database, late["id"])).erased_at is not None


async def test_retention_runs_safely_in_two_processes_at_once(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    people = [await register(client, tickets["delegate"]) for _ in range(6)]
    conference = await set_retention(database, 0)
    other = Database.from_settings(settings)  # a second server's engine and connections
    try:
        counts = await asyncio.gather(
            erase_expired(database, settings, now=conference.ends_at + timedelta(seconds=1)),
            erase_expired(other, settings, now=conference.ends_at + timedelta(seconds=1)),
        )
    finally:
        await other.dispose()
    assert sum(counts) == len(people)
    assert len(await audits(database, "conference.registration.erased")) == len(people)


async def test_erase_service_rejects_an_unknown_reason_and_a_missing_registration(
    database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    from conference.core import errors

    async with database.transaction() as db:
        with pytest.raises(ValueError):
            await erase(
                db, settings=settings, registration_id=uuid.uuid4(), actor=Actor("system"), reason="bored"
            )
        with pytest.raises(errors.NotFound):
            await erase(
                db, settings=settings, registration_id=uuid.uuid4(), actor=Actor("system"), reason="organiser"
            )


async def test_cli_erase_expired(
    client: httpx.AsyncClient, database: Database, database_url: str, tickets: dict[str, Any]
) -> None:
    people = [await register(client, tickets["delegate"]) for _ in range(2)]
    async with database.transaction() as db:
        conference = (await db.execute(sa.select(Conference))).scalar_one()
        conference.starts_at, conference.ends_at = (
            utcnow() - timedelta(days=12),
            utcnow() - timedelta(days=11),
        )
        conference.retention_days = 10
    env = {
        **os.environ,
        "CONFERENCE_DATABASE_URL": database_url,
        "CONFERENCE_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    }

    def cli() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "conference.server.cli", "erase-expired"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    first = await asyncio.to_thread(cli)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "erased the personal data of 2 registrations\n"
    assert [(await registration(database, x["id"])).name for x in people] == [ERASED_NAME] * 2
    second = await asyncio.to_thread(cli)
    assert second.returncode == 0 and second.stdout == "erased the personal data of 0 registrations\n"


async def test_the_retention_worker_applies_the_rule_without_anyone_running_it(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    from conference.personal_data import RetentionWorker

    a = await register(client, tickets["delegate"])
    async with database.transaction() as db:
        conference = (await db.execute(sa.select(Conference))).scalar_one()
        conference.starts_at, conference.ends_at = utcnow() - timedelta(days=3), utcnow() - timedelta(days=2)
        conference.retention_days = 1
    worker = RetentionWorker(database, settings, interval=0.05, delay=0)
    worker.start()

    async def erased() -> bool:
        return (await registration(database, a["id"])).erased_at is not None

    try:
        await eventually(erased, what="the retention worker to erase the registration")
    finally:
        await worker.stop()
    r = await registration(database, a["id"])
    assert r.erased_at is not None and r.status == Status.confirmed  # the event is over: nothing to free
    (entry,) = await audits(database, "conference.registration.erased")
    assert entry.data["reason"] == "retention" and entry.actor == "system"
