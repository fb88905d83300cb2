"""Cancelling a session only after a page saying who will be told, and restoring it until the event starts: seats
back in booking order where they still fit, the delegates told, "Cancelled" on /programme and in agendas meanwhile
(issue 17)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.models import AuditEntry
from sessions.models import ProgrammeSession, SeatBooking, SeatStatus
from sessions.workshops import cancellation
from tests.factories import Programme, make_conference, make_programme
from tests.support import bearer, book_seat, csrf, organiser_token, outbox_rows, register, sign_in

HTML = {"accept": "text/html"}


@pytest.fixture
async def prog(database: Database) -> tuple[dict[str, Any], Programme]:
    tickets = await make_conference(database, capacity=50)
    return tickets, await make_programme(database)  # Workshop A: Small (3 seats), day 1 10:00


async def seats(database: Database, session_id: uuid.UUID) -> dict[str, SeatStatus]:
    """Each delegate's seat in the session (registration id → status), cancelled ones included."""
    async with database.read() as db:
        rows = (
            await db.execute(sa.select(SeatBooking).where(SeatBooking.session_id == session_id))
        ).scalars()
        return {str(s.registration_id): s.status for s in rows}


async def waiting_order(database: Database, session_id: uuid.UUID) -> list[str]:
    async with database.read() as db:
        rows = (
            await db.execute(
                sa.select(SeatBooking)
                .where(SeatBooking.session_id == session_id, SeatBooking.status == SeatStatus.waitlisted)
                .order_by(SeatBooking.number)
            )
        ).scalars()
        return [str(s.registration_id) for s in rows]


async def mails_to(database: Database) -> dict[str, list[str]]:
    """Registration id → the programme_changed lines queued for it."""
    out: dict[str, list[str]] = {}
    for m in await outbox_rows(database):
        if m.kind == "programme_changed":
            out.setdefault(str(m.registration_id), []).extend(m.context["changes"])
    return out


async def cancel_in_console(client: httpx.AsyncClient, session_id: uuid.UUID) -> httpx.Response:
    page = await client.get(f"/console/programme/sessions/{session_id}/cancel", headers=HTML)
    assert page.status_code == 200
    return await client.post(
        f"/console/programme/sessions/{session_id}/cancel", data={"csrf_token": csrf(page.text)}
    )


async def test_cancelling_asks_first_saying_how_many_are_told_then_tells_them(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme], database: Database
) -> None:
    tickets, p = prog
    people = [await register(client, tickets["delegate"]) for _ in range(4)]
    assert [await book_seat(client, r, p.sessions["A"]) for r in people] == ["booked"] * 3 + ["waitlisted"]
    await sign_in(client, await organiser_token(database))

    listing = await client.get("/console/programme", headers=HTML)
    cancel_url = f"/console/programme/sessions/{p.sessions['A']}/cancel"
    # The programme page links to the confirmation; it has no one-click cancel button any more.
    assert f'href="http://testserver{cancel_url}"' in listing.text
    assert f'action="http://testserver{cancel_url}"' not in listing.text
    confirm = await client.get(cancel_url, headers=HTML)
    assert confirm.status_code == 200
    assert "Cancel “Workshop A”?" in confirm.text
    assert "3 delegates with a seat will be emailed" in confirm.text
    assert "1 waiting-list place will be released" in confirm.text
    assert 'aria-label="Console"' in confirm.text
    held = [SeatStatus.booked] * 3 + [SeatStatus.waitlisted]
    assert await seats(database, p.sessions["A"]) == {r["id"]: s for r, s in zip(people, held, strict=True)}

    done = await client.post(cancel_url, data={"csrf_token": csrf(confirm.text)})
    assert done.status_code == 303 and "done=session_cancelled_told" in done.headers["location"]
    back = await client.get(done.headers["location"], headers=HTML)
    assert "3 delegate(s) with seats have been emailed" in back.text
    assert set((await seats(database, p.sessions["A"])).values()) == {SeatStatus.cancelled}
    told = await mails_to(database)
    assert sorted(told) == sorted(r["id"] for r in people[:3])  # the waiting delegate had no seat to lose
    assert all(lines == ["'Workshop A' is cancelled."] for lines in told.values())
    async with database.read() as db:
        entry = (
            await db.execute(sa.select(AuditEntry).where(AuditEntry.action == "sessions.session.cancelled"))
        ).scalar_one()
    assert entry.subject == str(p.sessions["A"]) and entry.data == {"told": 3, "waiting_list_released": 1}

    # Cancelled, it stays on the public programme and in the delegate's agenda, marked.
    public = (await client.get("/programme", headers=HTML)).text
    block = public[public.index(f'id="session-{p.sessions["A"]}"') :].split("</article>")[0]
    assert "Workshop A" in block and "<strong>Cancelled.</strong>" in block and "seats left" not in block
    first_slot = (await client.get("/api/v1/programme")).json()["days"][0]["slots"][0]["sessions"]
    assert all(s["title"] != "Workshop A" for s in first_slot)  # the JSON leaves it out, as before
    agenda = (await client.get(f"/manage/{people[0]['manage_token']}/agenda", headers=HTML)).text
    row = agenda[agenda.index("Workshop A") :][:300]
    assert "Cancelled" in row
    ics = (await client.get(f"/manage/{people[0]['manage_token']}/agenda.ics")).text
    assert "Workshop A" not in ics


