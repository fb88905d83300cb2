"""The call for talks: its settings, submitting, editing and withdrawing (by the private link), the email with the
link, validation that names each field, roles on every route, and the public form without JavaScript."""

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
from conference.core.security import hash_token
from conference.core.settings import Settings
from sessions.models import Proposal, ProposalSpeaker
from tests.factories import invite, make_conference, make_programme, proposal_body, set_call
from tests.support import (
    PROPOSAL_LINK,
    Mailbox,
    all_sent,
    bearer,
    body_of,
    count_rows,
    database_dump,
    emails,
    organiser_token,
    register,
    staff_token,
    submit,
)

HTML = {"accept": "text/html"}


@pytest.fixture
async def tickets(database: Database) -> dict[str, Any]:
    return await make_conference(database, capacity=50)


@pytest.fixture
async def open_call(database: Database, tickets: dict[str, Any]) -> None:
    await set_call(database, open_=True)


async def roles(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> dict[str, dict[str, str]]:
    """Headers for each kind of caller."""
    attendee = await register(client, tickets["delegate"])
    _rid, reviewer = await invite(database, settings)
    return {
        "anonymous": {},
        "attendee": bearer(attendee["manage_token"]),
        "staff": bearer(await staff_token(database)),
        "reviewer": bearer(reviewer),
        "organiser": bearer(await organiser_token(database)),
    }


# --- the call's settings -----------------------------------------------------------------------------------


async def test_the_call_is_closed_until_organisers_open_it_and_only_they_may(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> None:
    call = (await client.get("/api/v1/call")).json()
    assert (
        call["open"] is False
        and "online safety" in call["themes"]
        and call["days"] == ["2026-12-08", "2026-12-09"]
    )
    assert {f["format"]: f["durations"] for f in call["formats"]} == {
        "talk": [15, 20, 30],
        "panel": [60],
        "workshop": [60, 120],
    }
    refused = await client.post("/api/v1/proposals", json=proposal_body())
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "call_closed"

    who = await roles(client, database, settings, tickets)
    change = {
        "opens_at": "2026-01-01T09:00:00+00:00",
        "closes_at": "2030-01-01T09:00:00+00:00",
        "themes": ["information sharing", "online safety"],
        "formats": {"talk": [20], "workshop": [90]},
    }
    expected = {"anonymous": 401, "attendee": 403, "staff": 403, "reviewer": 403, "organiser": 200}
    for role, status in expected.items():
        response = await client.patch("/api/v1/call", json=change, headers=who[role])
        assert response.status_code == status, (role, response.text)
    call = (await client.get("/api/v1/call")).json()
    assert call["open"] is True and call["themes"] == ["information sharing", "online safety"]
    assert {f["format"]: f["durations"] for f in call["formats"]} == {"talk": [20], "workshop": [90]}

    backwards = await client.patch(
        "/api/v1/call", json={"closes_at": "2025-01-01T09:00:00+00:00"}, headers=who["organiser"]
    )
    assert backwards.status_code == 422 and "closes_at" in backwards.json()["error"]["fields"]
    naive = await client.patch(
        "/api/v1/call", json={"opens_at": "2026-01-01T09:00:00"}, headers=who["organiser"]
    )
    assert naive.status_code == 422 and "offset" in naive.json()["error"]["fields"]["opens_at"]
    bad = await client.patch("/api/v1/call", json={"formats": {"keynote": [20]}}, headers=who["organiser"])
    assert bad.status_code == 422 and any(k.startswith("formats") for k in bad.json()["error"]["fields"])
    async with database.read() as db:
        actions = (
            (
                await db.execute(
                    sa.select(AuditEntry.action).where(AuditEntry.action == "sessions.call.updated")
                )
            )
            .scalars()
            .all()
        )
    assert len(actions) == 1


# --- submitting --------------------------------------------------------------------------------------------


async def test_submission_stores_the_proposal_and_emails_the_private_link(
    client: httpx.AsyncClient, database: Database, settings: Settings, open_call: None
) -> None:
    body = proposal_body(
        speakers=[
            {
                "name": "Grace Okafor",
                "email": "Grace.Okafor@leeds.gov.uk",
                "organisation": "Leeds City Council",
                "unavailable": ["2026-12-09"],
            },
            {
                "name": "Tom Price",
                "email": "tom.price@westyorkshire.police.uk",
                "organisation": "West Yorkshire Police",
            },
        ]
    )
    response = await client.post("/api/v1/proposals", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "submitted" and set(created) >= {"id", "status"}
    token = created["edit_token"]

    async with database.read() as db:
        p = await db.get(Proposal, uuid.UUID(created["id"]))
        speakers = (
            (await db.execute(sa.select(ProposalSpeaker).order_by(ProposalSpeaker.position))).scalars().all()
        )
    assert p is not None and p.edit_token_hash == hash_token(token) and p.duration_minutes == 20
    assert [(s.name, s.email_key, s.unavailable_days) for s in speakers] == [
        ("Grace Okafor", "grace.okafor@leeds.gov.uk", ["2026-12-09"]),
        ("Tom Price", "tom.price@westyorkshire.police.uk", []),
    ]

    (message,) = await emails(database, settings, "proposal_received")
    assert message["To"] == "Grace.Okafor@leeds.gov.uk"
    text = body_of(message)
    assert "Dear Grace Okafor" in text and body["title"] in text
    assert PROPOSAL_LINK.findall(text) == [token]
    # Only the token's hash is stored: the link is derived again when the email is sent.
    assert token not in await database_dump(database)

    mine = await client.get(f"/api/v1/proposals/{created['id']}", headers=bearer(token))
    assert mine.status_code == 200 and mine.json()["editable"] is True
    assert mine.json()["speakers"][0]["unavailable"] == ["2026-12-09"]
    page = await client.get(f"/proposal/{token}", headers=HTML)
    assert (
        page.status_code == 200
        and "One front door for children" in page.text
        and "Withdraw the proposal" in page.text
    )
    assert (await client.get("/proposal/p_notarealtoken", headers=HTML)).status_code == 404


async def test_the_email_reaches_a_real_smtp_server_with_a_working_link(
    mail_client: httpx.AsyncClient,
    database: Database,
    mailbox: Mailbox,
) -> None:
    await set_call(database, open_=True)
    created = (await mail_client.post("/api/v1/proposals", json=proposal_body())).json()
    await all_sent(database, 1)
    (message,) = await mailbox.wait_for(1)
    (token,) = PROPOSAL_LINK.findall(body_of(message))
    assert token == created["edit_token"]
    assert (await mail_client.get(f"/proposal/{token}", headers=HTML)).status_code == 200


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"title": ""}, "title", "Enter the title"),
        ({"title": "x" * 201}, "title", "at most 200"),
        ({"abstract": "x" * 3001}, "abstract", "at most 3000"),
        ({"format": "keynote"}, "format", "talk"),
        ({"duration_minutes": 45}, "duration_minutes", "15 or 20 or 30"),
        ({"format": "panel", "duration_minutes": 30}, "duration_minutes", "60"),
        ({"themes": []}, "themes", "at least one theme"),
        ({"themes": ["information sharing", "astrology"]}, "themes.1", "themes from the call"),
        ({"speakers": []}, "speakers", "one to three"),
        (
            {
                "speakers": [
                    {"name": f"S{i}", "email": f"s{i}@a.gov.uk", "organisation": "A"} for i in range(4)
                ]
            },
            "speakers",
            "one to three",
        ),
        (
            {"speakers": [{"name": "S", "email": "not-an-email", "organisation": "A"}]},
            "speakers.0.email",
            "email address",
        ),
        (
            {"speakers": [{"name": "S", "email": "s@a.gov.uk", "organisation": ""}]},
            "speakers.0.organisation",
            "Enter the organisation",
        ),
        (
            {
                "speakers": [
                    {"name": "S", "email": "s@a.gov.uk", "organisation": "A", "unavailable": ["2026-12-20"]}
                ]
            },
            "speakers.0.unavailable.0",
            "outside the event",
        ),
        (
            {
                "speakers": [
                    {
                        "name": "S",
                        "email": "s@a.gov.uk",
                        "organisation": "A",
                        "unavailable": [str(uuid.uuid4())],
                    }
                ]
            },
            "speakers.0.unavailable.0",
            "outside the event",
        ),
        ({"surprise": True}, "surprise", "not accepted"),
    ],
)
async def test_bad_proposals_name_the_field_and_the_fix(
    client: httpx.AsyncClient,
    database: Database,
    open_call: None,
    change: dict[str, Any],
    field: str,
    words: str,
) -> None:
    response = await client.post("/api/v1/proposals", json=proposal_body(**change))
    assert response.status_code == 422, response.text
    fields = response.json()["error"]["fields"]
    assert words in fields[field], fields
    assert await count_rows(database, Proposal) == 0


