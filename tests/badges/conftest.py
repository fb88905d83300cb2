"""Fixtures the badge tests share: delegates in every state a scan can meet, and a staff token."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import Registration, Status
from conference.web.auth import create_api_token
from tests.factories import make_conference, registration_body


@pytest.fixture
async def people(client: httpx.AsyncClient, database: Database) -> dict[str, dict[str, Any]]:
    tickets = await make_conference(database, capacity=4)
    made = {}
    for who in ("ada", "grace", "cancelled", "unpaid", "extra", "waiting"):
        body = registration_body(tickets["delegate"], name=f"{who.title()} Delegate")
        made[who] = {**(await client.post("/api/v1/registrations", json=body)).json(), "name": body["name"]}
    async with database.transaction() as db:
        await db.execute(
            sa.update(Registration)
            .where(Registration.id == uuid.UUID(made["unpaid"]["id"]))
            .values(status=Status.pending_payment)
        )
    await client.delete(
        f"/api/v1/registrations/{made['cancelled']['id']}",
        headers={"authorization": f"Bearer {made['cancelled']['manage_token']}"},
    )
    # The cancellation moved "extra" up; "waiting" stays on the waiting list.
    return made


@pytest.fixture
async def staff(database: Database) -> dict[str, str]:
    async with database.transaction() as db:
        return {"authorization": f"Bearer {await create_api_token(db, role='staff', name='Door A')}"}