async def test_restoring_gives_seats_back_in_booking_order_where_they_still_fit(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme], database: Database
) -> None:
    tickets, p = prog
    people = [await register(client, tickets["delegate"]) for _ in range(5)]
    first, clashing, third, fourth, fifth = people
    booked = [await book_seat(client, r, p.sessions["A"]) for r in people]
    assert booked == ["booked"] * 3 + ["waitlisted"] * 2
    await sign_in(client, await organiser_token(database))
    assert (await cancel_in_console(client, p.sessions["A"])).status_code == 303
    # Meanwhile the second delegate books Workshop B at the same time, and the organiser cuts A to one seat.
    assert await book_seat(client, clashing, p.sessions["B"]) == "booked"
    edit = await client.get(f"/console/programme/sessions/{p.sessions['A']}", headers=HTML)
    async with database.read() as db:
        a = await db.get(ProgrammeSession, p.sessions["A"])
    assert a is not None
    cut = await client.post(
        f"/console/programme/sessions/{p.sessions['A']}",
        data={
            "csrf_token": csrf(edit.text),
            "title": a.title,
            "description": a.description,
            "speakers": a.speakers,
            "theme": a.theme,
            "room_id": str(a.room_id),
            "start_slot_id": str(a.start_slot_id),
            "slot_count": "1",
            "capacity": "1",
        },
    )
    assert cut.status_code == 303, cut.text
    before = await mails_to(database)

    confirm = await client.get(f"/console/programme/sessions/{p.sessions['A']}/restore", headers=HTML)
    assert confirm.status_code == 200
    text = confirm.text
    assert "Restore “Workshop A”?" in text
    assert "1 of 3 seats go back to the delegates who had them, in the order they booked" in text
    assert "1 go on the waiting list" in text
    assert "1 can't have their seat back" in text and "booked another session at that time" in text
    assert "2 waiting-list places are given back too" in text
    restored = await client.post(
        f"/console/programme/sessions/{p.sessions['A']}/restore", data={"csrf_token": csrf(text)}
    )
    assert restored.status_code == 303 and "done=session_restored" in restored.headers["location"]

    after = await seats(database, p.sessions["A"])
    assert after[first["id"]] == SeatStatus.booked  # first to book: the one seat
    assert after[clashing["id"]] == SeatStatus.cancelled  # Workshop B at that time: not given back
    assert await waiting_order(database, p.sessions["A"]) == [third["id"], fourth["id"], fifth["id"]]
    told = await mails_to(database)
    new = {rid: lines[len(before.get(rid, [])) :] for rid, lines in told.items()}
    assert new[first["id"]] == [
        "'Workshop A' is back in the programme (Tue 8 Dec 2026, 10:00–11:00 in Small) and your seat is "
        "booked again."
    ]
    assert (
        "we could not give your seat back: you have booked another session at that time"
        in new[clashing["id"]][0]
    )
    assert "you are on its waiting list" in new[third["id"]][0]
    assert not new.get(fourth["id"]) and not new.get(
        fifth["id"]
    )  # they had no seat, and were not told of the cancel
    async with database.read() as db:
        session = await db.get(ProgrammeSession, p.sessions["A"])
        entry = (
            await db.execute(sa.select(AuditEntry).where(AuditEntry.action == "sessions.session.restored"))
        ).scalar_one()
        marked = (
            (await db.execute(sa.select(SeatBooking).where(SeatBooking.held_before_cancel != "")))
            .scalars()
            .all()
        )
    assert session is not None and not session.cancelled
    assert entry.data == {"given_back": 1, "waitlisted": 1, "clash": 1, "gone": 0, "waiting_list": 2}
    assert marked == []  # a later cancel and restore starts afresh
    page = (await client.get("/programme", headers=HTML)).text
    block = page[page.index(f'id="session-{p.sessions["A"]}"') :].split("</article>")[0]
    assert "Cancelled" not in block and "Full." in block


