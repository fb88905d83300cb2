"""Issue 16, defect 5: the card hold is also the Checkout Session's life, which Stripe allows from 30 minutes to
24 hours; a hold outside 31-1,440 minutes stops the service at start-up with a message that says so."""

from __future__ import annotations

import pytest
from starlette.config import Config

from conference.core.settings import SettingsError, load_settings


@pytest.mark.parametrize("value", ["30", "1441", "0", "-5", "forty", "2880"])
def test_a_hold_stripe_cannot_honour_stops_start_up(value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(Config(environ={"CONFERENCE_PAYMENT_HOLD_MINUTES": value}))
    message = str(raised.value)
    assert "CONFERENCE_PAYMENT_HOLD_MINUTES" in message
    assert "31" in message and "1440" in message and "Stripe" in message
    assert repr(value) in message or value in message


@pytest.mark.parametrize(("value", "minutes"), [("31", 31), ("1440", 1440), (None, 35)])
def test_holds_within_stripe_limits_are_accepted(value: str | None, minutes: int) -> None:
    environ = {} if value is None else {"CONFERENCE_PAYMENT_HOLD_MINUTES": value}
    assert load_settings(Config(environ=environ)).payment_hold_minutes == minutes
