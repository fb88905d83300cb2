"""The audit log page: filters, pages, the CSV export (itself audited), no way to change anything, and the database
refusing UPDATE and DELETE of an entry on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlmodel import col

from conference.console.audit import local_midnight
from conference.core.db import Database
from conference.core.models import AuditEntry
from conference.web.auth import create_api_token
from tests import support
from tests.support import KIND, make_settings, sign_in

HTML = {"accept": "text/html"}

# (at, actor, action, subject, data): UK dates are in the comments. All in the past, so that the entries the test's
# own sign-in writes (now) fall outside every date range below.
ENTRIES: list[tuple[datetime, str, str, str, dict[str, Any]]] = [
    (
        datetime(2025, 6, 30, 22, 30, tzinfo=UTC),
        "organiser:Bob",
        "conference.registrations.viewed",
        "T-4",
        {"page": 1},
    ),  # 30 Jun 23:30 BST
    (
        datetime(2025, 6, 30, 23, 30, tzinfo=UTC),
        "anonymous",
        "conference.login.failed",
        "T-1",
        {"reason": "token"},
    ),  # 1 Jul 00:30 BST
    (
        datetime(2025, 7, 1, 12, 0, tzinfo=UTC),
        "organiser:Alice Smith",
        "conference.login.succeeded",
        "T-2",
        {"token": True},
    ),  # 1 Jul 13:00 BST
    (
        datetime(2025, 7, 1, 23, 30, tzinfo=UTC),
        "attendee:NC-XYZ",
        "conference.registration.created",
        "T-3",
        {"status": "confirmed", "ticket": "Delegate"},
    ),  # 2 Jul 00:30 BST
    (
        datetime(2025, 12, 8, 0, 30, tzinfo=UTC),
        "organiser:alice smith",
        "sessions.seat.booked",
        "T-3",
        {"session": "W1"},
    ),  # 8 Dec 00:30 GMT
    (
        datetime(2025, 12, 9, 0, 30, tzinfo=UTC),
        '=HYPERLINK("x")',
        "conference.test.formula",
        "T-5",
        {"b": [1, 2], "a": "x y"},
    ),  # 9 Dec 00:30 GMT
]


async def seed(database: Database) -> None:
    async with database.transaction() as db:
        for at, actor, action, subject, data in ENTRIES:
            db.add(AuditEntry(at=at, actor=actor, action=action, subject=subject, data=data))


@pytest.fixture
async def organiser(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> httpx.AsyncClient:
    await seed(database)
    async with database.transaction() as db:
        token = await create_api_token(db, role="organiser", name="Auditor")
    await sign_in(client, token)
    return client


def table_rows(html: str) -> list[tuple[str, str, str, str, str]]:
    """(when, actor, action, subject, data) of every entry on the page."""
    table = re.search(r'<table class="table[^"]*" id="audit">.*?<tbody>(.*?)</tbody>', html, re.DOTALL)
    assert table, html
    found = []
    for row in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.DOTALL):
        cells = [
            unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)
        ]
        if len(cells) == 5:
            found.append((cells[0], cells[1], cells[2], cells[3], cells[4]))
    return found


async def subjects(client: httpx.AsyncClient, query: str) -> list[str]:
    """The test entries' subjects (T-...) the page shows for a query, in page order."""
    page = await client.get(f"/console/audit?{query}", headers=HTML)
    assert page.status_code == 200, page.text
    return [r[3] for r in table_rows(page.text) if r[3].startswith("T-")]


