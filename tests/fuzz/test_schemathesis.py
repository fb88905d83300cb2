"""Schemathesis fuzzes every operation of the OpenAPI document against a live `conference serve`.

The server runs on a fresh database of the suite's kind, seeded with a conference, ticket types, rooms, slots,
sessions, registrations, a proposal, a reviewer and an organiser token. Every documented operation is called with
examples generated from the document (a fixed number each, derandomised, so a run is reproducible), as the
organiser; each operation with ids in its path is then called again with the seeded objects' ids, so the handlers
behind the 404 are reached too. Checks: no 5xx, the status code is documented, the content type is documented and
the body matches the documented schema. Destructive calls (cancel, erase, delete) are expected: the database is
used by this test only.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from conference.core.db import Database
from conference.web.auth import create_api_token
from sessions.models import Kind, RoomCreate, SessionCreate, TimeSlotCreate
from sessions.workshops import programme
from tests import support
from tests.factories import (
    ORGANISER,
    invoice_body,
    make_conference,
    proposal_body,
    registration_body,
    set_call,
)
from tests.support import make_settings

schemathesis = pytest.importorskip(
    "schemathesis", reason="schemathesis is not installed (pip install -e '.[test]')"
)
hypothesis = pytest.importorskip("hypothesis", reason="hypothesis (schemathesis' engine) is not installed")

pytestmark = pytest.mark.fuzz

# Generated cases per operation (CONFERENCE_FUZZ_EXAMPLES=200 for a deeper run by hand), and more for each operation
# with ids in its path, with the seeded objects' ids.
EXAMPLES = int(os.environ.get("CONFERENCE_FUZZ_EXAMPLES", "20"))
WITH_REAL_IDS = max(EXAMPLES // 2, 1)
# Also send data that breaks the document (wrong types, missing fields): it must be a documented 4xx, never 5xx.
NEGATIVE = max(EXAMPLES // 4, 1)
# The live server has no card gateway, so opening a Checkout page answers its documented 503 (and nothing else
# may): that 5xx is the configuration, not a bug.
NO_GATEWAY = {"POST /api/v1/registrations/{registration_id}/checkout"}
# Methods in this order, so reads see the seeded objects before deletes and cancellations remove them.
ORDER = {"GET": 0, "PUT": 1, "PATCH": 2, "POST": 3, "DELETE": 4}


async def _seed(url: str) -> dict[str, str]:
    database = Database.from_settings(make_settings(url))
    try:
        tickets = await make_conference(database, capacity=50)
        await set_call(database, open_=True)
        async with database.transaction() as db:
            token = await create_api_token(db, role="organiser", name="Fuzz organiser")
            room = await programme.create_room(
                db, data=RoomCreate(name="Room A", capacity=20), actor=ORGANISER
            )
            start = datetime(2026, 12, 8, 10, tzinfo=UTC)
            slot = await programme.create_slot(
                db, data=TimeSlotCreate(starts_at=start, ends_at=start + timedelta(hours=1)), actor=ORGANISER
            )
            later = await programme.create_slot(
                db,
                data=TimeSlotCreate(starts_at=start + timedelta(hours=2), ends_at=start + timedelta(hours=3)),
                actor=ORGANISER,
            )
            workshop = await programme.create_session(
                db,
                data=SessionCreate(
                    title="Workshop", kind=Kind.workshop, room_id=room.id, start_slot_id=slot.id
                ),
                actor=ORGANISER,
            )
            await programme.create_session(
                db,
                data=SessionCreate(
                    title="Plenary", kind=Kind.plenary, room_id=room.id, start_slot_id=later.id
                ),
                actor=ORGANISER,
            )
    finally:
        await database.dispose()  # before the server starts: no connection of ours outlives the seeding
    return {
        "token": token,
        "room_id": str(room.id),
        "slot_id": str(slot.id),
        "session_id": str(workshop.id),
        "delegate": str(tickets["delegate"]),
        "exhibitor": str(tickets["exhibitor"]),
    }


def _objects(base: str, seeded: dict[str, str]) -> dict[str, str]:
    """Objects made through the API itself: registrations (one with an invoice), a proposal, a reviewer."""
    org = {"authorization": f"Bearer {seeded['token']}"}
    with httpx.Client(base_url=base, timeout=30) as client:

        def made(response: httpx.Response) -> Any:
            assert response.status_code == 201, response.text
            return response.json()

        delegate = made(client.post("/api/v1/registrations", json=registration_body(seeded["delegate"])))
        payer = made(client.post("/api/v1/registrations", json=invoice_body(seeded["exhibitor"])))
        invoices = client.get(f"/api/v1/registrations/{payer['id']}/invoices", headers=org).json()["data"]
        made(
            client.post(
                f"/api/v1/registrations/{delegate['id']}/sessions",
                headers=org,
                json={"session_id": seeded["session_id"]},
            )
        )
        proposal = made(client.post("/api/v1/proposals", json=proposal_body()))
        reviewer = made(
            client.post(
                "/api/v1/reviewers",
                headers=org,
                json={"name": "Dr Helen Marsh", "email": "helen.marsh@york.ac.uk"},
            )
        )
    return {
        "registration_id": delegate["id"],
        "invoice_id": invoices[0]["id"],
        "room_id": seeded["room_id"],
        "slot_id": seeded["slot_id"],
        "session_id": seeded["session_id"],
        "proposal_id": proposal["id"],
        "reviewer_id": reviewer["id"],
    }


def test_every_operation_survives_schemathesis(databases: support.DatabaseFactory, tmp_path: Path) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode, checks

    url = databases.new()
    log = tmp_path / "server.log"
    statuses: dict[str, list[int]] = {}
    failures: list[str] = []
    calls = 0
    try:
        seeded = asyncio.run(_seed(url))
        with support.live_server(url, log_path=log) as base:
            ids = _objects(base, seeded)
            schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")
            auth = {"Authorization": f"Bearer {seeded['token']}"}
            wanted = [
                checks.not_a_server_error,
                checks.status_code_conformance,
                checks.content_type_conformance,
                checks.response_schema_conformance,
            ]
            operations = sorted(
                (result.ok() for result in schema.get_all_operations()),
                key=lambda op: (ORDER[op.method.upper()], op.path),
            )

            def run(
                operation: Any,
                examples: int,
                path_parameters: dict[str, str] | None,
                mode: Any = GenerationMode.POSITIVE,
            ) -> None:
                @given(case=operation.as_strategy(mode, headers=auth, path_parameters=path_parameters))
                @settings(
                    max_examples=examples,
                    derandomize=True,
                    database=None,
                    deadline=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                def fuzz(case: Any) -> None:
                    nonlocal calls
                    calls += 1
                    response = case.call(base_url=base, timeout=60)
                    statuses.setdefault(operation.label, []).append(response.status_code)
                    try:
                        if operation.label in NO_GATEWAY and response.status_code >= 500:
                            assert response.status_code == 503, response.text
                            assert response.json()["error"]["code"] == "service_unavailable", response.text
                        case.validate_response(
                            response,
                            checks=[
                                c
                                for c in wanted
                                if not (operation.label in NO_GATEWAY and c is checks.not_a_server_error)
                            ],
                        )
                    except (
                        AssertionError,
                        BaseExceptionGroup,
                    ) as exc:  # every finding collected, reported together
                        failures.append(f"{operation.label}: {exc}\n  {case.as_curl_command()}")

                try:
                    fuzz()
                except Unsatisfiable:
                    assert mode == GenerationMode.NEGATIVE  # nothing in this operation can be made wrong

            for operation in operations:
                run(operation, EXAMPLES, None)
                run(operation, NEGATIVE, None, GenerationMode.NEGATIVE)
                names = [p.name for p in operation.path_parameters]
                if names and all(name in ids for name in names):
                    run(operation, WITH_REAL_IDS, {name: ids[name] for name in names})
            documented = {
                f"{method.upper()} {path}"
                for path, item in schema.raw_schema["paths"].items()
                for method in item
            }
            # Schemathesis leaves out the document's own address; test_openapi.py checks that one.
            assert {op.label for op in operations} == documented - {"GET /api/v1/openapi.json"}, "not loaded"
    finally:
        databases.drop(url)
    server_errors = [line for line in log.read_text().splitlines() if "unhandled" in line]
    assert not failures and not server_errors, (
        f"{len(failures)} findings in {calls} calls:\n"
        + "\n".join(dict.fromkeys(failures))
        + "\nserver log:\n"
        + "\n".join(server_errors)
    )
    # Not a vacuous run: the organiser's token worked everywhere, and many operations got past validation.
    assert not [label for label, codes in statuses.items() if 401 in codes], (
        "the organiser's token was refused"
    )
    succeeded = [label for label, codes in statuses.items() if any(200 <= code < 300 for code in codes)]
    assert len(succeeded) >= 30, f"only {len(succeeded)} operations ever succeeded: {sorted(succeeded)}"
