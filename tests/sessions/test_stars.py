"""Delegates' stars: only accepted talks, only one's own registration, the counts organisers (and the scheduler)
read, the manage page's form, and the demo's realistic demand."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import AuditEntry, Registration
from conference.core.settings import Settings
from conference.server.demo import load_demo
from sessions.call.accepted_talks import accepted_talks, speaker_unavailability, star_sets
from sessions.call.demo import SECTOR_THEMES, load_demo_call
from sessions.models import Proposal, Review, Star
from tests.factories import invite, make_conference, make_programme, set_call
from tests.support import bearer, csrf, organiser_token, register, staff_token, submit

HTML = {"accept": "text/html"}


@pytest.fixture
async def tickets(database: Database) -> dict[str, Any]:
    tickets = await make_conference(database, capacity=50)
    await set_call(database, open_=True)
    return tickets


@pytest.fixture
async def talks(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Accepted, Confirmed, Submitted, Rejected and Declined proposals, by title."""
    made = {
        t: await submit(client, title=t)
        for t in ("Accepted", "Confirmed", "Submitted", "Rejected", "Declined")
    }
    organiser = bearer(await organiser_token(database))
    await client.post(
        "/api/v1/proposals/decisions",
        headers=organiser,
        json={
            "decision": "accept",
            "proposal_ids": [made[t]["id"] for t in ("Accepted", "Confirmed", "Declined")],
        },
    )
    await client.post(f"/api/v1/proposals/{made['Rejected']['id']}/reject", headers=organiser)
    await client.post(
        f"/api/v1/proposals/{made['Confirmed']['id']}/confirm",
        headers=bearer(made["Confirmed"]["edit_token"]),
    )
    await client.post(
        f"/api/v1/proposals/{made['Declined']['id']}/decline", headers=bearer(made["Declined"]["edit_token"])
    )
    return made


async def test_delegates_star_accepted_talks_on_their_own_registration_only(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    tickets: dict[str, Any],
    talks: dict[str, Any],
) -> None:
    public = (await client.get("/api/v1/talks")).json()["data"]
    assert sorted(t["title"] for t in public) == ["Accepted", "Confirmed"]
    named = {t["title"]: t["speakers"] for t in public}
    assert named["Accepted"] == [] and named["Confirmed"] == [
        {"name": "Grace Okafor", "organisation": "Leeds City Council"}
    ]
    assert "email" not in str(public)

    me, other = await register(client, tickets["delegate"]), await register(client, tickets["delegate"])
    url = f"/api/v1/registrations/{me['id']}/stars"
    ok = await client.put(
        url,
        json={"proposal_ids": [talks["Accepted"]["id"], talks["Confirmed"]["id"], talks["Accepted"]["id"]]},
        headers=bearer(me["manage_token"]),
    )
    assert ok.status_code == 200 and [s["title"] for s in ok.json()["stars"]] == ["Accepted", "Confirmed"]
    assert [
        s["title"] for s in (await client.get(url, headers=bearer(me["manage_token"]))).json()["stars"]
    ] == ["Accepted", "Confirmed"]

    for title in ("Submitted", "Rejected", "Declined"):
        refused = await client.put(
            url,
            json={"proposal_ids": [talks["Accepted"]["id"], talks[title]["id"]]},
            headers=bearer(me["manage_token"]),
        )
        assert (
            refused.status_code == 422
            and "accepted talk" in refused.json()["error"]["fields"]["proposal_ids.1"]
        ), title
    junk = await client.put(url, json={"proposal_ids": ["not-an-id"]}, headers=bearer(me["manage_token"]))
    assert junk.status_code == 422 and "proposal_ids.0" in junk.json()["error"]["fields"]
    assert (await client.put(url, json={"ids": []}, headers=bearer(me["manage_token"]))).status_code == 422

    _rid, reviewer = await invite(database, settings)
    body = {"proposal_ids": [talks["Accepted"]["id"]]}
    callers = {
        "anonymous": ({}, 401),
        "someone else": (bearer(other["manage_token"]), 403),
        "staff": (bearer(await staff_token(database)), 403),
        "reviewer": (bearer(reviewer), 403),
        "speaker": (bearer(talks["Accepted"]["edit_token"]), 403),
    }
    for who, (headers, status) in callers.items():
        assert (await client.put(url, json=body, headers=headers)).status_code == status, who
        assert (await client.get(url, headers=headers)).status_code == status, who
    wrong = await client.put(url, json=body, headers=bearer(other["manage_token"]))
    assert "different registration" in wrong.json()["error"]["message"]
    organiser = bearer(await organiser_token(database))
    assert (await client.put(url, json=body, headers=organiser)).status_code == 200
    assert [s["title"] for s in (await client.get(url, headers=organiser)).json()["stars"]] == ["Accepted"]

    await client.delete(f"/api/v1/registrations/{me['id']}", headers=bearer(me["manage_token"]))
    cancelled = await client.put(url, json=body, headers=bearer(me["manage_token"]))
    assert cancelled.status_code == 409