async def test_a_restore_is_refused_once_the_event_has_started(
    client: httpx.AsyncClient,
    prog: tuple[dict[str, Any], Programme],
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tickets, p = prog
    person = await register(client, tickets["delegate"])
    await book_seat(client, person, p.sessions["A"])
    await sign_in(client, await organiser_token(database))
    assert (await cancel_in_console(client, p.sessions["A"])).status_code == 303
    # The clock moves to the first morning of the event (it starts at 09:00 UTC on 8 December 2026).
    monkeypatch.setattr(cancellation, "utcnow", lambda: datetime(2026, 12, 8, 9, 0, 1, tzinfo=UTC))
    page = await client.get(f"/console/programme/sessions/{p.sessions['A']}/restore", headers=HTML)
    assert (
        page.status_code == 200
        and "The event has started" in page.text
        and 'id="restore-form"' not in page.text
    )
    refused = await client.post(
        f"/console/programme/sessions/{p.sessions['A']}/restore", data={"csrf_token": csrf(page.text)}
    )
    assert refused.status_code == 409 and "There is a problem" in refused.text
    assert "can no longer be restored" in refused.text
    api = await client.patch(
        f"/api/v1/sessions/{p.sessions['A']}",
        json={"cancelled": False},
        headers=bearer(await organiser_token(database)),
    )
    assert api.status_code == 409 and api.json()["error"]["code"] == "too_late_to_restore"
    async with database.read() as db:
        session = await db.get(ProgrammeSession, p.sessions["A"])
    assert session is not None and session.cancelled
    assert (await seats(database, p.sessions["A"]))[person["id"]] == SeatStatus.cancelled

    # A minute before it starts, the same restore goes through.
    monkeypatch.setattr(cancellation, "utcnow", lambda: datetime(2026, 12, 8, 8, 59, tzinfo=UTC))
    again = await client.post(
        f"/console/programme/sessions/{p.sessions['A']}/restore", data={"csrf_token": csrf(page.text)}
    )
    assert again.status_code == 303
    assert (await seats(database, p.sessions["A"]))[person["id"]] == SeatStatus.booked


async def test_a_room_taken_meanwhile_is_named_and_the_session_can_move_before_it_is_restored(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme], database: Database
) -> None:
    tickets, p = prog
    person = await register(client, tickets["delegate"])
    await book_seat(client, person, p.sessions["A"])
    token = await organiser_token(database)
    await sign_in(client, token)
    assert (await cancel_in_console(client, p.sessions["A"])).status_code == 303
    # Another session takes Small at 10:00 while A is cancelled.
    taken = await client.post(
        "/api/v1/sessions",
        headers=bearer(token),
        json={
            "title": "Pop-up clinic",
            "kind": "workshop",
            "room_id": str(p.rooms["Small"]),
            "start_slot_id": str(p.slots[0]),
        },
    )
    assert taken.status_code == 201, taken.text
    page = await client.get(f"/console/programme/sessions/{p.sessions['A']}/restore", headers=HTML)
    refused = await client.post(
        f"/console/programme/sessions/{p.sessions['A']}/restore", data={"csrf_token": csrf(page.text)}
    )
    assert (
        refused.status_code == 409 and "already taken at that time by &#39;Pop-up clinic&#39;" in refused.text
    )
    assert 'href="#restore"' in refused.text and 'id="restore"' in refused.text
    # Moved to a free room while still cancelled (no one is told: nobody holds a seat), then restored there.
    moved = await client.patch(
        f"/api/v1/sessions/{p.sessions['A']}", headers=bearer(token), json={"room_id": str(p.rooms["Hall"])}
    )
    assert moved.status_code == 200 and moved.json()["cancelled"] is True
    restored = await client.patch(
        f"/api/v1/sessions/{p.sessions['A']}", headers=bearer(token), json={"cancelled": False}
    )
    assert restored.status_code == 200 and restored.json()["booked"] == 1
    lines = (await mails_to(database))[person["id"]]
    assert lines[-1].startswith("'Workshop A' is back in the programme (Tue 8 Dec 2026, 10:00–11:00 in Hall)")


async def test_cancel_and_restore_pages_are_for_organisers(
    client: httpx.AsyncClient, prog: tuple[dict[str, Any], Programme], database: Database
) -> None:
    _tickets, p = prog
    for path in ("cancel", "restore"):
        url = f"/console/programme/sessions/{p.sessions['A']}/{path}"
        assert (await client.get(url, headers=HTML)).status_code == 303  # anonymous: sign in first
    await sign_in(client, await organiser_token(database))
    not_cancelled = await client.get(f"/console/programme/sessions/{p.sessions['A']}/restore", headers=HTML)
    assert "is not cancelled" in not_cancelled.text and 'id="restore-form"' not in not_cancelled.text
    assert (
        await client.get(f"/console/programme/sessions/{uuid.uuid4()}/cancel", headers=HTML)
    ).status_code == 404
