"""The Stripe fake, exercised through the real stripe SDK: if these pass, the SDK accepts what the fake says
and the fake enforces the rules our Stripe code depends on (see /work/shared/notes/stripe.md)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import stripe

from tests.stripe_fake import FakeStripe, event_body, sign

Connect = Callable[..., stripe.StripeClient]


@pytest.fixture
def connect(fake: FakeStripe) -> Iterator[Connect]:
    """SDK clients pointed at the fake, retries off unless asked; their connections are closed afterwards."""
    opened: list[stripe.RequestsClient] = []

    def connect(*, api_key: str | None = None, retries: int = 0) -> stripe.StripeClient:
        http = stripe.RequestsClient()
        opened.append(http)
        return stripe.StripeClient(
            api_key or fake.api_key,
            base_addresses={"api": fake.url},
            max_network_retries=retries,
            http_client=http,
        )

    yield connect
    for http in opened:
        http.close()  # type: ignore[no-untyped-call]  # untyped in stripe 16.1.0


@pytest.fixture
def sc(connect: Connect) -> stripe.StripeClient:
    return connect()


def session_params(**overrides: Any) -> Any:  # Any: tests also send params the SDK's TypedDicts would refuse
    params: dict[str, Any] = {
        "mode": "payment",
        "success_url": "https://conf.example/registrations/r1/paid?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://conf.example/registrations/r1",
        "client_reference_id": "r1",
        "customer_email": "ada@example.org",
        "metadata": {"registration_id": "r1"},
        "allowed_payment_method_types": ["card"],
        "payment_intent_data": {"metadata": {"registration_id": "r1"}},
        "line_items": [
            {
                "price_data": {
                    "currency": "gbp",
                    "unit_amount": 12000,
                    "product_data": {"name": "Full pass"},
                },
                "quantity": 1,
            },
            {
                "price_data": {"currency": "gbp", "unit_amount": 2500, "product_data": {"name": "Workshop"}},
                "quantity": 2,
            },
        ],
    }
    params.update(overrides)
    return params


def create(sc: stripe.StripeClient, key: str | None = None, **overrides: Any) -> stripe.checkout.Session:
    # idempotency_key=None lets the SDK generate one, as it does for every POST.
    return sc.v1.checkout.sessions.create(
        params=session_params(**overrides), options={"idempotency_key": key}
    )


DELAYED = ["card", "bacs_debit"]  # a session that may also be paid by Bacs Direct Debit, which settles later


def paid_session(fake: FakeStripe, sc: stripe.StripeClient) -> tuple[str, str]:
    session = create(sc)
    fake.pay(session.id)
    return session.id, fake.session(session.id)["payment_intent"]


# --- creation and idempotency -------------------------------------------------------------------------


def test_create_returns_a_stripe_shaped_session(fake: FakeStripe, sc: stripe.StripeClient) -> None:
    before = int(time.time())
    session = create(sc)
    assert session.id.startswith("cs_test_")
    assert session.object == "checkout.session"
    assert (session.status, session.payment_status, session.mode) == ("open", "unpaid", "payment")
    assert session.url == f"{fake.url}/pay/{session.id}"
    assert (session.amount_total, session.currency) == (17000, "gbp")
    assert session.client_reference_id == "r1"
    assert session.customer_email == "ada@example.org"
    assert session.metadata is not None and session.metadata.to_dict() == {"registration_id": "r1"}
    assert session.payment_intent is None and session.livemode is False
    assert before + 86400 <= session.expires_at <= int(time.time()) + 86400  # Stripe's default hold is 24 h
    assert "line_items" not in session  # only present when expanded


def test_replay_with_the_same_key_returns_the_first_response(
    fake: FakeStripe, sc: stripe.StripeClient
) -> None:
    first = create(sc, key="checkout-r1-1")
    again = create(sc, key="checkout-r1-1")
    assert again.id == first.id
    assert again.last_response is not None and first.last_response is not None
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert again.last_response.headers["Original-Request"] == first.last_response.request_id
    assert again.last_response.idempotency_key == "checkout-r1-1"
    assert [r.idempotency_key for r in fake.requests] == ["checkout-r1-1", "checkout-r1-1"]
    assert create(sc, key="checkout-r1-2").id != first.id


def test_same_key_with_different_params_is_an_idempotency_error(sc: stripe.StripeClient) -> None:
    create(sc, key="checkout-r1-1")
    with pytest.raises(stripe.IdempotencyError, match="same parameters"):
        create(sc, key="checkout-r1-1", client_reference_id="r2")


def test_same_key_on_another_endpoint_is_an_idempotency_error(
    fake: FakeStripe, sc: stripe.StripeClient
) -> None:
    # Stripe scopes keys to the account, not the endpoint.
    _, intent = paid_session(fake, sc)
    create(sc, key="shared-key")
    with pytest.raises(stripe.IdempotencyError, match="same endpoint"):
        sc.v1.refunds.create(params={"payment_intent": intent}, options={"idempotency_key": "shared-key"})


def test_a_request_that_fails_validation_stores_no_idempotent_result(sc: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        create(sc, key="checkout-r1-1", mode="subscription")
    assert create(sc, key="checkout-r1-1").status == "open"


def test_overlong_idempotency_key_is_rejected(sc: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError, match="255"):
        create(sc, key="k" * 256)
    assert create(sc, key="k" * 255).status == "open"


def test_concurrent_requests_under_one_key_create_one_session(
    fake: FakeStripe, sc: stripe.StripeClient
) -> None:
    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(lambda _: create(sc, key="checkout-r1-1").id, range(16)))
    assert len(ids) == 1
    assert fake.session(ids.pop())["status"] == "open"


# --- validation -------------------------------------------------------------------------------------------


def _drop(path: list[str | int]) -> Callable[[dict[str, Any]], None]:
    def mutate(params: dict[str, Any]) -> None:
        node: Any = params
        for seg in path[:-1]:
            node = node[seg]
        del node[path[-1]]

    return mutate


def _set(path: list[str | int], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(params: dict[str, Any]) -> None:
        node: Any = params
        for seg in path[:-1]:
            node = node[seg]
        node[path[-1]] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "param", "code"),
    [
        (_drop(["success_url"]), "success_url", "parameter_missing"),
        (_drop(["mode"]), "mode", "parameter_missing"),
        (_set(["mode"], "subscription"), "mode", None),
        (_drop(["line_items"]), "line_items", "parameter_missing"),
        (_drop(["line_items", 1, "quantity"]), "line_items[1][quantity]", "parameter_missing"),
        (_set(["line_items", 0, "quantity"], "two"), "line_items[0][quantity]", "parameter_invalid_integer"),
        (_set(["line_items", 0, "quantity"], 0), "line_items[0][quantity]", "parameter_invalid_integer"),
        (
            _set(["line_items", 0, "price_data", "unit_amount"], -1),
            "line_items[0][price_data][unit_amount]",
            "parameter_invalid_integer",
        ),
        (
            _set(["line_items", 0, "price_data", "currency"], "GBP"),
            "line_items[0][price_data][currency]",
            None,
        ),
        # (The SDK sends nothing for an empty hash, so keep one other key to leave product_data present.)
        (
            _set(["line_items", 0, "price_data", "product_data"], {"description": "No name"}),
            "line_items[0][price_data][product_data][name]",
            "parameter_missing",
        ),
        (
            _drop(["line_items", 0, "price_data", "product_data"]),
            "line_items[0][price_data][product_data]",
            "parameter_missing",
        ),
        (_set(["line_items", 0, "price"], "price_123"), "line_items[0][price]", "parameter_unknown"),
        (_set(["ui_mode"], "embedded"), "ui_mode", "parameter_unknown"),
        (_set(["success_url"], "not a url"), "success_url", "url_invalid"),
        (_set(["client_reference_id"], "x" * 201), "client_reference_id", None),
        (_set(["customer_email"], "ada"), "customer_email", "email_invalid"),
        (_set(["metadata"], {"k" * 41: "v"}), f"metadata[{'k' * 41}]", None),
        (_set(["metadata"], {"k": "v" * 501}), "metadata[k]", None),
        (_set(["metadata"], {f"k{i}": "v" for i in range(51)}), "metadata", None),
        (
            _set(["payment_intent_data"], {"metadata": {"k": "v" * 501}}),
            "payment_intent_data[metadata][k]",
            None,
        ),
    ],
)
def test_invalid_params_are_rejected_naming_the_param(
    fake: FakeStripe,
    sc: stripe.StripeClient,
    mutate: Callable[[dict[str, Any]], None],
    param: str,
    code: str | None,
) -> None:
    params = session_params()
    mutate(params)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        sc.v1.checkout.sessions.create(params=params)
    assert (raised.value.http_status, raised.value.param, raised.value.code) == (400, param, code)
    assert raised.value.error is not None and raised.value.error.type == "invalid_request_error"


@pytest.mark.parametrize(
    ("offset", "ok"),
    [
        (1800 - 60, False),
        (1800 + 60, True),
        (86400 - 60, True),
        (86400 + 60, False),
    ],
)
def test_expires_at_must_be_30_minutes_to_24_hours_away(
    sc: stripe.StripeClient, offset: int, ok: bool
) -> None:
    expires_at = int(time.time()) + offset
    if ok:
        assert create(sc, expires_at=expires_at).expires_at == expires_at
    else:
        with pytest.raises(stripe.InvalidRequestError) as raised:
            create(sc, expires_at=expires_at)
        assert raised.value.param == "expires_at"


def test_a_bad_api_key_is_an_authentication_error(fake: FakeStripe, connect: Connect) -> None:
    with pytest.raises(stripe.AuthenticationError, match="Invalid API Key"):
        create(connect(api_key="sk_test_not_the_right_key"))
    assert fake.events == []


# --- retrieve, expire -------------------------------------------------------------------------------------


def test_retrieve_expands_line_items_and_payment_intent(fake: FakeStripe, sc: stripe.StripeClient) -> None:
    session = create(sc)
    got = sc.v1.checkout.sessions.retrieve(session.id, params={"expand": ["line_items"]})
    items = got.line_items
    assert items is not None and items["object"] == "list" and items.has_more is False
    assert [(i.description, i.quantity, i.amount_total, i.currency) for i in items.data] == [
        ("Full pass", 1, 12000, "gbp"),
        ("Workshop", 2, 5000, "gbp"),
    ]

    fake.pay(session.id)
    got = sc.v1.checkout.sessions.retrieve(session.id, params={"expand": ["payment_intent"]})
    intent = got.payment_intent
    assert isinstance(intent, stripe.PaymentIntent)
    assert (intent.amount, intent.currency, intent.status) == (17000, "gbp", "succeeded")
    assert intent.metadata.to_dict() == {"registration_id": "r1"}  # from payment_intent_data[metadata]
    assert sc.v1.payment_intents.retrieve(intent.id).id == intent.id


def test_retrieving_an_unknown_session_is_resource_missing(sc: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        sc.v1.checkout.sessions.retrieve("cs_test_nope")
    assert (raised.value.http_status, raised.value.code) == (404, "resource_missing")


def test_unsupported_expansion_is_rejected(sc: stripe.StripeClient) -> None:
    session = create(sc)
    with pytest.raises(stripe.InvalidRequestError, match="cannot be expanded") as raised:
        sc.v1.checkout.sessions.retrieve(session.id, params={"expand": ["customer"]})
    assert raised.value.param == "expand[0]"


def test_expire_only_works_once_and_emits_an_event(fake: FakeStripe, sc: stripe.StripeClient) -> None:
    session = create(sc)
    expired = sc.v1.checkout.sessions.expire(session.id, options={"idempotency_key": "expire-r1"})
    assert (expired.status, expired.url) == ("expired", None)
    assert [(e["type"], e["data"]["object"]["id"]) for e in fake.events] == [
        ("checkout.session.expired", session.id)
    ]
    assert fake.events[0]["request"]["idempotency_key"] == "expire-r1"
    with pytest.raises(stripe.InvalidRequestError, match="open"):
        sc.v1.checkout.sessions.expire(session.id)
    with pytest.raises(ValueError):
        fake.pay(session.id)  # Checkout cannot be paid once expired


def test_expire_now_and_pay_race_has_one_winner(fake: FakeStripe, sc: stripe.StripeClient) -> None:
    session = create(sc)
    assert fake.expire_now(session.id)["type"] == "checkout.session.expired"
    with pytest.raises(stripe.InvalidRequestError):
        sc.v1.checkout.sessions.expire(session.id)
    paid = create(sc)
    fake.pay(paid.id)
    with pytest.raises(ValueError):
        fake.expire_now(paid.id)


# --- payment outcomes -------------------------------------------------------------------------------------


def test_pay_emits_completed_with_a_snapshot(fake: FakeStripe, sc: stripe.StripeClient) -> None:
    session = create(sc)
    event = fake.pay(session.id)
    assert event["type"] == "checkout.session.completed"
    assert event["object"] == "event" and event["id"].startswith("evt_") and event["livemode"] is False
    snapshot = event["data"]["object"]
    assert (snapshot["status"], snapshot["payment_status"]) == ("complete", "paid")
    assert snapshot["payment_intent"].startswith("pi_")
    assert snapshot["client_reference_id"] == "r1"


def test_delayed_payment_completes_unpaid_then_settles(fake: FakeStripe, sc: stripe.StripeClient) -> None:
    ok, bad = (create(sc, allowed_payment_method_types=DELAYED) for _ in range(2))
    completed = fake.pay(ok.id, "async_pending")
    assert completed["type"] == "checkout.session.completed"
    assert (completed["data"]["object"]["status"], completed["data"]["object"]["payment_status"]) == (
        "complete",
        "unpaid",
    )
    settled = fake.settle_async(ok.id, ok=True)
    assert settled["type"] == "checkout.session.async_payment_succeeded"
    assert sc.v1.checkout.sessions.retrieve(ok.id).payment_status == "paid"

    failed = fake.pay(bad.id, "async_fail")
    assert failed["type"] == "checkout.session.async_payment_failed"
    got = sc.v1.checkout.sessions.retrieve(bad.id)
    assert (got.status, got.payment_status) == ("complete", "unpaid")
    with pytest.raises(ValueError):
        fake.settle_async(bad.id, ok=True)
    assert [e["type"] for e in fake.events] == [
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.completed",
        "checkout.session.async_payment_failed",
    ]


def test_async_ok_is_pending_then_succeeded(fake: FakeStripe, sc: stripe.StripeClient) -> None:
    session = create(sc, allowed_payment_method_types=DELAYED)
    assert fake.pay(session.id, "async_ok")["data"]["object"]["payment_status"] == "paid"
    assert [e["type"] for e in fake.events] == [
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
    ]


# --- refunds ----------------------------------------------------------------------------------------------


def test_partial_then_full_refund_and_over_refund_fails(fake: FakeStripe, sc: stripe.StripeClient) -> None:
    _, intent = paid_session(fake, sc)
    part = sc.v1.refunds.create(
        params={
            "payment_intent": intent,
            "amount": 5000,
            "reason": "requested_by_customer",
            "metadata": {"registration_id": "r1"},
        },
        options={"idempotency_key": "refund-r1-1"},
    )
    assert (part.object, part.amount, part.currency, part.status) == ("refund", 5000, "gbp", "succeeded")
    assert part.payment_intent == intent and part.reason == "requested_by_customer"
    assert sc.v1.refunds.retrieve(part.id).amount == 5000

    with pytest.raises(stripe.InvalidRequestError, match="greater than unrefunded") as raised:
        sc.v1.refunds.create(params={"payment_intent": intent, "amount": 12001})
    assert raised.value.param == "amount"

    rest = sc.v1.refunds.create(params={"payment_intent": intent})  # no amount: whatever is left
    assert rest.amount == 12000
    with pytest.raises(stripe.InvalidRequestError) as raised:
        sc.v1.refunds.create(params={"payment_intent": intent, "amount": 1})
    assert raised.value.code == "charge_already_refunded"

    refund_events = [e for e in fake.events if e["type"] in ("refund.created", "charge.refunded")]
    assert [e["type"] for e in refund_events] == ["refund.created", "charge.refunded"] * 2
    charge = refund_events[-1]["data"]["object"]
    assert (charge["amount_refunded"], charge["refunded"]) == (17000, True)
    assert charge["metadata"] == {"registration_id": "r1"}


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"payment_intent": None}, "payment_intent"),  # None: the SDK leaves it out
        ({"payment_intent": "pi_nope"}, "payment_intent"),
        ({"amount": 0}, "amount"),
        ({"reason": "changed_mind"}, "reason"),
    ],
)
def test_invalid_refunds_are_rejected(
    fake: FakeStripe, sc: stripe.StripeClient, changes: dict[str, Any], param: str
) -> None:
    _, intent = paid_session(fake, sc)
    params: Any = {"payment_intent": intent, **changes}
    with pytest.raises(stripe.InvalidRequestError) as raised:
        sc.v1.refunds.create(params=params)
    assert raised.value.param == param


def test_an_unsettled_payment_cannot_be_refunded(fake: FakeStripe, sc: stripe.StripeClient) -> None:
    session = create(sc, allowed_payment_method_types=DELAYED)
    fake.pay(session.id, "async_pending")
    with pytest.raises(stripe.InvalidRequestError, match="successful charge"):
        sc.v1.refunds.create(params={"payment_intent": fake.session(session.id)["payment_intent"]})


# --- webhooks signed by us, verified by the SDK -----------------------------------------------------------


def test_sdk_accepts_our_signature_and_rejects_tampering_and_staleness(
    fake: FakeStripe, sc: stripe.StripeClient
) -> None:
    session = create(sc)
    body = event_body(fake.pay(session.id))
    secret = fake.webhook_secret

    event = stripe.Webhook.construct_event(body, sign(body, secret), secret)
    assert event.type == "checkout.session.completed"
    assert event.data.object["id"] == session.id
    assert sc.construct_event(body, sign(body, secret), secret).id == event.id

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.replace(b"paid", b"PAID"), sign(body, secret), secret)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, sign(body, "whsec_someone_else"), secret)
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.Webhook.construct_event(body, sign(body, secret, int(time.time()) - 301), secret)


# --- retries and raw HTTP ---------------------------------------------------------------------------------


def test_sdk_retries_a_500_with_the_same_idempotency_key(fake: FakeStripe, connect: Connect) -> None:
    fake.fail_next(1, stored=False)  # (a stored 500 is replayed to the retry: test_stripe_fake_strict.py)
    session = create(connect(retries=2))  # no key of ours: the SDK generates one and reuses it on retry
    posts = [r for r in fake.requests if r.method == "POST"]
    assert len(posts) == 2
    assert posts[0].idempotency_key is not None and posts[0].idempotency_key == posts[1].idempotency_key
    assert session.status == "open"


def test_without_retries_the_500_surfaces_as_an_api_error(fake: FakeStripe, sc: stripe.StripeClient) -> None:
    fake.fail_next(1, status=503)
    with pytest.raises(stripe.APIError) as raised:
        create(sc)
    assert raised.value.http_status == 503
    assert len(fake.requests) == 1


def test_unknown_paths_and_response_headers(fake: FakeStripe) -> None:
    auth = {"Authorization": f"Bearer {fake.api_key}"}
    response = httpx.get(f"{fake.url}/v1/customers", headers=auth)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.headers["request-id"].startswith("req_")
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.json()["error"]["code"] == "resource_missing"

    missing_key = httpx.get(f"{fake.url}/v1/checkout/sessions/cs_test_x")
    assert missing_key.status_code == 401 and "API key" in missing_key.json()["error"]["message"]

    # `expand[]` (unindexed) works like `expand[0]`.
    created = httpx.post(
        f"{fake.url}/v1/checkout/sessions",
        headers=auth,
        content=(
            "mode=payment&success_url=https://x.example/ok&expand[]=line_items"
            "&line_items[0][price_data][currency]=eur&line_items[0][price_data][unit_amount]=100"
            "&line_items[0][price_data][product_data][name]=Pass&line_items[0][quantity]=1"
        ),
    )
    assert created.status_code == 200, created.text
    assert created.json()["line_items"]["data"][0]["amount_total"] == 100


def test_the_pay_page_redirects_to_success_url(fake: FakeStripe, sc: stripe.StripeClient) -> None:
    session = create(sc)
    assert session.url is not None
    assert "Pay" in httpx.get(session.url).text
    response = httpx.post(session.url, data={"outcome": "paid"})
    assert response.status_code == 303
    assert response.headers["location"] == (
        f"https://conf.example/registrations/r1/paid?session_id={session.id}"
    )
    assert fake.session(session.id)["payment_status"] == "paid"
    assert httpx.get(session.url).status_code == 410


# stripe 16.1.0's HTTPXClient passes the form body as `data=<str>`, which httpx 0.28 deprecates; under our
# `filterwarnings = error` that warning is raised inside the SDK and surfaces as an APIConnectionError.
@pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning")
async def test_async_client_talks_to_the_fake(fake: FakeStripe) -> None:
    http = stripe.HTTPXClient()
    client = stripe.StripeClient(
        fake.api_key, base_addresses={"api": fake.url}, max_network_retries=0, http_client=http
    )
    try:
        session = await client.v1.checkout.sessions.create_async(
            params=session_params(), options={"idempotency_key": "checkout-r1-1"}
        )
        got = await client.v1.checkout.sessions.retrieve_async(session.id, params={"expand": ["line_items"]})
        assert got.line_items is not None and len(got.line_items.data) == 2
        with pytest.raises(stripe.IdempotencyError):
            await client.v1.checkout.sessions.create_async(
                params=session_params(client_reference_id="r2"), options={"idempotency_key": "checkout-r1-1"}
            )
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]  # untyped in stripe 16.1.0
