"""Managing delegates from the console: edit a delegate's details (validation, the one-live-registration-per-email
rule), transfer a place to a colleague (old link and badge refused, new ones work, both emails delivered to a real
SMTP server, seats and invoices kept), decide many registrations at once, and send emails again."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from sqlmodel import col

from badges.codes import signer_for
from conference import decisions, delegates
from conference import registration as bookings
from conference.core import errors
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import AuditEntry, Invoice, OutboxEmail, Registration, Status
from conference.core.settings import Settings
from sessions.models import Kind, RoomCreate, SeatBooking, SessionCreate, TimeSlotCreate
from sessions.workshops import programme
from tests.factories import ORGANISER, invoice_body, registration_body
from tests.support import (
    HTML,
    MANAGE_LINK,
    Mailbox,
    csrf,
    make_settings,
    organiser_token,
    post_registration,
    running_app,
    sign_in,
    smtp_env,
    staff_token,
)

ORG = Actor("organiser", "Test organiser")


async def token_of(client: httpx.AsyncClient) -> str:
    return csrf((await client.get("/login")).text)


async def post(client: httpx.AsyncClient, path: str, data: dict[str, Any]) -> httpx.Response:
    return await client.post(path, data={"csrf_token": await token_of(client), **data}, headers=HTML)


async def row(database: Database, registration_id: str) -> Registration:
    async with database.read() as db:
        r = await db.get(Registration, uuid.UUID(registration_id))
        assert r is not None
        return r


async def audits(database: Database, action: str) -> list[AuditEntry]:
    async with database.read() as db:
        return list(
            (
                await db.execute(
                    sa.select(AuditEntry).where(col(AuditEntry.action) == action).order_by(col(AuditEntry.id))
                )
            ).scalars()
        )


def form_of(r: Registration, **changes: str) -> dict[str, str]:
    values = {
        name: r.sector.value if name == "sector" else str(getattr(r, name)) for name in delegates.FIELDS
    }
    return {**values, **changes}


# --- editing ---------------------------------------------------------------------------------------------------


async def test_edit_details_saves_and_audits_field_names_only(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser
    made = await post_registration(
        client, registration_body(tickets["delegate"], name="Ann Original", dietary="Vegan")
    )
    path = f"/console/registrations/{made['id']}/edit"
    page = await client.get(path, headers=HTML)
    assert (
        page.status_code == 200 and 'value="Ann Original"' in page.text and ">Vegan</textarea>" in page.text
    )
    before = await row(database, made["id"])
    response = await post(
        client,
        path,
        form_of(
            before,
            name="Ann Corrected",
            dietary="Vegetarian, no nuts",
            region="North West",
            job_title="Head of Safeguarding",
        ),
    )
    assert response.status_code == 303 and response.headers["location"].endswith("?done=edited")
    after = await row(database, made["id"])
    assert (after.name, after.dietary, after.region, after.job_title) == (
        "Ann Corrected",
        "Vegetarian, no nuts",
        "North West",
        "Head of Safeguarding",
    )
    # The manage link stays; the badge (and e-ticket) shows the name, so a corrected name reissues it.
    assert after.token_version == before.token_version and after.badge_version == before.badge_version + 1
    (entry,) = await audits(database, "conference.registration.edited")
    assert entry.subject == made["reference"] and entry.actor == "organiser:Test organiser"
    assert entry.data == {"fields": ["name", "job_title", "region", "dietary"]}
    shown = await client.get(response.headers["location"], headers=HTML)
    assert "The delegate&#39;s details are saved." in shown.text and "Vegetarian, no nuts" in shown.text
    # The same details again: nothing changes, nothing is audited.
    again = await post(client, path, form_of(after))
    assert again.headers["location"].endswith("?done=unchanged")
    assert len(await audits(database, "conference.registration.edited")) == 1


async def test_edit_shows_validation_errors_next_to_fields(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser
    made = await post_registration(client, registration_body(tickets["delegate"]))
    before = await row(database, made["id"])
    response = await post(
        client,
        f"/console/registrations/{made['id']}/edit",
        form_of(before, name="  ", email="not-an-email", sector="", region="Atlantis", dietary="x" * 501),
    )
    assert response.status_code == 422
    for name in ("name", "email", "sector", "region", "dietary"):
        assert f'id="{name}-error"' in response.text, name
    assert "Enter an email address like name@council.gov.uk." in response.text
    assert (
        "Choose a region from the list." in response.text and "Use at most 500 characters." in response.text
    )
    assert 'aria-invalid="true"' in response.text and "There is a problem" in response.text
    assert 'value="not-an-email"' in response.text  # what was typed stays in the form
    after = await row(database, made["id"])
    assert (after.name, after.email, after.region) == (before.name, before.email, before.region)
    assert await audits(database, "conference.registration.edited") == []


async def test_edit_email_must_not_clash_with_a_live_registration(
    organiser: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    client = organiser
    a = await post_registration(client, registration_body(tickets["delegate"]))
    b = await post_registration(
        client, registration_body(tickets["delegate"], email="Taken.Address@leeds.gov.uk")
    )
    path = f"/console/registrations/{a['id']}/edit"
    before = await row(database, a["id"])
    clash = await post(client, path, form_of(before, email="taken.address@LEEDS.gov.uk"))
    assert clash.status_code == 409
    assert (
        'id="email-error"' in clash.text
        and f"Registration {b['reference']} already uses this email" in clash.text
    )
    assert (await row(database, a["id"])).email == before.email
    # Once B is cancelled its address is free again (one *live* registration per address).
    async with database.transaction() as db:
        await decisions.cancel_registration(
            db, settings=settings, registration_id=uuid.UUID(b["id"]), actor=ORG
        )
    taken = await post(client, path, form_of(before, email="taken.address@LEEDS.gov.uk"))
    assert taken.status_code == 303, taken.text
    after = await row(database, a["id"])
    assert after.email == "taken.address@leeds.gov.uk" and after.email_key == "taken.address@leeds.gov.uk"
    # A case-only change of one's own address is not a clash (the domain is kept in lower case).
    own = await post(client, path, form_of(after, email="TAKEN.address@leeds.gov.uk"))
    assert own.status_code == 303 and (await row(database, a["id"])).email == "TAKEN.address@leeds.gov.uk"


async def test_new_pages_and_forms_are_organisers_only(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    made = await post_registration(client, registration_body(tickets["delegate"]))
    one = f"/console/registrations/{made['id']}"
    anonymous = await client.get(one + "/edit", headers=HTML)
    assert anonymous.status_code == 303 and "/login?next=" in anonymous.headers["location"]
    await sign_in(client, await staff_token(database))
    for path in (one + "/edit", one + "/substitute"):
        assert (await client.get(path, headers=HTML)).status_code == 403, path
    before = await row(database, made["id"])
    for path, data in (
        (one + "/edit", form_of(before, name="Staff Changed")),
        (one + "/substitute", form_of(before, email="other@leeds.gov.uk")),
        (one + "/resend", {"email": "confirmation"}),
        ("/console/registrations/decisions", {"registration": made["id"], "decision": "reject"}),
    ):
        assert (await post(client, path, data)).status_code == 403, path
    after = await row(database, made["id"])
    assert (after.name, after.email, after.status) == (before.name, before.email, before.status)


# --- substitution ------------------------------------------------------------------------------------------------


async def _session(database: Database) -> uuid.UUID:
    async with database.transaction() as db:
        room = await programme.create_room(db, data=RoomCreate(name="Room A", capacity=20), actor=ORGANISER)
        start = datetime(2026, 12, 8, 10, tzinfo=UTC)
        slot = await programme.create_slot(
            db, data=TimeSlotCreate(starts_at=start, ends_at=start + timedelta(hours=1)), actor=ORGANISER
        )
        session = await programme.create_session(
            db,
            data=SessionCreate(
                title="Safeguarding workshop", kind=Kind.workshop, room_id=room.id, start_slot_id=slot.id
            ),
            actor=ORGANISER,
        )
        return session.id


async def test_substitution_moves_the_place_and_reissues_link_and_badge(
    database: Database,
    database_url: str,
    tickets: dict[str, Any],
    smtp_server: Controller,
    smtp_port: int,
    mailbox: Mailbox,
) -> None:
    settings = make_settings(database_url)
    signer = signer_for(settings)
    session_id = await _session(database)
    organiser, staff = await organiser_token(database), await staff_token(database)
    org_h, staff_h = {"authorization": f"Bearer {organiser}"}, {"authorization": f"Bearer {staff}"}
    async with running_app(database_url, **smtp_env(smtp_port)) as client:
        old = await post_registration(
            client,
            invoice_body(
                tickets["exhibitor"], name="Olive Old", email="olive.old@leeds.gov.uk", dietary="Halal"
            ),
        )
        booked = await client.post(
            f"/api/v1/registrations/{old['id']}/sessions", headers=org_h, json={"session_id": str(session_id)}
        )
        assert booked.status_code == 201, booked.text
        await mailbox.wait_for(2)  # the confirmation and the invoice
        before = await row(database, old["id"])
        await sign_in(client, organiser)
        form = await client.get(f"/console/registrations/{old['id']}/substitute", headers=HTML)
        assert form.status_code == 200 and 'value="Leeds City Council"' in form.text  # the organisation kept
        colleague = {
            "name": "Colin Colleague",
            "email": "colin.colleague@leeds.gov.uk",
            "organisation": "Leeds CC",
            "job_title": "Youth worker",
            "sector": "youth_offending_team",
            "region": "Yorkshire and the Humber",
            "dietary": "",
            "access_needs": "Step-free access",
        }
        done = await post(client, f"/console/registrations/{old['id']}/substitute", colleague)
        assert done.status_code == 303 and done.headers["location"].endswith("?done=substituted"), done.text

        after = await row(database, old["id"])
        assert (after.id, after.reference, after.status, after.payment_method, after.billing) == (
            before.id,
            before.reference,
            Status.confirmed,
            before.payment_method,
            before.billing,
        )
        assert (after.name, after.email, after.organisation, after.dietary, after.access_needs) == (
            "Colin Colleague",
            "colin.colleague@leeds.gov.uk",
            "Leeds CC",
            "",
            "Step-free access",
        )
        assert after.token_version == 2 and after.badge_version == 2 and after.badge_printed_at is None
        async with database.read() as db:
            seats = (
                (await db.execute(sa.select(SeatBooking).where(col(SeatBooking.registration_id) == after.id)))
                .scalars()
                .all()
            )
            invoices = (
                (await db.execute(sa.select(Invoice).where(col(Invoice.registration_id) == after.id)))
                .scalars()
                .all()
            )
        assert [(s.session_id, s.status.value) for s in seats] == [(session_id, "booked")]
        assert len(invoices) == 1 and invoices[0].status == "issued"

        # Both emails are delivered: the colleague's confirmation carries the new link; the old delegate's doesn't
        # name the colleague.
        await mailbox.wait_for(4)
        (welcome,) = mailbox.to("colin.colleague@leeds.gov.uk")
        welcome_text = welcome.get_body(("plain",)).get_content()
        assert "Dear Colin Colleague" in welcome_text and "transferred to you" in welcome_text
        link = MANAGE_LINK.search(welcome_text)
        assert link is not None and link.group(1) != old["manage_token"]
        notices = [m for m in mailbox.to("olive.old@leeds.gov.uk") if "transferred" in m["Subject"]]
        assert len(notices) == 1
        notice = notices[0].get_body(("plain",)).get_content()
        assert "Dear Olive Old" in notice and old["reference"] in notice
        for private in ("Colin", "colin.colleague", "Leeds CC", "Youth worker", "Step-free", "/manage/"):
            assert private not in notice, private

        # The old manage link and badge stop working; the new ones work.
        assert (await client.get(f"/manage/{old['manage_token']}", headers=HTML)).status_code == 404
        assert (
            await client.get(
                f"/api/v1/registrations/{old['id']}",
                headers={"authorization": f"Bearer {old['manage_token']}"},
            )
        ).status_code == 401
        manage = await client.get(f"/manage/{link.group(1)}", headers=HTML)
        assert manage.status_code == 200 and "Colin Colleague" in manage.text
        stale = await client.post(
            "/api/v1/checkins",
            headers=staff_h,
            json={"code": signer.code_for(old["reference"], 1), "list": "door"},
        )
        assert stale.json()["result"] == "invalid" and "replaced" in stale.json()["message"]
        fresh = await client.post(
            "/api/v1/checkins",
            headers=staff_h,
            json={"code": signer.code_for(old["reference"], 2), "list": str(session_id)},
        )
        assert fresh.json()["result"] == "ok" and fresh.json()["attendee"]["name"] == "Colin Colleague"

        (entry,) = await audits(database, "conference.registration.substituted")
        assert entry.subject == old["reference"] and entry.data["token_version"] == 2
        assert entry.data["badge_version"] == 2
        for private in ("Colin", "Olive", "leeds.gov.uk"):
            assert private not in str(entry.data)


async def test_substitution_refusals(
    organiser: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    client = organiser
    a = await post_registration(client, registration_body(tickets["delegate"]))
    b = await post_registration(client, registration_body(tickets["delegate"]))
    path = f"/console/registrations/{a['id']}/substitute"
    ra, rb = await row(database, a["id"]), await row(database, b["id"])
    # To another live registration's address: a field error, nothing changed.
    clash = await post(client, path, form_of(ra, name="New Person", email=rb.email.upper()))
    assert clash.status_code == 409 and 'id="email-error"' in clash.text and b["reference"] in clash.text
    same = await post(client, path, form_of(ra, name="New Person"))
    assert same.status_code == 422 and "the current delegate&#39;s address" in same.text
    invalid = await post(client, path, form_of(ra, name="", email="nope"))
    assert (
        invalid.status_code == 422
        and 'id="name-error"' in invalid.text
        and 'id="email-error"' in invalid.text
    )
    assert (await row(database, a["id"])).token_version == 1
    # A cancelled registration has no place to transfer: the page says so, and the form is refused too.
    await client.post(
        f"/console/registrations/{b['id']}/cancel", data={"csrf_token": await token_of(client)}, headers=HTML
    )
    assert (await row(database, b["id"])).status == Status.cancelled
    page = await client.get(f"/console/registrations/{b['id']}/substitute", headers=HTML)
    assert page.status_code == 409 and "no place to transfer" in page.text
    refused = await post(
        client, f"/console/registrations/{b['id']}/substitute", form_of(rb, email="someone.else@leeds.gov.uk")
    )
    assert refused.status_code == 409 and "no place to transfer" in refused.text
    assert (await row(database, b["id"])).email == rb.email
    assert await audits(database, "conference.registration.substituted") == []


async def test_substitution_withdraws_mail_still_queued_for_the_old_address(
    database: Database, database_url: str, tickets: dict[str, Any]
) -> None:
    # With a mail server configured but down, the confirmation waits in the queue; rendered after the transfer it
    # would carry the new manage link to the old address.
    settings = make_settings(database_url, CONFERENCE_SMTP_URL="smtp://127.0.0.1:9")
    async with database.transaction() as db:
        made = await bookings.register(
            db,
            settings=settings,
            actor=ORG,
            data=bookings.RegistrationCreate(
                **registration_body(tickets["delegate"], email="first@leeds.gov.uk")
            ),
        )
    details = delegates.parse_details({**registration_body(tickets["delegate"], email="second@leeds.gov.uk")})
    async with database.transaction() as db:
        await delegates.substitute(
            db, settings=settings, registration_id=made.row["id"], details=details, actor=ORG
        )
    async with database.read() as db:
        rows = (
            (await db.execute(sa.select(OutboxEmail).order_by(col(OutboxEmail.created_at)))).scalars().all()
        )
    by_address = {(r.to_address, r.kind): r.status for r in rows}
    assert by_address == {
        ("first@leeds.gov.uk", "registration"): "failed",
        ("second@leeds.gov.uk", "registration"): "queued",
        ("first@leeds.gov.uk", "place_transferred"): "queued",
    }
    (entry,) = await audits(database, "conference.registration.substituted")
    assert entry.data["withdrawn_emails"] == 1


# --- many at once ------------------------------------------------------------------------------------------------


async def test_bulk_approve_reports_the_one_already_decided(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser
    p1 = await post_registration(client, registration_body(tickets["press"]))
    p2 = await post_registration(client, registration_body(tickets["press"]))
    pub = await post_registration(client, registration_body(tickets["public"], email="someone@example.org"))
    free = await post_registration(client, registration_body(tickets["delegate"]))
    assert {p1["status"], p2["status"], pub["status"]} == {"awaiting_approval"}
    listing = await client.get("/console/registrations", headers=HTML)
    assert '/console/registrations?status=awaiting_approval">Awaiting approval (3)</a>' in listing.text
    boxes = re.findall(r'name="registration" value="([0-9a-f-]+)"', listing.text)
    assert set(boxes) == {p1["id"], p2["id"], pub["id"]}  # only rows awaiting approval can be ticked
    # Someone approves P1 on its own page meanwhile.
    single = await post(client, f"/console/registrations/{p1['id']}/approve", {})
    assert single.status_code == 303
    form = await client.get("/console/registrations?status=awaiting_approval", headers=HTML)
    data = {
        "csrf_token": csrf(form.text),
        "status": "awaiting_approval",
        "decision": "approve",
        "registration": [x["id"] for x in (p1, p2, pub)],
    }
    response = await client.post("/console/registrations/decisions", data=data, headers=HTML)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/console/registrations?done=approved&status=awaiting_approval&count=2")
    assert (await row(database, p1["id"])).status == Status.confirmed
    assert (await row(database, p2["id"])).status == Status.confirmed
    assert (await row(database, pub["id"])).status == Status.confirmed
    assert (await row(database, free["id"])).status == Status.confirmed
    page = await client.get(location, headers=HTML)
    assert "2 registrations approved; the delegates are emailed." in page.text
    assert f"<li>{p1['reference']} (now confirmed)</li>" in page.text
    assert len(await audits(database, "conference.registration.approved")) == 3
    (summary,) = await audits(database, "conference.registrations.decided")
    assert summary.data == {"decision": "approved", "decided": 2, "refused": 1}
    async with database.read() as db:
        approved_mail = (
            await db.execute(
                sa.select(sa.func.count()).select_from(OutboxEmail).where(col(OutboxEmail.kind) == "approved")
            )
        ).scalar_one()
    assert approved_mail == 3


async def test_bulk_reject_and_form_errors(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser
    p1 = await post_registration(client, registration_body(tickets["press"]))
    p2 = await post_registration(client, registration_body(tickets["press"]))
    token = await token_of(client)
    nothing = await client.post(
        "/console/registrations/decisions", data={"csrf_token": token, "decision": "reject"}, headers=HTML
    )
    assert nothing.status_code == 422 and "Tick at least one registration" in nothing.text
    bad = await client.post(
        "/console/registrations/decisions",
        headers=HTML,
        data={"csrf_token": token, "decision": "maybe", "registration": "not-an-id"},
    )
    assert bad.status_code == 422 and "Choose approve or reject." in bad.text
    unknown = str(uuid.uuid4())
    data = {"csrf_token": token, "decision": "reject", "registration": [p1["id"], p2["id"], unknown]}
    done = await client.post("/console/registrations/decisions", data=data, headers=HTML)
    assert done.status_code == 303 and "count=2" in done.headers["location"]
    assert f"refused={unknown}%3Amissing" in done.headers["location"]
    assert {(await row(database, x["id"])).status for x in (p1, p2)} == {Status.cancelled}
    page = await client.get(done.headers["location"], headers=HTML)
    assert "2 registrations rejected" in page.text and f"{unknown} (not found)" in page.text


async def test_one_refusal_inside_the_batch_undoes_only_its_own_rows(
    database: Database, settings: Settings, tickets: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    made = []
    for _ in range(3):
        async with database.transaction() as db:
            made.append(
                (
                    await bookings.register(
                        db,
                        settings=settings,
                        actor=ORG,
                        data=bookings.RegistrationCreate(
                            **registration_body(
                                tickets["press"] if len(made) < 2 else tickets["public"],
                                email=f"p{len(made)}-{uuid.uuid4().hex[:6]}@example.org",
                            )
                        ),
                    )
                ).row["id"]
            )
    failing = made[1]
    original = decisions.decide_approval

    async def flaky(db: Any, **kw: Any) -> Registration:
        result = await original(db, **kw)  # writes the decision, its email and audit entry...
        if kw["registration_id"] == failing:
            raise errors.DomainError("refused after writing")  # ...then is refused: only its savepoint goes
        return result

    monkeypatch.setattr(decisions, "decide_approval", flaky)
    async with database.transaction() as db:
        outcome = await delegates.decide_many(
            db, settings=settings, registration_ids=made, approve=True, actor=ORG
        )
    assert len(outcome.decided) == 2 and [why for _, why in outcome.refused] == ["conflict"]
    async with database.read() as db:
        statuses = {
            r.id: r.status
            for r in (
                await db.execute(sa.select(Registration).where(col(Registration.id).in_(made)))
            ).scalars()
        }
        mails = (
            (
                await db.execute(
                    sa.select(OutboxEmail.registration_id).where(col(OutboxEmail.kind) == "approved")
                )
            )
            .scalars()
            .all()
        )
    assert statuses == {
        made[0]: Status.confirmed,
        failing: Status.awaiting_approval,
        made[2]: Status.confirmed,
    }
    assert sorted(map(str, mails)) == sorted([str(made[0]), str(made[2])])
    assert len(await audits(database, "conference.registration.approved")) == 2


# --- emails again ------------------------------------------------------------------------------------------------


async def test_resend_confirmation_and_invoice(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser
    inv = await post_registration(client, invoice_body(tickets["exhibitor"]))
    free = await post_registration(client, registration_body(tickets["delegate"]))
    page = await client.get(f"/console/registrations/{inv['id']}", headers=HTML)
    assert "Send the latest invoice to the billing contact again" in page.text
    assert (
        "Send the latest invoice"
        not in (await client.get(f"/console/registrations/{free['id']}", headers=HTML)).text
    )

    async def outbox() -> list[OutboxEmail]:
        async with database.read() as db:
            return list(
                (await db.execute(sa.select(OutboxEmail).order_by(col(OutboxEmail.created_at)))).scalars()
            )

    before = len(await outbox())
    again = await post(client, f"/console/registrations/{inv['id']}/resend", {"email": "confirmation"})
    assert again.status_code == 303 and again.headers["location"].endswith("?done=resent_confirmation")
    invoice = await post(client, f"/console/registrations/{inv['id']}/resend", {"email": "invoice"})
    assert invoice.headers["location"].endswith("?done=resent_invoice")
    rows = (await outbox())[before:]
    r = await row(database, inv["id"])
    assert [(x.kind, x.to_address) for x in rows] == [
        ("registration", r.email),
        ("invoice", "ap@leeds.gov.uk"),
    ]
    assert rows[0].context["resent"] is True and rows[1].context["number"].startswith("INV-")
    entries = await audits(database, "conference.registration.email_resent")
    assert [e.data["email"] for e in entries] == ["confirmation", "invoice"] and entries[1].data[
        "invoice"
    ].startswith("INV-")
    # No invoice to send for a free ticket; nothing is queued; an unknown choice names the field.
    refused = await post(client, f"/console/registrations/{free['id']}/resend", {"email": "invoice"})
    assert refused.status_code == 409 and "not paid by invoice" in refused.text
    unknown = await post(client, f"/console/registrations/{free['id']}/resend", {"email": "everything"})
    assert unknown.status_code == 422
    assert len(await outbox()) == before + 2


async def test_resend_and_edit_refused_for_erased_registrations(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    client = organiser
    made = await post_registration(client, registration_body(tickets["delegate"]))
    async with database.transaction() as db:
        r = await db.get(Registration, uuid.UUID(made["id"]))
        assert r is not None
        r.erased_at = datetime.now(UTC)
    page = await client.get(f"/console/registrations/{made['id']}", headers=HTML)
    assert 'id="erased"' in page.text and "/edit" not in page.text
    assert (await client.get(f"/console/registrations/{made['id']}/edit", headers=HTML)).status_code == 409
    resend = await post(client, f"/console/registrations/{made['id']}/resend", {"email": "confirmation"})
    assert resend.status_code == 409
    before = await row(database, made["id"])
    edit = await post(client, f"/console/registrations/{made['id']}/edit", form_of(before, name="Back Again"))
    assert edit.status_code == 409 and (await row(database, made["id"])).name == before.name
