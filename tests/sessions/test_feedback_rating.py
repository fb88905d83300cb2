"""Who may rate what, one answer each (also when two submits race), editable for a week then read-only, and each
kind of bad input refused by name with nothing stored."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference.core.db import Database
from conference.core.models import Conference, utcnow
from conference.core.settings import Settings
from conference.places import get_conference
from sessions.feedback import answers, questions
from sessions.models import AfterEventSettings
from sessions.models.feedback import EVENT, FeedbackAnswer
from tests.factories import ORGANISER
from tests.sessions.feedback_world import (
    PastEvent,
    age_answers,
    answers_in_db,
    check_in,
    delegate,
    past_event,
    session_start,
)
from tests.support import csrf


@pytest.fixture
async def event(database: Database) -> PastEvent:
    return await past_event(database)


async def _conference(database: Database) -> Conference:
    async with database.read() as db:
        return await get_conference(db)


async def _submit(database: Database, person: dict[str, str], target: str, **values: str) -> FeedbackAnswer:
    conference = await _conference(database)
    async with database.transaction() as db:
        answer, _new = await answers.submit_answer(
            db,
            conference=conference,
            registration_id=uuid.UUID(person["id"]),
            target=target,
            values=values,
        )
    return answer


async def _targets(database: Database, person: dict[str, str]) -> list[str]:
    conference = await _conference(database)
    async with database.read() as db:
        return [t.key for t in await answers.rateable_targets(db, conference, uuid.UUID(person["id"]))]


async def test_only_checked_in_delegates_rate_what_they_attended(
    client: httpx.AsyncClient, database: Database, event: PastEvent
) -> None:
    s = event.programme.sessions
    at_a = await delegate(client, event)
    never_in = await delegate(client, event)
    only_room = await delegate(client, event)  # a room's scan but never admitted at the door
    await check_in(database, at_a, "door", await session_start(database, s["A"]))
    await check_in(database, at_a, str(s["A"]))
    await check_in(database, only_room, str(s["B"]))

    # The door's day-1 scan: A and the event; the day-2 plenary is not counted without a door scan that day.
    assert await _targets(database, at_a) == [str(s["A"]), EVENT]
    assert await _targets(database, never_in) == []
    assert await _targets(database, only_room) == []

    # A plenary counts on the door scan of its day, unless the organisers say otherwise.
    await check_in(database, never_in, "door", await session_start(database, s["P"]))
    assert await _targets(database, never_in) == [str(s["P"]), EVENT]
    async with database.transaction() as db:
        conference_id = (await get_conference(db)).id
        assert conference_id is not None
        db.add(AfterEventSettings(conference_id=conference_id, plenaries_on_door_scan=False))
    assert await _targets(database, never_in) == [EVENT]

    await _submit(database, at_a, str(s["A"]), rating="4")
    for person, target in ((at_a, str(s["B"])), (only_room, str(s["B"])), (never_in, str(s["P"]))):
        with pytest.raises(answers.NotAttended):
            await _submit(database, person, target, rating="5")
    with pytest.raises(answers.NotAttended):
        await _submit(database, only_room, EVENT, rating="5")
    assert [(a.target, a.rating) for a in await answers_in_db(database)] == [(str(s["A"]), 4)]


async def test_the_pages_refuse_a_session_not_attended_with_a_clear_page(
    client: httpx.AsyncClient, database: Database, event: PastEvent
) -> None:
    s = event.programme.sessions
    person = await delegate(client, event)
    base = f"/manage/{person['manage_token']}/feedback"
    empty = await client.get(base)
    assert empty.status_code == 200
    assert "There is nothing for you to rate yet" in empty.text

    await check_in(database, person, "door")
    await check_in(database, person, str(s["A"]))
    listed = await client.get(base)
    assert f"{base}/{s['A']}" in listed.text and f"{base}/event" in listed.text
    assert f"{base}/{s['B']}" not in listed.text

    refused = await client.get(f"{base}/{s['B']}")
    assert refused.status_code == 403
    assert "You cannot rate this session" in refused.text
    assert "checked in to" in refused.text
    token = csrf((await client.get(f"{base}/event")).text)
    posted = await client.post(
        f"{base}/{s['B']}", data={"csrf_token": token, "rating": "5", "comment": "Great"}
    )
    assert posted.status_code == 403
    assert "You cannot rate this session" in posted.text
    assert (await client.get(f"{base}/{uuid.uuid4()}")).status_code == 404
    assert (await client.get(f"{base}/not-a-session")).status_code == 404
    assert await answers_in_db(database) == []


async def test_a_session_not_started_yet_cannot_be_rated(
    client: httpx.AsyncClient, database: Database
) -> None:
    event = await past_event(database, started_days_ago=0.5)  # day 2's sessions are tomorrow
    s = event.programme.sessions
    person = await delegate(client, event)
    await check_in(database, person, "door")
    await check_in(database, person, str(s["D"]))  # scanned early, at the door of the room
    page = await client.get(f"/manage/{person['manage_token']}/feedback")
    assert "opens when it starts" in page.text
    form = await client.get(f"/manage/{person['manage_token']}/feedback/{s['D']}")
    assert form.status_code == 409
    assert "Feedback on this opens when it starts" in form.text
    with pytest.raises(answers.FeedbackNotOpen):
        await _submit(database, person, str(s["D"]), rating="3")
    assert await answers_in_db(database) == []


async def test_one_answer_each_editable_for_a_week_then_read_only(
    client: httpx.AsyncClient, database: Database, event: PastEvent
) -> None:
    s = event.programme.sessions
    person = await delegate(client, event)
    await check_in(database, person, "door")
    await check_in(database, person, str(s["A"]))
    url = f"/manage/{person['manage_token']}/feedback/{s['A']}"
    form = await client.get(url)
    assert form.status_code == 200
    assert "without your name" in form.text
    first = await client.post(
        url, data={"csrf_token": csrf(form.text), "rating": "2", "comment": "Too fast."}
    )
    assert first.status_code == 303
    assert "done=given" in first.headers["location"]
    again = await client.get(url)
    assert "you can change it until" in again.text
    assert 'value="2" checked' in again.text
    second = await client.post(
        url, data={"csrf_token": csrf(again.text), "rating": "4", "comment": "Better."}
    )
    assert "done=changed" in second.headers["location"]
    [answer] = await answers_in_db(database)
    assert (answer.rating, answer.comment) == (4, "Better.")

    await age_answers(database, 6.9)  # still within the week
    await _submit(database, person, str(s["A"]), rating="5", comment="Better still.")
    await age_answers(database, 0.2)  # now a little over seven days since it was first given
    locked = await client.get(url)
    assert "read-only now" in locked.text
    assert '<form method="post" action="' + url not in locked.text
    refused = await client.post(
        url, data={"csrf_token": csrf(again.text), "rating": "1", "comment": "Changed!"}
    )
    assert refused.status_code == 409
    assert "read-only" in refused.text
    with pytest.raises(answers.AnswerLocked):
        await _submit(database, person, str(s["A"]), rating="1")
    [answer] = await answers_in_db(database)
    assert (answer.rating, answer.comment) == (5, "Better still.")
    listed = await client.get(f"/manage/{person['manage_token']}/feedback")
    assert "read-only now" in listed.text


async def test_a_double_submit_racing_makes_one_answer(
    client: httpx.AsyncClient, database: Database, event: PastEvent, settings: Settings
) -> None:
    s = event.programme.sessions
    people = [await delegate(client, event) for _ in range(3)]
    for person in people:
        await check_in(database, person, "door")
        await check_in(database, person, str(s["B"]))
    conference = await _conference(database)
    racers = [Database.from_settings(settings) for _ in range(4)]  # each its own engine and sessions

    async def submit(db_: Database, person: dict[str, str], rating: int) -> bool:
        async with db_.transaction() as db:
            _answer, new = await answers.submit_answer(
                db,
                conference=conference,
                registration_id=uuid.UUID(person["id"]),
                target=str(s["B"]),
                values={"rating": str(rating)},
            )
        return new

    try:
        for person in people:
            outcomes = await asyncio.gather(
                *(submit(racer, person, i + 1) for i, racer in enumerate(racers)), return_exceptions=True
            )
            news = [o for o in outcomes if o is True]
            assert len(news) == 1, outcomes  # one made the answer; the others found it and changed it
            assert all(o is False for o in outcomes if o is not True), outcomes
    finally:
        for racer in racers:
            await racer.dispose()
    async with database.read() as db:
        counts = (
            await db.execute(
                sa.select(col(FeedbackAnswer.registration_id), sa.func.count()).group_by(
                    col(FeedbackAnswer.registration_id)
                )
            )
        ).all()
    assert sorted(n for _rid, n in counts) == [1, 1, 1]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rating", "", "Choose a rating from 1 (poor) to 5 (excellent)."),
        ("rating", "6", "Choose a rating from 1 to 5: “6” is not one."),
        ("rating", "0", "Choose a rating from 1 to 5: “0” is not one."),
        ("rating", "three", "Choose a rating from 1 to 5: “three” is not one."),
        ("comment", "x" * 2001, "Keep your comment to 2000 characters or fewer (it has 2001)."),
    ],
)
async def test_bad_input_is_named_on_the_form_and_nothing_is_stored(
    client: httpx.AsyncClient, database: Database, event: PastEvent, field: str, value: str, message: str
) -> None:
    person = await delegate(client, event)
    await check_in(database, person, "door")
    url = f"/manage/{person['manage_token']}/feedback/event"
    form = await client.get(url)
    data = {"csrf_token": csrf(form.text), "rating": "3", "comment": "Kept as typed", field: value}
    refused = await client.post(url, data=data)
    assert refused.status_code == 422
    assert message in refused.text
    assert f'href="#{field}"' in refused.text  # the error summary links to the field
    if field != "comment":
        assert "Kept as typed" in refused.text
    assert await answers_in_db(database) == []


async def test_a_question_not_asked_and_an_overlong_text_answer_are_refused(
    client: httpx.AsyncClient, database: Database, event: PastEvent
) -> None:
    async with database.transaction() as db:
        conference = await get_conference(db)
        assert conference.id is not None
        useful = await questions.add_question(
            db,
            conference_id=conference.id,
            text="How useful was it?",
            kind="rating",
            applies_to="both",
            actor=ORGANISER,
        )
        better = await questions.add_question(
            db,
            conference_id=conference.id,
            text="What would you change?",
            kind="text",
            applies_to="both",
            actor=ORGANISER,
        )
        event_only = await questions.add_question(
            db, conference_id=conference.id, text="Venue?", kind="rating", applies_to="event", actor=ORGANISER
        )
    s = event.programme.sessions
    person = await delegate(client, event)
    await check_in(database, person, "door")
    await check_in(database, person, str(s["A"]))
    url = f"/manage/{person['manage_token']}/feedback/{s['A']}"
    form = await client.get(url)
    assert "How useful was it?" in form.text and "Venue?" not in form.text
    token = csrf(form.text)

    not_asked = await client.post(url, data={"csrf_token": token, "rating": "4", f"q-{event_only.id}": "5"})
    assert not_asked.status_code == 422
    assert "answered a question it no longer asks" in not_asked.text
    unknown = await client.post(url, data={"csrf_token": token, "rating": "4", f"q-{uuid.uuid4()}": "5"})
    assert unknown.status_code == 422
    too_long = await client.post(url, data={"csrf_token": token, "rating": "4", f"q-{better.id}": "y" * 1001})
    assert too_long.status_code == 422
    assert "Keep this answer to 1000 characters or fewer (it has 1001)." in too_long.text
    bad_rating = await client.post(url, data={"csrf_token": token, "rating": "4", f"q-{useful.id}": "9"})
    assert bad_rating.status_code == 422
    assert "What would you change?" in bad_rating.text  # the form again, with its questions
    assert await answers_in_db(database) == []

    ok = await client.post(
        url, data={"csrf_token": token, "rating": "4", f"q-{useful.id}": "5", f"q-{better.id}": "More time"}
    )
    assert ok.status_code == 303
    [answer] = await answers_in_db(database)
    assert answer.answers == {str(useful.id): 5, str(better.id): "More time"}


async def test_feedback_closes_weeks_after_the_event(client: httpx.AsyncClient, database: Database) -> None:
    event = await past_event(database, started_days_ago=40)
    person = await delegate(client, event)
    await check_in(database, person, "door", utcnow() - timedelta(days=40))
    page = await client.get(f"/manage/{person['manage_token']}/feedback")
    assert "Feedback has closed" in page.text
    with pytest.raises(answers.FeedbackNotOpen, match="Feedback closed"):
        await _submit(database, person, EVENT, rating="3")
    form = await client.get(f"/manage/{person['manage_token']}/feedback/event")
    assert form.status_code == 409
    assert "Feedback closed at" in form.text
