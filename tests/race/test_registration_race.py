"""Hundreds of delegates race for a 100-place conference on real uvicorn processes (2 workers), on both databases.

Every test runs on SQLite and on PostgreSQL whatever CONFERENCE_TEST_DATABASE says. The negative control
(pretix's trick) runs the same rush with the capacity lock switched off and a pause after the availability
check, and must see the event oversold: proof that the rush can catch the bug the lock prevents.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import HOLDING, AuditEntry, IdempotencyKey, Registration, Status
from tests import support
from tests.factories import make_conference, registration_body
from tests.support import make_settings

pytestmark = pytest.mark.race

CAPACITY = 100
RUSH = 300
HOLDING_VALUES = {s.value for s in HOLDING}
UNSAFE_ENV = {"CONFERENCE_TEST_UNSAFE_NO_CAPACITY_LOCK": "1", "CONFERENCE_TEST_SLEEP_AFTER_CHECK_MS": "50"}


async def _seed(url: str, capacity: int = CAPACITY) -> uuid.UUID:
    """The conference with its ticket types; returns the free, no-approval 'delegate' type (→ confirmed)."""
    database = Database.from_settings(make_settings(url))
    try:
        tickets = await make_conference(database, capacity=capacity)
    finally:
        await database.dispose()  # before the server starts: no connection of ours outlives the seeding
    return tickets["delegate"]


def seed(url: str, capacity: int = CAPACITY) -> uuid.UUID:
    return asyncio.run(_seed(url, capacity))


async def _rows(url: str) -> tuple[list[Registration], list[AuditEntry], int]:
    """All registrations in arrival order, the promotion audit entries in the order written, idempotency rows."""
    database = Database.from_settings(make_settings(url))
    try:
        async with database.read() as db:
            registrations = list(
                (await db.execute(sa.select(Registration).order_by(Registration.number))).scalars()
            )
            promoted = list(
                (
                    await db.execute(
                        sa.select(AuditEntry)
                        .where(AuditEntry.action == "conference.registration.promoted")
                        .order_by(AuditEntry.id)
                    )
                ).scalars()
            )
            keys = int(
                (await db.execute(sa.select(sa.func.count()).select_from(IdempotencyKey))).scalar_one()
            )
        return registrations, promoted, keys
    finally:
        await database.dispose()


def rows(url: str) -> tuple[list[Registration], list[AuditEntry], int]:
    return asyncio.run(_rows(url))


# --- load ---------------------------------------------------------------------------------------------------


def _client(base: str, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=base, limits=limits, timeout=60)


async def _rush(
    base: str, bodies: list[dict[str, Any]], headers: dict[str, str] | None = None
) -> list[httpx.Response]:
    """Every body POSTed at once, each on its own connection."""
    async with _client(base, len(bodies)) as client:
        return await asyncio.gather(
            *[client.post("/api/v1/registrations", json=b, headers=headers) for b in bodies]
        )


def rush(base: str, ticket: uuid.UUID, n: int) -> list[httpx.Response]:
    bodies = [registration_body(ticket) for _ in range(n)]
    assert len({b["email"] for b in bodies}) == n
    return asyncio.run(_rush(base, bodies))


def conference_counts(base: str) -> tuple[int, int, int]:
    body = httpx.get(f"{base}/api/v1/conference", timeout=10).json()
    return body["registered"], body["remaining"], body["waitlisted"]


def db_counts(registrations: list[Registration]) -> tuple[int, int, int]:
    holding = sum(r.status in HOLDING for r in registrations)
    waitlisted = sum(r.status == Status.waitlisted for r in registrations)
    return holding, max(CAPACITY - holding, 0), waitlisted


def _describe(responses: list[httpx.Response]) -> str:
    codes = Counter(r.status_code for r in responses)
    errors = Counter(r.text[:120] for r in responses if r.status_code != 201)
    return f"status codes {dict(codes)}; non-201 bodies {dict(errors.most_common(3))}"


# --- the tests ----------------------------------------------------------------------------------------------


def test_rush_of_300_for_100_places_never_oversells(race_url: str, tmp_path: Path) -> None:
    ticket = seed(race_url)
    with support.live_server(race_url, workers=2, log_path=tmp_path / "server.log") as base:
        responses = rush(base, ticket, RUSH)
        api_counts = conference_counts(base)

    assert all(r.status_code == 201 for r in responses), _describe(responses)
    answers = [r.json() for r in responses]
    statuses = Counter(a["status"] for a in answers)
    assert sum(statuses[s] for s in HOLDING_VALUES) == CAPACITY, statuses
    assert statuses == {"confirmed": CAPACITY, "waitlisted": RUSH - CAPACITY}, statuses

    # Positions handed out are exactly 1..200, none repeated; places came with no position.
    positions = [a["waitlist_position"] for a in answers if a["status"] == "waitlisted"]
    assert sorted(positions) == list(range(1, RUSH - CAPACITY + 1))
    assert all(a["waitlist_position"] is None for a in answers if a["status"] != "waitlisted")

    registrations, _, _ = rows(race_url)
    assert len(registrations) == RUSH
    assert {str(r.id) for r in registrations} == {a["id"] for a in answers}
    # Arrival numbers are unique and gapless: the counter was bumped under the lock.
    assert [r.number for r in registrations] == list(range(1, RUSH + 1))
    # The first 100 arrivals hold the places; the waiting list follows arrival order exactly.
    assert all(r.status == Status.confirmed for r in registrations[:CAPACITY])
    waiting = registrations[CAPACITY:]
    assert all(r.status == Status.waitlisted for r in waiting)
    position_of = {a["id"]: a["waitlist_position"] for a in answers}
    assert [position_of[str(r.id)] for r in waiting] == list(range(1, RUSH - CAPACITY + 1))

    assert api_counts == db_counts(registrations) == (CAPACITY, 0, RUSH - CAPACITY)


def test_negative_control_without_the_capacity_lock_the_event_oversells(
    race_url: str, tmp_path: Path
) -> None:
    """Availability checked outside the lock, plus a 50 ms pause: the rush must catch the oversell."""
    ticket = seed(race_url)
    with support.live_server(race_url, workers=2, env=UNSAFE_ENV, log_path=tmp_path / "server.log") as base:
        responses = rush(base, ticket, RUSH)
        api_registered, _, _ = conference_counts(base)

    registrations, _, _ = rows(race_url)
    holding, _, _ = db_counts(registrations)
    answered_places = sum(r.status_code == 201 and r.json()["status"] in HOLDING_VALUES for r in responses)
    assert holding > CAPACITY, (
        f"the unsafe server did not oversell ({holding} places held of {CAPACITY}): the race test cannot see "
        f"the bug it is there to catch; {_describe(responses)}"
    )
    # The public count tells the same (wrong) story as the rows: nothing hides the oversell.
    assert api_registered == holding and answered_places > CAPACITY


def test_cancellations_race_new_registrations_and_promote_the_waiting_list_in_order(
    race_url: str, tmp_path: Path
) -> None:
    """20 confirmed delegates cancel while 50 more register: never over 100, the first 20 waiting move up."""
    ticket = seed(race_url)
    with support.live_server(race_url, workers=2, log_path=tmp_path / "server.log") as base:
        first = [r.json() for r in rush(base, ticket, CAPACITY + 50)]
        confirmed = [a for a in first if a["status"] == "confirmed"]
        waiting = sorted(
            (a for a in first if a["status"] == "waitlisted"), key=lambda a: a["waitlist_position"]
        )
        assert (len(confirmed), len(waiting)) == (CAPACITY, 50)
        leaving = confirmed[::5]  # 20 of them, spread over the arrival order
        newcomers = [registration_body(ticket) for _ in range(50)]
        observed: list[int] = []

        async def mixed() -> list[httpx.Response]:
            async with _client(base, len(leaving) + len(newcomers) + 1) as client:
                done = asyncio.Event()

                async def watch() -> None:
                    # The public counts, read again and again while the race runs.
                    while not done.is_set():
                        observed.append((await client.get("/api/v1/conference")).json()["registered"])

                watcher = asyncio.create_task(watch())
                try:
                    return await asyncio.gather(
                        *[
                            client.delete(
                                f"/api/v1/registrations/{a['id']}",
                                headers={"authorization": f"Bearer {a['manage_token']}"},
                            )
                            for a in leaving
                        ],
                        *[client.post("/api/v1/registrations", json=b) for b in newcomers],
                    )
                finally:
                    done.set()
                    await watcher

        responses = asyncio.run(mixed())
        api_counts = conference_counts(base)

    cancels, posts = responses[: len(leaving)], responses[len(leaving) :]
    assert all(r.status_code == 200 and r.json()["status"] == "cancelled" for r in cancels), _describe(
        cancels
    )
    assert all(r.status_code == 201 for r in posts), _describe(posts)
    # A freed place goes to the waiting list in the cancelling transaction: a newcomer never sees it free.
    assert Counter(r.json()["status"] for r in posts) == {"waitlisted": len(newcomers)}
    assert observed and max(observed) <= CAPACITY, observed
    assert set(observed) == {CAPACITY}, "a place was seen free although people were waiting"

    registrations, promoted, _ = rows(race_url)
    by_id = {str(r.id): r for r in registrations}
    assert {by_id[a["id"]].status for a in leaving} == {Status.cancelled}
    # Exactly the 20 earliest on the waiting list were promoted, and in their order.
    moved_up = [a for a in waiting if by_id[a["id"]].status in HOLDING]
    assert [a["id"] for a in moved_up] == [a["id"] for a in waiting[: len(leaving)]]
    assert [e.subject for e in promoted] == [a["reference"] for a in waiting[: len(leaving)]]
    # Those still waiting are the rest of the old list, then the newcomers, in arrival order.
    still_waiting = [r for r in registrations if r.status == Status.waitlisted]
    new_ids = {r.json()["id"] for r in posts}
    assert [str(r.id) for r in still_waiting[:30]] == [a["id"] for a in waiting[len(leaving) :]]
    assert {str(r.id) for r in still_waiting[30:]} == new_ids

    assert api_counts == db_counts(registrations) == (CAPACITY, 0, 30 + len(newcomers))
    assert sum(r.status == Status.cancelled for r in registrations) == len(leaving)


def test_twenty_retries_with_one_idempotency_key_make_one_registration(race_url: str, tmp_path: Path) -> None:
    ticket = seed(race_url)
    body = registration_body(ticket)
    key = f"race-{uuid.uuid4()}"
    with support.live_server(race_url, workers=2, log_path=tmp_path / "server.log") as base:
        responses = asyncio.run(_rush(base, [body] * 20, headers={"idempotency-key": key}))

    assert all(r.status_code == 201 for r in responses), _describe(responses)
    answers = [r.json() for r in responses]
    assert len({(a["id"], a["reference"]) for a in answers}) == 1, Counter(
        (a["id"], a["reference"]) for a in answers
    )
    assert len({a["manage_token"] for a in answers}) == 1
    assert Counter(r.headers.get("idempotent-replayed") for r in responses) == {None: 1, "true": 19}
    registrations, _, keys = rows(race_url)
    assert [str(r.id) for r in registrations] == [answers[0]["id"]]
    assert keys == 1