async def test_filters(organiser: httpx.AsyncClient) -> None:
    client = organiser
    assert await subjects(client, "") == ["T-5", "T-3", "T-3", "T-2", "T-1", "T-4"]  # newest first
    assert await subjects(client, "action=conference.login") == ["T-2", "T-1"]
    assert await subjects(client, "action=conference.login.failed") == ["T-1"]
    assert await subjects(client, "action=conference.registration") == ["T-3", "T-4"]  # a plain prefix
    assert await subjects(client, "action=sessions") == ["T-3"]
    assert await subjects(client, "action=conference.log%25") == []  # % is a character, not a wildcard
    assert await subjects(client, "action=_onference") == []
    assert await subjects(client, "actor=ALICE") == ["T-3", "T-2"]  # contains, any case
    assert await subjects(client, "actor=organiser%3A") == ["T-3", "T-2", "T-4"]
    assert await subjects(client, "subject=T-3") == ["T-3", "T-3"]
    assert await subjects(client, "subject=T-") == []  # exact
    assert await subjects(client, "subject=t-3") == []
    # UK days: 1 July runs from 23:00 UTC on 30 June to 23:00 UTC on 1 July (BST); 8 December is GMT.
    assert await subjects(client, "from=2025-07-01&to=2025-07-01") == ["T-2", "T-1"]
    assert await subjects(client, "to=2025-06-30") == ["T-4"]
    assert await subjects(client, "from=2025-07-02&to=2025-07-02") == ["T-3"]
    assert await subjects(client, "from=2025-12-08&to=2025-12-08") == ["T-3"]
    assert await subjects(client, "from=2025-12-09&to=2025-12-09") == ["T-5"]
    assert await subjects(client, "action=conference&actor=alice&from=2025-07-01&to=2025-12-31") == ["T-2"]

    page = await client.get("/console/audit?subject=T-5", headers=HTML)
    (row,) = table_rows(page.text)
    assert row[0] == "Tue 9 Dec 2025, 00:30"
    # A short line in words, then the whole of the details (keys sorted) on demand (issue 23).
    assert row[4].startswith("a: x y; b: 2 items (show all the details)")
    assert row[4].endswith('{\n  "a": "x y",\n  "b": [\n    1,\n    2\n  ]\n}')
    # The families of actions, for the select, in words; the values are the codes.
    assert '<optgroup label="Signing in">' in page.text
    assert '<option value="conference.login.failed">Sign-in failed</option>' in page.text


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("from=08/12/2026", "From", "Enter a date like 2026-12-08."),
        ("to=2025-13-01", "To", "Enter a date like 2026-12-08."),
        ("from=2025-07-02&to=2025-07-01", "To", "The end date must be the same as or after the start date."),
        ("actor=" + "x" * 121, "Who", "Use at most 120 characters."),
    ],
)
async def test_bad_filters_are_named(
    organiser: httpx.AsyncClient, query: str, field: str, message: str
) -> None:
    page = await organiser.get(f"/console/audit?{query}", headers=HTML)
    assert page.status_code == 422
    assert f"{field}: {message}" in unescape(page.text)
    assert table_rows(page.text) == []
    csv_answer = await organiser.get(f"/console/audit.csv?{query}", headers=HTML)
    assert csv_answer.status_code == 422 and "text/html" in csv_answer.headers["content-type"]


