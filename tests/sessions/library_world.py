"""A small library to look at, for the catalogue, approval and visibility tests: talks in every state, resources
of every visibility and status (rows written directly, their files written into the test's library directory),
and delegates of each kind.

    world = await make_library(client, database, settings, tickets)
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import col

from conference.core.db import Database
from conference.core.models import Conference
from conference.core.settings import Settings
from sessions.library import storage
from sessions.models import (
    Kind,
    LibraryResource,
    Proposal,
    ResourceKind,
    ResourceStatus,
    RoomCreate,
    SessionCreate,
    SessionTalk,
    TimeSlotCreate,
    Visibility,
)
from sessions.workshops import programme
from tests.factories import ORGANISER
from tests.sessions.library_files import make_pdf
from tests.support import bearer, organiser_token, register, submit


@dataclass
class Library:
    talks: dict[str, dict[str, Any]] = field(default_factory=dict)  # by short name: the 201 answers
    resources: dict[str, uuid.UUID] = field(default_factory=dict)  # by short name
    people: dict[str, dict[str, Any]] = field(default_factory=dict)  # by short name: the 201 answers
    session_id: uuid.UUID | None = None


async def add_resource(
    database: Database,
    settings: Settings,
    *,
    proposal_id: str | uuid.UUID,
    title: str,
    visibility: Visibility = Visibility.public,
    status: ResourceStatus = ResourceStatus.approved,
    kind: ResourceKind = ResourceKind.file,
    data: bytes | None = None,
    file_name: str = "slides.pdf",
) -> uuid.UUID:
    """A resource row as the speaker's upload leaves it (then approved, or not), its file in the library dir."""
    stored, size, digest, url = "", 0, "", ""
    if kind == ResourceKind.file:
        body = data if data is not None else make_pdf(title)
        stored = storage.write_file(settings, body, ".pdf")
        size, digest = len(body), hashlib.sha256(body).hexdigest()
    else:
        url = "https://example.org/toolkit"
    async with database.transaction() as db:
        conference_id = (await db.execute(sa.select(col(Conference.id)))).scalar_one()
        assert conference_id is not None
        row = LibraryResource(
            conference_id=conference_id,
            proposal_id=uuid.UUID(str(proposal_id)),
            kind=kind,
            title=title,
            url=url,
            file_name=file_name if kind == ResourceKind.file else "",
            stored_name=stored,
            content_type="application/pdf" if kind == ResourceKind.file else "",
            size_bytes=size,
            sha256=digest,
            format="pdf" if kind == ResourceKind.file else "link",
            visibility=visibility,
            status=status,
            uploaded_by="speaker:test",
        )
        db.add(row)
        await db.flush()
        return row.id


async def decide(client: httpx.AsyncClient, database: Database, talks: dict[str, dict[str, Any]]) -> None:
    """Accept every talk but "Submitted" and "Rejected"; reject "Rejected"; the speakers of "Confirmed" and
    "Slides" confirm, those of "Declined" decline."""
    organiser = bearer(await organiser_token(database))
    accept = [t["id"] for name, t in talks.items() if name not in ("Submitted", "Rejected")]
    response = await client.post(
        "/api/v1/proposals/decisions", headers=organiser, json={"decision": "accept", "proposal_ids": accept}
    )
    assert response.status_code == 200, response.text
    if "Rejected" in talks:
        await client.post(f"/api/v1/proposals/{talks['Rejected']['id']}/reject", headers=organiser)
    for name in ("Confirmed", "Slides"):
        if name in talks:
            answer = await client.post(
                f"/api/v1/proposals/{talks[name]['id']}/confirm", headers=bearer(talks[name]["edit_token"])
            )
            assert answer.status_code == 200, answer.text
    if "Declined" in talks:
        await client.post(
            f"/api/v1/proposals/{talks['Declined']['id']}/decline",
            headers=bearer(talks["Declined"]["edit_token"]),
        )


def speaker(name: str, organisation: str) -> list[dict[str, str]]:
    email = f"{name.lower().replace(' ', '.')}.{uuid.uuid4().hex[:6]}@example.org"
    return [{"name": name, "email": email, "organisation": organisation}]