async def test_organisers_read_star_counts_scaled_to_registrations(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    tickets: dict[str, Any],
    talks: dict[str, Any],
) -> None:
    people = [await register(client, tickets["delegate"]) for _ in range(6)]
    a, c = talks["Accepted"]["id"], talks["Confirmed"]["id"]
    choices = [[a, c], [a], [a], [c], [], []]  # four of six delegates star: a 3, c 2
    for person, ids in zip(people, choices):
        if ids:
            response = await client.put(
                f"/api/v1/registrations/{person['id']}/stars",
                json={"proposal_ids": ids},
                headers=bearer(person["manage_token"]),
            )
            assert response.status_code == 200
    organiser = bearer(await organiser_token(database))
    demand = (await client.get("/api/v1/proposals/stars", headers=organiser)).json()
    assert (demand["registered"], demand["starring_delegates"]) == (6, 4)
    assert [(t["title"], t["stars"], t["expected_audience"]) for t in demand["data"]] == [
        ("Accepted", 3, 5),
        ("Confirmed", 2, 3),
    ]
    assert (
        demand["data"][0]["themes"] == ["information sharing", "partnership working"]
        and demand["data"][0]["duration_minutes"] == 20
    )
    listed = {
        r["title"]: r["stars"]
        for r in (await client.get("/api/v1/proposals?sort=stars", headers=organiser)).json()["data"]
    }
    assert listed["Accepted"] == 3 and listed["Submitted"] == 0

    # A cancelled delegate's stars stop counting.
    await client.delete(f"/api/v1/registrations/{people[0]['id']}", headers=bearer(people[0]["manage_token"]))
    demand = (await client.get("/api/v1/proposals/stars", headers=organiser)).json()
    assert [(t["title"], t["stars"]) for t in demand["data"]] == [("Accepted", 2), ("Confirmed", 1)]
    assert (demand["registered"], demand["starring_delegates"]) == (5, 3)

    _rid, reviewer = await invite(database, settings)
    for headers, status in (
        ({}, 401),
        (bearer(people[1]["manage_token"]), 403),
        (bearer(await staff_token(database)), 403),
        (bearer(reviewer), 403),
    ):
        assert (await client.get("/api/v1/proposals/stars", headers=headers)).status_code == status
    async with database.read() as db:
        audited = (
            await db.execute(
                sa.select(sa.func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "sessions.stars.set")
            )
        ).scalar_one()
    assert audited == 4


async def test_the_manage_page_stars_talks_without_script(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any], talks: dict[str, Any]
) -> None:
    me = await register(client, tickets["delegate"])
    token = me["manage_token"]
    manage = await client.get(f"/manage/{token}", headers=HTML)
    assert f'href="/manage/{token}/talks"' in manage.text
    page = await client.get(f"/manage/{token}/talks", headers=HTML)
    assert page.status_code == 200 and "Accepted" in page.text and "Submitted" not in page.text
    assert f'for="talk-{talks["Confirmed"]["id"]}"' in page.text
    saved = await client.post(
        f"/manage/{token}/talks",
        headers=HTML,
        data={"csrf_token": csrf(page.text), "proposal_id": [talks["Confirmed"]["id"]]},
    )
    assert saved.status_code == 303
    again = await client.get(saved.headers["location"], headers=HTML)
    assert (
        f'value="{talks["Confirmed"]["id"]}" checked' in again.text and "Your choices are saved" in again.text
    )
    forged = await client.post(
        f"/manage/{token}/talks", headers=HTML, data={"proposal_id": [talks["Accepted"]["id"]]}
    )
    assert forged.status_code == 403
    async with database.read() as db:
        rows = (await db.execute(sa.select(Star.proposal_id))).scalars().all()
    assert [str(r) for r in rows] == [talks["Confirmed"]["id"]]


