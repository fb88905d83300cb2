"""Regression tests for what tests/fuzz/test_schemathesis.py found: each was a 500 (or an answer the OpenAPI
document did not allow) for a request a client can send. These run without schemathesis, on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from conference.core.db import Database
from conference.web.auth import create_api_token
from sessions.models import Kind, RoomCreate, SessionCreate, TimeSlotCreate
from sessions.workshops import programme
from tests.factories import ORGANISER


async def organiser(database: Database) -> dict[str, str]:
    async with database.transaction() as db:
        token = await create_api_token(db, role="organiser", name="Findings")
    return {"authorization": f"Bearer {token}"}


def refused(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    if field:
        assert field in error["fields"], error
    return error


async def test_conference_fields_that_cannot_be_null_are_422(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    org = await organiser(database)
    for name in ("venue", "starts_at", "ends_at", "name", "capacity"):
        refused(await client.patch("/api/v1/conference", headers=org, json={name: None}), 422, name)
    # Still clearable: the refund deadline and the retention period.
    ok = await client.patch(
        "/api/v1/conference", headers=org, json={"refund_full_until": None, "retention_days": None}
    )
    assert ok.status_code == 200, ok.text


async def test_times_centuries_away_are_422_not_a_local_mean_time_offset(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    org = await organiser(database)
    refused(
        await client.patch("/api/v1/conference", headers=org, json={"starts_at": "0187-03-25T00:45:38Z"}),
        422,
        "starts_at",
    )
    # Before 1847 Europe/London's offset was -00:01:15, which the answer's RFC 3339 times cannot carry.
    refused(
        await client.patch("/api/v1/call", headers=org, json={"opens_at": "0706-01-15T14:47:43-03:12"}),
        422,
        "opens_at",
    )
    refused(
        await client.post(
            "/api/v1/slots",
            headers=org,
            json={"starts_at": "2201-12-08T10:00:00+00:00", "ends_at": "2201-12-08T11:00:00+00:00"},
        ),
        422,
        "starts_at",
    )


async def test_ids_beyond_an_integer_column_are_refused_not_overflowed(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    org = await organiser(database)
    refused(
        await client.post(
            "/api/v1/schedule/publish", headers=org, json={"draft_id": 2979947662941418980114432}
        ),
        422,
        "draft_id",
    )
    refused(await client.get("/api/v1/schedule/drafts/99999999999999999999999", headers=org), 404)
    refused(
        await client.post(
            "/api/v1/rooms", headers=org, json={"name": "Big", "capacity": 5, "position": 2**63}
        ),
        422,
        "position",
    )
    refused(await client.post("/api/v1/allocation", headers=org, json={"seed": 2**63}), 422, "seed")


async def test_accepting_or_rejecting_an_unknown_proposal_is_404(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    org = await organiser(database)
    for action in ("accept", "reject"):
        refused(await client.post(f"/api/v1/proposals/{uuid.uuid4()}/{action}", headers=org), 404)
    # The bulk form still names the unknown id as a field.
    refused(
        await client.post(
            "/api/v1/proposals/decisions",
            headers=org,
            json={"decision": "accept", "proposal_ids": [str(uuid.uuid4())]},
        ),
        422,
        "proposal_ids.0",
    )


async def test_session_updates_with_null_text_or_unknown_room_or_slot_are_422(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    org = await organiser(database)
    async with database.transaction() as db:
        room = await programme.create_room(db, data=RoomCreate(name="Room A", capacity=20), actor=ORGANISER)
        start = datetime(2026, 12, 8, 10, tzinfo=UTC)
        slot = await programme.create_slot(
            db, data=TimeSlotCreate(starts_at=start, ends_at=start + timedelta(hours=1)), actor=ORGANISER
        )
        session = await programme.create_session(
            db,
            data=SessionCreate(title="Workshop", kind=Kind.workshop, room_id=room.id, start_slot_id=slot.id),
            actor=ORGANISER,
        )
    url = f"/api/v1/sessions/{session.id}"
    for name in ("theme", "description", "speakers"):
        refused(await client.patch(url, headers=org, json={name: None}), 422, name)
    refused(await client.patch(url, headers=org, json={"room_id": str(uuid.uuid4())}), 422, "room_id")
    refused(
        await client.patch(url, headers=org, json={"start_slot_id": str(uuid.uuid4())}), 422, "start_slot_id"
    )
    unchanged = (await client.get(url)).json()
    assert unchanged["room_id"] == str(room.id) and unchanged["theme"] == ""
