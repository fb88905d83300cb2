"""The Stripe fake is as strict as Stripe where our payments depend on it (issue 16): answers stored under their
Idempotency-Key, errors included; sessions that expire by themselves; the minimum charge; card payments that never
complete asynchronously; the fields Stripe's OpenAPI description marks required; `livemode` from the key."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stripe

from tests.stripe_fake import FakeStripe


@pytest.fixture
def sc(fake: FakeStripe) -> Iterator[stripe.StripeClient]:
    http = stripe.RequestsClient()
    yield stripe.StripeClient(
        fake.api_key, base_addresses={"api": fake.url}, max_network_retries=2, http_client=http
    )
    http.close()  # type: ignore[no-untyped-call]  # untyped in stripe 16.1.0


def params(**overrides: Any) -> Any:
    base: dict[str, Any] = {
        "mode": "payment",
        "success_url": "https://conf.example/payment/return?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://conf.example/payment/return?payment=p1&cancelled=1",
        "allowed_payment_method_types": ["card"],
        "line_items": [
            {
                "price_data": {"currency": "gbp", "unit_amount": 5400, "product_data": {"name": "Pass"}},
                "quantity": 1,
            }
        ],
    }
    return base | overrides


def create(sc: stripe.StripeClient, key: str | None = None, **overrides: Any) -> stripe.checkout.Session:
    return sc.v1.checkout.sessions.create(params=params(**overrides), options={"idempotency_key": key})


def test_a_500_is_stored_under_its_key_and_replayed_even_to_the_sdks_retries(
    fake: FakeStripe, sc: stripe.StripeClient
) -> None:
    fake.fail_next(1, status=500)
    with pytest.raises(stripe.APIError):
        create(sc, key="checkout-1")
    assert len([r for r in fake.requests if r.method == "POST"]) == 3  # the SDK tried three times
    with pytest.raises(stripe.APIError):
        create(sc, key="checkout-1")  # and so does every later try under that key
    assert create(sc, key="checkout-2").status == "open"  # a new key is a new request


def test_a_4xx_is_stored_and_replayed(fake: FakeStripe, sc: stripe.StripeClient) -> None:
    fake.fail_next(1, status=400)
    with pytest.raises(stripe.InvalidRequestError):
        create(sc, key="checkout-1")
    with pytest.raises(stripe.InvalidRequestError):
        create(sc, key="checkout-1")


def test_stored_answers_are_pruned_after_24_hours(fake: FakeStripe, sc: stripe.StripeClient) -> None:
    fake.fail_next(1, status=500)
    with pytest.raises(stripe.APIError):
        create(sc, key="checkout-1", expires_at=None)
    fake.travel(24 * 60 * 60)
    assert create(sc, key="checkout-1", expires_at=None).status == "open"


def test_other_parameters_under_a_used_key_are_an_idempotency_error(fake: FakeStripe) -> None:
    client = stripe.StripeClient(
        fake.api_key, base_addresses={"api": fake.url}, http_client=stripe.RequestsClient()
    )
    client.v1.checkout.sessions.create(params=params(), options={"idempotency_key": "k1"})
    response = httpx.post(
        f"{fake.url}/v1/checkout/sessions",
        headers={"Authorization": f"Bearer {fake.api_key}", "Idempotency-Key": "k1"},
        content="mode=payment&success_url=https://x.example/ok",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "idempotency_error"
    assert "same parameters" in error["message"] and "'k1'" in error["message"]


def test_a_lost_answer_replays_the_session_it_made(fake: FakeStripe, sc: stripe.StripeClient) -> None:
    fake.disconnect_next(1, after=True)
    session = create(sc, key="checkout-1")  # the SDK retried the connection error under the same key
    assert len(fake.events) == 0 and session.status == "open"
    assert create(sc, key="checkout-1").id == session.id


def test_sessions_expire_by_themselves_and_cannot_be_paid_after(
    fake: FakeStripe, sc: stripe.StripeClient
) -> None:
    session = create(sc, expires_at=int(time.time()) + 31 * 60)
    fake.travel(31 * 60)
    assert fake.session(session.id)["status"] == "expired"
    assert [e["type"] for e in fake.events] == ["checkout.session.expired"]
    with pytest.raises(ValueError, match="expired"):
        fake.pay(session.id)
    assert sc.v1.checkout.sessions.retrieve(session.id).status == "expired"


@pytest.mark.parametrize(("unit_amount", "ok"), [(29, False), (30, True)])
def test_the_minimum_charge_is_30_pence(sc: stripe.StripeClient, unit_amount: int, ok: bool) -> None:
    items = [
        {
            "price_data": {"currency": "gbp", "unit_amount": unit_amount, "product_data": {"name": "P"}},
            "quantity": 1,
        }
    ]
    if ok:
        assert create(sc, line_items=items).amount_total == 30
    else:
        with pytest.raises(stripe.InvalidRequestError) as raised:
            create(sc, line_items=items)
        assert raised.value.code == "amount_too_small"


def test_card_only_sessions_never_complete_asynchronously(fake: FakeStripe, sc: stripe.StripeClient) -> None:
    session = create(sc)
    for outcome in ("async_pending", "async_ok", "async_fail"):
        with pytest.raises(ValueError, match="never completes asynchronously"):
            fake.pay(session.id, outcome)
    assert fake.session(session.id)["status"] == "open"


def test_payment_method_types_is_refused_as_the_pinned_api_version_does(sc: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        create(sc, allowed_payment_method_types=None, payment_method_types=["card"])
    assert (raised.value.param, raised.value.code) == ("payment_method_types", "parameter_unknown")


def test_the_cancel_url_is_used_as_given(fake: FakeStripe, sc: stripe.StripeClient) -> None:
    session = create(sc, cancel_url="https://conf.example/back?s={CHECKOUT_SESSION_ID}")
    assert session.url is not None
    left = httpx.post(session.url, data={"outcome": "cancel"})
    assert left.headers["location"] == "https://conf.example/back?s={CHECKOUT_SESSION_ID}"


# Required by Stripe's OpenAPI description (spec3, checkout.session / payment_intent / charge / event / item).
REQUIRED = {
    "session": {
        "automatic_tax", "created", "custom_fields", "custom_text", "expires_at", "id", "livemode", "mode",
        "object", "payment_method_types", "payment_status", "shipping_options",
    },
    "payment_intent": {
        "amount", "capture_method", "confirmation_method", "created", "currency", "id", "livemode", "object",
        "payment_method_types", "status", "amount_capturable", "amount_received", "metadata",
    },
    "charge": {
        "amount", "amount_captured", "amount_refunded", "billing_details", "captured", "created", "currency",
        "disputed", "id", "livemode", "metadata", "object", "paid", "refunded", "status",
    },
    "event": {"created", "data", "id", "livemode", "object", "pending_webhooks", "type"},
    "item": {"amount_discount", "amount_subtotal", "amount_tax", "amount_total", "currency", "description", "id",
             "object"},
}  # fmt: skip


@pytest.mark.parametrize("key", ["sk_test_" + "a" * 24, "sk_live_" + "a" * 24])
def test_objects_carry_the_required_fields_and_the_keys_mode(key: str) -> None:
    with FakeStripe(api_key=key) as fake:
        sc = stripe.StripeClient(key, base_addresses={"api": fake.url}, http_client=stripe.RequestsClient())
        session = sc.v1.checkout.sessions.create(params=params())
        event = fake.pay(session.id)
        got = sc.v1.checkout.sessions.retrieve(
            session.id, params={"expand": ["line_items", "payment_intent"]}
        )
        as_dict = got.to_dict()
        intent = as_dict.pop("payment_intent")
        items = as_dict.pop("line_items")["data"]
        snapshot = fake.events[0]["data"]["object"]  # checkout.session.completed's copy of the session
        assert REQUIRED["session"] <= set(as_dict) and REQUIRED["session"] <= set(snapshot)
        assert REQUIRED["payment_intent"] <= set(intent)
        assert REQUIRED["charge"] <= set(fake.charge(intent["latest_charge"]))
        assert all(REQUIRED["item"] <= set(i) for i in items)
        assert REQUIRED["event"] <= set(event)
        live = key.startswith("sk_live_")
        assert as_dict["livemode"] is live and intent["livemode"] is live and event["livemode"] is live
        assert fake.charge(intent["latest_charge"])["livemode"] is live
