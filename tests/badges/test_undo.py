"""Undoing a mistaken admission (issue 19): who may, for how long, only once, audited, and the record kept."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from badges import checkin
from conference.core import errors
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import AuditEntry, Checkin
from conference.core.settings import Settings
from tests.support import code_for, scan


async def _undo(client: httpx.AsyncClient, headers: dict[str, str], checkin_id: str) -> httpx.Response:
    return await client.post(f"/api/v1/checkins/{checkin_id}/undo", headers=headers)


async def test_the_scanning_staff_member_undoes_once_and_it_is_audited(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    people: dict[str, dict[str, Any]],
    staff: dict[str, str],
    token: Callable[[str, str], Awaitable[dict[str, str]]],
    scans_recorded: Callable[[], Awaitable[list[Checkin]]],
) -> None:
    code = code_for(settings, people["ada"])
    admitted = (await scan(client, staff, code)).json()
    assert admitted["result"] == "ok"
    checkin_id = admitted["checkin_id"]

    other_door = await token("staff", "Door B")
    refused = await _undo(client, other_door, checkin_id)
    assert refused.status_code == 403 and "staff member who scanned" in refused.json()["error"]["message"]
    attendee = {"authorization": f"Bearer {people['ada']['manage_token']}"}
    assert (await _undo(client, attendee, checkin_id)).status_code == 403
    assert (await _undo(client, {}, checkin_id)).status_code == 401

    undone = await _undo(client, staff, checkin_id)
    assert undone.status_code == 200, undone.text
    assert undone.json()["result"] == "undone" and undone.json()["reference"] == people["ada"]["reference"]
    again = await _undo(client, staff, checkin_id)
    assert again.status_code == 409 and again.json()["error"]["code"] == "cannot_undo"
    assert "already undone" in again.json()["error"]["message"]

    # Every scan stays recorded: the admission is marked, not removed, and says who undid it.
    (record,) = await scans_recorded()
    assert (record.result, record.reason) == ("undone", "Admission undone by staff:Door A")
    async with database.read() as db:
        audited = (
            await db.execute(sa.select(AuditEntry).where(AuditEntry.action == "badges.checkin.undone"))
        ).scalars()
        entries = [(a.actor, a.subject, a.data["checkin"]) for a in audited]
    assert entries == [("staff:Door A", people["ada"]["reference"], checkin_id)]

    # Undone, the badge admits her again; the door list shows her out, then in.
    listing = (await client.get("/api/v1/checkins/door-list", headers=staff)).json()
    ada = next(e for e in listing["entries"] if e["reference"] == people["ada"]["reference"])
    assert ada["checked_in_at"] is None
    assert (await scan(client, other_door, code)).json()["result"] == "ok"


async def test_an_organiser_may_undo_anybodys_admission(
    client: httpx.AsyncClient,
    token: Callable[[str, str], Awaitable[dict[str, str]]],
    settings: Settings,
    people: dict[str, dict[str, Any]],
    staff: dict[str, str],
) -> None:
    admitted = (await scan(client, staff, code_for(settings, people["grace"]))).json()
    organiser = await token("organiser", "Lead")
    assert (await _undo(client, organiser, admitted["checkin_id"])).status_code == 200


async def test_only_an_admission_and_only_for_a_few_minutes(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    people: dict[str, dict[str, Any]],
    staff: dict[str, str],
    scans_recorded: Callable[[], Awaitable[list[Checkin]]],
) -> None:
    code = code_for(settings, people["ada"])
    first = (await scan(client, staff, code)).json()
    assert (await scan(client, staff, code)).json()["result"] == "already_checked_in"
    refusal = (await scans_recorded())[1]
    nothing = await _undo(client, staff, str(refusal.id))
    assert nothing.status_code == 409 and "let nobody in" in nothing.json()["error"]["message"]
    assert (await _undo(client, staff, str(uuid.uuid4()))).status_code == 404
    assert (await _undo(client, staff, "not-an-id")).status_code == 404

    # Past the window (the server's clock from when it received the scan), refused and left as it was.
    (admission, _) = await scans_recorded()
    late = admission.received_at + timedelta(minutes=checkin.UNDO_MINUTES, seconds=1)
    with pytest.raises(checkin.CannotUndo, match="can be undone for 5 minutes"):
        await checkin.undo_admission(
            database, uuid.UUID(first["checkin_id"]), actor=Actor("staff", "Door A"), now=late
        )
    in_time = admission.received_at + timedelta(minutes=checkin.UNDO_MINUTES - 1)
    with pytest.raises(errors.Forbidden):
        await checkin.undo_admission(
            database, uuid.UUID(first["checkin_id"]), actor=Actor("staff", "Door B"), now=in_time
        )
    assert [r.result for r in await scans_recorded()] == ["ok", "already_checked_in"]
    done = await checkin.undo_admission(
        database, uuid.UUID(first["checkin_id"]), actor=Actor("staff", "Door A"), now=in_time
    )
    assert done["result"] == "undone"
