"""The Stripe fake's refunds, through the real stripe SDK: created `succeeded` or `pending`, moved on later as Stripe
moves them (pending → requires_action | succeeded | failed | canceled, succeeded → failed) with `refund.updated`,
`charge.refund.updated` and `refund.failed` events, listed by payment, carrying the metadata given at create, and a
refund of a charge already refunded in full (say from the Dashboard) refused with `charge_already_refunded`.

The refund's fields are those of Stripe's OpenAPI description of the Refund object, as stripe-python 16.1.0 (which
is generated from it) declares them in `stripe/_refund.py`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from tests.stripe_fake import FakeStripe

# The Refund object's fields (stripe-python 16.1.0 `Refund`, from Stripe's OpenAPI spec) that the fake models.
REFUND_FIELDS = {
    "id",
    "object",
    "amount",
    "balance_transaction",
    "charge",
    "created",
    "currency",
    "description",
    "destination_details",
    "failure_balance_transaction",
    "failure_reason",
    "instructions_email",
    "metadata",
    "next_action",
    "payment_intent",
    "pending_reason",
    "reason",
    "receipt_number",
    "source_transfer_reversal",
    "status",
    "transfer_reversal",
}


@pytest.fixture
def sc(fake: FakeStripe) -> Iterator[stripe.StripeClient]:
    http = stripe.RequestsClient()
    yield stripe.StripeClient(
        fake.api_key, base_addresses={"api": fake.url}, max_network_retries=0, http_client=http
    )
    http.close()  # type: ignore[no-untyped-call]  # untyped in stripe 16.1.0


def paid_intent(fake: FakeStripe, sc: stripe.StripeClient, amount: int = 54000) -> str:
    params: Any = {
        "mode": "payment",
        "success_url": "https://conf.example/payment/return?session_id={CHECKOUT_SESSION_ID}",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {"currency": "gbp", "unit_amount": amount, "product_data": {"name": "Place"}},
            }
        ],
    }
    session = sc.v1.checkout.sessions.create(params=params)
    fake.pay(session.id)
    return str(fake.session(session.id)["payment_intent"])


def refund(sc: stripe.StripeClient, intent: str, **extra: Any) -> stripe.Refund:
    params: Any = {"payment_intent": intent, "metadata": {"refund_id": "r-1", "reason": "cancelled"}, **extra}
    return sc.v1.refunds.create(params=params, options={"idempotency_key": f"refund-{intent}"})


def test_a_refund_has_the_documented_fields_and_keeps_its_metadata(
    fake: FakeStripe, sc: stripe.StripeClient
) -> None:
    intent = paid_intent(fake, sc)
    created = refund(sc, intent, reason="requested_by_customer")
    assert set(created.to_dict()) == REFUND_FIELDS
    assert (created.status, created.amount, created.payment_intent) == ("succeeded", 54000, intent)
    assert created.metadata is not None and created.metadata.to_dict() == {
        "refund_id": "r-1",
        "reason": "cancelled",
    }
    again = sc.v1.refunds.retrieve(created.id)
    assert again.metadata is not None and again.metadata["refund_id"] == "r-1"
    assert [e["type"] for e in fake.events][-2:] == ["refund.created", "charge.refunded"]
    assert fake.events[-2]["data"]["object"]["metadata"] == {"refund_id": "r-1", "reason": "cancelled"}


def test_a_pending_refund_later_succeeds_with_update_events(
    fake: FakeStripe, sc: stripe.StripeClient
) -> None:
    intent = paid_intent(fake, sc)
    fake.refund_outcome("pending")
    created = refund(sc, intent)
    assert (created.status, created.pending_reason) == ("pending", "processing")
    events = fake.settle_refund(created.id, "succeeded")
    assert [e["type"] for e in events] == ["refund.updated", "charge.refund.updated"]
    assert all(e["data"]["object"]["status"] == "succeeded" for e in events)
    assert sc.v1.refunds.retrieve(created.id).status == "succeeded"


def test_a_succeeded_refund_can_fail_later_and_the_money_returns_to_the_charge(
    fake: FakeStripe, sc: stripe.StripeClient
) -> None:
    intent = paid_intent(fake, sc)
    created = refund(sc, intent)
    events = fake.settle_refund(created.id, "failed", failure_reason="lost_or_stolen_card")
    assert [e["type"] for e in events] == ["refund.updated", "charge.refund.updated", "refund.failed"]
    failed = sc.v1.refunds.retrieve(created.id)
    assert (failed.status, failed.failure_reason) == ("failed", "lost_or_stolen_card")
    assert failed.failure_balance_transaction
    # The charge can be refunded again: the failed refund no longer counts against it.
    assert sc.v1.refunds.create(params={"payment_intent": intent, "amount": 100}).status == "succeeded"
    with pytest.raises(ValueError, match="cannot go from failed"):
        fake.settle_refund(created.id, "succeeded")


def test_requires_action_then_canceled_and_transitions_stripe_never_makes(
    fake: FakeStripe, sc: stripe.StripeClient
) -> None:
    intent = paid_intent(fake, sc)
    fake.refund_outcome("pending")
    created = refund(sc, intent)
    fake.settle_refund(created.id, "requires_action")
    assert sc.v1.refunds.retrieve(created.id).status == "requires_action"
    fake.settle_refund(created.id, "canceled")
    assert sc.v1.refunds.retrieve(created.id).status == "canceled"
    for status in ("pending", "succeeded", "failed"):
        with pytest.raises(ValueError):
            fake.settle_refund(created.id, status)
    with pytest.raises(ValueError):
        fake.refund_outcome("failed")


def test_a_charge_refunded_in_the_dashboard_refuses_our_refund_for_good(
    fake: FakeStripe, sc: stripe.StripeClient
) -> None:
    intent = paid_intent(fake, sc)
    outside = fake.refund_in_dashboard(intent)
    assert (outside["status"], outside["metadata"]) == ("succeeded", {})
    with pytest.raises(stripe.InvalidRequestError) as raised:
        refund(sc, intent)
    assert raised.value.code == "charge_already_refunded"
    # Stripe stores the refusal under the key: the same request gets the same answer.
    with pytest.raises(stripe.InvalidRequestError) as again:
        refund(sc, intent)
    assert again.value.code == "charge_already_refunded"


def test_refunds_are_listed_by_payment_newest_first(fake: FakeStripe, sc: stripe.StripeClient) -> None:
    intent, other = paid_intent(fake, sc), paid_intent(fake, sc)
    first = refund(sc, intent, amount=1000)
    second = sc.v1.refunds.create(params={"payment_intent": intent, "amount": 2000})
    refund(sc, other)
    listed = sc.v1.refunds.list(params={"payment_intent": intent, "limit": 100})
    assert {r.id for r in listed.data} == {first.id, second.id}
    assert listed.has_more is False
    with pytest.raises(stripe.InvalidRequestError):
        sc.v1.refunds.list(params={"payment_intent": "pi_unknown"})
