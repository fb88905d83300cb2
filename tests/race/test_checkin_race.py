"""Several doors scan the same badges at once on real uvicorn processes (2 workers), on both databases: each
delegate is admitted exactly once, everybody else is told when and where, and every scan is recorded."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from badges.codes import BadgeSigner
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import Checkin
from conference.core.schemas import RegistrationCreate
from conference.registration import register
from conference.web.auth import create_api_token
from tests import support
from tests.factories import make_conference, registration_body
from tests.support import make_settings

pytestmark = pytest.mark.race

DELEGATES = 25
DOORS = 4  # every badge is scanned at four doors at the same moment


async def _seed(url: str) -> tuple[list[str], str]:
    settings = make_settings(url)
    database = Database.from_settings(settings)
    try:
        tickets = await make_conference(database, capacity=1000)
        references = []
        for _ in range(DELEGATES):
            async with database.transaction() as db:
                result = await register(
                    db,
                    settings=settings,
                    actor=Actor("anonymous"),
                    data=RegistrationCreate(**registration_body(tickets["delegate"])),
                )
            references.append(result.registration.reference)
        async with database.transaction() as db:
            token = await create_api_token(db, role="staff", name="Doors")
    finally:
        await database.dispose()
    signer = BadgeSigner.from_settings(settings)
    return [signer.code_for(r, 1) for r in references], token


async def _scan_all(base: str, codes: list[str], token: str) -> list[httpx.Response]:
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=base, timeout=60, limits=httpx.Limits(max_connections=100)
    ) as client:
        return await asyncio.gather(
            *(
                client.post(
                    "/api/v1/checkins",
                    json={"code": code, "list": "door", "device": f"door-{d}"},
                    headers=headers,
                )
                for code in codes
                for d in range(DOORS)
            )
        )


async def _recorded(url: str) -> list[Checkin]:
    database = Database.from_settings(make_settings(url))
    try:
        async with database.read() as db:
            return list((await db.execute(sa.select(Checkin))).scalars())
    finally:
        await database.dispose()


def test_every_badge_admitted_once_across_workers(race_url: str, tmp_path: Path) -> None:
    codes, token = asyncio.run(_seed(race_url))
    with support.live_server(race_url, workers=2, log_path=tmp_path / "server.log") as base:
        answers = asyncio.run(_scan_all(base, codes, token))

    assert all(a.status_code == 200 for a in answers), Counter(a.status_code for a in answers)
    results = Counter(a.json()["result"] for a in answers)
    assert results == {"ok": DELEGATES, "already_checked_in": DELEGATES * (DOORS - 1)}, results
    # Everybody who was turned away was told the one admission's time.
    by_person: dict[str, set[str]] = {}
    for a in answers:
        body = a.json()
        by_person.setdefault(body["attendee"]["reference"], set()).add(body["checked_in_at"])
    assert all(len(times) == 1 for times in by_person.values()) and len(by_person) == DELEGATES

    recorded = asyncio.run(_recorded(race_url))
    assert len(recorded) == DELEGATES * DOORS
    admitted = Counter(c.registration_id for c in recorded if c.result == "ok")
    assert len(admitted) == DELEGATES and set(admitted.values()) == {1}
    assert all(isinstance(c.registration_id, uuid.UUID) for c in recorded)