async def test_pages_of_a_hundred_newest_first(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    start = datetime(2025, 8, 1, 9, tzinfo=UTC)
    async with database.transaction() as db:
        for i in range(150):
            db.add(
                AuditEntry(
                    at=start + timedelta(minutes=i),
                    actor="system",
                    action="test.bulk.entry",
                    subject=f"B-{i:03d}",
                )
            )
        token = await create_api_token(db, role="organiser", name="Auditor")
    await sign_in(client, token)
    first = await client.get("/console/audit?action=test.bulk", headers=HTML)
    shown = [r[3] for r in table_rows(first.text)]
    assert shown == [f"B-{i:03d}" for i in range(149, 49, -1)]
    assert "Entries 1 to 100 of 150" in first.text
    assert 'href="?action=test.bulk&amp;page=2" rel="next"' in first.text
    second = await client.get("/console/audit?action=test.bulk&page=2", headers=HTML)
    assert [r[3] for r in table_rows(second.text)] == [f"B-{i:03d}" for i in range(49, -1, -1)]
    beyond = await client.get("/console/audit?action=test.bulk&page=99", headers=HTML)
    assert [r[3] for r in table_rows(beyond.text)] == [r[3] for r in table_rows(second.text)]


async def test_the_page_offers_no_way_to_change_an_entry(organiser: httpx.AsyncClient) -> None:
    page = await organiser.get("/console/audit", headers=HTML)
    html = page.text
    posts = re.findall(r'<form[^>]*method="post"[^>]*>', html, re.IGNORECASE)
    assert posts == ['<form method="post" action="http://testserver/logout" class="signout">'], posts
    forms = re.findall(r"<form[^>]*>", html)
    assert len(forms) == 2 and 'method="get"' in forms[1]  # sign out, and the filters
    assert not re.search(
        r"\b(edit|delete|remove)\b", re.sub(r"<[^>]+>", " ", html.split('id="audit"', 1)[1]), re.IGNORECASE
    )
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for path in ("/console/audit", "/console/audit.csv"):
            assert (await organiser.request(method, path, headers=HTML)).status_code == 405, (method, path)


async def test_csv_export_is_audited(organiser: httpx.AsyncClient, database: Database) -> None:
    answer = await organiser.get("/console/audit.csv?from=2025-07-01&to=2025-12-31", headers=HTML)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == 'attachment; filename="audit.csv"'
    table = list(csv.reader(io.StringIO(answer.text)))
    assert table[0] == ["id", "at", "actor", "action", "subject", "data"]
    assert [r[4] for r in table[1:]] == ["T-5", "T-3", "T-3", "T-2", "T-1"]
    formula = table[1]
    assert formula[2] == '\'=HYPERLINK("x")'  # a spreadsheet would run it as a formula
    assert formula[1] == "2025-12-09T00:30:00+00:00" and formula[5] == '{"a":"x y","b":[1,2]}'

    async with database.read() as db:
        (entry,) = (
            (
                await db.execute(
                    sa.select(AuditEntry).where(col(AuditEntry.action) == "conference.audit.exported")
                )
            )
            .scalars()
            .all()
        )
    assert entry.actor == "organiser:Auditor"
    assert entry.data == {
        "action_prefix": None,
        "actor_filtered": False,
        "subject_filter": None,
        "from_date": "2025-07-01",
        "to_date": "2025-12-31",
        "rows": 5,
    }
    page = await organiser.get("/console/audit?action=conference.audit", headers=HTML)
    assert [(r[1], r[2]) for r in table_rows(page.text)] == [
        ("organiser:Auditor", "Audit log exported")
    ]  # in words on the page; the CSV below keeps the code
    # The export is the log up to the moment it was asked for: its own entry is not in it.
    everything = await organiser.get("/console/audit.csv", headers=HTML)
    rows = list(csv.reader(io.StringIO(everything.text)))[1:]
    assert "conference.audit.exported" in [r[3] for r in rows]  # the first export's entry
    assert len([r for r in rows if r[3] == "conference.audit.exported"]) == 1
    assert [int(r[0]) for r in rows] == sorted((int(r[0]) for r in rows), reverse=True)


async def test_csv_export_pages_through_a_long_log(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    async with database.transaction() as db:
        for i in range(2345):
            db.add(AuditEntry(actor="system", action="test.many", subject=str(i)))
        token = await create_api_token(db, role="organiser", name="Auditor")
    await sign_in(client, token)
    answer = await client.get("/console/audit.csv?action=test.many", headers=HTML)
    rows = list(csv.reader(io.StringIO(answer.text)))[1:]
    assert [r[4] for r in rows] == [str(i) for i in range(2344, -1, -1)]


async def test_only_organisers(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    for path in ("/console/audit", "/console/audit.csv?action=x"):
        answer = await client.get(path, headers=HTML)
        assert answer.status_code == 303 and "/login?next=" in answer.headers["location"], path
    async with database.transaction() as db:
        staff = await create_api_token(db, role="staff", name="Door staff")
    await sign_in(client, staff)
    for path in ("/console/audit", "/console/audit.csv"):
        assert (await client.get(path, headers=HTML)).status_code == 403, path
    async with database.read() as db:
        exported = (
            await db.execute(
                sa.select(sa.func.count())
                .select_from(AuditEntry)
                .where(col(AuditEntry.action) == "conference.audit.exported")
            )
        ).scalar_one()
    assert exported == 0


def test_uk_midnight() -> None:
    london = ZoneInfo("Europe/London")
    assert local_midnight(date(2026, 7, 1), london) == datetime(2026, 6, 30, 23, tzinfo=UTC)
    assert local_midnight(date(2026, 12, 8), london) == datetime(2026, 12, 8, 0, tzinfo=UTC)
    assert local_midnight(date(2026, 3, 29), london) == datetime(
        2026, 3, 29, 0, tzinfo=UTC
    )  # the clocks go forward at 01:00
    assert local_midnight(date(2026, 3, 30), london) == datetime(2026, 3, 29, 23, tzinfo=UTC)


# --- the database itself refuses to change the trail ----------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    kind = request.param
    if kind == KIND:
        factory = request.getfixturevalue("databases")
    elif kind == "postgresql":
        factory = request.getfixturevalue("pg_databases")
    else:
        factory = support.DatabaseFactory(
            "sqlite", tmp_path
        )  # the run is on PostgreSQL: migrate a SQLite one
    url = factory.new()
    yield url
    factory.drop(url)


async def test_the_database_refuses_to_update_or_delete_an_entry(any_database_url: str) -> None:
    database = Database.from_settings(make_settings(any_database_url))
    try:
        async with database.transaction() as db:
            db.add(AuditEntry(actor="system", action="test.kept", subject="K-1", data={"n": 1}))
        statements: list[Any] = [
            sa.update(AuditEntry).where(col(AuditEntry.subject) == "K-1").values(action="test.changed"),
            sa.update(AuditEntry).values(data={}),
            sa.delete(AuditEntry).where(col(AuditEntry.subject) == "K-1"),
            sa.delete(AuditEntry),
            sa.text("DELETE FROM audit_entry"),
        ]
        for statement in statements:
            with pytest.raises(DBAPIError, match="append-only"):
                async with database.transaction() as db:
                    await db.execute(statement)
        async with database.read() as db:
            (entry,) = (await db.execute(sa.select(AuditEntry))).scalars().all()
        assert (entry.action, entry.subject, entry.data) == ("test.kept", "K-1", {"n": 1})
        # Appending still works.
        async with database.transaction() as db:
            db.add(AuditEntry(actor="system", action="test.kept", subject="K-2"))
        async with database.read() as db:
            assert (await db.execute(sa.select(sa.func.count()).select_from(AuditEntry))).scalar_one() == 2
    finally:
        await database.dispose()
