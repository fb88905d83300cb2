"""Issue 16, defect 8 (logs and timeouts): no Checkout Session id reaches the logs (the stripe SDK and httpx log
request URLs at INFO; a session id opens the payment-return page), and the SDK's calls, made while a delegate
waits, are bounded by a few seconds instead of the SDK's 80 s x 3."""

from __future__ import annotations

import json
import logging

import pytest

from conference.core.db import Database
from conference.core.logs import JsonFormatter
from conference.payments.gateway import Gateway
from tests.factories import make_conference
from tests.stripe_fake import FakeStripe
from tests.support import checkout_session_id, deliver_stripe_event, make_settings, paid_app, register_card


async def test_no_checkout_session_id_in_any_log_record(
    database_url: str, database: Database, fake: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    tickets = await make_conference(database, capacity=5)
    caplog.set_level(logging.DEBUG)
    async with paid_app(database_url, fake) as (client, app):
        created = await register_card(client, tickets["exhibitor"])
        sid = checkout_session_id(created["checkout_url"])
        assert (await client.get(f"/payment/return?session_id={sid}")).status_code == 200
        event = fake.pay(sid)
        assert (await client.get(f"/payment/return?session_id={sid}")).status_code == 200
        assert (await deliver_stripe_event(client, fake, event)).status_code == 200
        await app.state.payments.tick()
    text = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    assert caplog.records  # the app did log (the request log), so silence is not why nothing leaked
    assert sid not in text and "cs_test_" not in text


def test_the_json_log_masks_stripe_ids_whatever_logged_them() -> None:
    record = logging.LogRecord(
        "conference.payments", logging.INFO, __file__, 1, "session %s paid", ("cs_test_a1B2c3D4e5F6g7",), None
    )
    line = json.loads(JsonFormatter().format(record))
    assert "a1B2c3D4e5F6g7" not in line["message"] and line["message"].startswith("session cs_test_")


async def test_stripe_calls_are_bounded_by_seconds(database_url: str, fake: FakeStripe) -> None:
    settings = make_settings(database_url, STRIPE_SECRET_KEY=fake.api_key, STRIPE_API_BASE=fake.url)
    gateway = Gateway(settings)
    try:
        timeout = gateway.http._timeout  # what every request is sent with
        assert not isinstance(timeout, float | int) or timeout <= 5
        if not isinstance(timeout, float | int):
            assert timeout is not None and all(
                t is not None and t <= 5 for t in (timeout.connect, timeout.read, timeout.write, timeout.pool)
            )
        retries = gateway.client._requestor._options.max_network_retries
        assert retries is not None and 1 <= retries <= 2
    finally:
        await gateway.close()
    assert logging.getLogger("stripe").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
