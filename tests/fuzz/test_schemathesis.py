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
from pathlib import Path
from typing import Any

import pytest

from tests import support
from tests.fuzz import seeding

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
        seeded = asyncio.run(seeding.seed(url))
        with support.live_server(url, log_path=log) as base:
            ids = seeding.objects(base, seeded)
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
