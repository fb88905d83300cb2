"""Issue 16, defect 8 (webhooks): an event from the other mode (test vs live) than our key is refused and logged,
and a signature dated beyond the tolerance in the future is refused like a stale one."""

from __future__ import annotations

import json
import logging
import time

import pytest

from conference.core.db import Database
from conference.core.models import Status
from tests.factories import make_conference
from tests.stripe_fake import FakeStripe
from tests.support import (
    checkout_session_id,
    deliver_stripe_event,
    paid_app,
    register_card,
    registration_status,
)


async def test_an_event_from_the_other_mode_is_refused_and_logged(
    database_url: str, database: Database, fake: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    tickets = await make_conference(database, capacity=5)
    async with paid_app(database_url, fake) as (client, _):
        created = await register_card(client, tickets["exhibitor"])
        event = fake.pay(checkout_session_id(created["checkout_url"]))
        assert event["livemode"] is False  # the fake's key is a test key, and its events say so
        live = json.loads(json.dumps(event)) | {"id": "evt_live_1", "livemode": True}

        with caplog.at_level(logging.WARNING, logger="conference.payments"):
            refused = await deliver_stripe_event(client, fake, live)  # correctly signed, wrong mode
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "livemode_mismatch"
        assert any("livemode" in r.getMessage() for r in caplog.records if r.name == "conference.payments")
        assert await registration_status(database, created["id"]) == Status.pending_payment

        accepted = await deliver_stripe_event(client, fake, event)
        assert accepted.status_code == 200 and accepted.json()["outcome"] == "confirmed"


async def test_a_live_key_refuses_test_events(database_url: str, database: Database) -> None:
    tickets = await make_conference(database, capacity=5)
    with FakeStripe(api_key="sk_live_" + "x" * 24) as live_fake:
        async with paid_app(database_url, live_fake) as (client, _):
            created = await register_card(client, tickets["exhibitor"])
            event = live_fake.pay(checkout_session_id(created["checkout_url"]))
            assert event["livemode"] is True
            test_mode = event | {"id": "evt_test_1", "livemode": False}
            refused = await deliver_stripe_event(client, live_fake, test_mode)
            assert refused.status_code == 400 and refused.json()["error"]["code"] == "livemode_mismatch"
            accepted = await deliver_stripe_event(client, live_fake, event)
            assert accepted.status_code == 200 and accepted.json()["outcome"] == "confirmed"


async def test_a_signature_from_the_future_is_refused(
    database_url: str, database: Database, fake: FakeStripe
) -> None:
    tickets = await make_conference(database, capacity=5)
    async with paid_app(database_url, fake) as (client, _):
        created = await register_card(client, tickets["exhibitor"])
        event = fake.pay(checkout_session_id(created["checkout_url"]))
        ahead = await deliver_stripe_event(client, fake, event, timestamp=int(time.time()) + 600)
        assert ahead.status_code == 400 and ahead.json()["error"]["code"] == "invalid_signature"
        assert "future" in ahead.json()["error"]["message"]
        assert await registration_status(database, created["id"]) == Status.pending_payment
        # Within the tolerance (clocks differ a little) it passes.
        near = await deliver_stripe_event(client, fake, event, timestamp=int(time.time()) + 60)
        assert near.status_code == 200 and near.json()["outcome"] == "confirmed"