async def make_library(
    client: httpx.AsyncClient, database: Database, settings: Settings, tickets: dict[str, Any]
) -> Library:
    """Talks: "Slides" (confirmed; police; information sharing; scheduled) with one resource of each visibility
    plus a pending, a rejected and a link one; "Confirmed" (confirmed; community; partnership working) with a
    public one; "Accepted" (speakers not confirmed yet; school); and "Submitted", "Rejected", "Declined" that are
    not in the library (Declined has an approved public resource that must not show). People: "police" (a
    public-sector delegate), "faith" (community_faith), "other" (sector other), "cancelled" (police, cancelled)."""
    lib = Library()
    lib.talks["Slides"] = await submit(
        client,
        title="Knife crime in the classroom",
        abstract="A police-led programme of lessons that cut school exclusions.",
        themes=["information sharing"],
        sector="police",
        speakers=speaker("Priya Shah", "West Midlands Police"),
    )
    lib.talks["Confirmed"] = await submit(
        client,
        title="Street pastors at closing time",
        abstract="Volunteers who keep the night-time economy calm.",
        themes=["partnership working"],
        sector="community_faith",
        speakers=speaker("Daniel Mensah", "Street Pastors Leeds"),
    )
    lib.talks["Accepted"] = await submit(
        client,
        title="Mentoring after exclusion",
        abstract="Mentors for pupils who left school early.",
        themes=["partnership working"],
        sector="school",
        speakers=speaker("Hidden Speakerson", "Unconfirmed Academy"),
    )
    for name in ("Submitted", "Rejected", "Declined"):
        lib.talks[name] = await submit(client, title=f"{name} talk", sector="health")
    await decide(client, database, lib.talks)

    slides = lib.talks["Slides"]["id"]
    for visibility in Visibility:
        lib.resources[visibility.value] = await add_resource(
            database,
            settings,
            proposal_id=slides,
            title=f"Slides for {visibility.value}",
            visibility=visibility,
        )
    lib.resources["pending"] = await add_resource(
        database, settings, proposal_id=slides, title="Pending handout", status=ResourceStatus.pending
    )
    lib.resources["rejected"] = await add_resource(
        database, settings, proposal_id=slides, title="Rejected handout", status=ResourceStatus.rejected
    )
    lib.resources["link"] = await add_resource(
        database, settings, proposal_id=slides, title="Toolkit website", kind=ResourceKind.link
    )
    lib.resources["confirmed"] = await add_resource(
        database, settings, proposal_id=lib.talks["Confirmed"]["id"], title="Rota template"
    )
    lib.resources["declined"] = await add_resource(
        database, settings, proposal_id=lib.talks["Declined"]["id"], title="Declined talk's slides"
    )

    async with database.transaction() as db:
        room = await programme.create_room(db, data=RoomCreate(name="Room A", capacity=20), actor=ORGANISER)
        start = datetime(2026, 12, 8, 10, tzinfo=UTC)
        slot = await programme.create_slot(
            db, data=TimeSlotCreate(starts_at=start, ends_at=start + timedelta(hours=1)), actor=ORGANISER
        )
        session = await programme.create_session(
            db,
            data=SessionCreate(
                title="Safer schools workshop", kind=Kind.workshop, room_id=room.id, start_slot_id=slot.id
            ),
            actor=ORGANISER,
        )
        db.add(SessionTalk(programme_session_id=session.id, proposal_id=uuid.UUID(slides), position=0))
        lib.session_id = session.id

    lib.people["police"] = await register(
        client, tickets["delegate"], sector="police", organisation="West Yorkshire Police"
    )
    lib.people["faith"] = await register(
        client, tickets["delegate"], sector="community_faith", organisation="Leeds Faith Forum"
    )
    lib.people["other"] = await register(client, tickets["delegate"], sector="other", organisation="Self")
    lib.people["cancelled"] = await register(client, tickets["delegate"], sector="police")
    cancelled = lib.people["cancelled"]
    answer = await client.delete(
        f"/api/v1/registrations/{cancelled['id']}", headers=bearer(cancelled["manage_token"])
    )
    assert answer.status_code in (200, 204), answer.text
    return lib


async def proposal(database: Database, proposal_id: str) -> Proposal:
    async with database.read() as db:
        p = await db.get(Proposal, uuid.UUID(proposal_id))
    assert p is not None
    return p
