"""Paying for a place in a real browser: by card through a fake Stripe Checkout, or by invoice against a PO.

The server is `conference serve` in its own process, pointed at a FakeStripe (tests/stripe_fake.py) serving
the real Stripe API shapes over HTTP, plus a stand-in for the hosted payment page at `/pay/{session_id}`.
Chromium follows the app's 303 to that page, presses Pay or Cancel there, and is sent back to
`/payment/return` exactly as Stripe would send it. Webhooks are delivered by the test, signed with the fake's
secret, only where the test says so: the return page must confirm a payment on its own by asking Stripe.
"""

from __future__ import annotations

import asyncio
import io
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx
import pytest
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import OutboxEmail
from tests import support
from tests.browser import live_site
from tests.factories import BILLING
from tests.stripe_fake import FakeStripe, event_body, sign
from tests.support import make_settings

if TYPE_CHECKING:  # playwright is imported lazily, so that a missing install skips instead of erroring
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

GROSS = 54000  # the Exhibitor ticket: £450.00 net + 20% VAT
SESSION_ID = r"cs_test_[A-Za-z0-9]+"
MANAGE_URL = r"/manage/m_[A-Za-z0-9_-]+"
HOLDING_TEXT = "We are holding your place until payment arrives"


class Live(NamedTuple):
    base: str
    tickets: dict[str, uuid.UUID]
    fake: FakeStripe
    database_url: str


