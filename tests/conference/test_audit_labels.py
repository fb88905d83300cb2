"""The audit log in words on the console's page, the codes in its CSV (issue 17), and every code the code base
writes having words of its own."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from conference.console import audit_labels
from conference.core.db import Database
from conference.core.models import AuditEntry
from tests.support import organiser_token, sign_in

HTML = {"accept": "text/html"}
ROOT = Path(__file__).resolve().parents[2]
ENTRIES = [
    ("sessions.session.cancelled", "Session cancelled"),
    ("sessions.session.restored", "Session restored"),
    ("conference.registration.substituted", "Place transferred to someone else"),
    ("conference.badge_printer.jammed", "Badge printer jammed"),  # no label: its noun and verb
]


@pytest.fixture
async def organiser(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> httpx.AsyncClient:
    async with database.transaction() as db:
        for n, (action, _label) in enumerate(ENTRIES):
            db.add(AuditEntry(actor="organiser:Test", action=action, subject=f"L-{n}", data={}))
    await sign_in(client, await organiser_token(database))
    return client


async def test_the_page_names_actions_in_words_and_the_csv_keeps_the_codes(
    organiser: httpx.AsyncClient,
) -> None:
    page = await organiser.get("/console/audit", headers=HTML)
    assert page.status_code == 200
    table = page.text[page.text.index('id="audit"') :]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", table)  # cells carry data-label (stacked on a phone)
    for action, label in ENTRIES:
        assert label in cells, label
        assert action not in table, action  # only the filter's option values carry codes
    assert "Signed in" in cells  # the test's own sign-in
    assert '<option value="sessions.session.restored">Session restored</option>' in page.text
    assert '<optgroup label="Sessions">' in page.text

    export = await organiser.get("/console/audit.csv", headers=HTML)
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(export.text)))
    actions = {r["action"] for r in rows}
    assert {a for a, _ in ENTRIES} <= actions and "conference.login.succeeded" in actions
    assert not any(label in export.text for _action, label in ENTRIES)


def test_every_action_the_code_writes_has_words() -> None:
    """Each literal code passed to audit.record (and the dynamic ones, spelled out) is in LABELS, so no page
    shows an action only by its guessed name."""
    found: set[str] = set()
    for package in ("conference", "sessions", "badges"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for match in re.finditer(r"audit\.record\(\s*\w+,\s*f?\"([^\"]+)\"", text):
                found.add(match.group(1))
            # ... and codes chosen before the call: action = "a" if x else "b"; ACTION = "c"
            for match in re.finditer(
                r"\b(?:action|ACTION) = \"([^\"]+)\"(?: if .+? else \"([^\"]+)\")?", text
            ):
                found.update(code for code in match.groups() if code)
    dynamic = {
        "conference.registration.{kind}": ["approved", "rejected"],
        "conference.export.{kind}": ["delegates", "dietary", "attendance"],
        "sessions.seat.{status.value}": ["booked", "waitlisted"],
        "sessions.proposal.{status.value}": ["accepted", "rejected"],
        "sessions.proposal.{proposal.status.value}": ["confirmed", "declined"],
    }
    codes = {c for c in found if "{" not in c}
    for pattern, values in dynamic.items():
        if pattern in found:
            codes |= {pattern.split("{")[0] + v for v in values}
    assert codes >= {
        "sessions.session.cancelled",
        "sessions.session.restored",
        "conference.logout",
        "sessions.allocation.applied",  # chosen before the call
    }
    missing = sorted(c for c in codes if c not in audit_labels.LABELS)
    assert missing == [], f"add words for these to conference/console/audit_labels.py: {missing}"


def test_a_code_without_words_is_still_readable() -> None:
    assert audit_labels.label("conference.badge_printer.jammed") == "Badge printer jammed"
    assert audit_labels.label("conference.logout") == "Signed out"
    assert audit_labels.label("badges.something_new") == "Something new"
    assert audit_labels.family_label("conference.badge_printer") == "Badge printer"
