"""Group bookings of 1-20 and single registrations race for the last 50 places on real uvicorn processes
(2 workers), on SQLite and PostgreSQL (whatever CONFERENCE_TEST_DATABASE says).

A group is all or nothing (conference/groups.py `book_group`, under the one capacity lock that single
registrations take too): every member holds a place, or the group is refused with 409 `not_enough_places` and
`remaining`, and leaves no row behind. Places are only taken during the race, never given back, so the free
places only go down: a refused group saw at most as many places as it asked for minus one, and at least as many
as are left at the end; a single registration put on the waiting list proves that none were left.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference.core.db import Database
from conference.core.models import HOLDING, Registration
from tests import support
from tests.factories import make_conference, registration_body
from tests.support import make_settings

pytestmark = pytest.mark.race

CAPACITY = 100
LEFT = 50  # places still free when the race starts
GROUPS = 14  # groups of 1-20 (sizes drawn with a fixed seed: about 150 places asked for)
SINGLES = 40
HOLDING_VALUES = {s.value for s in HOLDING}


async def _seed(url: str) -> uuid.UUID:
    database = Database.from_settings(make_settings(url))
    try:
        tickets = await make_conference(database, capacity=CAPACITY)
    finally:
        await database.dispose()  # before the server starts: no connection of ours outlives the seeding
    return tickets["delegate"]  # free, no approval: a place is `confirmed`


async def _registrations(url: str) -> tuple[list[Registration], int]:
    """Every registration in arrival order, and how many group bookings were stored."""
    database = Database.from_settings(make_settings(url))
    try:
        async with database.read() as db:
            registrations = list(
                (await db.execute(sa.select(Registration).order_by(col(Registration.number)))).scalars()
            )
            groups = int((await db.execute(sa.text("SELECT count(*) FROM group_booking"))).scalar_one())
        return registrations, groups
    finally:
        await database.dispose()


def group_body(ticket: uuid.UUID, size: int, **overrides: Any) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    body: dict[str, Any] = {
        "ticket_type_id": str(ticket),
        "lead": {"name": f"Lead {tag}", "email": f"lead-{tag}@leeds.gov.uk", "attends": False},
        "organisation": "Leeds City Council",
        "sector": "local_authority",
        "members": [
            {"name": f"Member {i} {tag}", "email": f"member{i}-{tag}@leeds.gov.uk"} for i in range(size)
        ],
        "payment_method": "none",
        "if_full": "refuse",
    }
    body.update(overrides)
    return body


def remaining_of(answer: httpx.Response) -> int:
    """The `remaining` a 409 not_enough_places carries (beside the code, or in the body's top level)."""
    body = answer.json()
    error = body.get("error", {})
    value = error.get("remaining", body.get("remaining"))
    assert isinstance(value, int), body
    return value


def _describe(responses: list[httpx.Response]) -> str:
    codes = Counter(r.status_code for r in responses)
    bodies = Counter(r.text[:160] for r in responses if r.status_code not in (201, 409))
    return f"status codes {dict(codes)}; other bodies {dict(bodies.most_common(3))}"


async def _post_all(base: str, calls: list[tuple[str, dict[str, Any]]]) -> list[httpx.Response]:
    """Every (path, body) POSTed at once, each on its own connection; answers in the order given."""
    limits = httpx.Limits(max_connections=len(calls), max_keepalive_connections=len(calls))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        return await asyncio.gather(*[client.post(path, json=body) for path, body in calls])


def test_groups_and_singles_racing_for_the_last_places_never_oversell_nor_split_a_group(
    race_url: str, tmp_path: Path
) -> None:
    ticket = asyncio.run(_seed(race_url))
    rng = random.Random(20)
    sizes = [rng.randint(1, 20) for _ in range(GROUPS)]
    assert sum(sizes) + SINGLES > 3 * LEFT  # far more asked for than there is
    groups = [group_body(ticket, n) for n in sizes]
    singles = [registration_body(ticket) for _ in range(SINGLES)]
    calls: list[tuple[str, dict[str, Any]]] = [("/api/v1/groups", g) for g in groups]
    calls += [("/api/v1/registrations", s) for s in singles]
    rng.shuffle(calls)  # groups and singles interleaved, all in flight together

    with support.live_server(race_url, workers=2, log_path=tmp_path / "server.log") as base:
        # The first 50 places go before the race.
        before = asyncio.run(
            _post_all(
                base, [("/api/v1/registrations", registration_body(ticket)) for _ in range(CAPACITY - LEFT)]
            )
        )
        assert [r.status_code for r in before] == [201] * (CAPACITY - LEFT), _describe(before)
        answers = asyncio.run(_post_all(base, calls))
        counts = httpx.get(f"{base}/api/v1/conference", timeout=10).json()

    by_body = {id(body): answer for (_, body), answer in zip(calls, answers, strict=True)}
    group_answers = [by_body[id(g)] for g in groups]
    single_answers = [by_body[id(s)] for s in singles]
    assert all(a.status_code == 201 for a in single_answers), _describe(single_answers)
    assert all(a.status_code in (201, 409) for a in group_answers), _describe(group_answers)
    single_statuses = Counter(a.json()["status"] for a in single_answers)
    assert set(single_statuses) <= {"confirmed", "waitlisted"}, single_statuses

    registrations, stored_groups = asyncio.run(_registrations(race_url))
    holding = [r for r in registrations if r.status in HOLDING]
    left = CAPACITY - len(holding)
    # Never oversold.
    assert 0 <= left <= LEFT, (len(holding), CAPACITY)
    if single_statuses["waitlisted"]:
        assert left == 0, "a delegate was put on the waiting list while places were free"

    booked: dict[str, int] = {}  # group id -> size, for the groups that got their places
    for body, answer in zip(groups, group_answers, strict=True):
        size = len(body["members"])
        if answer.status_code == 201:
            group = answer.json()
            members = group["members"]
            assert len(members) == size, group
            assert all(m["status"] in HOLDING_VALUES for m in members), group
            assert {m["email"].lower() for m in members} == {m["email"].lower() for m in body["members"]}
            booked[group["id"]] = size
        else:
            error = answer.json()["error"]
            assert error["code"] == "not_enough_places", answer.text
            remaining = remaining_of(answer)
            # It saw fewer places than it needed, and no fewer than are left now (places only went).
            assert left <= remaining < size, (remaining, size, left)
    print(
        f"group sizes {sizes}; booked {sorted(booked.values())}; singles {dict(single_statuses)}; left {left}"
    )

    # All or nothing, in the rows: each booked group holds exactly its size, a refused one left nothing.
    by_group = Counter(str(r.group_id) for r in registrations if r.group_id is not None)
    assert dict(by_group) == booked
    assert all(r.status in HOLDING for r in registrations if r.group_id is not None)
    assert stored_groups == len(booked)
    refused_emails = {
        m["email"].lower()
        for body, answer in zip(groups, group_answers, strict=True)
        if answer.status_code == 409
        for m in body["members"]
    }
    assert not refused_emails & {r.email_key for r in registrations}

    expected = (CAPACITY - LEFT) + sum(booked.values()) + single_statuses["confirmed"]
    assert len(holding) == expected
    assert len(registrations) == expected + single_statuses["waitlisted"]
    # One counter, bumped under the one lock by both paths: every arrival number once.
    assert sorted(r.number for r in registrations) == list(range(1, len(registrations) + 1))
    assert (counts["registered"], counts["remaining"], counts["waitlisted"]) == (
        len(holding),
        left,
        single_statuses["waitlisted"],
    )
