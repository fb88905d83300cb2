"""Review and decisions: inviting reviewers, the reviewer's least-privilege view (anonymised), scoring, the
aggregated scores and disagreement, accepting and rejecting (single and bulk), the speakers' confirmation, and
the organisers' console pages."""

from __future__ import annotations

import html
import re
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import AuditEntry, OutboxEmail
from conference.core.settings import Settings
from sessions.models import Proposal, Review
from tests.factories import invite, make_conference, set_call
from tests.support import (
    PROPOSAL_LINK,
    REVIEW_LINK,
    bearer,
    body_of,
    count_rows,
    csrf,
    emails,
    organiser_token,
    register,
    sign_in,
    staff_token,
    submit,
)

HTML = {"accept": "text/html"}
# Personal details the anonymised reviewer must never receive.
SPEAKER = {
    "name": "Zanele Whitmore-Quist",
    "email": "zanele.whitmore@kirklees.gov.uk",
    "organisation": "Kirklees Borough Council",
}
CO_SPEAKER = {
    "name": "Bartholomew Ndiaye",
    "email": "b.ndiaye@westyorkshire.police.uk",
    "organisation": "West Yorkshire Police",
}


@pytest.fixture
async def tickets(database: Database) -> dict[str, Any]:
    tickets = await make_conference(database, capacity=50)
    await set_call(database, open_=True)
    return tickets


def scores(relevance: int, impact: int, transferability: int, comment: str = "") -> dict[str, Any]:
    return {"relevance": relevance, "impact": impact, "transferability": transferability, "comment": comment}


