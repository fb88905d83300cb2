"""The organisers' dashboard: its figures and series for a seeded conference (statuses, sectors, regions, money
outstanding, a workshop with bookings, door check-ins at known times), the same in JSON and on the page, who may
see it, the Chart.js file it serves from node_modules, and that its cost does not grow with the delegates."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import col

from conference import dashboard
from conference.console import dashboard as console_dashboard
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import AuditEntry, Checkin, Invoice, PaymentMethod, Registration, Status
from sessions.models import RoomCreate, SessionCreate, SessionUpdate, TimeSlotCreate
from sessions.workshops import capacity, programme
from tests.factories import invoice_body, make_conference, registration_body
from tests.support import organiser_token, sign_in, staff_token

HTML = {"accept": "text/html"}
ORGANISER = Actor("organiser", "test")
NOW = datetime(2026, 12, 8, 9, 2, tzinfo=UTC)  # on the first morning, just after the door rush below


async def _register(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    answer = await client.post("/api/v1/registrations", json=body)
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


async def _set(database: Database, registration_id: str, **values: Any) -> None:
    async with database.transaction() as db:
        await db.execute(
            sa.update(Registration).where(col(Registration.id) == uuid.UUID(registration_id)).values(**values)
        )


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


async def _seed(client: httpx.AsyncClient, database: Database) -> dict[str, Any]:
    """Nine places (all taken), one waiting, one cancelled; three owe £540 each; a workshop slot with bookings;
    door arrivals on the evening before and on the first morning."""
    tickets = await make_conference(database, capacity=9)
    token = await organiser_token(database)
    r: dict[str, dict[str, Any]] = {}
    # (key, body, registered at (UTC)). June is BST: 23:30 UTC on 1 June is 00:30 on 2 June in London.
    plan = [
        ("A", registration_body(tickets["delegate"], region="London"), _utc(2026, 6, 1, 10)),
        (
            "B",
            registration_body(tickets["delegate"], sector="police", region="North West"),
            _utc(2026, 6, 1, 10, 5),
        ),
        ("C", registration_body(tickets["delegate"], sector="police"), _utc(2026, 6, 1, 23, 30)),
        ("D", registration_body(tickets["press"], sector="health", region="London"), _utc(2026, 6, 3, 9)),
        ("E", invoice_body(tickets["exhibitor"], sector="school", region="Wales"), _utc(2026, 6, 3, 9, 10)),
        ("E2", invoice_body(tickets["exhibitor"], sector="school", region="Wales"), _utc(2026, 6, 3, 9, 20)),
        ("E3", invoice_body(tickets["exhibitor"], sector="school", region="Wales"), _utc(2026, 6, 3, 9, 30)),
        ("F", registration_body(tickets["delegate"]), _utc(2026, 6, 3, 12)),
        ("G", registration_body(tickets["delegate"], sector="fire_rescue"), _utc(2026, 6, 2, 8)),
    ]
    for key, body, at in plan:
        r[key] = await _register(client, body)
        await _set(database, r[key]["id"], created_at=at)
    assert r["D"]["status"] == "awaiting_approval" and r["E"]["status"] == "confirmed"
    # F pays by card and has not yet: its place is held (pending_payment) for the exhibitor's £450 + VAT.
    await _set(
        database,
        r["F"]["id"],
        ticket_type_id=tickets["exhibitor"],
        payment_method=PaymentMethod.card,
        status=Status.pending_payment,
    )
    # E3's invoice is paid: nothing outstanding there.
    async with database.read() as db:
        e3_invoice = (
            await db.execute(
                sa.select(col(Invoice.id)).where(col(Invoice.registration_id) == uuid.UUID(r["E3"]["id"]))
            )
        ).scalar_one()
    paid = await client.post(
        f"/api/v1/invoices/{e3_invoice}/paid", headers={"authorization": f"Bearer {token}"}
    )
    assert paid.status_code == 200, paid.text
    cancelled = await client.delete(
        f"/api/v1/registrations/{r['G']['id']}", headers={"authorization": f"Bearer {token}"}
    )
    assert cancelled.status_code == 200, cancelled.text
    r["H"] = await _register(
        client, registration_body(tickets["delegate"], sector="other", region="Scotland")
    )
    await _set(database, r["H"]["id"], created_at=_utc(2026, 6, 5, 14))
    r["I"] = await _register(client, registration_body(tickets["delegate"], sector="prison", region="Wales"))
    await _set(database, r["I"]["id"], created_at=_utc(2026, 6, 5, 15))
    assert (r["H"]["status"], r["I"]["status"]) == ("confirmed", "waitlisted")

    ids = {k: uuid.UUID(v["id"]) for k, v in r.items()}
    async with database.transaction() as db:
        room1 = await programme.create_room(db, data=RoomCreate(name="Room 1", capacity=10), actor=ORGANISER)
        room2 = await programme.create_room(db, data=RoomCreate(name="Room 2", capacity=5), actor=ORGANISER)
        morning = _utc(2026, 12, 8, 11)
        slot1 = await programme.create_slot(
            db, data=TimeSlotCreate(starts_at=morning, ends_at=morning + timedelta(hours=1)), actor=ORGANISER
        )
        slot2 = await programme.create_slot(
            db,
            data=TimeSlotCreate(
                starts_at=morning + timedelta(hours=3),
                ends_at=morning + timedelta(hours=4),
                label="Afternoon workshops",
            ),
            actor=ORGANISER,
        )
        w1 = await programme.create_session(
            db,
            data=SessionCreate(
                title="A: Data sharing", kind="workshop", room_id=room1.id, start_slot_id=slot1.id, capacity=2
            ),
            actor=ORGANISER,
        )
        w2 = await programme.create_session(
            db,
            data=SessionCreate(
                title="B: Trauma-informed practice", kind="workshop", room_id=room2.id, start_slot_id=slot1.id
            ),
            actor=ORGANISER,
        )
        await programme.create_session(
            db,
            data=SessionCreate(
                title="C: Contextual safeguarding", kind="workshop", room_id=room1.id, start_slot_id=slot2.id
            ),
            actor=ORGANISER,
        )
        gone = await programme.create_session(
            db,
            data=SessionCreate(
                title="Cancelled workshop", kind="workshop", room_id=room2.id, start_slot_id=slot2.id
            ),
            actor=ORGANISER,
        )
        await programme.create_session(
            db,
            data=SessionCreate(title="Opening plenary", kind="plenary", start_slot_id=slot2.id),
            actor=ORGANISER,
        )
    s = database.settings
    async with database.transaction() as db:
        for who, session in (("A", w1), ("B", w1), ("C", w1), ("E", w2)):
            await capacity.book_seat(
                db,
                settings=s,
                registration_id=ids[who],
                session_id=session.id,
                actor=ORGANISER,
                source="organiser",
            )
        await programme.update_session(
            db, settings=s, session_id=gone.id, data=SessionUpdate(cancelled=True), actor=ORGANISER
        )

    def scan(who: str | None, at: datetime, result: str = "ok", list_: str = "door") -> Checkin:
        return Checkin(
            registration_id=ids[who] if who else None,
            list=list_,
            result=result,
            staff="staff:Door",
            scanned_at=at,
        )

    async with database.transaction() as db:
        db.add_all(
            [
                scan("A", _utc(2026, 12, 7, 17, 0)),  # early badge pick-up, the evening before
                scan("B", _utc(2026, 12, 8, 8, 31)),
                scan("C", _utc(2026, 12, 8, 8, 34, 59)),
                scan("E", _utc(2026, 12, 8, 8, 47)),
                scan("B", _utc(2026, 12, 8, 8, 50), result="already_checked_in"),  # not a second arrival
                scan(None, _utc(2026, 12, 8, 8, 52), result="invalid"),
                scan("G", _utc(2026, 12, 8, 8, 53), result="cancelled"),
                scan("E2", _utc(2026, 12, 8, 11, 1), list_=str(w2.id)),  # a workshop room, not the door
            ]
        )
    return {"tickets": tickets, "ids": ids, "token": token, "w1": w1, "w2": w2}


@pytest.fixture
async def seeded(client: httpx.AsyncClient, database: Database) -> dict[str, Any]:
    return await _seed(client, database)


async def _figures(database: Database, now: datetime = NOW) -> dict[str, Any]:
    async with database.read() as db:
        return await dashboard.dashboard(db, now=now)


# --- the figures -------------------------------------------------------------------------------------------


async def test_headline_figures(database: Database, seeded: dict[str, Any]) -> None:
    d = await _figures(database)
    assert d["registrations"] == {
        "live": 10,
        "by_status": {
            "confirmed": 7,
            "pending_payment": 1,
            "awaiting_approval": 1,
            "awaiting_verification": 0,
            "waitlisted": 1,
            "cancelled": 1,
        },
    }
    assert d["places"] == {"capacity": 9, "taken": 9, "left": 0}
    assert d["waiting_list"] == 1
    # E and E2's invoices (£450 + 20% VAT each) and F's card payment; E3 has paid.
    assert d["payments_outstanding"] == {"count": 3, "pence": 3 * 54000, "currency": "GBP"}
    assert d["arrivals"] == {"so_far": 4, "confirmed": 7}
    assert d["conference"]["capacity"] == 9 and d["conference"]["timezone"] == "Europe/London"
    assert d["generated_at"] == "2026-12-08T09:02:00+00:00"


async def test_money_outstanding_sums_whole_groups(client: httpx.AsyncClient, database: Database) -> None:
    """Three card payments awaited on one ticket type (one group of the aggregate), two unpaid invoices and a
    late-cancelled invoice payer whose invoice still stands: as the registrations console adds them up."""
    tickets = await make_conference(database, capacity=20)
    token = await organiser_token(database)
    invoiced = [await _register(client, invoice_body(tickets["exhibitor"])) for _ in range(3)]
    for _ in range(3):  # past the exhibitors' cap of 3, as the database allows
        made = await _register(client, registration_body(tickets["delegate"]))
        await _set(
            database,
            made["id"],
            ticket_type_id=tickets["exhibitor"],
            payment_method=PaymentMethod.card,
            status=Status.pending_payment,
        )
    async with database.transaction() as db:  # after the refund deadline: the invoice stands
        await db.execute(sa.text("UPDATE conference SET refund_full_until = :t"), {"t": _utc(2026, 1, 1)})
    late = await client.delete(
        f"/api/v1/registrations/{invoiced[0]['id']}", headers={"authorization": f"Bearer {token}"}
    )
    assert late.status_code == 200, late.text
    d = await _figures(database)
    assert d["payments_outstanding"] == {"count": 6, "pence": 6 * 54000, "currency": "GBP"}
    await sign_in(client, token)
    listed = await client.get("/console/registrations?payment=outstanding", headers=HTML)
    assert "of 6," in listed.text and listed.text.count("£540.00") == 6


async def test_places_left_never_goes_below_nothing(database: Database, seeded: dict[str, Any]) -> None:
    async with database.transaction() as db:
        await db.execute(sa.text("UPDATE conference SET capacity = 4"))
    d = await _figures(database)
    assert d["places"] == {"capacity": 4, "taken": 9, "left": 0}


async def test_registrations_over_time_by_london_day(database: Database, seeded: dict[str, Any]) -> None:
    series = (await _figures(database, now=_utc(2026, 6, 5, 18)))["series"]["registrations_over_time"]
    assert series["days"] == ["2026-06-01", "2026-06-02", "2026-06-03", "2026-06-04", "2026-06-05"]
    # A, B; C (00:30 on 2 June in London); D, E, E2, E3, F; nothing; H (I waits). G was cancelled.
    assert series["places_taken"] == [2, 3, 8, 8, 9]
    assert series["with_waiting_list"] == [2, 3, 8, 8, 10]
    assert series["capacity"] == 9
    # Days with nothing new still show, up to today while the conference is ahead.
    later = (await _figures(database, now=_utc(2026, 6, 7, 12)))["series"]["registrations_over_time"]
    assert later["days"][-3:] == ["2026-06-05", "2026-06-06", "2026-06-07"]
    assert later["places_taken"][-3:] == [9, 9, 9]


async def test_delegates_by_sector_and_region(database: Database, seeded: dict[str, Any]) -> None:
    series = (await _figures(database))["series"]
    sectors = {row["sector"]: row["count"] for row in series["sectors"]}
    # Places holders only: I (prison, waiting) and G (fire and rescue, cancelled) are not counted.
    assert sectors == {
        "local_authority": 2,
        "police": 2,
        "youth_offending_team": 0,
        "school": 3,
        "further_higher_education": 0,
        "health": 1,
        "probation": 0,
        "prison": 0,
        "fire_rescue": 0,
        "community_faith": 0,
        "central_government": 0,
        "other": 1,
    }
    assert series["sectors"][0] == {"sector": "local_authority", "label": "Local authority", "count": 2}
    regions = {row["label"]: row["count"] for row in series["regions"] if row["count"]}
    assert regions == {"London": 2, "North West": 1, "Wales": 3, "Scotland": 1, "Not given": 2}
    assert series["regions"][-1] == {"region": "", "label": "Not given", "count": 2}
    assert sum(sectors.values()) == sum(row["count"] for row in series["regions"]) == 9


async def test_workshop_fill_per_slot(database: Database, seeded: dict[str, Any]) -> None:
    workshops = (await _figures(database))["series"]["workshops"]
    assert [slot["label"] for slot in workshops] == ["Tue 8 Dec 2026, 11:00", "Afternoon workshops"]
    first, second = workshops
    assert (first["booked"], first["capacity"], first["waitlisted"]) == (3, 7, 1)
    assert [
        (s["title"], s["room"], s["booked"], s["capacity"], s["waitlisted"]) for s in first["sessions"]
    ] == [("A: Data sharing", "Room 1", 2, 2, 1), ("B: Trauma-informed practice", "Room 2", 1, 5, 0)]
    # The plenary has no seats to fill and the cancelled workshop is gone.
    assert [(s["title"], s["booked"], s["capacity"]) for s in second["sessions"]] == [
        ("C: Contextual safeguarding", 0, 10)
    ]
    assert first["starts_at"] == "2026-12-08T11:00:00+00:00"


async def test_arrivals_per_five_minutes_on_the_day(database: Database, seeded: dict[str, Any]) -> None:
    arrivals = (await _figures(database))["series"]["arrivals"]
    assert arrivals["day"] == "2026-12-08" and arrivals["interval_minutes"] == 5
    # B at 08:31 and C at 08:34:59 share a bucket; E at 08:47; then quiet until now (09:02).
    assert [(b["label"], b["count"]) for b in arrivals["buckets"]] == [
        ("08:30", 2),
        ("08:35", 0),
        ("08:40", 0),
        ("08:45", 1),
        ("08:50", 0),
        ("08:55", 0),
        ("09:00", 0),
    ]
    assert arrivals["buckets"][0]["starts_at"] == "2026-12-08T08:30:00+00:00"
    # Looked at the next day before anyone arrives: that morning's series, ending at its last arrival.
    after = (await _figures(database, now=_utc(2026, 12, 9, 8)))["series"]["arrivals"]
    assert after["day"] == "2026-12-08" and after["buckets"][-1] == {
        "starts_at": "2026-12-08T08:45:00+00:00",
        "label": "08:45",
        "count": 1,
    }


async def test_an_empty_conference(client: httpx.AsyncClient, database: Database) -> None:
    await make_conference(database, capacity=50)
    d = await _figures(database)
    assert d["registrations"]["live"] == 0 and d["places"] == {"capacity": 50, "taken": 0, "left": 50}
    assert d["payments_outstanding"] == {"count": 0, "pence": 0, "currency": "GBP"}
    assert d["series"]["registrations_over_time"]["days"] == []
    assert d["series"]["workshops"] == []
    assert d["series"]["arrivals"] == {"day": None, "interval_minutes": 5, "buckets": []}
    assert all(row["count"] == 0 for row in d["series"]["sectors"])
    await sign_in(client, await organiser_token(database))
    page = await client.get("/console/dashboard", headers=HTML)
    assert page.status_code == 200
    for text in (
        "No registrations yet.",
        "No workshops in the programme yet.",
        "Nobody has been checked in at the door yet.",
    ):
        assert text in page.text


async def test_the_cost_does_not_grow_with_the_delegates(
    client: httpx.AsyncClient, database: Database, seeded: dict[str, Any]
) -> None:
    """Aggregate queries only: 40 more delegates (registered, booked, checked in) run the same statements."""
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(database.reader.sync_engine, "before_cursor_execute", count)
    try:
        await _figures(database)
        before = list(statements)
        async with database.transaction() as db:
            await db.execute(sa.text("UPDATE conference SET capacity = 100"))
        for n in range(40):
            made = await _register(client, registration_body(seeded["tickets"]["delegate"], region="London"))
            async with database.transaction() as db:
                if n < 5:
                    await capacity.book_seat(
                        db,
                        settings=database.settings,
                        registration_id=uuid.UUID(made["id"]),
                        session_id=seeded["w2"].id,
                        actor=ORGANISER,
                        source="organiser",
                    )
                db.add(
                    Checkin(
                        registration_id=uuid.UUID(made["id"]),
                        list="door",
                        result="ok",
                        staff="s",
                        scanned_at=NOW - timedelta(minutes=n),
                    )
                )
        statements.clear()
        d = await _figures(database)
    finally:
        event.remove(database.reader.sync_engine, "before_cursor_execute", count)
    assert d["arrivals"]["so_far"] == 44 and d["registrations"]["live"] == 50
    assert len(statements) == len(before) <= 12  # 12: the card refunds' figures (issue 16)
    assert statements == before


# --- the page and the API ----------------------------------------------------------------------------------


async def test_the_api_answers_the_same_figures(
    client: httpx.AsyncClient, database: Database, seeded: dict[str, Any]
) -> None:
    answer = await client.get("/api/v1/dashboard", headers={"authorization": f"Bearer {seeded['token']}"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    expected = await _figures(database, now=datetime.fromisoformat(body["generated_at"]))
    assert body == expected
    # The console session may read it too (the page polls it): a GET needs no CSRF header.
    await sign_in(client, seeded["token"])
    polled = await client.get("/api/v1/dashboard")
    assert polled.status_code == 200 and polled.json()["registrations"] == expected["registrations"]


async def test_no_personal_data_and_no_audit_entry(
    client: httpx.AsyncClient, database: Database, seeded: dict[str, Any]
) -> None:
    async with database.read() as db:
        names = [n for (n,) in (await db.execute(sa.select(col(Registration.name))))]
        emails = [e for (e,) in (await db.execute(sa.select(col(Registration.email))))]
    await sign_in(client, seeded["token"])
    async with database.read() as db:
        audit_signed_in = (await db.execute(sa.select(sa.func.count()).select_from(AuditEntry))).scalar_one()
    page = (await client.get("/console/dashboard", headers=HTML)).text
    body = (await client.get("/api/v1/dashboard")).text
    for text in (page, body):
        for personal in [*names, *emails, "Leeds City Council"]:
            assert personal not in text
    async with database.read() as db:
        assert (
            await db.execute(sa.select(sa.func.count()).select_from(AuditEntry))
        ).scalar_one() == audit_signed_in


async def test_the_page_shows_figures_and_every_chart_as_a_table(
    client: httpx.AsyncClient, database: Database, seeded: dict[str, Any]
) -> None:
    await sign_in(client, seeded["token"])
    page = await client.get("/console/dashboard", headers=HTML)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    html = page.text
    figures = re.search(
        r'<dl class="dash-figures" id="figures"[^>]*aria-live="polite">(.*?)</dl>', html, re.DOTALL
    )
    assert figures, "the headline figures are a polite live region"
    text = re.sub(r"<[^>]+>|\s+", " ", figures.group(1))
    for phrase in (
        "Registrations 10 live",
        "Places left 0 of 9",
        "Waiting list 1",
        "Payments outstanding £1,620.00 from 3 registrations",
        "Arrived at the door 4 of 7 confirmed",
    ):
        assert re.sub(r"\s+", " ", phrase) in re.sub(r"\s+", " ", text), (phrase, text)
    for chart in ("registrations", "sectors", "regions", "workshops", "arrivals"):
        assert f'<canvas id="chart-{chart}" role="img" aria-label="' in html
        assert re.search(
            rf'<details><summary>[^<]+</summary>\s*<table class="table" id="table-{chart}">', html
        ), chart
    assert '<th scope="row">Mon 1 Jun 2026</th><td>2</td><td>2</td><td>9</td>' in html
    assert '<th scope="row">Local authority</th><td>2</td>' in html
    assert '<th scope="row">Not given</th><td>2</td>' in html
    assert "<td>A: Data sharing (Room 1)</td><td>2</td><td>2</td><td>100%</td><td>1</td>" in html
    # The arrivals' table (real time, so the day and the last buckets depend on the clock).
    assert '<th scope="row">08:30</th><td>2</td>' in html
    # Scripts from files only (the CSP allows no inline script); the data block is JSON, which never runs.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
    assert {attrs.strip() for attrs, body in scripts if body.strip()} == {
        'type="application/json" id="dashboard-data"'
    }
    assert re.search(r'<script src="(http://testserver)?/console/vendor/chart.umd.js" defer></script>', html)
    assert re.search(r'<script src="(http://testserver)?/static/dashboard.js" defer></script>', html)
    assert "style=" not in html and "onclick" not in html
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe" not in csp
    assert (
        'data-poll-url="/api/v1/dashboard"' in html
        and f'data-poll-seconds="{console_dashboard.POLL_SECONDS}"' in html
    )
    assert re.search(r'<a href="(http://testserver)?/console/dashboard">Dashboard</a>', html.split("<h1>")[0])
    script = await client.get("/static/dashboard.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith(
        ("text/javascript", "application/javascript")
    )


# --- who may see it ----------------------------------------------------------------------------------------


async def test_roles(client: httpx.AsyncClient, database: Database, seeded: dict[str, Any]) -> None:
    page = await client.get("/console/dashboard", headers=HTML)
    assert page.status_code == 303 and page.headers["location"].endswith("/login?next=%2Fconsole%2Fdashboard")
    assert (await client.get("/api/v1/dashboard")).status_code == 401
    staff = await staff_token(database)
    assert (
        await client.get("/api/v1/dashboard", headers={"authorization": f"Bearer {staff}"})
    ).status_code == 403
    manage = (
        await client.post("/api/v1/registrations", json=registration_body(seeded["tickets"]["delegate"]))
    ).json()
    attendee = {"authorization": f"Bearer {manage['manage_token']}"}
    assert (await client.get("/api/v1/dashboard", headers=attendee)).status_code == 403
    await sign_in(client, staff)
    assert (await client.get("/console/dashboard", headers=HTML)).status_code == 403
    assert (await client.get("/api/v1/dashboard")).status_code == 403
    await sign_in(client, seeded["token"])
    assert (await client.get("/console/dashboard", headers=HTML)).status_code == 200
    assert (await client.get("/api/v1/dashboard")).status_code == 200


async def test_the_console_opens_on_the_dashboard(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    await sign_in(client, await organiser_token(database))
    home = await client.get("/console", headers=HTML)
    assert home.status_code == 303 and home.headers["location"] == "/console/dashboard"


# --- Chart.js from node_modules -----------------------------------------------------------------------------


async def test_chart_js_is_served_from_node_modules(client: httpx.AsyncClient) -> None:
    relative, _ = console_dashboard.VENDOR["chart.umd.js"]
    if not (console_dashboard.NODE_MODULES / relative).is_file():
        pytest.fail(
            f"{relative} is missing from node_modules: run `npm ci` (./scripts/test does)", pytrace=False
        )
    script = await client.get("/console/vendor/chart.umd.js")
    assert script.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.headers["cache-control"] == "public, max-age=3600"
    assert script.text.startswith("/*!\n * Chart.js v4.") and ".Chart=" in script.text
    for other in (
        "chart.js",
        "chart.umd.min.js",
        "chart.umd.js.map",
        "package.json",
        "..%2Fpackage.json",
        "%2E%2E%2F%2E%2E%2Fpyproject.toml",
        "dashboard.js",
    ):
        assert (await client.get(f"/console/vendor/{other}")).status_code == 404, other
    assert (await client.get("/console/vendor/chart.js/dist/chart.umd.js")).status_code == 404


async def test_a_missing_node_modules_is_a_clear_503(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(console_dashboard, "NODE_MODULES", tmp_path / "node_modules")
    answer = await client.get("/console/vendor/chart.umd.js")
    assert answer.status_code == 503 and answer.headers["cache-control"] == "no-store"
    assert "npm ci" in answer.text and "chart.js/dist/chart.umd.js" in answer.text


def test_the_pinned_chart_js_is_the_one_installed() -> None:
    import json

    root = Path(__file__).resolve().parents[2]
    pinned = json.loads((root / "package.json").read_text())["dependencies"]["chart.js"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), "an exact version"
    installed = console_dashboard.NODE_MODULES / "chart.js" / "package.json"
    if installed.is_file():
        assert json.loads(installed.read_text())["version"] == pinned
