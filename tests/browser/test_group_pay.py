"""A card group's lead pays from their page in a real browser on a 390 px phone: the "Payment due" section with its
"Pay by card" button (no JavaScript) takes chromium to the (fake) Stripe Checkout page for the group's places, and
the member's own page names the group's organiser instead of offering a payment. axe-core finds no serious problem
on either page, and neither scrolls sideways."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx
import pytest

from tests import support
from tests.browser import live_site
from tests.stripe_fake import FakeStripe

if TYPE_CHECKING:  # playwright is imported lazily, so that a missing install skips instead of erroring
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 390, 844


class Live(NamedTuple):
    base: str
    tickets: dict[str, uuid.UUID]
    fake: FakeStripe


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[Live]:
    with (
        FakeStripe() as fake,
        live_site.served(database_url, tmp_path, capacity=10, env=support.stripe_env(fake)) as (
            base,
            tickets,
        ),
    ):
        yield Live(base, tickets, fake)


def _no_sideways_scroll(page: Page, where: str) -> None:
    wide: int = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= WIDTH, f"{where} scrolls sideways ({wide} px wide)"


def test_the_lead_pays_by_card_from_their_page_and_a_member_is_not_asked_to(live: Live, page: Page) -> None:
    from playwright.sync_api import expect

    tag = uuid.uuid4().hex[:6]
    body: dict[str, Any] = {
        "ticket_type_id": str(live.tickets["exhibitor"]),
        "lead": {"name": "Lena Lead", "email": f"lena-{tag}@leeds.gov.uk"},
        "organisation": "Leeds City Council",
        "sector": "local_authority",
        "members": [{"name": f"Member {i}", "email": f"m{i}-{tag}@leeds.gov.uk"} for i in (1, 2)],
        "payment_method": "card",
    }
    booked = httpx.post(f"{live.base}/api/v1/groups", json=body)
    assert booked.status_code == 201, booked.text
    group = booked.json()
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})

    page.goto(f"{live.base}/group/manage/{group['manage_token']}")
    expect(page.get_by_role("heading", name="Payment due")).to_be_visible()
    expect(page.locator("#amount-due")).to_contain_text("£1,080.00")
    support.assert_axe_clean(page, "the lead's page with a payment due")
    _no_sideways_scroll(page, "the lead's page")
    page.get_by_role("button", name="Pay by card").click()
    expect(page).to_have_url(re.compile(re.escape(live.fake.url) + r"/pay/cs_test_[A-Za-z0-9]+$"))
    session = live.fake.session(page.url.rsplit("/", 1)[-1])
    assert session["amount_total"] == 2 * 54000

    page.goto(f"{live.base}/manage/{group['members'][0]['manage_token']}")
    expect(page.locator("#group-payment")).to_contain_text(
        "booked by your group's organiser, Lena Lead (Leeds City Council)"
    )
    expect(page.locator("#group-payment")).to_contain_text("It is not paid yet")
    expect(page.get_by_role("button", name="Pay now")).to_have_count(0)
    support.assert_axe_clean(page, "a group member's page")
    _no_sideways_scroll(page, "a group member's page")
