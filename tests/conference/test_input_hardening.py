"""Hostile input from the security review (issue 15): control characters in text, JSON nested a thousand deep,
dates out of range, a consent that is not the boolean true, line breaks in email subjects.

A NUL was a 500 on PostgreSQL (asyncpg refuses it; SQLite stores it), so the endpoint tests here run on both
databases, whichever the suite runs on (`database_url` below is parametrised; the conftest fixtures follow it).
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pydantic import BaseModel, ValidationError
from sqlmodel import col

from badges import checkin_api
from conference.api import invoices as invoice_api
from conference.core import models as core_models
from conference.core import schemas, text
from conference.core.db import Database
from conference.core.models import Conference, OutboxEmail
from conference.mail import mailtext
from sessions import models as session_models
from sessions.schedule import api as schedule_api
from tests import support
from tests.factories import invoice_body, proposal_body, registration_body, set_call
from tests.support import HTML, KIND, bearer, csrf, organiser_token, staff_token

NUL = "\x00"
# Refused in every text field, multi-line or not.
NEVER = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x85", "\x9f", "\ud800"]
# Refused on one line only.
BREAKS = ["\n", "\r", "\r\n", "\t", "\u2028", "\u2029"]


@pytest.fixture(params=sorted({KIND, "postgresql"}))
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """This module's database: the suite's own and PostgreSQL (each test runs on both)."""
    kind = request.param
    factory = request.getfixturevalue("databases" if kind == KIND else "pg_databases")
    url = factory.new()
    yield url
    factory.drop(url)


def refused(response: httpx.Response, field: str, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert field in (error.get("fields") or {}), error
    return error


# --- the rule itself ------------------------------------------------------------------------------------------


def test_one_line_text_refuses_every_control_character_and_line_break() -> None:
    for char in NEVER + BREAKS:
        assert text.problem(f"a{char}b") is not None, repr(char)
        assert text.problem(f"a{char}b", multi_line=True) is not None or char in "\t\r\n\u2028\u2029", repr(
            char
        )
    for fine in ("Amélie O'Brien-Ng", "Zoë · 株式会社 · 🙂", "a b", ""):
        assert text.problem(fine) is None
    assert text.problem("two\nlines\r\nand\ta tab", multi_line=True) is None
    assert "U+0000" in (text.problem("a\x00") or "")


def test_one_line_collapses_whatever_breaks_a_header() -> None:
    assert text.one_line("Workshop A\r\nBcc: everyone@example.org") == "Workshop A Bcc: everyone@example.org"
    assert text.one_line(" a\x00\x1b\t\u2028b  c\n") == "a b c"


REQUEST_MODELS: list[type[BaseModel]] = [
    schemas.BillingDetails,
    schemas.RegistrationCreate,
    schemas.ConferenceUpdate,
    schemas.ResendLink,
    invoice_api.CreditRequest,
    checkin_api.ScanIn,
    checkin_api.OfflineScan,
    checkin_api.SyncIn,
    schedule_api.PinIn,
    schedule_api.ScheduleBuild,
    schedule_api.WorkshopMove,
    schedule_api.SchedulePublish,
    *(
        model
        for name in session_models.__all__
        if isinstance(model := getattr(session_models, name), type)
        and issubclass(model, BaseModel)
        and not getattr(model, "model_config", {}).get("table", False)
    ),
]
# Fields whose text is never stored, searched or shown: the scanner's raw code (whatever a camera read is answered
# `invalid`, so an offline device's queue never sticks on a stranger's barcode).
OPAQUE = {("ScanIn", "code"), ("OfflineScan", "code")}
MULTI_LINE = {
    "address",
    "dietary",
    "access_needs",
    "abstract",
    "comment",
    "reason",
    "description",
    "accessibility",
    # The conference's venue details and public texts (conference/event.py)
    "venue_address",
    "travel_notes",
    "accessibility_notes",
    "privacy_notice",
    "accessibility_statement",
}


def _takes(hint: Any) -> str | None:
    """ "text" or "list" when a field of this type takes text (or a list of it), else None."""
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return _takes(typing.get_args(hint)[0])
    if origin in (typing.Union, types.UnionType):
        return next((t for t in map(_takes, typing.get_args(hint)) if t), None)
    if origin is list:
        return "list" if _takes(typing.get_args(hint)[0]) == "text" else None
    return "text" if hint is str else None


def _refusals(model: type[BaseModel], name: str, value: Any) -> set[str]:
    """The kinds of error validating `{name: value}` gives at that field (other fields are missing, no matter)."""
    try:
        model.model_validate({name: value})
    except ValidationError as exc:
        return {str(e["type"]) for e in exc.errors() if e["loc"][:1] == (name,)}
    return set()


def test_every_request_model_refuses_control_characters_in_its_text() -> None:
    checked = 0
    for model in REQUEST_MODELS:
        for name, info in model.model_fields.items():
            takes = _takes(info.annotation)
            if takes is None or (model.__name__, name) in OPAQUE:
                continue
            for char in (NUL, "\x1b", "\x85", "\n"):
                value = f"ab{char}cd"
                kinds = _refusals(model, name, [value] if takes == "list" else value)
                # A field with a pattern of its own (a scan id) refuses them by that pattern.
                refused_ = bool(kinds & {text.CONTROL, "string_pattern_mismatch"})
                expected = char != "\n" or name not in MULTI_LINE
                assert refused_ == expected, (model.__name__, name, repr(char), kinds)
            checked += 1
    assert checked >= 40, checked  # the models' text fields were found (the walk is not vacuous)


# --- M5: control characters, each endpoint the review named, on both databases ---------------------------------


async def test_the_registration_api_refuses_a_nul_in_any_text_field(
    client: httpx.AsyncClient, tickets: dict[str, Any]
) -> None:
    for field in ("name", "organisation", "job_title", "dietary", "access_needs"):
        for char in (NUL, "\x01", "\x7f", "\x9b"):
            response = await client.post(
                "/api/v1/registrations", json=registration_body(tickets["delegate"], **{field: f"A{char}B"})
            )
            assert "control character" in refused(response, field)["fields"][field]
    payer = invoice_body(tickets["exhibitor"])
    payer["billing"]["address"] = "Civic Hall\x00Leeds"
    refused(
        await client.post("/api/v1/registrations", json=payer),
        "billing.address",
    )
    # One line where one line is meant; long text keeps its line breaks.
    refused(
        await client.post(
            "/api/v1/registrations", json=registration_body(tickets["delegate"], name="Ann\nSmith")
        ),
        "name",
    )
    made = await client.post(
        "/api/v1/registrations",
        json=registration_body(
            tickets["delegate"], dietary="Vegan\r\nNo nuts", access_needs="Hearing loop\n"
        ),
    )
    assert made.status_code == 201, made.text


async def test_the_registration_form_names_the_field_with_a_nul_and_keeps_what_was_typed(
    client: httpx.AsyncClient, tickets: dict[str, Any], database: Database
) -> None:
    page = await client.get("/")
    form = {
        **{k: str(v) for k, v in registration_body(tickets["delegate"]).items()},
        "name": "Ann\x00 Smith",
        "consent": "yes",
        "csrf_token": csrf(page.text),
    }
    response = await client.post("/register", data=form, headers=HTML)
    assert response.status_code == 422, response.text
    assert "error-summary" in response.text and "control character (U+0000)" in response.text
    assert 'href="#name"' in response.text
    assert 'value="Ann Smith"' in response.text  # what was typed, less the character
    assert await support.count_rows(database, core_models.Registration) == 0
    # The form's long fields take line breaks (a textarea sends CR LF), its one-line fields do not.
    multi = {**form, "name": "Ann Smith", "dietary": "Vegan\r\nNo nuts"}
    assert (await client.post("/register", data=multi, headers=HTML)).status_code == 303
    again = {**form, "name": "Ann\r\nSmith", "email": "ann.smith@leeds.gov.uk"}
    response = await client.post("/register", data=again, headers=HTML)
    assert response.status_code == 422 and "one line" in response.text


async def test_signing_in_and_a_forgotten_password_refuse_a_nul(
    client: httpx.AsyncClient, tickets: dict[str, Any]
) -> None:
    for path, fields in (
        ("/login", {"email": "ann\x00@leeds.gov.uk", "password": "secret secret"}),
        ("/login", {"email": "ann@leeds.gov.uk", "password": "secret\x00secret"}),
        ("/password/forgot", {"email": "ann\x00@leeds.gov.uk"}),
    ):
        page = await client.get(path)
        response = await client.post(path, data={**fields, "csrf_token": csrf(page.text)}, headers=HTML)
        assert response.status_code == 422, (path, response.text)
        assert "control character (U+0000)" in response.text
        # The same post as a machine's: the JSON error, naming the field.
        page = await client.get(path)
        response = await client.post(path, data={**fields, "csrf_token": csrf(page.text)})
        field = "password" if "\x00" in fields.get("password", "") else "email"
        refused(response, field)


async def test_check_in_search_and_scans_refuse_a_nul(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    staff = bearer(await staff_token(database))
    refused(await client.get("/api/v1/checkins/search", params={"q": "Ann\x00"}, headers=staff), "q")
    refused(
        await client.get("/api/v1/checkins/door-list", params={"list": "door\x00"}, headers=staff), "list"
    )
    for field in ("reference", "device", "list"):
        body = {"code": "NC-1", "list": "door", field: "door\x00"}
        refused(await client.post("/api/v1/checkins", json=body, headers=staff), field)
    refused(
        await client.post("/api/v1/checkins/sync", json={"device": "gate\x00", "scans": []}, headers=staff),
        "device",
    )
    offline = {"code": "NC-1", "list": "door", "scanned_at": "2026-12-08T09:00:00+00:00"}
    refused(
        await client.post(
            "/api/v1/checkins/sync", json={"scans": [{**offline, "reference": "NC\x00"}]}, headers=staff
        ),
        "scans.0.reference",
    )
    # The scanned code is the camera's raw text, never stored: whatever it holds is simply not a badge.
    scanned = await client.post(
        "/api/v1/checkins", json={"code": "\x1d01\x00NC", "list": "door"}, headers=staff
    )
    assert scanned.status_code == 200 and scanned.json()["result"] == "invalid", scanned.text


async def test_the_organisers_search_refuses_a_nul(
    organiser: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    org = bearer(await organiser_token(database))
    refused(await organiser.get("/api/v1/registrations", params={"q": "Ann\x00"}, headers=org), "q")
    refused(await organiser.get("/api/v1/registrations", params={"q": "Ann\nSmith"}, headers=org), "q")
    page = await organiser.get("/console/registrations", params={"q": "Ann\x00"}, headers=HTML)
    assert page.status_code == 422 and "control character (U+0000)" in page.text
    page = await organiser.get("/console/audit", params={"actor": "x\x00"}, headers=HTML)
    assert page.status_code == 422
    assert (
        await organiser.get("/console/registrations", params={"q": "Ann"}, headers=HTML)
    ).status_code == 200


async def test_a_nul_in_a_path_is_no_address(client: httpx.AsyncClient, tickets: dict[str, Any]) -> None:
    for path in ("/manage/abc%00def", "/proposal/abc%00", "/password/reset/x%00y"):
        assert (await client.get(path, headers=HTML)).status_code == 404, path
    assert (await client.get("/api/v1/registrations/%00")).status_code == 404


async def test_proposals_and_programme_text_refuse_a_nul(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    await set_call(database)
    org = bearer(await organiser_token(database))
    refused(await client.post("/api/v1/proposals", json=proposal_body(title="Front\x00door")), "title")
    speaker = {"name": "Grace\x00", "email": "grace@leeds.gov.uk", "organisation": "Leeds City Council"}
    refused(await client.post("/api/v1/proposals", json=proposal_body(speakers=[speaker])), "speakers.0.name")
    refused(await client.post("/api/v1/rooms", json={"name": "Room\x00", "capacity": 5}, headers=org), "name")
    refused(
        await client.post("/api/v1/reviewers", json={"name": "Dr\x00", "email": "h@york.ac.uk"}, headers=org),
        "name",
    )


# --- L1: JSON nested deep ---------------------------------------------------------------------------------------


async def test_json_nested_a_thousand_deep_is_a_400_not_a_500(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    staff = bearer(await staff_token(database))
    json_ = {"content-type": "application/json"}
    for body in (b"[" * 1000 + b"]" * 1000, b'{"a":' * 1000 + b"1" + b"}" * 1000, b"[" * 40 + b"]" * 40):
        response = await client.post("/api/v1/registrations", content=body, headers=json_)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "malformed_request"
    deep_scan = b'{"list": "door", "code": "x", "device": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    response = await client.post("/api/v1/checkins", content=deep_scan, headers={**json_, **staff})
    assert response.status_code == 400, response.text
    # Nesting a real body needs is untouched.
    ok = await client.post("/api/v1/checkins/sync", json={"scans": []}, headers=staff)
    assert ok.status_code == 200, ok.text


# --- L2: dates out of range in the console's filters ------------------------------------------------------------


async def test_audit_and_checkin_dates_out_of_range_are_422_not_500(
    organiser: httpx.AsyncClient, tickets: dict[str, Any]
) -> None:
    for path in ("/console/audit", "/console/audit.csv", "/console/checkins"):
        for query in (
            {"to": "9999-12-31"},
            {"from": "0001-01-01"},
            {"from": "2026-01-01", "to": "9999-12-31"},
        ):
            response = await organiser.get(path, params=query, headers=HTML)
            assert response.status_code == 422, (path, query, response.text[:300])
            assert "Enter a date between the years 2000 and 2100" in response.text, (path, query)
        assert (await organiser.get(path, params={"to": "2026-12-31"}, headers=HTML)).status_code == 200


# --- consent: the boolean true only -----------------------------------------------------------------------------


async def test_consent_is_the_json_boolean_true_only(
    client: httpx.AsyncClient, tickets: dict[str, Any]
) -> None:
    for consent in ("true", 1, "yes", "1", 1.0, False, None):
        response = await client.post(
            "/api/v1/registrations", json=registration_body(tickets["delegate"], consent=consent)
        )
        refused(response, "consent")
    ok = await client.post("/api/v1/registrations", json=registration_body(tickets["delegate"], consent=True))
    assert ok.status_code == 201, ok.text
    # The HTML form's checkbox still works (and leaving it unticked is still refused).
    page = await client.get("/")
    form = {k: str(v) for k, v in registration_body(tickets["delegate"]).items()} | {
        "csrf_token": csrf(page.text)
    }
    unticked = await client.post("/register", data={**form, "consent": ""}, headers=HTML)
    assert unticked.status_code == 422
    ticked = await client.post("/register", data={**form, "consent": "yes"}, headers=HTML)
    assert ticked.status_code == 303, ticked.text


# --- L4: an email's subject is one line, whatever is stored -----------------------------------------------------


async def test_an_email_subject_is_one_line_whatever_the_stored_text(
    client: httpx.AsyncClient, database: Database, settings: Any, tickets: dict[str, Any]
) -> None:
    # Stored before the rule, or by a path that skipped it: a name with a line break in it.
    async with database.transaction() as db:
        await db.execute(sa.update(Conference).values(name="Safeguarding\r\nBcc: all@example.org\x1b 2026"))
    await support.register(client, tickets["delegate"])
    async with database.read() as db:
        row = (
            await db.execute(sa.select(OutboxEmail).where(col(OutboxEmail.kind) == "registration"))
        ).scalar_one()
        message = await mailtext.render(db, settings, row)
    assert message["Subject"].startswith("Safeguarding Bcc: all@example.org 2026: registration "), message[
        "Subject"
    ]
    assert "\n" not in str(message["Subject"]) and message["Bcc"] is None
    assert message.as_bytes()  # and it can be written out