def _email_kinds(url: str, registration_id: str) -> list[str]:
    """A registration's outbox email kinds, read in a thread (Playwright's sync API runs a loop here)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _read_email_kinds(url, registration_id)).result()


async def _read_email_kinds(url: str, registration_id: str) -> list[str]:
    database = Database.from_settings(make_settings(url))
    try:
        async with database.read() as db:
            rows = await db.execute(
                sa.select(OutboxEmail.kind).where(OutboxEmail.registration_id == uuid.UUID(registration_id))
            )
            return list(rows.scalars())
    finally:
        await database.dispose()


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[Live]:
    # No hold expiry or refund run during a test (support.stripe_env).
    with (
        FakeStripe() as fake,
        live_site.served(database_url, tmp_path, capacity=5, env=support.stripe_env(fake)) as (base, tickets),
    ):
        yield Live(base, tickets, fake, database_url)


def _fill_delegate(page: Page, name: str, email: str) -> None:
    page.get_by_label("Full name").fill(name)
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Organisation", exact=True).fill("Leeds City Council")
    page.get_by_label("Sector", exact=True).select_option(label="Local authority")
    page.get_by_role("radio", name=re.compile(r"^Exhibitor")).check()
    page.get_by_label(re.compile("I agree to the privacy notice")).check()


def _card_registration(page: Page, live: Live, name: str, email: str) -> str:
    """Register an Exhibitor paying by card via the form, up to the fake's payment page; the session id."""
    from playwright.sync_api import expect

    page.goto(live.base + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Test Conference")
    _fill_delegate(page, name, email)
    card = page.get_by_role("radio", name=re.compile(r"^Pay now by card"))
    card.check()
    expect(card).to_be_checked()
    blocked = _csp_violations(page)
    page.get_by_role("button", name="Register").click()

    _expect_checkout_page(page, re.compile(re.escape(live.fake.url) + rf"/pay/{SESSION_ID}$"), blocked)
    return page.url.rsplit("/", 1)[-1]


def _csp_violations(page: Page) -> list[str]:
    """What chromium reports about Content Security Policy from now on (it blocks navigations silently)."""
    seen: list[str] = []
    page.on("console", lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None)
    return seen


def _expect_checkout_page(page: Page, url: str | re.Pattern[str], blocked: list[str]) -> None:
    """The browser followed the app's 303 to (fake) Stripe Checkout and shows its payment page."""
    from playwright.sync_api import expect

    try:
        expect(page).to_have_url(url)
    except AssertionError as exc:
        if blocked:
            first_line = str(exc).splitlines()[0]
            raise AssertionError(
                f"{first_line}: chromium refused to follow the form's redirect to Stripe "
                "Checkout: " + " | ".join(blocked)
            ) from None
        raise
    expect(page.get_by_role("heading", level=1)).to_have_text("Pay 540.00 GBP")


def _checkout_creates(fake: FakeStripe) -> int:
    return sum(1 for r in fake.requests if (r.method, r.path) == ("POST", "/v1/checkout/sessions"))


def _payments(base: str, registration_id: str, token: str) -> dict[str, Any]:
    response = httpx.get(
        f"{base}/api/v1/registrations/{registration_id}/payments",
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _deliver(live: Live, event: dict[str, Any]) -> httpx.Response:
    body = event_body(event)
    return httpx.post(
        live.base + "/stripe/webhook",
        content=body,
        headers={
            "stripe-signature": sign(body, live.fake.webhook_secret),
            "content-type": "application/json",
        },
    )


def test_card_payment_confirms_on_return_before_the_webhook(live: Live, page: Page, tmp_path: Path) -> None:
    support.require_chromium()
    from playwright.sync_api import expect

    session_id = _card_registration(page, live, "Grace Hopper", "grace.hopper@leeds.gov.uk")
    session = live.fake.session(session_id)
    assert session["amount_total"] == GROSS and session["currency"] == "gbp"
    assert session["customer_email"] == "grace.hopper@leeds.gov.uk"
    registration_id = session["client_reference_id"]
    assert session["metadata"]["registration_id"] == registration_id
    page.screenshot(path=str(tmp_path / "1-checkout.png"), full_page=True)

    page.get_by_role("button", name="Pay", exact=True).click()

    # Back from "Stripe" with no webhook delivered: the return page asked Stripe and confirmed the place.
    expect(page).to_have_url(f"{live.base}/payment/return?session_id={session_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment received")
    expect(page.get_by_role("status")).to_contain_text("Your place is confirmed")
    expect(page.locator('meta[http-equiv="refresh"]')).to_have_count(0)
    page.screenshot(path=str(tmp_path / "2-payment-received.png"), full_page=True)
    completed = [e for e in live.fake.events if e["type"] == "checkout.session.completed"]
    assert len(completed) == 1

    booking = page.get_by_role("link", name="View your booking")
    expect(booking).to_have_attribute("href", re.compile(re.escape(live.base) + MANAGE_URL + "$"))
    token = (booking.get_attribute("href") or "").rsplit("/", 1)[-1]
    booking.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your booking")
    expect(page.locator("#status")).to_have_text("Your place is confirmed")
    expect(page.locator("#payments")).to_have_text("£540.00 paid by card")
    expect(page.get_by_role("button", name="Pay now")).to_have_count(0)

    before = _payments(live.base, registration_id, token)
    assert before["status"] == "confirmed" and before["payment_method"] == "card"
    assert before["hold_expires_at"] is None
    assert [(p["status"], p["amount_pence"]) for p in before["payments"]] == [("paid", GROSS)]
    assert before["refunds"] == []
    assert _checkout_creates(live.fake) == 1

    # Stripe's webhook arrives afterwards (and again: it delivers at least once). Neither changes anything.
    first = _deliver(live, completed[0])
    assert first.status_code == 200, first.text
    assert first.json()["outcome"] in {"confirmed", "duplicate"}
    again = _deliver(live, completed[0])
    assert again.status_code == 200, again.text
    assert again.json()["outcome"] == "duplicate"
    assert _payments(live.base, registration_id, token) == before
    kinds = _email_kinds(live.database_url, registration_id)
    assert kinds.count("payment_confirmed") == 1, kinds


def test_card_payment_cancelled_then_paid_from_the_booking_page(
    live: Live, page: Page, tmp_path: Path
) -> None:
    support.require_chromium()
    from playwright.sync_api import expect

    session_id = _card_registration(page, live, "Katherine Johnson", "katherine.johnson@leeds.gov.uk")
    registration_id = live.fake.session(session_id)["client_reference_id"]
    page.get_by_role("button", name="Cancel", exact=True).click()

    # Stripe fills in the session id in the success URL only: the cancel URL names our own payment.
    expect(page).to_have_url(
        re.compile(re.escape(f"{live.base}/payment/return?payment=") + r"[0-9a-f-]{36}&cancelled=1$")
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment not made")
    expect(page.get_by_role("status")).to_contain_text("You left the payment page")
    expect(page.locator('meta[http-equiv="refresh"]')).to_have_count(0)
    page.screenshot(path=str(tmp_path / "1-payment-not-made.png"), full_page=True)

    booking = page.get_by_role("link", name="View your booking")
    expect(booking).to_have_attribute("href", re.compile(re.escape(live.base) + MANAGE_URL + "$"))
    token = (booking.get_attribute("href") or "").rsplit("/", 1)[-1]
    booking.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your booking")
    expect(page.locator("#status")).to_have_text(HOLDING_TEXT)
    expect(page.locator("#pay")).to_contain_text("Your place is held until")
    page.screenshot(path=str(tmp_path / "2-booking-pay-now.png"), full_page=True)
    held = _payments(live.base, registration_id, token)
    assert held["status"] == "pending_payment" and held["hold_expires_at"] is not None
    assert [p["status"] for p in held["payments"]] == ["open"]

    # "Pay now" reopens the same Checkout Session: no second session, no second payment attempt.
    blocked = _csp_violations(page)
    page.get_by_role("button", name="Pay now").click()
    _expect_checkout_page(page, f"{live.fake.url}/pay/{session_id}", blocked)
    assert _checkout_creates(live.fake) == 1
    assert [p["status"] for p in _payments(live.base, registration_id, token)["payments"]] == ["open"]

    # Paying on the second visit confirms the place, still without any webhook.
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page).to_have_url(f"{live.base}/payment/return?session_id={session_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment received")
    page.get_by_role("link", name="View your booking").click()
    expect(page.locator("#status")).to_have_text("Your place is confirmed")
    expect(page.get_by_role("button", name="Pay now")).to_have_count(0)
    done = _payments(live.base, registration_id, token)
    assert done["status"] == "confirmed"
    assert [(p["status"], p["amount_pence"]) for p in done["payments"]] == [("paid", GROSS)]
    assert _checkout_creates(live.fake) == 1


BILLING_LABELS = {
    "billing_organisation": "Organisation to invoice",
    "billing_contact_name": "Finance contact",
    "billing_email": "Finance contact's email",
    "billing_address": "Invoice address",
    "billing_purchase_order": "Purchase order number",
}


def test_invoice_needs_billing_details_then_downloads_as_pdf(live: Live, page: Page, tmp_path: Path) -> None:
    support.require_chromium()
    from playwright.sync_api import expect
    from pypdf import PdfReader  # test dependency: pip install -e '.[test]'

    page.goto(live.base + "/")
    _fill_delegate(page, "Mary Somerville", "mary.somerville@leeds.gov.uk")
    invoice = page.get_by_role("radio", name=re.compile(r"^My organisation will pay an invoice"))
    invoice.check()
    page.get_by_role("button", name="Register").click()

    summary = page.get_by_role("alert")
    expect(summary.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(page).to_have_title(re.compile(r"^Error: "))
    links = summary.get_by_role("link")
    expect(links).to_have_count(len(BILLING_LABELS))
    for i, (field, label) in enumerate(BILLING_LABELS.items()):
        expect(links.nth(i)).to_have_attribute("href", f"#{field}")
        expect(links.nth(i)).to_contain_text(label)
        control = page.get_by_label(label, exact=True)
        expect(control).to_have_attribute("aria-invalid", "true")
        expect(page.locator(f"#{field}-error")).to_be_visible()
    # What was typed and chosen is kept.
    expect(invoice).to_be_checked()
    expect(page.get_by_role("radio", name=re.compile(r"^Exhibitor"))).to_be_checked()
    expect(page.get_by_label("Full name")).to_have_value("Mary Somerville")
    page.screenshot(path=str(tmp_path / "1-billing-errors.png"), full_page=True)

    links.nth(2).click()
    expect(page).to_have_url(re.compile(r"#billing_email$"))
    expect(page.get_by_label("Finance contact's email", exact=True)).to_be_focused()

    page.get_by_label("Organisation to invoice", exact=True).fill(BILLING["organisation"])
    page.get_by_label("Finance contact", exact=True).fill(BILLING["contact_name"])
    page.get_by_label("Finance contact's email", exact=True).fill(BILLING["email"])
    page.get_by_label("Invoice address", exact=True).fill(BILLING["address"])
    page.get_by_label("Purchase order number", exact=True).fill(BILLING["purchase_order"])
    page.get_by_role("button", name="Register").click()

    expect(page).to_have_url(re.compile(re.escape(live.base) + MANAGE_URL + r"\?new=1$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Registration received")
    expect(page.locator("#status")).to_have_text("Your place is confirmed")
    expect(page.get_by_role("button", name="Pay now")).to_have_count(0)
    pdf_link = page.locator("#invoices").get_by_role("link", name="Invoice INV-000001")
    expect(pdf_link).to_have_count(1)
    expect(page.locator("#invoices")).to_contain_text("£540.00")
    expect(pdf_link).to_have_attribute("href", re.compile(MANAGE_URL + r"/invoices/[0-9a-f-]{36}\.pdf$"))
    page.screenshot(path=str(tmp_path / "2-invoice-booking.png"), full_page=True)
    assert _checkout_creates(live.fake) == 0  # an invoice never touches Stripe

    with page.expect_download() as info:
        pdf_link.click()
    download = info.value
    assert download.failure() is None
    assert download.suggested_filename == "INV-000001.pdf"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    data = saved.read_bytes()
    assert data.startswith(b"%PDF-")
    text = "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages)
    assert "INV-000001" in text
    assert BILLING["purchase_order"] in text
    assert "540.00" in text