async def test_invited_reviewer_gets_a_private_link_that_only_reviews(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    organiser = bearer(await organiser_token(database))
    invited = await client.post(
        "/api/v1/reviewers",
        json={"name": "Dr Helen Marsh", "email": "helen.marsh@whatworks.org.uk"},
        headers=organiser,
    )
    assert invited.status_code == 201 and invited.json()["reviews"] == 0
    again = await client.post(
        "/api/v1/reviewers",
        json={"name": "Helen", "email": "Helen.Marsh@whatworks.org.uk"},
        headers=organiser,
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_invited"
    bad = await client.post("/api/v1/reviewers", json={"name": "", "email": "helen@"}, headers=organiser)
    assert bad.status_code == 422 and set(bad.json()["error"]["fields"]) == {"name", "email"}

    (message,) = await emails(database, settings, "reviewer_invited")
    assert message["To"] == "helen.marsh@whatworks.org.uk"
    (token,) = REVIEW_LINK.findall(body_of(message))
    reviewer = bearer(token)
    proposal = await submit(client)
    assert (await client.get("/api/v1/review/proposals", headers=reviewer)).status_code == 200
    assert (await client.get(f"/review/{token}", headers=HTML)).status_code == 200

    # Least privilege: nothing an organiser, staff or a delegate may do.
    attendee = await register(client, tickets["delegate"])
    denied = [
        ("GET", "/api/v1/proposals", None),
        ("GET", "/api/v1/proposals/stars", None),
        ("POST", f"/api/v1/proposals/{proposal['id']}/accept", None),
        ("PATCH", "/api/v1/call", {"anonymous_review": False}),
        ("POST", "/api/v1/reviewers", {"name": "X", "email": "x@y.gov.uk"}),
        ("GET", "/api/v1/reviewers", None),
        ("PATCH", f"/api/v1/proposals/{proposal['id']}", {"title": "Mine now"}),
        ("GET", "/api/v1/registrations", None),
        ("GET", f"/api/v1/registrations/{attendee['id']}", None),
        ("GET", f"/api/v1/registrations/{attendee['id']}/stars", None),
        ("POST", "/api/v1/checkins", {"code": "x", "list": "door"}),
    ]
    for method, path, body in denied:
        response = await client.request(method, path, json=body, headers=reviewer)
        assert response.status_code == 403, (method, path, response.text)
    # The review routes are the reviewer's alone.
    others = {
        "anonymous": {},
        "attendee": bearer(attendee["manage_token"]),
        "staff": bearer(await staff_token(database)),
        "organiser": organiser,
        "speaker": bearer(proposal["edit_token"]),
    }
    for role, headers in others.items():
        expected = 401 if role == "anonymous" else 403
        assert (await client.get("/api/v1/review/proposals", headers=headers)).status_code == expected, role
        put = await client.put(
            f"/api/v1/proposals/{proposal['id']}/review", json=scores(3, 3, 3), headers=headers
        )
        assert put.status_code == expected, role

    revoked = await client.delete(f"/api/v1/reviewers/{invited.json()['id']}", headers=organiser)
    assert revoked.status_code == 204
    assert (await client.get("/api/v1/review/proposals", headers=reviewer)).status_code == 401
    assert (await client.get(f"/review/{token}", headers=HTML)).status_code == 404
    listed = (await client.get("/api/v1/reviewers", headers=organiser)).json()["data"]
    assert [(r["name"], r["revoked"]) for r in listed] == [("Dr Helen Marsh", True)]


async def _reviewer_sees(client: httpx.AsyncClient, token: str, proposal_id: str) -> str:
    """Every response a reviewer can get about the proposal, concatenated raw."""
    headers = bearer(token)
    put = await client.put(
        f"/api/v1/proposals/{proposal_id}/review", json=scores(4, 4, 4, "Solid."), headers=headers
    )
    assert put.status_code == 200
    bodies = [put.text]
    for path in (
        "/api/v1/review/proposals",
        f"/api/v1/proposals/{proposal_id}",
        f"/api/v1/proposals/{proposal_id}/review",
    ):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)
        bodies.append(response.text)
    for path in (f"/review/{token}", f"/review/{token}/proposals/{proposal_id}"):
        response = await client.get(path, headers=HTML)
        assert response.status_code == 200, path
        bodies.append(response.text)
    return "\n".join(bodies)


async def test_anonymous_review_hides_who_proposed_the_talk(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    proposal = await submit(client, speakers=[SPEAKER, CO_SPEAKER], access_needs="A seat on stage, please")
    _rid, token = await invite(database, settings)
    raw = await _reviewer_sees(client, token, proposal["id"])
    assert "One front door for children" in raw  # the proposal itself is there
    for person in (SPEAKER, CO_SPEAKER):
        for secret in person.values():
            assert secret not in raw and html.escape(secret) not in raw, secret
    for word in ("Whitmore", "Ndiaye", "Kirklees", "kirklees", "westyorkshire", "A seat on stage"):
        assert word not in raw, word

    # Open review: names and organisations, still never emails nor access needs.
    await set_call(database, open_=True, anonymous=False)
    raw = await _reviewer_sees(client, token, proposal["id"])
    assert SPEAKER["name"] in raw and SPEAKER["organisation"] in raw and CO_SPEAKER["name"] in raw
    assert SPEAKER["email"] not in raw and CO_SPEAKER["email"] not in raw and "A seat on stage" not in raw


async def test_one_review_per_reviewer_per_proposal_and_bad_scores_name_the_field(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    proposal = await submit(client)
    rid, token = await invite(database, settings)
    url = f"/api/v1/proposals/{proposal['id']}/review"
    assert (await client.get(url, headers=bearer(token))).status_code == 404
    first = await client.put(url, json=scores(2, 3, 4, "Promising."), headers=bearer(token))
    assert first.status_code == 200 and first.json()["score"] == 3.0
    second = await client.put(url, json=scores(5, 5, 4, "Better on reflection."), headers=bearer(token))
    assert second.json()["score"] == 4.67 and second.json()["comment"] == "Better on reflection."
    assert await count_rows(database, Review) == 1
    for body, field in (
        (scores(6, 3, 3), "relevance"),
        (scores(3, 0, 3), "impact"),
        ({"relevance": 3, "impact": 3}, "transferability"),
        ({**scores(3, 3, 3), "comment": "x" * 2001}, "comment"),
    ):
        response = await client.put(url, json=body, headers=bearer(token))
        assert response.status_code == 422 and field in response.json()["error"]["fields"], body
    missing = await client.put(
        f"/api/v1/proposals/{uuid.uuid4()}/review", json=scores(3, 3, 3), headers=bearer(token)
    )
    assert missing.status_code == 404
    await client.post(f"/api/v1/proposals/{proposal['id']}/withdraw", headers=bearer(proposal["edit_token"]))
    gone = await client.put(url, json=scores(3, 3, 3), headers=bearer(token))
    assert gone.status_code == 409
    async with database.read() as db:
        saved = (
            (await db.execute(sa.select(AuditEntry).where(AuditEntry.action == "sessions.review.saved")))
            .scalars()
            .all()
        )
    assert len(saved) == 2 and saved[0].actor == f"reviewer:{str(rid)[:8]}"


async def test_scores_aggregate_with_the_disagreement_and_sort(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    split = await submit(client, title="Split opinions")  # reviews 5.0 and 3.0: mean 4.0, SD 1.0, range 2.0
    agreed = await submit(client, title="Agreed")  # reviews 3.0, 3.0, 3.0 (from 2,3,4 / 3,3,3 / 4,3,2)
    single = await submit(client, title="One review")  # 4,4,1 → 3.0
    unreviewed = await submit(client, title="Nobody read me")
    tokens = [(await invite(database, settings, email=f"r{i}@review.gov.uk"))[1] for i in range(3)]
    given = [
        (split, 0, scores(5, 5, 5)),
        (split, 1, scores(3, 3, 3)),
        (agreed, 0, scores(2, 3, 4)),
        (agreed, 1, scores(3, 3, 3)),
        (agreed, 2, scores(4, 3, 2)),
        (single, 2, scores(4, 4, 1)),
    ]
    for proposal, who, body in given:
        response = await client.put(
            f"/api/v1/proposals/{proposal['id']}/review", json=body, headers=bearer(tokens[who])
        )
        assert response.status_code == 200
    organiser = bearer(await organiser_token(database))
    rows = (await client.get("/api/v1/proposals?sort=mean", headers=organiser)).json()["data"]
    by_title = {r["title"]: r["scores"] for r in rows}
    assert by_title["Split opinions"] == {
        "reviews": 2,
        "mean": 4.0,
        "stdev": 1.0,
        "range": 2.0,
        "criteria": {"relevance": 4.0, "impact": 4.0, "transferability": 4.0},
    }
    assert by_title["Agreed"] == {
        "reviews": 3,
        "mean": 3.0,
        "stdev": 0.0,
        "range": 0.0,
        "criteria": {"relevance": 3.0, "impact": 3.0, "transferability": 3.0},
    }
    assert (
        by_title["One review"]["mean"] == 3.0 and by_title["One review"]["criteria"]["transferability"] == 1.0
    )
    assert by_title["Nobody read me"]["reviews"] == 0 and by_title["Nobody read me"]["mean"] is None
    assert [r["title"] for r in rows] == ["Split opinions", "Agreed", "One review", "Nobody read me"]
    most_disputed = (await client.get("/api/v1/proposals?sort=disagreement", headers=organiser)).json()[
        "data"
    ]
    assert most_disputed[0]["title"] == "Split opinions" and most_disputed[-1]["title"] == "Nobody read me"
    fewest = (await client.get("/api/v1/proposals?sort=reviews&order=asc", headers=organiser)).json()["data"]
    assert [r["scores"]["reviews"] for r in fewest] == [0, 1, 2, 3]
    detail = (await client.get(f"/api/v1/proposals/{split['id']}", headers=organiser)).json()
    assert detail["scores"]["stdev"] == 1.0 and sorted(r["score"] for r in detail["reviews"]) == [3.0, 5.0]
    assert unreviewed["status"] == "submitted"


async def test_accept_reject_single_and_bulk_email_every_speaker_and_are_audited(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    a = await submit(client, title="Alpha", speakers=[SPEAKER, CO_SPEAKER])
    b, c, d = [await submit(client, title=t) for t in ("Beta", "Gamma", "Delta")]
    organiser = bearer(await organiser_token(database))
    staff = bearer(await staff_token(database))
    assert (await client.post(f"/api/v1/proposals/{a['id']}/accept", headers=staff)).status_code == 403
    assert (await client.post(f"/api/v1/proposals/{a['id']}/accept")).status_code == 401
    assert (
        await client.post(f"/api/v1/proposals/{a['id']}/accept", headers=bearer(a["edit_token"]))
    ).status_code == 403

    accepted = await client.post(f"/api/v1/proposals/{a['id']}/accept", headers=organiser)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    rejected = await client.post(f"/api/v1/proposals/{d['id']}/reject", headers=organiser)
    assert rejected.json()["status"] == "rejected"
    bulk = await client.post(
        "/api/v1/proposals/decisions",
        headers=organiser,
        json={"decision": "accept", "proposal_ids": [b["id"], c["id"]]},
    )
    assert bulk.status_code == 200 and [r["status"] for r in bulk.json()["data"]] == ["accepted", "accepted"]

    # All or nothing: one proposal that cannot be decided leaves the others as they were.
    await client.post(f"/api/v1/proposals/{c['id']}/confirm", headers=bearer(c["edit_token"]))
    refused = await client.post(
        "/api/v1/proposals/decisions",
        headers=organiser,
        json={"decision": "reject", "proposal_ids": [b["id"], c["id"]]},
    )
    assert refused.status_code == 409 and refused.json()["error"]["fields"] == {
        "proposal_ids.1": "'Gamma' is confirmed."
    }
    unknown = await client.post(
        "/api/v1/proposals/decisions",
        headers=organiser,
        json={"decision": "reject", "proposal_ids": [b["id"], str(uuid.uuid4())]},
    )
    assert unknown.status_code == 422 and "proposal_ids.1" in unknown.json()["error"]["fields"]
    odd = await client.post(
        "/api/v1/proposals/decisions",
        headers=organiser,
        json={"decision": "maybe", "proposal_ids": [b["id"]]},
    )
    assert odd.status_code == 422 and "decision" in odd.json()["error"]["fields"]
    async with database.read() as db:
        assert (await db.get(Proposal, uuid.UUID(b["id"]))).status.value == "accepted"  # type: ignore[union-attr]

    # Changing one's mind before the speakers answer is allowed.
    assert (await client.post(f"/api/v1/proposals/{d['id']}/accept", headers=organiser)).json()[
        "status"
    ] == "accepted"

    sent = await emails(database, settings, "proposal_accepted")
    to_alpha = [m for m in sent if "Alpha" in m["Subject"]]
    assert sorted(m["To"] for m in to_alpha) == sorted([SPEAKER["email"], CO_SPEAKER["email"]])
    contact = next(m for m in to_alpha if m["To"] == SPEAKER["email"])
    assert PROPOSAL_LINK.findall(body_of(contact)) == [a["edit_token"]]
    co = next(m for m in to_alpha if m["To"] == CO_SPEAKER["email"])
    assert PROPOSAL_LINK.findall(body_of(co)) == [] and "Dear Bartholomew Ndiaye" in body_of(co)
    (no,) = await emails(database, settings, "proposal_rejected")
    assert "Delta" in no["Subject"] and "p_" not in body_of(no)
    async with database.read() as db:
        decisions = (
            await db.execute(
                sa.select(AuditEntry.action, AuditEntry.subject, AuditEntry.data)
                .where(AuditEntry.action.in_(["sessions.proposal.accepted", "sessions.proposal.rejected"]))
                .order_by(AuditEntry.id)
            )
        ).all()  # type: ignore[attr-defined]
    assert [(action.rsplit(".", 1)[1], subject) for action, subject, _ in decisions] == [
        ("accepted", a["id"]),
        ("rejected", d["id"]),
        ("accepted", b["id"]),
        ("accepted", c["id"]),
        ("accepted", d["id"]),
    ]
    assert decisions[-1][2] == {"previous": "rejected", "bulk": False} and decisions[2][2]["bulk"] is True


async def test_the_speakers_confirm_or_decline_from_the_link_in_the_email(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    yes, no, never = (
        await submit(client, title="Yes"),
        await submit(client, title="No"),
        await submit(client, title="Never"),
    )
    organiser = bearer(await organiser_token(database))
    await client.post(
        "/api/v1/proposals/decisions",
        headers=organiser,
        json={"decision": "accept", "proposal_ids": [yes["id"], no["id"]]},
    )
    await client.post(f"/api/v1/proposals/{never['id']}/reject", headers=organiser)
    too_soon = await client.post(
        f"/api/v1/proposals/{never['id']}/confirm", headers=bearer(never["edit_token"])
    )
    assert too_soon.status_code == 409 and "rejected" in too_soon.json()["error"]["message"]
    assert (await client.post(f"/api/v1/proposals/{yes['id']}/confirm", headers=organiser)).status_code == 403
    assert (
        await client.post(f"/api/v1/proposals/{yes['id']}/confirm", headers=bearer(no["edit_token"]))
    ).status_code == 403

    # By the page the email links to, without script: the buttons post with the CSRF token.
    link = next(
        PROPOSAL_LINK.findall(body_of(m))[0]
        for m in await emails(database, settings, "proposal_accepted")
        if "Yes" in m["Subject"]
    )
    page = await client.get(f"/proposal/{link}", headers=HTML)
    assert "Yes, we confirm" in page.text and "No, we must decline" in page.text
    forged = await client.post(f"/proposal/{link}/confirm", headers=HTML, data={"csrf_token": "nope"})
    assert forged.status_code == 403
    confirmed = await client.post(
        f"/proposal/{link}/confirm", headers=HTML, data={"csrf_token": csrf(page.text)}
    )
    assert confirmed.status_code == 303
    assert (
        "Confirmed: it will be in the programme" in (await client.get(f"/proposal/{link}", headers=HTML)).text
    )
    twice = await client.post(f"/api/v1/proposals/{yes['id']}/confirm", headers=bearer(link))
    assert twice.status_code == 409

    declined = await client.post(f"/api/v1/proposals/{no['id']}/decline", headers=bearer(no["edit_token"]))
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    # A confirmed speaker who can no longer come says so; the organisers cannot re-decide a confirmed talk.
    assert (await client.post(f"/api/v1/proposals/{yes['id']}/reject", headers=organiser)).status_code == 409
    pulled = await client.post(f"/api/v1/proposals/{yes['id']}/decline", headers=bearer(link))
    assert pulled.json()["status"] == "declined" and pulled.json()["answered_at"]
    statuses = {
        r["title"]: r["status"]
        for r in (await client.get("/api/v1/proposals", headers=organiser)).json()["data"]
    }
    assert statuses == {"Yes": "declined", "No": "declined", "Never": "rejected"}
    async with database.read() as db:
        answers = (
            await db.execute(
                sa.select(AuditEntry.action, AuditEntry.actor)
                .where(AuditEntry.action.in_(["sessions.proposal.confirmed", "sessions.proposal.declined"]))
                .order_by(AuditEntry.id)
            )
        ).all()  # type: ignore[attr-defined]
    assert [a for a, _ in answers] == [
        "sessions.proposal.confirmed",
        "sessions.proposal.declined",
        "sessions.proposal.declined",
    ]
    assert all(actor.startswith("speaker:") for _, actor in answers)


async def test_reviewer_pages_score_without_script(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    proposal = await submit(client)
    _rid, token = await invite(database, settings)
    home = await client.get(f"/review/{token}", headers=HTML)
    assert "You have reviewed 0 of 1" in home.text and "not yet reviewed" in home.text
    page = await client.get(f"/review/{token}/proposals/{proposal['id']}", headers=HTML)
    assert 'for="relevance"' in page.text and 'for="comment"' in page.text
    token_field = csrf(page.text)
    wrong = await client.post(
        f"/review/{token}/proposals/{proposal['id']}",
        headers=HTML,
        data={"csrf_token": token_field, "relevance": "4", "comment": "Keep this text"},
    )
    assert (
        wrong.status_code == 422
        and 'href="#impact"' in wrong.text
        and 'href="#transferability"' in wrong.text
    )
    assert "Keep this text" in wrong.text and re.search(r'name="relevance" value="4" checked', wrong.text)
    done = await client.post(
        f"/review/{token}/proposals/{proposal['id']}",
        headers=HTML,
        data={"csrf_token": token_field, "relevance": "4", "impact": "5", "transferability": "3"},
    )
    assert done.status_code == 303
    assert "You have reviewed 1 of 1" in (await client.get(f"/review/{token}", headers=HTML)).text
    no_csrf = await client.post(
        f"/review/{token}/proposals/{proposal['id']}",
        headers=HTML,
        data={"relevance": "1", "impact": "1", "transferability": "1"},
    )
    assert no_csrf.status_code == 403
    async with database.read() as db:
        saved = (await db.execute(sa.select(Review))).scalar_one()
    assert (saved.relevance, saved.impact, saved.transferability) == (4, 5, 3)


async def test_console_lists_sorts_and_decides_in_bulk(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    low, high = await submit(client, title="Low scorer"), await submit(client, title="High scorer")
    _rid, token = await invite(database, settings)
    await client.put(f"/api/v1/proposals/{low['id']}/review", json=scores(1, 2, 1), headers=bearer(token))
    await client.put(f"/api/v1/proposals/{high['id']}/review", json=scores(5, 5, 4), headers=bearer(token))

    assert (await client.get("/console/proposals", headers=HTML)).status_code == 303  # to /login
    await sign_in(client, await staff_token(database))
    assert (await client.get("/console/proposals", headers=HTML)).status_code == 403
    await sign_in(client, await organiser_token(database))
    page = await client.get("/console/proposals", headers=HTML)
    assert page.status_code == 200 and page.text.index("High scorer") < page.text.index("Low scorer")
    ascending = await client.get("/console/proposals?sort=mean&order=asc", headers=HTML)
    assert ascending.text.index("Low scorer") < ascending.text.index("High scorer")
    assert "4.67" in page.text

    nothing = await client.post(
        "/console/proposals/decisions",
        headers=HTML,
        data={"csrf_token": csrf(page.text), "decision": "accept"},
    )
    assert nothing.status_code == 422 and "Tick at least one proposal" in nothing.text
    decided = await client.post(
        "/console/proposals/decisions",
        headers=HTML,
        data={"csrf_token": csrf(page.text), "decision": "accept", "proposal_id": [low["id"], high["id"]]},
    )
    assert decided.status_code == 303 and "done=accepted&count=2" in decided.headers["location"]
    detail = await client.get(f"/console/proposals/{high['id']}", headers=HTML)
    assert detail.status_code == 200 and "Dr Helen Marsh" in detail.text and "grace.okafor" in detail.text
    rejected = await client.post(
        f"/console/proposals/{low['id']}/decision",
        headers=HTML,
        data={"csrf_token": csrf(detail.text), "decision": "reject"},
    )
    assert rejected.status_code == 303
    async with database.read() as db:
        statuses = dict((await db.execute(sa.select(Proposal.title, Proposal.status))).all())
    assert {k: v.value for k, v in statuses.items()} == {"Low scorer": "rejected", "High scorer": "accepted"}
    assert await count_rows(database, OutboxEmail) >= 5  # received ×2, invitation, accepted ×2, rejected

    call_page = await client.get("/console/call", headers=HTML)
    assert call_page.status_code == 200 and "is <strong>open</strong>" in call_page.text
    saved = await client.post(
        "/console/call",
        headers=HTML,
        data={
            "csrf_token": csrf(call_page.text),
            "opens_at": "2026-09-01T09:00",
            "closes_at": "2026-10-31T17:00",
            "themes": "information sharing\nevaluation",
            "durations_talk": "20, 30",
            "durations_panel": "",
            "durations_workshop": "90",
        },
    )
    assert saved.status_code == 303
    call = (await client.get("/api/v1/call")).json()
    assert call["open"] is False and call["themes"] == ["information sharing", "evaluation"]
    assert call["anonymous_review"] is False and {f["format"] for f in call["formats"]} == {
        "talk",
        "workshop",
    }
    bad = await client.post(
        "/console/call",
        headers=HTML,
        data={
            "csrf_token": csrf(call_page.text),
            "opens_at": "2026-09-01T09:00",
            "closes_at": "2026-08-01T09:00",
            "themes": "x",
            "durations_talk": "twenty",
        },
    )
    assert bad.status_code == 422 and "There is a problem" in bad.text and 'value="twenty"' in bad.text

    reviewers = await client.get("/console/reviewers", headers=HTML)
    invited = await client.post(
        "/console/reviewers",
        headers=HTML,
        data={"csrf_token": csrf(reviewers.text), "name": "Carol Osei", "email": "carol.osei@review.org.uk"},
    )
    assert invited.status_code == 303
    wrong = await client.post(
        "/console/reviewers",
        headers=HTML,
        data={"csrf_token": csrf(reviewers.text), "name": "", "email": "x"},
    )
    assert wrong.status_code == 422 and 'href="#email"' in wrong.text
