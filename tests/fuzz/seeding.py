"""What both fuzz runs start from: a conference, a programme and an open call in the database, then objects made
through the API itself, so operations with ids in their paths reach their handlers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from conference.core.db import Database
from conference.web.auth import create_api_token
from sessions.models import Kind, RoomCreate, SessionCreate, TimeSlotCreate
from sessions.workshops import programme
from tests.factories import (
    ORGANISER,
    invoice_body,
    make_conference,
    proposal_body,
    registration_body,
    set_call,
)
from tests.support import make_settings


async def seed(url: str) -> dict[str, str]:
    database = Database.from_settings(make_settings(url))
    try:
        tickets = await make_conference(database, capacity=50)
        await set_call(database, open_=True)
        async with database.transaction() as db:
            token = await create_api_token(db, role="organiser", name="Fuzz organiser")
            room = await programme.create_room(
                db, data=RoomCreate(name="Room A", capacity=20), actor=ORGANISER
            )
            start = datetime(2026, 12, 8, 10, tzinfo=UTC)
            slot = await programme.create_slot(
                db, data=TimeSlotCreate(starts_at=start, ends_at=start + timedelta(hours=1)), actor=ORGANISER
            )
            later = await programme.create_slot(
                db,
                data=TimeSlotCreate(starts_at=start + timedelta(hours=2), ends_at=start + timedelta(hours=3)),
                actor=ORGANISER,
            )
            workshop = await programme.create_session(
                db,
                data=SessionCreate(
                    title="Workshop", kind=Kind.workshop, room_id=room.id, start_slot_id=slot.id
                ),
                actor=ORGANISER,
            )
            await programme.create_session(
                db,
                data=SessionCreate(
                    title="Plenary", kind=Kind.plenary, room_id=room.id, start_slot_id=later.id
                ),
                actor=ORGANISER,
            )
    finally:
        await database.dispose()  # before the server starts: no connection of ours outlives the seeding
    return {
        "token": token,
        "room_id": str(room.id),
        "slot_id": str(slot.id),
        "session_id": str(workshop.id),
        "delegate": str(tickets["delegate"]),
        "exhibitor": str(tickets["exhibitor"]),
    }


def objects(base: str, seeded: dict[str, str]) -> dict[str, str]:
    """Objects made through the API itself: registrations (one with an invoice), a proposal, a reviewer."""
    org = {"authorization": f"Bearer {seeded['token']}"}
    with httpx.Client(base_url=base, timeout=30) as client:

        def made(response: httpx.Response) -> Any:
            assert response.status_code == 201, response.text
            return response.json()

        delegate = made(client.post("/api/v1/registrations", json=registration_body(seeded["delegate"])))
        payer = made(client.post("/api/v1/registrations", json=invoice_body(seeded["exhibitor"])))
        invoices = client.get(f"/api/v1/registrations/{payer['id']}/invoices", headers=org).json()["data"]
        made(
            client.post(
                f"/api/v1/registrations/{delegate['id']}/sessions",
                headers=org,
                json={"session_id": seeded["session_id"]},
            )
        )
        proposal = made(client.post("/api/v1/proposals", json=proposal_body()))
        reviewer = made(
            client.post(
                "/api/v1/reviewers",
                headers=org,
                json={"name": "Dr Helen Marsh", "email": "helen.marsh@york.ac.uk"},
            )
        )
    return {
        "registration_id": delegate["id"],
        "invoice_id": invoices[0]["id"],
        "room_id": seeded["room_id"],
        "slot_id": seeded["slot_id"],
        "session_id": seeded["session_id"],
        "proposal_id": proposal["id"],
        "reviewer_id": reviewer["id"],
    }
