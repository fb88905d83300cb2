"""What organisers and speakers see of the feedback, and that nobody is named anywhere: per-session results
(distribution, average), the questions editor, the speaker's own sessions only (and only from three answers), the
CSV export without personal data, the delegate's own answers in their data export, and erasure unlinking them."""

from __future__ import annotations

import csv
import io
import uuid

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference import personal_data
from conference.core.db import Database
from conference.core.models import AuditEntry, Registration
from conference.core.settings import Settings
from conference.places import get_conference
from sessions.feedback import answers, results
from sessions.feedback.questions import all_questions
from sessions.models import SessionTalk
from sessions.models.feedback import EVENT
from tests.factories import ORGANISER, set_call
from tests.sessions.feedback_world import PastEvent, answers_in_db, check_in, delegate, past_event
from tests.support import csrf, organiser_token, sign_in, submit

COMMENTS = ["Zesty and practical.", "A bit long.", "Mostly useful for councils.", "Loved the case study."]


@pytest.fixture
async def event(database: Database) -> PastEvent:
    return await past_event(database)


async def _rate(
    client: httpx.AsyncClient, database: Database, event: PastEvent, ratings: list[int], session: str = "A"
) -> list[dict[str, str]]:
    """A delegate for each rating, checked in at the door and to the session, who rates it (with a comment)."""
    people = []
    for i, rating in enumerate(ratings):
        person = await delegate(client, event, name=f"Rater Person{i}", organisation=f"Org{i} Council")
        await check_in(database, person, "door")
        await check_in(database, person, str(event.programme.sessions[session]))
        url = f"/manage/{person['manage_token']}/feedback/{event.programme.sessions[session]}"
        form = await client.get(url)
        data = {"csrf_token": csrf(form.text), "rating": str(rating), "comment": COMMENTS[i % len(COMMENTS)]}
        done = await client.post(url, data=data)
        assert done.status_code == 303, done.text
        people.append(person)
    return people


async def test_per_session_results_have_the_distribution_and_average(
    client: httpx.AsyncClient, database: Database, event: PastEvent
) -> None:
    await _rate(client, database, event, [5, 4, 4, 2])
    await _rate(client, database, event, [3], session="B")
    async with database.read() as db:
        conference = await get_conference(db)
        summary = {s.target.key: s.ratings for s in await results.summaries(db, conference)}
    a = summary[str(event.programme.sessions["A"])]
    assert a.counts == [0, 1, 0, 2, 1]
    assert a.count == 4
    assert a.average == pytest.approx(3.75)
    assert summary[str(event.programme.sessions["B"])].average == 3
    assert summary[str(event.programme.sessions["C"])].count == 0
    assert summary[EVENT].average is None

    organiser = await organiser_token(database)
    await sign_in(client, organiser)
    page = await client.get("/console/feedback")
    assert page.status_code == 200
    assert "3.8" in page.text and "from 4 answers" in page.text
    detail = await client.get(f"/console/feedback/{event.programme.sessions['A']}")
    assert detail.status_code == 200
    positions = [detail.text.index(c) for c in sorted(COMMENTS, key=str.casefold)]
    assert positions == sorted(positions)  # in alphabetical order, not the order they came in
    assert "Rater Person" not in detail.text and "Org0 Council" not in detail.text
    assert (await client.get(f"/console/feedback/{uuid.uuid4()}")).status_code == 404


async def test_organisers_edit_reorder_and_deactivate_questions(
    client: httpx.AsyncClient, database: Database, event: PastEvent
) -> None:
    await sign_in(client, await organiser_token(database))
    page = await client.get("/console/feedback")
    token = csrf(page.text)
    empty = await client.post(
        "/console/feedback/questions", data={"csrf_token": token, "text": " ", "kind": "rating"}
    )
    assert empty.status_code == 422
    assert "Enter the question." in empty.text
    bad_kind = await client.post(
        "/console/feedback/questions",
        data={"csrf_token": token, "text": "Pace?", "kind": "stars", "applies_to": "both"},
    )
    assert bad_kind.status_code == 422
    assert "Choose how the question is answered." in bad_kind.text
    assert 'value="Pace?"' in bad_kind.text  # what was typed is kept
    for text, kind in (("How useful was it?", "rating"), ("What would you change?", "text")):
        added = await client.post(
            "/console/feedback/questions",
            data={"csrf_token": token, "text": text, "kind": kind, "applies_to": "both"},
        )
        assert added.status_code == 303, added.text
    page = await client.get("/console/feedback")
    assert page.text.index("How useful was it?") < page.text.index("What would you change?")
    async with database.read() as db:
        conference = await get_conference(db)
        assert conference.id is not None
        useful, change = await all_questions(db, conference.id)
    moved = await client.post(
        f"/console/feedback/questions/{change.id}/move", data={"csrf_token": token, "direction": "up"}
    )
    assert moved.status_code == 303
    edited = await client.post(
        f"/console/feedback/questions/{useful.id}",
        data={
            "csrf_token": token,
            f"text-{useful.id}": "How useful was it to you?",
            f"applies_to-{useful.id}": "sessions",
        },
    )
    assert edited.status_code == 303
    refused = await client.post(
        f"/console/feedback/questions/{useful.id}",
        data={"csrf_token": token, f"text-{useful.id}": "", f"applies_to-{useful.id}": "sessions"},
    )
    assert refused.status_code == 422
    assert f'id="text-{useful.id}-error"' in refused.text
    off = await client.post(
        f"/console/feedback/questions/{change.id}/active", data={"csrf_token": token, "active": ""}
    )
    assert off.status_code == 303
    page = await client.get("/console/feedback")
    assert page.text.index("What would you change?") < page.text.index("How useful was it to you?")
    assert "not asked" in page.text

    person = await delegate(client, event)
    await check_in(database, person, "door")
    await check_in(database, person, str(event.programme.sessions["A"]))
    form = await client.get(f"/manage/{person['manage_token']}/feedback/{event.programme.sessions['A']}")
    assert "How useful was it to you?" in form.text and "What would you change?" not in form.text
    event_form = await client.get(f"/manage/{person['manage_token']}/feedback/event")
    assert "How useful was it to you?" not in event_form.text  # now asked about sessions only
    async with database.read() as db:
        logged = (
            await db.execute(
                sa.select(col(AuditEntry.data)).where(
                    col(AuditEntry.action) == "sessions.feedback.question_changed"
                )
            )
        ).scalars()
        changes = sorted(d["change"] for d in logged)
    assert changes == ["added", "added", "deactivated", "edited", "moved_up"]


