"""The registration window: the public form and API open and close by themselves at the times organisers set,
read from the clock at each request (no job), with the organisers' switch as a manual override.

The clock is moved the way the code reads it: `conference.core.registration_window.clock`, the one place the
window (and the ticket types' sale windows, and the event settings' "in the past" checks) read the time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from conference.core import registration_window
from conference.core.db import Database
from conference.core.registration_window import RegistrationState, state
from tests.factories import registration_body
from tests.support import HTML, bearer, csrf, organiser_token

T0 = datetime.now(UTC).replace(microsecond=0)
OPENS, CLOSES = T0 + timedelta(days=1), T0 + timedelta(days=2)


class Clock:
    """The window's clock, set by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
        self.now = now
        monkeypatch.setattr(registration_window, "clock", lambda: self.now)


async def set_window(client: httpx.AsyncClient, database: Database, **fields: Any) -> None:
    """Through the API, as an organiser: the event a week away and the window (and anything else) given."""
    body = {
        "starts_at": (T0 + timedelta(days=7)).isoformat(),
        "ends_at": (T0 + timedelta(days=8)).isoformat(),
        **{k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()},
    }
    response = await client.patch(
        "/api/v1/conference", json=body, headers=bearer(await organiser_token(database))
    )
    assert response.status_code == 200, response.text


async def register_api(client: httpx.AsyncClient, ticket: Any) -> httpx.Response:
    return await client.post("/api/v1/registrations", json=registration_body(ticket))


async def register_form(client: httpx.AsyncClient, ticket: Any) -> httpx.Response:
    # The token from a page that always has a form: a closed registration page has none (the form was loaded
    # while registration was open, say, and posted after it closed).
    page = await client.get("/login", headers=HTML)
    form = {k: str(v) for k, v in registration_body(ticket).items()}
    return await client.post(
        "/register", data={**form, "consent": "yes", "csrf_token": csrf(page.text)}, headers=HTML
    )


async def state_seen(client: httpx.AsyncClient) -> str:
    answer: str = (await client.get("/api/v1/conference")).json()["registration_state"]
    return answer


def test_the_window_opens_at_its_opening_and_closes_at_its_closing() -> None:
    def at(now: datetime, switch: bool = True) -> RegistrationState:
        return state(switch=switch, opens_at=OPENS, closes_at=CLOSES, now=now)

    assert at(OPENS - timedelta(seconds=1)) is RegistrationState.not_yet_open
    assert at(OPENS) is RegistrationState.open
    assert at(CLOSES - timedelta(seconds=1)) is RegistrationState.open
    assert at(CLOSES) is RegistrationState.closed
    assert at(OPENS, switch=False) is RegistrationState.switched_off
    assert state(switch=True, opens_at=None, closes_at=None, now=T0) is RegistrationState.open
    assert state(switch=True, opens_at=None, closes_at=CLOSES, now=CLOSES) is RegistrationState.closed
    assert state(switch=True, opens_at=OPENS, closes_at=None, now=CLOSES) is RegistrationState.open


async def test_the_form_and_api_open_and_close_by_the_clock(
    client: httpx.AsyncClient,
    database: Database,
    tickets: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock(monkeypatch, T0)
    await set_window(client, database, registration_opens_at=OPENS, registration_closes_at=CLOSES)

    # Before it opens: the page says when, the API refuses, no ticket type is available.
    page = await client.get("/", headers=HTML)
    assert "Registration is not open yet" in page.text and 'id="register-form"' not in page.text
    refused = await register_api(client, tickets["delegate"])
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "registration_closed"
    assert not any(t["available"] for t in (await client.get("/api/v1/ticket-types")).json())
    assert await state_seen(client) == "not_yet_open"
    form = await register_form(client, tickets["delegate"])
    assert form.status_code == 409  # the form's post is refused too, with a page, not a 500

    # At the opening time, with nothing else done: open.
    clock.now = OPENS
    page = await client.get("/", headers=HTML)
    assert 'id="register-form"' in page.text and 'id="registration-closes"' in page.text
    assert (await register_api(client, tickets["delegate"])).status_code == 201
    assert (await register_form(client, tickets["delegate"])).status_code == 303
    assert await state_seen(client) == "open"

    # A second before it closes, still open; at the closing time, closed.
    clock.now = CLOSES - timedelta(seconds=1)
    assert (await register_api(client, tickets["delegate"])).status_code == 201
    clock.now = CLOSES
    page = await client.get("/", headers=HTML)
    assert "Registration closed on" in page.text and 'id="register-form"' not in page.text
    assert (await register_api(client, tickets["delegate"])).status_code == 409
    assert await state_seen(client) == "closed"


async def test_the_switch_overrides_the_window(
    client: httpx.AsyncClient,
    database: Database,
    tickets: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Clock(monkeypatch, OPENS + timedelta(hours=1))  # inside the window
    await set_window(
        client, database, registration_opens_at=OPENS, registration_closes_at=CLOSES, registration_open=False
    )
    assert await state_seen(client) == "switched_off"
    assert (await register_api(client, tickets["delegate"])).status_code == 409
    assert "Registration is closed" in (await client.get("/", headers=HTML)).text
    conference = (await client.get("/api/v1/conference")).json()
    assert conference["registration_open"] is False  # the switch, as it was set

    await set_window(client, database, registration_open=True)
    assert await state_seen(client) == "open"
    assert (await register_api(client, tickets["delegate"])).status_code == 201


async def test_no_window_is_the_switch_alone(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    assert await state_seen(client) == "open"
    assert (await register_api(client, tickets["delegate"])).status_code == 201
    await set_window(client, database, registration_open=False)
    assert (await register_api(client, tickets["delegate"])).status_code == 409
