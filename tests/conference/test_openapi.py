"""The OpenAPI document (conference/server/openapi/) covers every /api/v1 route, is valid OpenAPI 3.1, and real answers
match it.

A route added without a row in OPERATIONS fails `test_every_api_route_is_documented`; a documented answer that
the app does not give fails the response tests with the schema's complaint.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jsonschema
import pytest
from openapi_spec_validator import validate as validate_spec

from conference.core.db import Database
from conference.core.settings import Settings
from conference.server import openapi
from conference.server.app import create_app
from conference.web.auth import create_api_token
from sessions.models import Kind, RoomCreate, SessionCreate, TimeSlotCreate
from sessions.workshops import programme
from tests.factories import ORGANISER, registration_body
from tests.support import app_routes


def documented_routes(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item}


def api_routes(settings: Settings) -> set[tuple[str, str]]:
    """(method, path) of every route under /api/v1, with Starlette's {name:convertor} written as {name}."""
    return {
        (method, re.sub(r"\{(\w+):\w+\}", r"{\1}", path))
        for method, path in app_routes(create_app(settings).routes)
        if method != "MOUNT" and path.startswith("/api/v1/")
    }


def test_every_api_route_is_documented(settings: Settings) -> None:
    routes, documented = api_routes(settings), documented_routes(openapi.document())
    missing = sorted(routes - documented)
    stale = sorted(documented - routes)
    assert not missing, "routes missing from the OPERATIONS of conference/server/openapi/: " + ", ".join(
        f"{m} {p}" for m, p in missing
    )
    assert not stale, "documented operations with no route: " + ", ".join(f"{m} {p}" for m, p in stale)


def test_the_document_is_valid_openapi_3_1() -> None:
    doc = openapi.document()
    assert doc["openapi"].startswith("3.1")
    validate_spec(doc)  # raises with the first problem
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    for item in doc["paths"].values():
        for op in item.values():
            assert op["responses"], op["operationId"]
            # Every error an operation documents uses the one error shape.
            for code, response in op["responses"].items():
                if code.startswith(("4", "5")):
                    assert response == {"$ref": f"#/components/responses/E{code}"}, (op["operationId"], code)


