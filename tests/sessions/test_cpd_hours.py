"""CPD hours from real check-in rows (sessions/attendance/cpd.py over sessions/workshops/attended.py): partial days,
the daily cap, rounding, a session scanned twice, a plenary by scan and by the door, a cancelled session,
overlapping sessions, the plenary door rule on and off, and a delegate never admitted at the door."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from conference.core.db import Database
from conference.places import get_conference
from sessions.attendance.certificates import issue_context
from sessions.attendance.cpd import CpdResult, Rules, compute_cpd, hours_text
from sessions.models import Kind
from sessions.workshops.attended import Attended, attended_sessions
from tests.factories import Programme, make_conference, make_programme
from tests.sessions.attendance_support import (
    DAY1,
    DAY2,
    at,
    cancel,
    checkin,
    delegate,
    door,
    organiser_scan,
    set_rules,
)

LONDON = ZoneInfo("Europe/London")
A_START = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
C_START = datetime(2026, 12, 8, 11, 30, tzinfo=UTC)
P_START = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)
D_START = datetime(2026, 12, 9, 11, 30, tzinfo=UTC)


@pytest.fixture
async def world(client: httpx.AsyncClient, database: Database) -> tuple[dict[str, uuid.UUID], Programme]:
    tickets = await make_conference(database, capacity=50)
    return tickets, await make_programme(database)


async def cpd_of(database: Database, person: dict[str, Any]) -> CpdResult | None:
    """The delegate's CPD as a certificate would compute it now (None: not admitted at the door)."""
    async with database.transaction() as db:
        context = await issue_context(db)
        conference = await get_conference(db)
        assert conference.id is not None
        found = await attended_sessions(
            db,
            conference_id=conference.id,
            registration_ids=[uuid.UUID(person["id"])],
            plenaries_on_door_scan=context.rules.plenaries_on_door_scan,
            zone=context.zone,
        )
    seen = found.get(uuid.UUID(person["id"]))
    return None if seen is None else compute_cpd(seen, context.rules, context.zone)


def titles(result: CpdResult) -> list[str]:
    return [s["title"] for s in result.sessions]


async def test_a_delegate_only_on_day_one_gets_day_one_only(
    client: httpx.AsyncClient, database: Database, world: Any
) -> None:
    tickets, p = world
    person = await delegate(client, tickets["delegate"])
    await door(database, person, at=DAY1)
    await checkin(database, person, p.sessions["A"], at=at(A_START))
    await checkin(database, person, p.sessions["C"], at=at(C_START))
    result = await cpd_of(database, person)
    assert result is not None
    assert titles(result) == ["Workshop A", "Workshop C"]  # not day 2's plenary: never there
    assert result.days == {"2026-12-08": 120}
    assert result.total_minutes == 120
    assert hours_text(result.total_minutes) == "2 hours"


async def test_the_daily_cap_limits_each_day(
    client: httpx.AsyncClient, database: Database, world: Any
) -> None:
    tickets, p = world
    await set_rules(database, daily_cap_hours=1.5)
    person = await delegate(client, tickets["delegate"])
    await door(database, person, at=DAY1)
    await door(database, person, at=DAY2, result="already_checked_in")  # the door admits once; day 2 is seen
    await checkin(database, person, p.sessions["A"], at=at(A_START))
    await checkin(database, person, p.sessions["C"], at=at(C_START))
    await checkin(database, person, p.sessions["D"], at=at(D_START))
    result = await cpd_of(database, person)
    assert result is not None
    # Day 1: 2 hours, capped at 1.5; day 2: the plenary on the door scan and D, 2 hours, capped at 1.5.
    assert result.days == {"2026-12-08": 90, "2026-12-09": 90}
    assert result.total_minutes == 180
    assert titles(result) == ["Workshop A", "Workshop C", "Opening plenary", "Workshop D"]


async def test_the_total_is_rounded_down(client: httpx.AsyncClient, database: Database, world: Any) -> None:
    tickets, p = world
    # Workshops at 0.75 hours an hour: 45 + 45 = 90 minutes, rounded down to whole hours: 60.
    await set_rules(database, kind_rates={"workshop": 0.75, "plenary": 1.0, "talk": 1.0}, rounding_minutes=60)
    person = await delegate(client, tickets["delegate"])
    await door(database, person)
    await checkin(database, person, p.sessions["A"], at=at(A_START))
    await checkin(database, person, p.sessions["C"], at=at(C_START))
    result = await cpd_of(database, person)
    assert result is not None
    assert result.days == {"2026-12-08": 90}
    assert [s["minutes"] for s in result.sessions] == [45, 45]
    assert result.total_minutes == 60