async def test_the_demo_call_has_reviews_decisions_and_skewed_theme_correlated_stars(
    database: Database, settings: Settings
) -> None:
    await load_demo(settings, attendees=150, seed=7)
    count, added = await load_demo_call(database, settings, seed=7)
    assert 40 <= count <= 60 and added > 0
    async with database.read() as db:
        statuses = Counter((await db.execute(sa.select(Proposal.status))).scalars())
        reviews = (await db.execute(sa.select(sa.func.count()).select_from(Review))).scalar_one()
        rows = (
            await db.execute(
                sa.select(Star.proposal_id, Registration.sector, Proposal.themes)
                .join(Registration, Registration.id == Star.registration_id)
                .join(Proposal, Proposal.id == Star.proposal_id)
            )
        ).all()
    assert statuses["confirmed"] >= 25 and statuses["rejected"] >= 10 and statuses["declined"] >= 1
    assert (
        statuses["accepted"] >= 1
        and statuses["withdrawn"] >= 1
        and reviews >= 3 * (count - statuses["withdrawn"])
    )
    per_talk = Counter(pid for pid, _s, _t in rows)
    counts = sorted(per_talk.values(), reverse=True)
    assert counts[0] >= 3 * statistics.median(counts)  # skewed: a few talks draw most stars
    # Theme-correlated: each sector stars its own themes more often than the talks on offer would by chance.
    by_sector: dict[Any, list[bool]] = defaultdict(list)
    for _pid, sector, themes in rows:
        by_sector[sector].append(bool(set(themes) & set(SECTOR_THEMES[sector])))
    async with database.read() as db:
        offered = [
            set(t)
            for t in (
                await db.execute(
                    sa.select(Proposal.themes).where(Proposal.status.in_(["accepted", "confirmed"]))
                )
            ).scalars()
        ]  # type: ignore[attr-defined]
    for sector, hits in by_sector.items():
        if len(hits) < 40:
            continue
        chance = sum(bool(t & set(SECTOR_THEMES[sector])) for t in offered) / len(offered)
        assert sum(hits) / len(hits) > chance, sector
    # Re-running adds stars only for delegates who have none.
    again_count, again_added = await load_demo_call(database, settings, seed=7)
    assert (again_count, again_added) == (count, 0)


async def test_the_scheduler_reads_accepted_talks_speakers_unavailability_and_star_sets(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    p = await make_programme(database)  # slots: 8 Dec 10:00, 11:30, 14:00; 9 Dec 10:00, 11:30
    shared = {"name": "Sam Two-Talks", "email": "Sam@Leeds.gov.uk", "organisation": "Leeds City Council"}
    one = await submit(client, title="One", speakers=[{**shared, "unavailable": [str(p.slots[0])]}])
    two = await submit(
        client,
        title="Two",
        speakers=[
            {**shared, "email": "sam@leeds.gov.uk", "unavailable": ["2026-12-09"]},
            {"name": "B", "email": "b@x.gov.uk", "organisation": "X"},
        ],
    )
    three = await submit(client, title="Three")
    organiser = bearer(await organiser_token(database))
    await client.post(
        "/api/v1/proposals/decisions",
        headers=organiser,
        json={"decision": "accept", "proposal_ids": [one["id"], two["id"]]},
    )
    await client.post(f"/api/v1/proposals/{three['id']}/reject", headers=organiser)
    await client.post(f"/api/v1/proposals/{one['id']}/confirm", headers=bearer(one["edit_token"]))
    a, b = await register(client, tickets["delegate"]), await register(client, tickets["delegate"])
    await client.put(
        f"/api/v1/registrations/{a['id']}/stars",
        json={"proposal_ids": [one["id"], two["id"]]},
        headers=bearer(a["manage_token"]),
    )
    await client.put(
        f"/api/v1/registrations/{b['id']}/stars",
        json={"proposal_ids": [two["id"]]},
        headers=bearer(b["manage_token"]),
    )
    async with database.read() as db:
        talks = {t.title: t for t in await accepted_talks(db)}
        confirmed = [t.title for t in await accepted_talks(db, confirmed_only=True)]
        unavailable = await speaker_unavailability(db)
        sets = await star_sets(db)
    assert set(talks) == {"One", "Two"} and confirmed == ["One"]
    assert talks["Two"].speakers == ("sam@leeds.gov.uk", "b@x.gov.uk") and talks["One"].speakers == (
        "sam@leeds.gov.uk",
    )
    assert (talks["One"].stars, talks["Two"].stars, talks["Two"].expected_audience) == (1, 2, 2)
    assert talks["Two"].duration_minutes == 20 and talks["Two"].themes == (
        "information sharing",
        "partnership working",
    )
    assert unavailable["sam@leeds.gov.uk"] == {p.slots[0], p.slots[3], p.slots[4]}
    assert unavailable["b@x.gov.uk"] == frozenset()
    assert sorted(len(s) for s in sets) == [1, 2]
