"""Issue 16, defect 7: a card payer gets a paid invoice (a VAT invoice and receipt: marked paid by card, with the
VAT breakdown) when the payment is confirmed, and a credit note when the payment is refunded. Numbers come from
the same gapless sequences as the invoices of organisations that pay by invoice.
"""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from typing import Any

import httpx
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import Invoice, Registration
from conference.core.settings import Settings
from tests import support
from tests.factories import invoice_body, make_conference
from tests.stripe_fake import FakeStripe


def attachment(message: EmailMessage) -> tuple[str, str]:
    (part,) = list(message.iter_attachments())
    content = part.get_content()
    assert isinstance(content, bytes)
    return str(part.get_filename()), support.flat(support.pdf_text(content)[0])


async def test_a_card_payment_gets_a_paid_vat_invoice_and_its_refund_a_credit_note(
    paid: tuple[httpx.AsyncClient, Any], database: Database, settings: Settings, fake: FakeStripe
) -> None:
    client, app = paid
    tickets = await make_conference(database, capacity=5)
    card = await support.register_card(client, tickets["exhibitor"])
    event = fake.pay(support.checkout_session_id(card["checkout_url"]))
    assert (await support.deliver_stripe_event(client, fake, event)).json()["outcome"] == "confirmed"
    assert (await support.deliver_stripe_event(client, fake, event)).json()["outcome"] == "duplicate"

    async with database.read() as db:
        (receipt,) = (await db.execute(sa.select(Invoice))).scalars()
        person = await db.get(Registration, uuid.UUID(card["id"]))
        assert person is not None
    assert (receipt.number, receipt.kind, receipt.status, receipt.paid_by) == (
        "INV-000001",
        "invoice",
        "paid",
        "card",
    )
    assert (receipt.net_pence, receipt.vat_rate_percent, receipt.vat_pence, receipt.gross_pence) == (
        45000,
        20,
        9000,
        54000,
    )
    assert receipt.paid_at is not None and receipt.due_on is None
    assert (receipt.billing_email, receipt.delegate_name) == (person.email, person.name)

    # Emailed to the delegate, with the PDF: paid by card, nothing due, VAT shown.
    (message,) = await support.emails(database, settings, kind="invoice")
    assert message["To"] == person.email and "INV-000001" in message["Subject"]
    assert "paid in full by card" in support.flat(support.body_of(message))
    filename, text = attachment(message)
    assert filename == "INV-000001.pdf"
    for shown in (
        "Invoice INV-000001",
        "Paid in full by card",
        "Total paid £540.00",
        "Total VAT £90.00",
        "20%",
    ):
        assert shown in text, shown
    assert "Total due" not in text and "BACS" not in text

    view = (
        await client.get(
            f"/api/v1/registrations/{card['id']}/payments", headers=support.bearer(card["manage_token"])
        )
    ).json()
    assert [(i["number"], i["status"], i["paid_by"]) for i in view["invoices"]] == [
        ("INV-000001", "paid", "card")
    ]

    # An organisation paying by invoice gets the next number of the same sequence: no gap, no second series.
    by_invoice = await client.post("/api/v1/registrations", json=invoice_body(tickets["exhibitor"]))
    assert by_invoice.status_code == 201
    async with database.read() as db:
        numbers = sorted((await db.execute(sa.select(Invoice.number))).scalars())
    assert numbers == ["INV-000001", "INV-000002"]

    # The delegate cancels: the payment is refunded and the receipt credited.
    cancelled = await client.delete(
        f"/api/v1/registrations/{card['id']}", headers=support.bearer(card["manage_token"])
    )
    assert cancelled.status_code == 200
    await app.state.payments.tick()
    async with database.read() as db:
        rows = {i.number: i for i in (await db.execute(sa.select(Invoice))).scalars()}
    note = rows["CN-000001"]
    assert (note.kind, note.credits_invoice_id, note.gross_pence) == ("credit_note", receipt.id, 54000)
    assert rows["INV-000001"].status == "credited" and rows["INV-000002"].status == "issued"
    (credit,) = [
        m for m in await support.emails(database, settings, kind="credit_note") if m["To"] == person.email
    ]
    assert "refunding £540.00 to the card you paid with" in support.flat(support.body_of(credit))
    _, text = attachment(credit)
    assert "Credit note CN-000001" in text and "refunded to the card it was paid with" in text
    (made,) = fake.refunds()
    assert (made["amount"], made["status"]) == (54000, "succeeded")


async def test_a_duplicate_card_payment_is_refunded_without_a_second_receipt(
    paid: tuple[httpx.AsyncClient, Any], database: Database, fake: FakeStripe
) -> None:
    client, _ = paid
    tickets = await make_conference(database, capacity=5)
    card = await support.register_card(client, tickets["exhibitor"])
    first = fake.pay(support.checkout_session_id(card["checkout_url"]))
    # A second tab: the first page was closed, a new one opened and paid too.
    async with database.transaction() as db:
        await db.execute(sa.text("UPDATE payment SET status = 'expired'"))
    second = await client.post(
        f"/api/v1/registrations/{card['id']}/checkout", headers=support.bearer(card["manage_token"])
    )
    assert second.status_code == 200, second.text
    again = fake.pay(support.checkout_session_id(second.json()["checkout_url"]))
    for event in (first, again):
        assert (await support.deliver_stripe_event(client, fake, event)).status_code == 200
    async with database.read() as db:
        invoices = list((await db.execute(sa.select(Invoice.number, Invoice.status))).all())
    assert invoices == [("INV-000001", "paid")]