async def test_a_session_scanned_twice_counts_once(
    client: httpx.AsyncClient, database: Database, world: Any
) -> None:
    tickets, p = world
    person = await delegate(client, tickets["delegate"])
    await door(database, person, at=DAY1)
    await door(database, person, at=DAY2, result="already_checked_in")
    # Workshop A: the room's scan, then a second scan of the same badge (the scanner says already checked in).
    await checkin(database, person, p.sessions["A"], at=at(A_START))
    await checkin(database, person, p.sessions["A"], at=at(A_START, 20), result="already_checked_in")
    # Workshop C: missed by the room, added by an organiser. The plenary: scanned AND on the door scan.
    await organiser_scan(database, person, p.sessions["C"], at=at(C_START))
    await checkin(database, person, p.sessions["P"], at=at(P_START))
    result = await cpd_of(database, person)
    assert result is not None
    assert titles(result) == ["Workshop A", "Workshop C", "Opening plenary"]
    assert [s["via"] for s in result.sessions] == ["scan", "organiser", "scan"]
    assert result.total_minutes == 180


async def test_a_cancelled_session_does_not_count(
    client: httpx.AsyncClient, database: Database, world: Any
) -> None:
    tickets, p = world
    person = await delegate(client, tickets["delegate"])
    await door(database, person)
    await checkin(database, person, p.sessions["A"], at=at(A_START))
    await checkin(database, person, p.sessions["C"], at=at(C_START))
    await cancel(database, p.sessions["C"])
    result = await cpd_of(database, person)
    assert result is not None
    assert titles(result) == ["Workshop A"]
    assert result.total_minutes == 60


async def test_overlapping_sessions_count_their_overlap_once(
    client: httpx.AsyncClient, database: Database, world: Any
) -> None:
    tickets, p = world
    person = await delegate(client, tickets["delegate"])
    await door(database, person)
    # A (10:00-11:00) and Long (10:00-12:30) both scanned: 150 minutes of the day, not 210.
    await checkin(database, person, p.sessions["A"], at=at(A_START))
    await checkin(database, person, p.sessions["Long"], at=at(A_START, 5))
    result = await cpd_of(database, person)
    assert result is not None
    assert result.days == {"2026-12-08": 150}
    assert result.total_minutes == 150
    assert sum(s["minutes"] for s in result.sessions) == 150


@pytest.mark.parametrize(
    ("on_door", "expected"), [(True, ["Opening plenary", "Workshop D"]), (False, ["Workshop D"])]
)
async def test_plenaries_on_the_door_scan_follow_the_rule(
    client: httpx.AsyncClient, database: Database, world: Any, on_door: bool, expected: list[str]
) -> None:
    tickets, p = world
    await set_rules(database, plenaries_on_door_scan=on_door)
    person = await delegate(client, tickets["delegate"])
    await door(database, person, at=DAY2)  # admitted on day 2 only
    await checkin(database, person, p.sessions["D"], at=at(D_START))
    result = await cpd_of(database, person)
    assert result is not None
    assert titles(result) == expected
    assert result.total_minutes == 60 * len(expected)


async def test_a_delegate_never_admitted_at_the_door_gets_nothing(
    client: httpx.AsyncClient, database: Database, world: Any
) -> None:
    tickets, p = world
    person = await delegate(client, tickets["delegate"])
    await door(database, person, result="unpaid")  # refused at the door
    await checkin(database, person, p.sessions["A"], at=at(A_START))  # a room scanned them anyway
    assert await cpd_of(database, person) is None


def _attended(title: str, kind: Kind, start: datetime, minutes: int) -> Attended:
    return Attended(uuid.uuid4(), title, kind, start, start + timedelta(minutes=minutes), "scan")


def test_compute_credits_an_overlap_at_the_higher_rate_and_skips_kinds_that_do_not_count() -> None:
    rules = Rules(kind_rates={"workshop": 0.5, "plenary": 1.0, "talk": 0.0}, rounding_minutes=0)
    start = datetime(2026, 12, 8, 10, tzinfo=UTC)
    result = compute_cpd(
        [
            _attended("Workshop", Kind.workshop, start, 60),
            _attended("Plenary", Kind.plenary, start + timedelta(minutes=30), 60),  # 30 minutes overlap
            _attended("Talk", Kind.talk, start + timedelta(hours=3), 50),  # rate 0: listed, not counted
        ],
        rules,
        LONDON,
    )
    # Workshop alone 10:00-10:30 at 0.5 = 15; the plenary 10:30-11:30 at 1.0 = 60 (the overlap at its rate).
    assert [(s["title"], s["minutes"]) for s in result.sessions] == [
        ("Workshop", 15),
        ("Plenary", 60),
        ("Talk", 0),
    ]
    assert result.total_minutes == 75


def test_rounding_and_hours_text() -> None:
    start = datetime(2026, 12, 8, 10, tzinfo=UTC)
    fifty = [_attended("Talk", Kind.talk, start, 50)]
    assert compute_cpd(fifty, Rules(kind_rates={}, rounding_minutes=15), LONDON).total_minutes == 45
    assert compute_cpd(fifty, Rules(kind_rates={}, rounding_minutes=0), LONDON).total_minutes == 50
    assert hours_text(45) == "0.75 hours"
    assert hours_text(60) == "1 hour"
    assert hours_text(330) == "5.5 hours"