async def test_speakers_rule_out_time_slots_when_the_event_has_them(
    client: httpx.AsyncClient, database: Database, open_call: None
) -> None:
    programme = await make_programme(database)
    call = (await client.get("/api/v1/call")).json()
    assert [s["id"] for s in call["time_slots"]] == [str(s) for s in programme.slots]
    created = await submit(
        client,
        speakers=[
            {
                "name": "A",
                "email": "a@b.gov.uk",
                "organisation": "B",
                "unavailable": [str(programme.slots[1]), "2026-12-09"],
            }
        ],
    )
    async with database.read() as db:
        speaker = (await db.execute(sa.select(ProposalSpeaker))).scalar_one()
    assert (speaker.unavailable_slots, speaker.unavailable_days) == (
        [str(programme.slots[1])],
        ["2026-12-09"],
    )
    assert created["status"] == "submitted"


# --- editing and withdrawing -------------------------------------------------------------------------------


async def test_the_link_edits_and_withdraws_its_own_proposal_only(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    tickets: dict[str, Any],
    open_call: None,
) -> None:
    mine, other = await submit(client), await submit(client, title="Another talk")
    url = f"/api/v1/proposals/{mine['id']}"
    edited = await client.patch(
        url,
        json={"title": "One front door, two years on", "duration_minutes": 30},
        headers=bearer(mine["edit_token"]),
    )
    assert edited.status_code == 200 and edited.json()["title"] == "One front door, two years on"
    assert edited.json()["duration_minutes"] == 30 and edited.json()["themes"] == [
        "information sharing",
        "partnership working",
    ]
    bad = await client.patch(url, json={"duration_minutes": 25}, headers=bearer(mine["edit_token"]))
    assert bad.status_code == 422 and "duration_minutes" in bad.json()["error"]["fields"]
    speakers = await client.patch(
        url,
        json={
            "speakers": [
                {"name": "New Person", "email": "new@leeds.gov.uk", "organisation": "Leeds City Council"}
            ]
        },
        headers=bearer(mine["edit_token"]),
    )
    assert [s["name"] for s in speakers.json()["speakers"]] == ["New Person"]

    who = await roles(client, database, settings, tickets)
    cases = {"anonymous": 401, "attendee": 403, "staff": 403, "reviewer": 403, "organiser": 403}
    for role, status in cases.items():
        assert (await client.patch(url, json={"title": "Hijack"}, headers=who[role])).status_code == status, (
            role
        )
        assert (await client.post(f"{url}/withdraw", headers=who[role])).status_code == status, role
    crossed = await client.patch(url, json={"title": "Hijack"}, headers=bearer(other["edit_token"]))
    assert crossed.status_code == 403 and "different proposal" in crossed.json()["error"]["message"]
    assert (await client.get(url, headers=bearer(other["edit_token"]))).status_code == 403
    for role, status in {"anonymous": 401, "attendee": 403, "staff": 403}.items():
        assert (await client.get(url, headers=who[role])).status_code == status, role

    withdrawn = await client.post(f"{url}/withdraw", headers=bearer(mine["edit_token"]))
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    again = await client.post(f"{url}/withdraw", headers=bearer(mine["edit_token"]))
    assert again.status_code == 409 and again.json()["error"]["code"] == "proposal_state"
    assert (
        await client.patch(url, json={"title": "Back"}, headers=bearer(mine["edit_token"]))
    ).status_code == 409
    async with database.read() as db:
        actions = (
            (
                await db.execute(
                    sa.select(AuditEntry.action)
                    .where(AuditEntry.subject == mine["id"])
                    .order_by(AuditEntry.id)
                )
            )
            .scalars()
            .all()
        )
    assert actions == [
        "sessions.proposal.submitted",
        "sessions.proposal.updated",
        "sessions.proposal.updated",
        "sessions.proposal.withdrawn",
    ]


