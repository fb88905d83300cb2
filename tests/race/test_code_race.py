"""Codes under a rush, on real uvicorn processes (2 workers), on SQLite and PostgreSQL (whatever
CONFERENCE_TEST_DATABASE says): the last uses of a code, and a block of places reserved for a code's holders.

A code's uses are the live registrations carrying its id, counted under the capacity lock (conference/codes.py
`redeem`), so racers can never take more uses than are left. A reserved block counts against the capacity from
its creation: public registrations racing while it is reserved never get its places, and what its holders have
not taken returns to general sale when it lapses. The registration clock (`registration_window.clock`) cannot be
moved inside a uvicorn process and no test-only setting moves it there, so the block's lapse is made by moving
its `reserved_until` into the past in the database: the servers read it on each request.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference import places
from conference.core.code_models import Code
from conference.core.db import Database
from conference.core.models import HOLDING, Registration, Status, utcnow
from tests import support
from tests.factories import make_conference, registration_body
from tests.race.test_group_race import group_body
from tests.support import make_settings

pytestmark = pytest.mark.race

HOLDING_VALUES = {s.value for s in HOLDING}


async def _seed(url: str, *, capacity: int, **code: Any) -> tuple[uuid.UUID, str, uuid.UUID]:
    """The conference (free 'delegate' type: a place is `confirmed`) and one code; (ticket, code text, code id)."""
    database = Database.from_settings(make_settings(url))
    try:
        tickets = await make_conference(database, capacity=capacity)
        async with database.transaction() as db:
            conference = await places.get_conference(db)
            assert conference.id is not None
            row = Code(
                conference_id=conference.id,
                text=f"RACE-{uuid.uuid4().hex[:6].upper()}",
                label="Race test",
                created_by="tests",
                **code,
            )
            db.add(row)
            await db.flush()
            text, code_id = row.text, row.id
    finally:
        await database.dispose()  # before the server starts: no connection of ours outlives the seeding
    return tickets["delegate"], text, code_id


async def _registrations(url: str) -> list[Registration]:
    database = Database.from_settings(make_settings(url))
    try:
        async with database.read() as db:
            return list(
                (await db.execute(sa.select(Registration).order_by(col(Registration.number)))).scalars()
            )
    finally:
        await database.dispose()


async def _lapse(url: str, code_id: uuid.UUID) -> None:
    """The block's time is up: reserved_until a minute ago (see the module's docstring for why not the clock)."""
    database = Database.from_settings(make_settings(url))
    try:
        async with database.transaction() as db:
            await db.execute(
                sa.update(Code)
                .where(col(Code.id) == code_id)
                .values(reserved_until=utcnow() - timedelta(minutes=1))
            )
    finally:
        await database.dispose()


async def _post_all(base: str, calls: list[tuple[str, dict[str, Any]]]) -> list[httpx.Response]:
    """Every (path, body) POSTed at once, each on its own connection; answers in the order given."""
    limits = httpx.Limits(max_connections=len(calls), max_keepalive_connections=len(calls))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        return await asyncio.gather(*[client.post(path, json=body) for path, body in calls])


def post_all(base: str, calls: list[tuple[str, dict[str, Any]]]) -> list[httpx.Response]:
    return asyncio.run(_post_all(base, calls))


def singles(ticket: uuid.UUID, n: int, **overrides: Any) -> list[tuple[str, dict[str, Any]]]:
    return [("/api/v1/registrations", registration_body(ticket, **overrides)) for _ in range(n)]


def counts(base: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{base}/api/v1/conference", timeout=10).json()
    return body


def _describe(responses: list[httpx.Response]) -> str:
    codes = Counter(r.status_code for r in responses)
    bodies = Counter(r.text[:160] for r in responses if r.status_code != 201)
    return f"status codes {dict(codes)}; non-201 bodies {dict(bodies.most_common(3))}"


def refused_for_the_code(answer: httpx.Response) -> bool:
    if answer.status_code != 422:
        return False
    error = answer.json()["error"]
    return error["code"] == "validation_error" and "code" in error.get("fields", {})


def uses(registrations: list[Registration], code_id: uuid.UUID) -> int:
    return sum(r.code_id == code_id and r.status != Status.cancelled for r in registrations)


# --- the tests ----------------------------------------------------------------------------------------------


def test_thirty_racing_for_a_codes_last_five_uses_get_exactly_five(race_url: str, tmp_path: Path) -> None:
    ticket, text, code_id = asyncio.run(_seed(race_url, capacity=200, max_uses=8))
    with support.live_server(race_url, workers=2, log_path=tmp_path / "server.log") as base:
        for call in singles(ticket, 3, code=text):  # three uses taken before the race, one after another
            assert post_all(base, [call])[0].status_code == 201
        racers = singles(ticket, 30, code=text)
        answers = post_all(base, racers)

    won = [a for a in answers if a.status_code == 201]
    lost = [a for a in answers if a.status_code != 201]
    assert len(won) == 5, _describe(answers)
    assert all(a.json()["status"] == "confirmed" for a in won)
    assert len(lost) == 25 and all(refused_for_the_code(a) for a in lost), _describe(lost)

    registrations = asyncio.run(_registrations(race_url))
    assert uses(registrations, code_id) == 8
    assert {str(r.id) for r in registrations if r.code_id == code_id} >= {a.json()["id"] for a in won}
    assert len(registrations) == 8  # the refused left nothing behind


def test_groups_and_singles_racing_for_a_codes_last_uses_never_overuse_nor_split_a_group(
    race_url: str, tmp_path: Path
) -> None:
    """A group uses one use per member, all or none: 12 uses left, groups of 2-4 and singles racing for them."""
    ticket, text, code_id = asyncio.run(_seed(race_url, capacity=200, max_uses=12))
    calls = [("/api/v1/groups", group_body(ticket, 2 + n % 3, code=text)) for n in range(9)]  # 27 uses
    calls += singles(ticket, 6, code=text)
    random.Random(12).shuffle(calls)
    with support.live_server(race_url, workers=2, log_path=tmp_path / "server.log") as base:
        answers = post_all(base, calls)

    assert all(a.status_code == 201 or refused_for_the_code(a) for a in answers), _describe(answers)
    registrations = asyncio.run(_registrations(race_url))
    used = uses(registrations, code_id)
    assert used <= 12, used
    left = 12 - used
    taken, booked = 0, {}
    for (path, body), answer in zip(calls, answers, strict=True):
        size = len(body["members"]) if path == "/api/v1/groups" else 1
        if answer.status_code == 201:
            members = answer.json()["members"] if path == "/api/v1/groups" else [answer.json()]
            assert len(members) == size and all(m["status"] in HOLDING_VALUES for m in members)
            taken += size
            if path == "/api/v1/groups":
                booked[answer.json()["id"]] = size
        else:
            # Uses only went during the race: a refused request asked for more than were left even at the end.
            assert size > left, f"refused a request for {size} uses while {left} were left at the end"
    print(f"uses taken {used} of 12; groups booked {sorted(booked.values())}")
    assert taken == used == len(registrations)
    # All or nothing, in the rows: a booked group holds exactly its size, a refused one left nothing.
    assert Counter(str(r.group_id) for r in registrations if r.group_id is not None) == booked
    assert all(r.code_id == code_id for r in registrations)


def test_a_reserved_block_is_never_sold_to_the_public_in_a_rush(race_url: str, tmp_path: Path) -> None:
    """60 places, 20 reserved for a code: 80 public registrations and 4 public groups race 10 holders."""
    ticket, text, code_id = asyncio.run(
        _seed(
            race_url,
            capacity=60,
            max_uses=20,
            reserved_places=20,
            reserved_until=utcnow() + timedelta(days=7),
        )
    )
    public = singles(ticket, 80) + [("/api/v1/groups", group_body(ticket, 5)) for _ in range(4)]
    holders = singles(ticket, 10, code=text)
    calls = public + holders
    random.Random(60).shuffle(calls)  # holders among the public, all in flight together
    with support.live_server(race_url, workers=2, log_path=tmp_path / "server.log") as base:
        seen = counts(base)
        assert seen["remaining"] == 40, seen  # the block counts against the capacity from its creation
        answers = post_all(base, calls)
        after = counts(base)

    by_body = {id(body): answer for (_, body), answer in zip(calls, answers, strict=True)}
    holder_answers = [by_body[id(b)] for _, b in holders]
    assert all(a.status_code == 201 and a.json()["status"] == "confirmed" for a in holder_answers), _describe(
        holder_answers
    )
    public_answers = [by_body[id(b)] for _, b in public]
    assert all(a.status_code in (201, 409) for a in public_answers), _describe(public_answers)

    registrations = asyncio.run(_registrations(race_url))
    holding = [r for r in registrations if r.status in HOLDING]
    public_holding = [r for r in holding if r.code_id is None]
    # The general places all went (80 singles asked for 40), and not one of the 10 unused block places.
    assert len(public_holding) == 40, Counter(r.status for r in registrations)
    assert uses(registrations, code_id) == 10 and len(holding) == 50
    assert any(r.status == Status.waitlisted for r in registrations)
    assert after["remaining"] == 0, after


def test_a_lapsed_block_returns_to_general_sale(race_url: str, tmp_path: Path) -> None:
    """60 places, 20 reserved: 40 public and 5 holders; once the block lapses its 15 unused places are sold."""
    ticket, text, code_id = asyncio.run(
        _seed(
            race_url,
            capacity=60,
            max_uses=20,
            reserved_places=20,
            reserved_until=utcnow() + timedelta(days=7),
        )
    )
    with support.live_server(race_url, workers=2, log_path=tmp_path / "server.log") as base:
        first = post_all(base, singles(ticket, 40) + singles(ticket, 5, code=text))
        assert all(a.status_code == 201 and a.json()["status"] == "confirmed" for a in first), _describe(
            first
        )
        assert counts(base)["remaining"] == 0
        asyncio.run(_lapse(race_url, code_id))
        assert counts(base)["remaining"] == 15
        second = post_all(base, singles(ticket, 30))
        after = counts(base)

    assert all(a.status_code == 201 for a in second), _describe(second)
    assert Counter(a.json()["status"] for a in second) == {"confirmed": 15, "waitlisted": 15}
    registrations = asyncio.run(_registrations(race_url))
    assert sum(r.status in HOLDING for r in registrations) == 60
    assert uses(registrations, code_id) == 5
    assert (after["remaining"], after["waitlisted"]) == (0, 15)
