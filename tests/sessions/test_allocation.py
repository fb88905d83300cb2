"""The fair allocation: the optimiser on its own (small cases with known answers, and the conference-sized
generated instance against the first-come baseline), then end to end through the organiser's API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import OutboxEmail
from sessions.models import AllocationRun, SeatBooking, SeatStatus
from sessions.workshops import allocation, synthetic
from sessions.workshops.allocation import Delegate, Instance, Workshop
from tests.factories import Programme, make_conference, make_programme
from tests.support import bearer, count_rows, csrf, organiser_token, register, sign_in, staff_token


def one_slot(key: str, slot: int, seats: int, span: int = 1) -> Workshop:
    return Workshop(key=key, start=slot, slots=frozenset(range(slot, slot + span)), seats=seats)


# --- the optimiser on its own ----------------------------------------------------------------------------


def test_a_second_choice_taken_early_does_not_cost_a_later_delegate_their_only_choice() -> None:
    instance = Instance(
        workshops=[one_slot("A", 0, 1), one_slot("B", 0, 1)],
        delegates=[Delegate("early", {0: 1, 1: 2}), Delegate("late", {0: 1})],
    )
    assert allocation.first_come(instance) == [[0], []]  # early takes A; late is left with nothing
    result = allocation.solve(instance)
    assert result.status == "optimal"
    assert result.assignment == [[1], [0]]


def test_losses_are_spread_rather_than_landing_on_the_same_delegate() -> None:
    # Two slots, one seat each, two delegates who want both: first come gives the early one everything.
    instance = Instance(
        workshops=[one_slot("A", 0, 1), one_slot("B", 1, 1)],
        delegates=[Delegate("early", {0: 1, 1: 1}), Delegate("late", {0: 1, 1: 1})],
    )
    assert allocation.first_come(instance) == [[0, 1], []]
    result = allocation.solve(instance)
    assert sorted(len(given) for given in result.assignment) == [1, 1]
    base, fair = allocation.figures(instance, [[0, 1], []]), allocation.figures(instance, result.assignment)
    assert fair["most_slots_missed_by_one_delegate"] == 1 < base["most_slots_missed_by_one_delegate"] == 2
    # The solver's objective is the documented one: rank costs plus the convex miss penalty (here each
    # delegate misses one of two slots), less the constant penalty of missing everything.
    expected = 2 * allocation.miss_penalty(1) - 2 * allocation.miss_penalty(2)
    assert int(result.stages[0]["objective"] // 1) == expected


def test_multi_slot_workshops_fill_every_slot_they_span_and_held_seats_are_respected() -> None:
    workshops = [
        one_slot("Long", 0, 5, span=2),
        one_slot("A", 0, 5),
        one_slot("B", 1, 5),
        one_slot("C", 2, 5),
    ]
    instance = Instance(
        workshops=workshops,
        delegates=[
            # Long (first choice) covers slots 0 and 1, so B (first choice at slot 1) cannot be added to it.
            Delegate("long-first", {0: 1, 1: 2, 2: 1}),
            # Holds a seat at slot 1 already, so Long would clash: A and C instead.
            Delegate("busy", {0: 1, 1: 2, 3: 1}, busy=frozenset({1})),
        ],
    )
    result = allocation.solve(instance)
    assert allocation.check(instance, result.assignment) == []
    assert result.assignment == [[0], [1, 3]]


def test_capacity_is_never_exceeded_even_when_everyone_wants_the_same_workshop() -> None:
    instance = Instance(
        workshops=[one_slot("Popular", 0, 3), one_slot("Other", 0, 100)],
        delegates=[Delegate(f"d{i}", {0: 1, 1: 2}) for i in range(50)],
    )
    result = allocation.solve(instance)
    assert allocation.check(instance, result.assignment) == []
    assert sum(1 for given in result.assignment if given == [0]) == 3
    assert sum(1 for given in result.assignment if given == [1]) == 47


def test_check_reports_overfull_workshops_and_clashes() -> None:
    instance = Instance(
        workshops=[one_slot("A", 0, 1), one_slot("Long", 0, 1, span=2)],
        delegates=[Delegate("x", {0: 1, 1: 2}), Delegate("y", {0: 1})],
    )
    problems = allocation.check(instance, [[0, 1], [0]])
    assert any("time clash" in p for p in problems)
    assert any("holds 2 delegates in 1 seats" in p for p in problems)


@pytest.fixture(scope="module")
def conference_sized() -> Instance:
    instance = synthetic.ranked_instance(delegates=1_000, slots=10, rooms=synthetic.VENUE, seed=7)
    assert len(instance.delegates) == 1_000 and len(synthetic.VENUE) == 6
    assert any(len(w.slots) == 2 for w in instance.workshops)  # multi-slot workshops are in the mix
    return instance


def test_conference_sized_allocation_beats_first_come_on_first_choices_and_the_worst_off(
    conference_sized: Instance,
) -> None:
    instance = conference_sized
    baseline = allocation.first_come(instance)
    result = allocation.solve(instance, seed=1)
    assert result.status == "optimal"
    assert allocation.check(instance, baseline) == []
    assert allocation.check(instance, result.assignment) == []
    base, fair = allocation.figures(instance, baseline), allocation.figures(instance, result.assignment)
    assert fair["first_choice_share"] > base["first_choice_share"]
    assert fair["worst_off_disappointment"] < base["worst_off_disappointment"]
    assert fair["most_slots_missed_by_one_delegate"] < base["most_slots_missed_by_one_delegate"]
    assert fair["seats_given"] >= base["seats_given"]


def test_same_seed_same_seats_and_another_seed_only_breaks_ties_differently() -> None:
    instance = synthetic.ranked_instance(delegates=300, slots=4, seed=11)
    first = allocation.solve(instance, seed=3)
    again = allocation.solve(instance, seed=3)
    other = allocation.solve(instance, seed=4)
    assert first.assignment == again.assignment
    assert other.assignment != first.assignment
    # Only ties change: the real (unscaled) objective is the same optimum.
    assert int(first.stages[0]["objective"]) == int(other.stages[0]["objective"])


# --- through the API -------------------------------------------------------------------------------------


@pytest.fixture
async def prog(database: Database) -> tuple[dict[str, Any], Programme]:
    tickets = await make_conference(database, capacity=50)
    return tickets, await make_programme(database, small_capacity=2)


async def rank(
    client: httpx.AsyncClient, person: dict[str, Any], ranking: list[tuple[Any, int]]
) -> httpx.Response:
    body = {"choices": [{"session_id": str(s), "rank": r} for s, r in ranking]}
    return await client.put(
        f"/api/v1/registrations/{person['id']}/choices", json=body, headers=bearer(person["manage_token"])
    )


async def test_allocation_previews_then_books_seats_and_opens_first_come_booking(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme], database: Database
) -> None:
    tickets, p = prog
    organiser = bearer(await organiser_token(database))
    assert (
        await client.patch(
            "/api/v1/seat-booking", json={"choices_open": True, "booking_open": False}, headers=organiser
        )
    ).status_code == 200
    people = [await register(client, tickets["delegate"]) for _ in range(4)]
    # Everyone wants A (2 seats) in slot 0; the first two would also take B; the last two have no second choice.
    for i, person in enumerate(people):
        ranking = [(p.sessions["A"], 1)] + ([(p.sessions["B"], 2)] if i < 2 else []) + [(p.sessions["C"], 1)]
        response = await rank(client, person, ranking)
        assert response.status_code == 200, response.text

    preview = await client.post("/api/v1/allocation", json={"seed": 5}, headers=organiser)
    assert preview.status_code == 200, preview.text
    report = preview.json()
    assert report["applied"] is False and report["status"] == "optimal"
    assert report["allocation"]["nothing_share"] < report["first_come_baseline"]["nothing_share"]
    assert report["allocation"]["seats_given"] == 6  # A: 2, B: 2, C: 2
    assert await count_rows(database, SeatBooking) == 0  # a preview books nothing

    applied = await client.post("/api/v1/allocation", json={"seed": 5, "apply": True}, headers=organiser)
    assert applied.status_code == 200, applied.text
    assert applied.json()["allocation"] == report["allocation"]
    async with database.read() as db:
        seats = (await db.execute(sa.select(SeatBooking))).scalars().all()
        runs = (await db.execute(sa.select(AllocationRun).order_by(AllocationRun.id))).scalars().all()
        mails = (
            (await db.execute(sa.select(OutboxEmail).where(OutboxEmail.kind == "allocation"))).scalars().all()
        )
    assert {s.status for s in seats} == {SeatStatus.booked} and {s.source for s in seats} == {"allocation"}
    by_session: dict[Any, set[Any]] = {}
    for s in seats:
        by_session.setdefault(s.session_id, set()).add(str(s.registration_id))
    assert len(by_session[p.sessions["A"]]) == 2 and len(by_session[p.sessions["C"]]) == 2
    # Those without a second choice are the ones who get A; those with B as their second take it.
    assert by_session[p.sessions["A"]] == {people[2]["id"], people[3]["id"]}
    assert by_session[p.sessions["B"]] == {people[0]["id"], people[1]["id"]}
    assert [r.applied for r in runs] == [False, True] and runs[1].figures["run_id"] == runs[1].id
    assert len(mails) == 4
    assert (await client.get("/api/v1/seat-booking")).json() == {"choices_open": False, "booking_open": True}

    # Ranking is over; what is left is first come, first served.
    assert (await rank(client, people[0], [(p.sessions["A"], 1)])).json()["error"]["code"] == "choices_closed"
    late = await register(client, tickets["delegate"])
    response = await client.post(
        f"/api/v1/registrations/{late['id']}/sessions",
        json={"session_id": str(p.sessions["A"])},
        headers=bearer(late["manage_token"]),
    )
    assert response.json()["status"] == "waitlisted"
    sessions = {s["title"]: s for s in (await client.get("/api/v1/sessions")).json()}
    assert (sessions["Workshop A"]["booked"], sessions["Workshop A"]["remaining"]) == (2, 0)


async def test_allocation_input_and_roles_are_checked(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme], database: Database
) -> None:
    _tickets, _p = prog
    organiser = bearer(await organiser_token(database))
    staff = bearer(await staff_token(database))
    assert (await client.post("/api/v1/allocation", json={}, headers=staff)).status_code == 403
    assert (await client.post("/api/v1/allocation", json={})).status_code == 401
    response = await client.post(
        "/api/v1/allocation", json={"seed": "x", "apply": "yes", "speed": 1}, headers=organiser
    )
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) == {"seed", "apply", "speed"}
    response = await client.post("/api/v1/allocation", json={"time_limit_seconds": 0}, headers=organiser)
    assert set(response.json()["error"]["fields"]) == {"time_limit_seconds"}
    response = await client.post("/api/v1/allocation", json={}, headers=organiser)
    assert response.status_code == 409 and response.json()["error"]["code"] == "nothing_to_allocate"
    assert await count_rows(database, AllocationRun) == 0


async def test_organiser_previews_and_applies_the_allocation_from_the_console(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme], database: Database
) -> None:
    tickets, p = prog
    organiser = await organiser_token(database)
    await client.patch(
        "/api/v1/seat-booking", json={"choices_open": True, "booking_open": False}, headers=bearer(organiser)
    )
    for _ in range(3):
        assert (
            await rank(client, await register(client, tickets["delegate"]), [(p.sessions["A"], 1)])
        ).status_code == 200
    await sign_in(client, organiser)
    page = await client.get("/console/programme", headers={"accept": "text/html"})
    assert "allocation-figures" not in page.text

    bad = await client.post(
        "/console/programme/allocation", data={"csrf_token": csrf(page.text), "seed": "one"}
    )
    assert bad.status_code == 422 and 'id="seed-error"' in bad.text and 'value="one"' in bad.text
    preview = await client.post(
        "/console/programme/allocation",
        data={"csrf_token": csrf(page.text), "seed": "2", "action": "preview"},
    )
    assert preview.status_code == 303 and "previewed" in preview.headers["location"]
    assert await count_rows(database, SeatBooking) == 0
    applied = await client.post(
        "/console/programme/allocation", data={"csrf_token": csrf(page.text), "seed": "2", "action": "apply"}
    )
    assert applied.status_code == 303
    assert await count_rows(database, SeatBooking) == 2  # Workshop A has two seats
    page = await client.get(applied.headers["location"], headers={"accept": "text/html"})
    assert "Allocation applied" in page.text and 'id="allocation-figures"' in page.text
    assert "Last run: applied, seed 2" in page.text
    no_token = await client.post("/console/programme/allocation", data={"seed": "2", "action": "apply"})
    assert no_token.status_code == 403
    assert await count_rows(database, SeatBooking) == 2