async def test_after_the_call_closes_the_link_still_shows_but_cannot_change(
    client: httpx.AsyncClient, database: Database, open_call: None
) -> None:
    created = await submit(client)
    await set_call(database, open_=False)
    url = f"/api/v1/proposals/{created['id']}"
    token = bearer(created["edit_token"])
    for response in (
        await client.patch(url, json={"title": "Late change"}, headers=token),
        await client.post(f"{url}/withdraw", headers=token),
        await client.post("/api/v1/proposals", json=proposal_body()),
    ):
        assert response.status_code == 409 and response.json()["error"]["code"] == "call_closed", (
            response.text
        )
        assert "closed" in response.json()["error"]["message"]
    shown = await client.get(url, headers=token)
    assert (
        shown.status_code == 200
        and shown.json()["status"] == "submitted"
        and shown.json()["editable"] is False
    )
    page = await client.get(f"/proposal/{created['edit_token']}", headers=HTML)
    assert "can no longer be changed" in page.text and "Withdraw the proposal" not in page.text
    closed_form = await client.get("/call", headers=HTML)
    assert (
        closed_form.status_code == 200
        and 'id="call-closed"' in closed_form.text
        and '<form method="post" action="http://testserver/call"' not in closed_form.text
    )


async def test_only_organisers_list_proposals_with_their_scores(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    tickets: dict[str, Any],
    open_call: None,
) -> None:
    created = await submit(client)
    who = await roles(client, database, settings, tickets)
    who["speaker"] = bearer(created["edit_token"])
    for role, status in {
        "anonymous": 401,
        "attendee": 403,
        "staff": 403,
        "reviewer": 403,
        "speaker": 403,
        "organiser": 200,
    }.items():
        assert (await client.get("/api/v1/proposals", headers=who[role])).status_code == status, role
    listed = (await client.get("/api/v1/proposals", headers=who["organiser"])).json()
    assert listed["count"] == 1
    row = listed["data"][0]
    assert (
        row["speakers"][0]["email"].startswith("grace.okafor")
        and row["access_needs"] == "Step-free access to the stage"
    )
    assert row["scores"] == {
        "reviews": 0,
        "mean": None,
        "stdev": None,
        "range": None,
        "criteria": {"relevance": None, "impact": None, "transferability": None},
    }
    bad = await client.get("/api/v1/proposals?sort=colour", headers=who["organiser"])
    assert bad.status_code == 422 and "sort" in bad.json()["error"]["fields"]