def test_request_bodies_come_from_the_models() -> None:
    doc = openapi.document()
    body = doc["paths"]["/api/v1/registrations"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert body == {"$ref": "#/components/schemas/RegistrationCreate"}
    model = doc["components"]["schemas"]["RegistrationCreate"]
    assert {"name", "email", "organisation", "sector", "ticket_type_id", "consent"} <= set(model["required"])
    assert model["properties"]["ticket_type_id"]["format"] == "uuid"
    assert model["additionalProperties"] is False  # extra="forbid": unknown fields are 422
    # Every $ref points at something that exists.
    text = str(doc)
    for name in set(re.findall(r"#/components/schemas/(\w+)", text)):
        assert name in doc["components"]["schemas"], name
    path = doc["paths"]["/api/v1/registrations/{registration_id}"]["get"]
    assert path["parameters"][0]["schema"] == {"type": "string", "format": "uuid"}
    assert path["security"] == [{"bearer": []}]
    assert doc["paths"]["/api/v1/conference"]["get"]["security"] == []


# --- real answers against the document ------------------------------------------------------------------------


def check(response: httpx.Response, method: str, template: str) -> None:
    """Validate the answer's JSON body against the schema the document gives for its status (and content type)."""
    doc = openapi.document()
    op = doc["paths"][template][method.lower()]
    status = str(response.status_code)
    assert status in op["responses"], (
        f"{method} {template}: {status} is not documented ({sorted(op['responses'])})"
    )
    documented = op["responses"][status]
    if "$ref" in documented:
        documented = doc["components"]["responses"][documented["$ref"].rsplit("/", 1)[1]]
    if "content" not in documented:
        assert not response.content, f"{method} {template}: {status} documents no body"
        return
    media = response.headers["content-type"].split(";")[0].strip()
    assert media in documented["content"], (
        f"{method} {template}: {media} not in {sorted(documented['content'])}"
    )
    if media != "application/json":
        return
    schema = {**documented["content"][media]["schema"], "components": doc["components"]}
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(response.json())


async def test_real_answers_match_the_document(
    client: httpx.AsyncClient, database: Database, tickets: dict[str, Any]
) -> None:
    async with database.transaction() as db:
        organiser = await create_api_token(db, role="organiser", name="OpenAPI organiser")
        staff = await create_api_token(db, role="staff", name="OpenAPI staff")
        room = await programme.create_room(db, data=RoomCreate(name="Room A", capacity=20), actor=ORGANISER)
        start = datetime(2026, 12, 8, 10, tzinfo=UTC)
        slot = await programme.create_slot(
            db, data=TimeSlotCreate(starts_at=start, ends_at=start + timedelta(hours=1)), actor=ORGANISER
        )
        await programme.create_session(
            db,
            data=SessionCreate(title="Workshop", kind=Kind.workshop, room_id=room.id, start_slot_id=slot.id),
            actor=ORGANISER,
        )
    org = {"authorization": f"Bearer {organiser}"}

    created = await client.post("/api/v1/registrations", json=registration_body(tickets["delegate"]))
    assert created.status_code == 201, created.text
    check(created, "POST", "/api/v1/registrations")
    rid = created.json()["id"]
    delegate = {"authorization": f"Bearer {created.json()['manage_token']}"}

    calls: list[tuple[str, str, str, dict[str, Any]]] = [
        ("GET", "/api/v1/registrations/{registration_id}", f"/api/v1/registrations/{rid}", {"headers": org}),
        (
            "GET",
            "/api/v1/registrations/{registration_id}",
            f"/api/v1/registrations/{rid}",
            {"headers": delegate},
        ),
        (
            "GET",
            "/api/v1/registrations/{registration_id}",
            f"/api/v1/registrations/{rid}",
            {"headers": {"authorization": f"Bearer {staff}"}},
        ),
        ("GET", "/api/v1/registrations", "/api/v1/registrations", {"headers": org}),
        ("GET", "/api/v1/registrations", "/api/v1/registrations?format=csv", {"headers": org}),
        ("GET", "/api/v1/conference", "/api/v1/conference", {}),
        ("GET", "/api/v1/ticket-types", "/api/v1/ticket-types", {}),
        ("GET", "/api/v1/sessions", "/api/v1/sessions", {}),
        ("GET", "/api/v1/rooms", "/api/v1/rooms", {}),
        ("GET", "/api/v1/slots", "/api/v1/slots", {}),
        ("GET", "/api/v1/seat-booking", "/api/v1/seat-booking", {}),
        ("GET", "/api/v1/call", "/api/v1/call", {}),
        ("GET", "/api/v1/programme", "/api/v1/programme", {}),
        ("GET", "/api/v1/programme.ics", "/api/v1/programme.ics", {}),
        ("GET", "/api/v1/dashboard", "/api/v1/dashboard", {"headers": org}),
        (
            "GET",
            "/api/v1/registrations/{registration_id}/payments",
            f"/api/v1/registrations/{rid}/payments",
            {"headers": org},
        ),
        ("GET", "/api/v1/badges/public-key", "/api/v1/badges/public-key", {"headers": org}),
        # Errors: a validation error, no credentials, a wrong role, an unknown id, a body that is not JSON.
        ("POST", "/api/v1/registrations", "/api/v1/registrations", {"json": {"name": ""}}),
        ("GET", "/api/v1/registrations", "/api/v1/registrations", {}),
        ("GET", "/api/v1/registrations", "/api/v1/registrations", {"headers": delegate}),
        (
            "GET",
            "/api/v1/registrations/{registration_id}",
            f"/api/v1/registrations/{uuid.uuid4()}",
            {"headers": org},
        ),
        ("POST", "/api/v1/rooms", "/api/v1/rooms", {"headers": org, "content": b"[1"}),
        ("GET", "/api/v1/programme", "/api/v1/programme?day=1999-01-01", {}),
    ]
    seen: set[int] = set()
    for method, template, url, kwargs in calls:
        response = await client.request(method, url, **kwargs)
        check(response, method, template)
        seen.add(response.status_code)
    assert {200, 400, 401, 403, 404, 422} <= seen, seen

    booked = await client.post(
        f"/api/v1/registrations/{rid}/sessions",
        headers=delegate,
        json={"session_id": (await client.get("/api/v1/sessions")).json()[0]["id"]},
    )
    check(booked, "POST", "/api/v1/registrations/{registration_id}/sessions")
    assert booked.status_code == 201
    cancelled = await client.delete(f"/api/v1/registrations/{rid}", headers=delegate)
    check(cancelled, "DELETE", "/api/v1/registrations/{registration_id}")
    assert cancelled.json()["status"] == "cancelled"


async def test_the_document_is_served_with_an_etag(client: httpx.AsyncClient) -> None:
    first = await client.get("/api/v1/openapi.json")
    assert first.status_code == 200
    assert first.json() == openapi.document()
    assert first.headers["cache-control"] == "public, max-age=60"
    etag = first.headers["etag"]
    again = await client.get("/api/v1/openapi.json", headers={"if-none-match": etag})
    assert again.status_code == 304 and not again.content
    check(again, "GET", "/api/v1/openapi.json")


@pytest.mark.parametrize("status", sorted(openapi.ERROR_TEXT))
def test_error_payloads_match_the_error_schema(status: int) -> None:
    """DomainError.payload, with and without `fields`, is what components.schemas.Error describes."""
    from conference.core import errors

    schema = {**openapi.RESPONSES["Error"]}
    error = errors.DomainError(
        "Something", fields={"name": "This field is required."} if status == 422 else None
    )
    jsonschema.validate(error.payload(), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"detail": "not our shape"}, schema)
