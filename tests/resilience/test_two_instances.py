"""Two `conference serve` instances (2 workers each) on one PostgreSQL database and one mail server.

Registrations and then seat bookings are raced across both instances at once. The capacity lock lives in the
database, so four processes on two servers must still hand out exactly the places there are; the outbox is
claimed with FOR UPDATE SKIP LOCKED, so four mail workers must still send each email exactly once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from tests import support
from tests.resilience.common import Sent, bodies, check_invariants, client, deliveries, seed, wait_until_sent
from tests.support import Mailbox

pytestmark = pytest.mark.resilience

CAPACITY = 60
SEATS = 20
RUSH = 200


async def _register_across(bases: list[str], sent: list[Sent]) -> None:
    clients = [client(b) for b in bases]
    try:

        async def one(i: int, s: Sent) -> None:
            try:
                s.response = await clients[i % len(clients)].post("/api/v1/registrations", json=s.body)
            except Exception as exc:  # noqa: BLE001 - recorded, and the assertions say what happened
                s.error = exc

        await asyncio.gather(*(one(i, s) for i, s in enumerate(sent)))
    finally:
        for c in clients:
            await c.aclose()


async def _book_across(
    bases: list[str], people: list[tuple[str, str]], session_id: str
) -> list[tuple[int, str]]:
    clients = [client(b) for b in bases]
    try:
        responses = await asyncio.gather(
            *(
                clients[i % len(clients)].post(
                    f"/api/v1/registrations/{rid}/sessions",
                    json={"session_id": session_id},
                    headers={"authorization": f"Bearer {token}"},
                )
                for i, (rid, token) in enumerate(people)
            )
        )
        return [(r.status_code, r.json().get("status") or r.json()["error"]["code"]) for r in responses]
    finally:
        for c in clients:
            await c.aclose()


def test_two_instances_share_capacity_seats_and_the_outbox(
    pg_url: str, mailbox: Mailbox, smtp_port: int, tmp_path: Path
) -> None:
    seeded = seed(pg_url, capacity=CAPACITY, seats=SEATS)
    env = {"CONFERENCE_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}", "CONFERENCE_MAIL_RETRY_SECONDS": "0.2"}
    sent = [Sent(b) for b in bodies(seeded.ticket, RUSH)]
    with (
        support.live_server(pg_url, workers=2, env=env, log_path=tmp_path / "a.log") as a,
        support.live_server(pg_url, workers=2, env=env, log_path=tmp_path / "b.log") as b,
    ):
        asyncio.run(_register_across([a, b], sent))
        codes = Counter(
            s.response.status_code if s.response is not None else type(s.error).__name__ for s in sent
        )
        assert codes == {201: RUSH}, codes
        statuses = Counter(s.response.json()["status"] for s in sent if s.response is not None)
        assert statuses == {"confirmed": CAPACITY, "waitlisted": RUSH - CAPACITY}, statuses

        # Every registered delegate tries for the workshop, half through each instance. Only confirmed ones may.
        people = [
            (s.response.json()["id"], s.response.json()["manage_token"])
            for s in sent
            if s.response is not None
        ]
        booked = asyncio.run(_book_across([b, a], people, str(seeded.session_id)))
        assert Counter(booked) == {
            (201, "booked"): SEATS,
            (201, "waitlisted"): CAPACITY - SEATS,
            (409, "registration_not_confirmed"): RUSH - CAPACITY,
        }, Counter(booked)

        # Both instances' four mail workers drain one outbox: each email sent once, by exactly one of them.
        rows = wait_until_sent(pg_url)

    snap = check_invariants(pg_url, sent, seats=SEATS)
    assert len(rows) == RUSH and all(r.kind == "registration" for r in rows)
    assert sum(s.status.value == "booked" for s in snap.seats) == SEATS
    messages = mailbox.messages
    assert len(messages) == len(rows)
    assert deliveries(messages) == Counter({r.id: 1 for r in rows})
    per_recipient = Counter(str(m["To"]) for m in messages)
    assert per_recipient == Counter({s.body["email"]: 1 for s in sent})