async def test_a_speaker_sees_only_their_sessions_and_only_from_three_answers(
    client: httpx.AsyncClient, database: Database, event: PastEvent
) -> None:
    await set_call(database, open_=True)
    mine = await submit(client)
    other = await submit(client)
    async with database.transaction() as db:
        db.add(
            SessionTalk(programme_session_id=event.programme.sessions["A"], proposal_id=uuid.UUID(mine["id"]))
        )
        db.add(
            SessionTalk(
                programme_session_id=event.programme.sessions["B"], proposal_id=uuid.UUID(other["id"])
            )
        )
    url = f"/proposal/{mine['edit_token']}/feedback"
    await _rate(client, database, event, [5, 4])
    await _rate(client, database, event, [1, 1, 1], session="B")
    early = await client.get(url)
    assert early.status_code == 200
    assert "2 answers so far: results appear once at least 3 people have answered" in early.text
    assert "Zesty and practical." not in early.text
    await _rate(client, database, event, [3])
    page = await client.get(url)
    assert "Workshop A" in page.text and "Workshop B" not in page.text
    assert "4.0" in page.text and "from 3 answers" in page.text
    for comment in ("Zesty and practical.", "A bit long."):
        assert comment in page.text
    assert "Rater Person" not in page.text
    assert (await client.get(f"/proposal/p_{uuid.uuid4().hex}/feedback")).status_code == 404


async def test_the_csv_export_holds_no_personal_data(
    client: httpx.AsyncClient, database: Database, event: PastEvent
) -> None:
    people = await _rate(client, database, event, [5, 2, 4])
    async with database.read() as db:
        registrations = [await db.get(Registration, uuid.UUID(p["id"])) for p in people]
    token = await organiser_token(database)
    await sign_in(client, token)
    response = await client.get("/console/feedback.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Session", "Kind", "Starts", "Rating (1-5)", "Comment"]
    assert sorted(r[3] for r in rows[1:]) == ["2", "4", "5"]
    assert [r[3] for r in rows[1:]] == ["2", "4", "5"]  # sorted by what they say, not by who or when
    for r in registrations:
        assert r is not None
        for personal in (r.name, r.email, r.reference, str(r.id), r.organisation, r.id.hex):
            assert personal not in text, personal
    for a in await answers_in_db(database):
        for stamp in (a.created_at.isoformat(), a.created_at.strftime("%H:%M:%S")):
            assert stamp not in text
    async with database.read() as db:
        audited = (
            await db.execute(
                sa.select(col(AuditEntry.data)).where(col(AuditEntry.action) == "sessions.feedback.exported")
            )
        ).scalar_one()
    assert audited == {"rows": 3}


async def test_erasure_keeps_the_answer_but_unlinks_it_and_the_export_has_own_answers(
    client: httpx.AsyncClient, database: Database, event: PastEvent, settings: Settings
) -> None:
    [person, other] = await _rate(client, database, event, [4, 2])
    rid = uuid.UUID(person["id"])
    async with database.read() as db:
        data = await personal_data.export_for(db, registration_id=rid)
    [mine] = data["session_feedback"]
    assert (mine["about"], mine["rating"], mine["comment"]) == ("Workshop A", 4, "Zesty and practical.")
    async with database.transaction() as db:
        await personal_data.erase(
            db, settings=settings, registration_id=rid, actor=ORGANISER, reason="delegate_request"
        )
    stored = await answers_in_db(database)
    assert sorted((a.rating, a.registration_id) for a in stored if a.rating == 4) == [(4, None)]
    assert [a.registration_id for a in stored if a.rating == 2] == [uuid.UUID(other["id"])]
    async with database.read() as db:
        conference = await get_conference(db)
        info = await results.target_info(db, conference, str(event.programme.sessions["A"]))
        assert info is not None
        result = await results.target_result(db, conference, info)
        assert result.ratings.count == 2  # the erased delegate's answer still counts
        assert await answers.answers_of(db, rid) == {}
