"""Invoices and credit notes: gapless numbers (also under concurrency), the amounts, the PDF over the API and who
may fetch it, marking paid, crediting, and the emails with the PDF attached, delivered to a real SMTP server.

Registrations paid by invoice are inserted directly (the registration form's invoice option is wired
elsewhere); invoices are issued through `conference.invoicing`, as the registration path will.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from starlette.applications import Starlette

from conference.api import invoices as invoice_api
from conference.core import errors
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import (
    AuditEntry,
    Conference,
    Invoice,
    OutboxEmail,
    PaymentMethod,
    Registration,
    Sector,
    Status,
    TicketType,
    utcnow,
)
from conference.core.security import hash_token, manage_token, new_reference
from conference.core.settings import Settings
from conference.decisions import cancel_registration
from conference.invoices import invoicing
from conference.mail import mailtext
from conference.places import get_conference
from conference.server.app import create_app
from conference.web.auth import create_api_token
from tests.factories import make_conference
from tests.support import Mailbox, bearer, body_of, eventually, flat, make_settings, pdf_text, smtp_env

ORGANISER = Actor("organiser", "Finance")
BILLING = {
    "organisation": "Leeds City Council",
    "contact_name": "Accounts Payable",
    "email": "accounts.payable@leeds.gov.uk",
    "address": "Civic Hall\nCalverley Street\nLeeds\nLS1 1UR",
    "purchase_order": "PO-4500123987",
}


# --- data -----------------------------------------------------------------------------------------------------


@pytest.fixture
async def paid_ticket(database: Database) -> uuid.UUID:
    """A £295 + VAT ticket whose invoice holds the place (pending_payment) until it is paid."""
    await make_conference(database, capacity=50)
    async with database.transaction() as db:
        conference = await get_conference(db)
        assert conference.id is not None
        ticket = TicketType(
            conference_id=conference.id,
            name="Delegate (paid)",
            price_pence=29500,
            vat_rate_percent=20,
            invoice_confirms=False,
            position=9,
        )
        db.add(ticket)
    return ticket.id


async def add_registration(
    database: Database,
    settings: Settings,
    ticket_id: uuid.UUID,
    *,
    status: Status = Status.pending_payment,
    payment_method: PaymentMethod = PaymentMethod.invoice,
    billing: dict[str, Any] | None = BILLING,
) -> tuple[uuid.UUID, str]:
    """A registration as the invoice path leaves it; returns its id and manage token."""
    registration_id = uuid.uuid4()
    token = manage_token(str(settings.secret_key), registration_id, 1)
    email = f"delegate-{registration_id.hex[:8]}@leeds.gov.uk"
    async with database.transaction() as db:
        conference = await get_conference(db, for_update=True)
        assert conference.id is not None
        conference.registration_seq += 1
        db.add(
            Registration(
                id=registration_id,
                conference_id=conference.id,
                ticket_type_id=ticket_id,
                number=conference.registration_seq,
                reference=new_reference(),
                status=status,
                name=f"Delegate {registration_id.hex[:4]}",
                email=email,
                email_key=email,
                organisation="Leeds City Council",
                sector=Sector.local_authority,
                manage_token_hash=hash_token(token),
                consent_at=utcnow(),
                payment_method=payment_method,
                billing=billing,
            )
        )
    return registration_id, token


async def issue(database: Database, settings: Settings, registration_id: uuid.UUID) -> Invoice:
    async with database.transaction() as db:
        await get_conference(db, for_update=True)  # the caller holds the capacity lock
        registration = await db.get(Registration, registration_id)
        assert registration is not None
        ticket = await db.get(TicketType, registration.ticket_type_id)
        assert ticket is not None
        return await invoicing.issue_invoice(
            db, settings, registration=registration, ticket=ticket, actor=ORGANISER
        )


async def registration_row(database: Database, registration_id: uuid.UUID) -> Registration:
    async with database.read() as db:
        registration = await db.get(Registration, registration_id)
        assert registration is not None
        return registration


async def invoice_row(database: Database, invoice_id: uuid.UUID) -> Invoice:
    async with database.read() as db:
        invoice = await db.get(Invoice, invoice_id)
        assert invoice is not None
        return invoice


async def outbox(database: Database) -> list[OutboxEmail]:
    async with database.read() as db:
        return list((await db.execute(sa.select(OutboxEmail).order_by(OutboxEmail.created_at))).scalars())


async def token_for(database: Database, role: str) -> str:
    async with database.transaction() as db:
        return await create_api_token(db, role=role, name=f"Test {role}")


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def pdf_attachment(message: EmailMessage) -> tuple[str, bytes]:
    (part,) = list(message.iter_attachments())
    assert part.get_content_type() == "application/pdf"
    content = part.get_content()
    assert isinstance(content, bytes)
    filename = part.get_filename()
    assert filename is not None
    return filename, content


# --- the app with the invoice routes ----------------------------------------------------------------------------


def with_invoice_routes(app: Starlette) -> Starlette:
    # Ahead of the /api/v1 Mount, which would answer these paths with 404 (unless app.py already has them).
    if not any(route in app.router.routes for route in invoice_api.routes):
        app.router.routes[0:0] = invoice_api.routes
    return app


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    app = with_invoice_routes(create_app(settings))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c,
    ):
        yield app, c


@pytest.fixture
async def api(settings: Settings, paid_ticket: uuid.UUID) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(settings) as (_app, client):
        yield client


# --- issuing ----------------------------------------------------------------------------------------------------


async def test_invoice_numbers_amounts_billing_and_queued_email(
    database: Database, settings: Settings, paid_ticket: uuid.UUID
) -> None:
    first_id, _ = await add_registration(database, settings, paid_ticket)
    second_id, _ = await add_registration(database, settings, paid_ticket)

    first = await issue(database, settings, first_id)
    second = await issue(database, settings, second_id)

    assert (first.number, second.number) == ("INV-000001", "INV-000002")
    assert (first.net_pence, first.vat_rate_percent, first.vat_pence, first.gross_pence) == (
        29500,
        20,
        5900,
        35400,
    )
    assert (first.kind, first.status, first.currency, first.credits_invoice_id) == (
        "invoice",
        "issued",
        "GBP",
        None,
    )
    async with database.read() as db:
        conference = await get_conference(db)
    assert first.issued_on == invoicing.today(conference)  # today where the conference is
    assert first.due_on == first.issued_on + timedelta(days=30)
    assert first.billing_organisation == "Leeds City Council"
    assert first.billing_contact == "Accounts Payable"
    assert first.billing_email == BILLING["email"]
    assert first.billing_address == BILLING["address"]
    assert first.purchase_order == "PO-4500123987"
    assert "Test Conference" in first.description and "Delegate (paid)" in first.description
    async with database.read() as db:
        conference = await get_conference(db)
        assert (conference.invoice_seq, conference.credit_note_seq) == (2, 0)
        entries = list(
            (
                await db.execute(
                    sa.select(AuditEntry)
                    .where(AuditEntry.action == "conference.invoice.issued")
                    .order_by(AuditEntry.id)
                )
            ).scalars()
        )
    assert [e.subject for e in entries] == ["INV-000001", "INV-000002"]
    assert entries[0].actor == "organiser:Finance"
    assert BILLING["email"] not in repr(entries[0].data) and "Accounts Payable" not in repr(entries[0].data)

    # Without a mail server the email is kept; it holds only the invoice's id and number.
    rows = [r for r in await outbox(database) if r.kind == "invoice"]
    assert [(r.to_address, r.status, r.context) for r in rows] == [
        (BILLING["email"], "kept", {"invoice_id": str(first.id), "number": "INV-000001"}),
        (BILLING["email"], "kept", {"invoice_id": str(second.id), "number": "INV-000002"}),
    ]
    # It renders, PDF attached, from the database as it is when sent.
    async with database.read() as db:
        message = await mailtext.render(db, settings, rows[0])
    assert "INV-000001" in message["Subject"]
    filename, pdf = pdf_attachment(message)
    assert filename == "INV-000001.pdf" and pdf.startswith(b"%PDF")
    body = body_of(message)
    assert "Dear Accounts Payable" in body and "£354.00" in body and "PO-4500123987" in body
    assert "/manage/" not in body  # the billing contact is not the delegate: no manage link


async def test_numbers_stay_gapless_and_sequential_when_issued_concurrently(
    database: Database, settings: Settings, paid_ticket: uuid.UUID
) -> None:
    registrations = [(await add_registration(database, settings, paid_ticket))[0] for _ in range(11)]

    invoices = await asyncio.gather(*(issue(database, settings, r) for r in registrations[:10]))

    assert sorted(i.number for i in invoices) == [f"INV-{n:06d}" for n in range(1, 11)]
    async with database.read() as db:
        stored = (await db.execute(sa.select(Invoice.number).order_by(Invoice.number))).scalars().all()
        assert stored == [f"INV-{n:06d}" for n in range(1, 11)]
        assert (await get_conference(db)).invoice_seq == 10

    # A transaction that fails after taking a number gives it back: the next invoice has it.
    with pytest.raises(RuntimeError):
        async with database.transaction() as db:
            await get_conference(db, for_update=True)
            registration = await db.get(Registration, registrations[10])
            ticket = await db.get(TicketType, paid_ticket)
            assert registration is not None and ticket is not None
            taken = await invoicing.issue_invoice(
                db, settings, registration=registration, ticket=ticket, actor=ORGANISER
            )
            assert taken.number == "INV-000011"
            raise RuntimeError("the rest of the use-case failed")
    assert (await issue(database, settings, registrations[10])).number == "INV-000011"


async def test_issuing_is_refused_without_an_invoice_to_raise(
    database: Database, settings: Settings, paid_ticket: uuid.UUID
) -> None:
    invoiced, _ = await add_registration(database, settings, paid_ticket)
    await issue(database, settings, invoiced)
    with pytest.raises(invoicing.AlreadyInvoiced):
        await issue(database, settings, invoiced)

    no_billing, _ = await add_registration(database, settings, paid_ticket, billing=None)
    with pytest.raises(errors.InvalidInput) as missing:
        await issue(database, settings, no_billing)
    assert "billing.purchase_order" in (missing.value.fields or {})

    by_card, _ = await add_registration(database, settings, paid_ticket, payment_method=PaymentMethod.card)
    with pytest.raises(errors.DomainError, match="paid by invoice"):
        await issue(database, settings, by_card)

    async with database.read() as db:
        free = (await db.execute(sa.select(TicketType.id).where(TicketType.name == "Delegate"))).scalar_one()
    free_registration, _ = await add_registration(database, settings, free)
    with pytest.raises(errors.DomainError, match="free ticket"):
        await issue(database, settings, free_registration)

    async with database.read() as db:
        assert (await get_conference(db)).invoice_seq == 1  # the refusals took no number
        assert (await db.execute(sa.select(sa.func.count()).select_from(Invoice))).scalar_one() == 1


# --- the API ------------------------------------------------------------------------------------------------------


async def test_pdf_and_list_for_the_organiser_and_the_owning_attendee_only(
    api: httpx.AsyncClient, database: Database, settings: Settings, paid_ticket: uuid.UUID
) -> None:
    registration_id, token = await add_registration(database, settings, paid_ticket)
    _other_id, other_token = await add_registration(database, settings, paid_ticket)
    invoice = await issue(database, settings, registration_id)
    organiser = await token_for(database, "organiser")
    staff = await token_for(database, "staff")
    url = f"/api/v1/invoices/{invoice.id}.pdf"

    for who in (organiser, token):
        response = await api.get(url, headers=bearer(who))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-disposition"] == 'attachment; filename="INV-000001.pdf"'
        text = flat(pdf_text(response.content)[0])
        assert "Invoice INV-000001" in text
        assert "PO-4500123987" in text and "Leeds City Council" in text and "GB123456789" in text
        assert "£295.00" in text and "£59.00" in text and "£354.00" in text

    other = await api.get(url, headers=bearer(other_token))
    assert other.status_code == 403 and error_code(other) == "forbidden"
    assert (await api.get(url, headers=bearer(staff))).status_code == 403
    assert (await api.get(url)).status_code == 401
    missing = await api.get(f"/api/v1/invoices/{uuid.uuid4()}.pdf", headers=bearer(organiser))
    assert missing.status_code == 404 and error_code(missing) == "not_found"

    listing_url = f"/api/v1/registrations/{registration_id}/invoices"
    for who in (organiser, token):
        listed = await api.get(listing_url, headers=bearer(who))
        assert listed.status_code == 200, listed.text
        assert listed.json() == {
            "count": 1,
            "data": [
                {
                    "id": str(invoice.id),
                    "number": "INV-000001",
                    "kind": "invoice",
                    "status": "issued",
                    "purchase_order": "PO-4500123987",
                    "net_pence": 29500,
                    "vat_pence": 5900,
                    "gross_pence": 35400,
                    "currency": "GBP",
                    "issued_on": invoice.issued_on.isoformat(),
                    "due_on": invoice.due_on.isoformat() if invoice.due_on else None,
                    "paid_at": None,
                    "paid_by": None,  # "card" on a card payer's receipt (issue 16)
                    "paid_on": None,  # what was recorded on marking it paid (issue 23)
                    "paid_amount_pence": None,
                    "payment_reference": None,
                    "credits_invoice": None,
                    "pdf_url": url,
                }
            ],
        }
    assert (await api.get(listing_url, headers=bearer(other_token))).status_code == 403
    assert (await api.get(listing_url, headers=bearer(staff))).status_code == 403
    assert (await api.get(listing_url)).status_code == 401
    nobody = await api.get(f"/api/v1/registrations/{uuid.uuid4()}/invoices", headers=bearer(organiser))
    assert nobody.status_code == 404 and error_code(nobody) == "not_found"

    async with database.read() as db:
        downloads = (
            (
                await db.execute(
                    sa.select(AuditEntry.subject).where(AuditEntry.action == "conference.invoice.downloaded")
                )
            )
            .scalars()
            .all()
        )
    assert downloads == ["INV-000001"]  # the organiser's download is on the audit trail


async def test_marking_paid_confirms_the_held_place_and_emails_the_delegate(
    api: httpx.AsyncClient, database: Database, settings: Settings, paid_ticket: uuid.UUID
) -> None:
    registration_id, token = await add_registration(database, settings, paid_ticket)
    invoice = await issue(database, settings, registration_id)
    organiser = await token_for(database, "organiser")
    url = f"/api/v1/invoices/{invoice.id}/paid"

    assert (await api.post(url, headers=bearer(token))).status_code == 403  # not the delegate's to say
    assert (await api.post(url)).status_code == 401
    response = await api.post(url, headers=bearer(organiser))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "paid" and body["paid_at"] is not None and body["number"] == "INV-000001"
    assert body["registration"] == {"id": str(registration_id), "status": "confirmed"}
    assert (await registration_row(database, registration_id)).status == Status.confirmed
    assert (await invoice_row(database, invoice.id)).status == "paid"

    registration = await registration_row(database, registration_id)
    (confirmation,) = [r for r in await outbox(database) if r.kind == "payment_confirmed"]
    assert confirmation.to_address == registration.email
    async with database.read() as db:
        message = await mailtext.render(db, settings, confirmation)
    assert "your place is confirmed" in message["Subject"]
    assert "Payment of invoice INV-000001 has arrived" in body_of(message)
    assert token in body_of(message)  # the delegate's own email carries their manage link

    again = await api.post(url, headers=bearer(organiser))
    assert again.status_code == 409 and error_code(again) == "invoice_already_paid"
    missing = await api.post(f"/api/v1/invoices/{uuid.uuid4()}/paid", headers=bearer(organiser))
    assert missing.status_code == 404 and error_code(missing) == "not_found"
    async with database.read() as db:
        actions = (
            await db.execute(
                sa.select(AuditEntry.action, AuditEntry.subject).where(
                    AuditEntry.action.in_(["conference.invoice.paid", "conference.registration.confirmed"])
                )
            )
        ).all()  # type: ignore[attr-defined]
    assert sorted(actions) == [
        ("conference.invoice.paid", "INV-000001"),
        ("conference.registration.confirmed", registration.reference),
    ]


async def test_paying_leaves_a_confirmed_registration_as_it_is(
    database: Database, settings: Settings, paid_ticket: uuid.UUID
) -> None:
    registration_id, _ = await add_registration(database, settings, paid_ticket, status=Status.confirmed)
    invoice = await issue(database, settings, registration_id)
    async with database.transaction() as db:
        paid = await invoicing.mark_paid(db, settings, invoice_id=invoice.id, actor=ORGANISER)
    assert paid.status == "paid"
    assert (await registration_row(database, registration_id)).status == Status.confirmed
    assert [r.kind for r in await outbox(database)] == ["invoice"]  # no second confirmation


async def test_credit_note_cancels_the_invoice_once_and_the_registration_by_default(
    api: httpx.AsyncClient, database: Database, settings: Settings, paid_ticket: uuid.UUID
) -> None:
    registration_id, token = await add_registration(database, settings, paid_ticket)
    invoice = await issue(database, settings, registration_id)
    organiser = await token_for(database, "organiser")
    url = f"/api/v1/invoices/{invoice.id}/credit"

    assert (await api.post(url, headers=bearer(token), json={})).status_code == 403
    bad = await api.post(url, headers=bearer(organiser), json={"reason": "x", "refund": True})
    assert bad.status_code == 422 and "refund" in bad.json()["error"]["fields"]

    response = await api.post(
        url, headers=bearer(organiser), json={"reason": "Delegate can no longer attend."}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    note = body["credit_note"]
    assert (note["number"], note["kind"], note["credits_invoice"]) == (
        "CN-000001",
        "credit_note",
        "INV-000001",
    )
    assert (note["net_pence"], note["vat_pence"], note["gross_pence"]) == (29500, 5900, 35400)
    assert note["due_on"] is None
    assert body["invoice"]["status"] == "credited"
    assert body["registration"] == {"id": str(registration_id), "status": "cancelled"}
    registration = await registration_row(database, registration_id)
    assert registration.status == Status.cancelled and registration.cancel_reason == "credited"
    async with database.read() as db:
        assert (await get_conference(db)).credit_note_seq == 1

    again = await api.post(url, headers=bearer(organiser), json={"reason": "twice"})
    assert again.status_code == 409 and error_code(again) == "invoice_already_credited"
    paid = await api.post(f"/api/v1/invoices/{invoice.id}/paid", headers=bearer(organiser))
    assert paid.status_code == 409 and error_code(paid) == "invoice_already_credited"
    credit_the_credit = await api.post(f"/api/v1/invoices/{note['id']}/credit", headers=bearer(organiser))
    assert credit_the_credit.status_code == 409 and error_code(credit_the_credit) == "not_an_invoice"
    async with database.read() as db:
        assert (await get_conference(db)).credit_note_seq == 1  # refusals took no number

    listed = (
        await api.get(f"/api/v1/registrations/{registration_id}/invoices", headers=bearer(token))
    ).json()
    assert [(i["number"], i["status"], i["credits_invoice"]) for i in listed["data"]] == [
        ("INV-000001", "credited", None),
        ("CN-000001", "issued", "INV-000001"),
    ]
    pdf = await api.get(note["pdf_url"], headers=bearer(token))
    assert pdf.status_code == 200
    assert pdf.headers["content-disposition"] == 'attachment; filename="CN-000001.pdf"'
    text = flat(pdf_text(pdf.content)[0])
    assert "Credit note CN-000001" in text and "This credit note cancels invoice INV-000001." in text

    kinds = [(r.kind, r.to_address, r.context.get("reason")) for r in await outbox(database)]
    assert ("credit_note", BILLING["email"], "Delegate can no longer attend.") in kinds
    assert ("cancelled", registration.email, None) in kinds
    async with database.read() as db:
        entry = (
            await db.execute(sa.select(AuditEntry).where(AuditEntry.action == "conference.invoice.credited"))
        ).scalar_one()
    assert entry.subject == "INV-000001" and entry.data["credit_note"] == "CN-000001"
    assert "Delegate can no longer attend." not in repr(entry.data)  # free text stays out of the audit trail


async def test_crediting_can_keep_the_registration_and_needs_no_body(
    api: httpx.AsyncClient, database: Database, settings: Settings, paid_ticket: uuid.UUID
) -> None:
    kept_id, _ = await add_registration(database, settings, paid_ticket)
    kept = await issue(database, settings, kept_id)
    cancelled_id, _ = await add_registration(database, settings, paid_ticket)
    cancelled = await issue(database, settings, cancelled_id)
    organiser = await token_for(database, "organiser")

    response = await api.post(
        f"/api/v1/invoices/{kept.id}/credit",
        headers=bearer(organiser),
        json={"cancel_registration": False, "reason": "Wrong purchase order"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["registration"]["status"] == "pending_payment"
    assert (await registration_row(database, kept_id)).status == Status.pending_payment
    # A credited registration can be invoiced again (e.g. against the right purchase order).
    assert (await issue(database, settings, kept_id)).number == "INV-000003"

    response = await api.post(f"/api/v1/invoices/{cancelled.id}/credit", headers=bearer(organiser))
    assert response.status_code == 201, response.text
    assert response.json()["credit_note"]["number"] == "CN-000002"
    assert (await registration_row(database, cancelled_id)).status == Status.cancelled


async def test_credit_for_cancellation_credits_the_open_invoice_once(
    database: Database, settings: Settings, paid_ticket: uuid.UUID
) -> None:
    registration_id, _ = await add_registration(database, settings, paid_ticket)
    invoice = await issue(database, settings, registration_id)
    async with database.transaction() as db:
        await invoicing.mark_paid(db, settings, invoice_id=invoice.id, actor=ORGANISER)

    for expected in ("CN-000001", None):
        async with database.transaction() as db:
            await get_conference(db, for_update=True)
            registration = await db.get(Registration, registration_id)
            assert registration is not None
            note = await invoicing.credit_for_cancellation(
                db, settings, registration=registration, actor=ORGANISER
            )
            assert (note.number if note else None) == expected
    assert (await invoice_row(database, invoice.id)).status == "credited"

    no_invoice, _ = await add_registration(database, settings, paid_ticket)
    async with database.transaction() as db:
        registration = await db.get(Registration, no_invoice)
        assert registration is not None
        assert (
            await invoicing.credit_for_cancellation(db, settings, registration=registration, actor=ORGANISER)
            is None
        )
    (credit_email,) = [r for r in await outbox(database) if r.kind == "credit_note"]
    assert credit_email.context["was_paid"] is True
    async with database.read() as db:
        message = await mailtext.render(db, settings, credit_email)
    assert "We will refund £354.00" in body_of(message)
    assert pdf_attachment(message)[0] == "CN-000001.pdf"


async def test_cancelling_credits_the_open_invoice_until_the_refund_date(
    database: Database, settings: Settings, paid_ticket: uuid.UUID
) -> None:
    async def cancel(registration_id: uuid.UUID, token: str) -> None:
        async with database.transaction() as db:
            await cancel_registration(
                db,
                settings=settings,
                registration_id=registration_id,
                actor=Actor("attendee", token[:8], registration_id),
            )

    early_id, early_token = await add_registration(database, settings, paid_ticket)
    early = await issue(database, settings, early_id)
    await cancel(early_id, early_token)
    assert (await invoice_row(database, early.id)).status == "credited"
    async with database.read() as db:
        (note,) = [i for i in await invoicing.invoices_for(db, early_id) if i.kind == "credit_note"]
    assert (note.number, note.credits_invoice_id) == ("CN-000001", early.id)

    async with database.transaction() as db:
        conference = await get_conference(db, for_update=True)
        conference.refund_full_until = utcnow() - timedelta(days=1)
    late_id, late_token = await add_registration(database, settings, paid_ticket)
    late = await issue(database, settings, late_id)
    uninvoiced_id, uninvoiced_token = await add_registration(database, settings, paid_ticket)
    await cancel(late_id, late_token)
    await cancel(uninvoiced_id, uninvoiced_token)
    assert (
        await invoice_row(database, late.id)
    ).status == "issued"  # after the refund date the invoice stands
    async with database.read() as db:
        assert (await get_conference(db)).credit_note_seq == 1
        kept = (
            (
                await db.execute(
                    sa.select(AuditEntry.subject).where(
                        AuditEntry.action == "conference.invoice.not_credited"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert kept == [
        (await registration_row(database, late_id)).reference
    ]  # nothing logged without an invoice


# --- email through a real SMTP server -------------------------------------------------------------------------


async def test_invoice_and_credit_note_are_delivered_with_their_pdfs(
    database_url: str,
    database: Database,
    paid_ticket: uuid.UUID,
    smtp_server: Controller,
    smtp_port: int,
    mailbox: Mailbox,
) -> None:
    settings = make_settings(database_url, **smtp_env(smtp_port))
    registration_id, _ = await add_registration(database, settings, paid_ticket)
    registration = await registration_row(database, registration_id)
    organiser = await token_for(database, "organiser")
    async with running_app(settings) as (app, client):
        invoice = await issue(database, settings, registration_id)
        app.state.mail.wake()
        (invoice_email,) = await mailbox.wait_for(1)

        paid = await client.post(f"/api/v1/invoices/{invoice.id}/paid", headers=bearer(organiser))
        assert paid.status_code == 200, paid.text
        credited = await client.post(
            f"/api/v1/invoices/{invoice.id}/credit",
            headers=bearer(organiser),
            json={"reason": "Delegate cancelled in writing.", "cancel_registration": True},
        )
        assert credited.status_code == 201, credited.text
        await mailbox.wait_for(4)  # paid → delegate; credit note → billing; cancelled → delegate

        async def all_sent() -> bool:
            return all(r.status == "sent" for r in await outbox(database))

        await eventually(all_sent, 10, "every outbox row marked sent")

    assert invoice_email["To"] == BILLING["email"]
    assert invoice_email["Subject"] == f"Test Conference: invoice INV-000001 ({registration.reference})"
    filename, pdf = pdf_attachment(invoice_email)
    assert filename == "INV-000001.pdf"
    text = flat(pdf_text(pdf)[0])
    assert "Invoice INV-000001" in text and "£354.00" in text and registration.reference in text
    body = body_of(invoice_email)
    assert "Dear Accounts Payable" in body and "Amount due: £354.00 (including VAT of £59.00)" in body
    assert "/manage/" not in body

    (billing_second,) = mailbox.to(BILLING["email"])[1:]
    assert "credit note CN-000001 for invoice INV-000001" in billing_second["Subject"]
    filename, pdf = pdf_attachment(billing_second)
    assert filename == "CN-000001.pdf"
    assert "This credit note cancels invoice INV-000001." in flat(pdf_text(pdf)[0])
    credit_body = body_of(billing_second)
    assert "Reason: Delegate cancelled in writing." in credit_body
    assert "We will refund £354.00" in credit_body

    delegate = mailbox.to(registration.email)
    assert [m["Subject"].split(": ", 1)[1].split(" (")[0] for m in delegate] == [
        "payment received, your place is confirmed",
        "registration cancelled",
    ]
    # The invoice and credit note go to the billing contact only (the delegate's confirmation carries their
    # e-ticket and calendar file, issue 18).
    assert all(
        not str(a.get_filename()).startswith(("INV-", "CN-")) for m in delegate for a in m.iter_attachments()
    )
    assert len(mailbox.messages) == 4


async def test_the_app_routes_answer_json_errors_for_bad_ids(
    api: httpx.AsyncClient, database: Database
) -> None:
    organiser = await token_for(database, "organiser")
    response = await api.get("/api/v1/invoices/not-a-uuid.pdf", headers=bearer(organiser))
    assert response.status_code == 404 and error_code(response) == "not_found"
    async with database.read() as db:
        assert (await db.execute(sa.select(sa.func.count()).select_from(Conference))).scalar_one() == 1


async def test_an_issued_invoice_keeps_its_delegate_through_a_transfer_and_an_erasure(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    from conference import delegates, personal_data
    from tests.factories import invoice_body

    made = (
        await client.post(
            "/api/v1/registrations", json=invoice_body(tickets["exhibitor"], name="Original Delegate")
        )
    ).json()
    registration_id = uuid.UUID(made["id"])
    async with database.read() as db:
        [invoice] = await invoicing.invoices_for(db, registration_id)
    assert invoice.delegate_name == "Original Delegate"

    organiser = Actor("organiser", "test")
    details = {
        "name": "Colleague Person",
        "email": "colleague@leeds.gov.uk",
        "organisation": "Leeds City Council",
        "job_title": "",
        "sector": "local_authority",
        "region": "",
        "dietary": "",
        "access_needs": "",
    }
    async with database.transaction() as db:
        await delegates.substitute(
            db,
            settings=settings,
            registration_id=registration_id,
            details=delegates.parse_details(details),
            actor=organiser,
        )
    async with database.read() as db:
        _invoice, pdf = await invoicing.pdf_for(db, settings, invoice.id)
    text = flat(pdf_text(pdf)[0])
    assert "Original Delegate" in text and "Colleague Person" not in text

    async with database.transaction() as db:
        await personal_data.erase(
            db, settings=settings, registration_id=registration_id, actor=organiser, reason="organiser"
        )
    async with database.read() as db:
        _invoice, pdf = await invoicing.pdf_for(db, settings, invoice.id)
        notes = [i for i in await invoicing.invoices_for(db, registration_id) if i.kind == "credit_note"]
    assert "Original Delegate" in flat(pdf_text(pdf)[0])  # the law keeps invoices as issued
    for (
        note
    ) in notes:  # the erasure cancelled the place before the event: its credit note names the same delegate
        assert note.delegate_name == "Original Delegate"