# --- the public form, without JavaScript -------------------------------------------------------------------


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def open_form(client: httpx.AsyncClient, path: str = "/call") -> tuple[str, str]:
    page = await client.get(path, headers=HTML)
    assert page.status_code == 200 and "<script" not in page.text
    match = CSRF.search(page.text)
    assert match is not None and "csrf" in client.cookies
    return html.unescape(match.group(1)), page.text


def form(token: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "csrf_token": token,
        "title": "Street triage in the patrol car",
        "abstract": "Nurses and officers together.",
        "format": "talk",
        "duration_minutes": "30",
        "themes": ["partnership working"],
        "audience_level": "introductory",
        "speaker_0_name": "Priya Shah",
        "speaker_0_email": "priya.shah@nhs.net",
        "speaker_0_organisation": "Leeds NHS Trust",
        "speaker_0_unavailable": ["2026-12-08"],
        "access_needs": "",
    }
    values.update(overrides)
    return values


async def test_the_public_form_keeps_values_shows_an_error_summary_and_submits(
    client: httpx.AsyncClient, database: Database, settings: Settings, open_call: None
) -> None:
    token, page = await open_form(client)
    for label in (
        'for="title"',
        'for="abstract"',
        'for="duration_minutes"',
        'for="speaker_0_email"',
        'for="themes"',
        'for="speaker_0_unavailable"',
    ):
        assert label in page, label

    wrong = await client.post(
        "/call",
        headers=HTML,
        data=form(
            token, title="", duration_minutes="120", speaker_0_email="priya@", speaker_1_name="Half Filled"
        ),
    )
    assert wrong.status_code == 422
    text = wrong.text
    assert "There is a problem" in text and 'role="alert"' in text
    for anchor in ('href="#title"', 'href="#speaker_0_email"', 'href="#speaker_1_email"'):
        assert anchor in text, anchor
    assert (
        'value="priya@"' in text and "Nurses and officers together." in text and 'value="Half Filled"' in text
    )
    assert re.search(r'value="2026-12-08" checked', text) and re.search(
        r'value="partnership working" checked', text
    )
    assert await count_rows(database, Proposal) == 0

    duration = await client.post("/call", headers=HTML, data=form(token, duration_minutes="120"))
    assert duration.status_code == 422 and 'href="#duration_minutes"' in duration.text

    done = await client.post("/call", headers=HTML, data=form(token))
    assert done.status_code == 303
    location = done.headers["location"]
    assert re.search(r"/proposal/p_[A-Za-z0-9_-]+\?new=1$", location)
    shown = await client.get(location, headers=HTML)
    assert (
        shown.status_code == 200
        and "Proposal received" in shown.text
        and "Street triage in the patrol car" in shown.text
    )
    async with database.read() as db:
        speaker = (await db.execute(sa.select(ProposalSpeaker))).scalar_one()
    assert speaker.unavailable_days == ["2026-12-08"]
    assert len(await emails(database, settings, "proposal_received")) == 1

    # The private page edits and withdraws without script, with the CSRF token.
    private = location.split("?")[0].removeprefix("http://testserver")
    token2, edit_page = await open_form(client, private + "/edit")
    assert 'value="Street triage in the patrol car"' in edit_page
    edited = await client.post(
        private + "/edit", headers=HTML, data=form(token2, title="Street triage, revisited")
    )
    assert edited.status_code == 303 and edited.headers["location"].endswith("?done=saved")
    withdrawn = await client.post(private + "/withdraw", headers=HTML, data={"csrf_token": token2})
    assert withdrawn.status_code == 303
    async with database.read() as db:
        p = (await db.execute(sa.select(Proposal))).scalar_one()
    assert (p.title, p.status.value) == ("Street triage, revisited", "withdrawn")


async def test_the_public_form_refuses_a_post_without_its_csrf_token(
    client: httpx.AsyncClient, database: Database, open_call: None
) -> None:
    token, _page = await open_form(client)
    missing = await client.post("/call", headers=HTML, data=form(""))
    assert missing.status_code == 403 and "This form has expired" in missing.text
    client.cookies.clear()
    no_cookie = await client.post("/call", headers=HTML, data=form(token))
    assert no_cookie.status_code == 403
    for model in (Proposal, OutboxEmail):
        assert await count_rows(database, model) == 0
