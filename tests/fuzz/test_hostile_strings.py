"""Schemathesis again, with hostile text (issue 15): every documented operation against a live `conference serve`
on PostgreSQL (which refuses NUL in text where SQLite stores it), with NUL, other C0 and C1 controls, DEL, CR LF
and line separators put into the generated strings, and bodies nested far deeper than any real one.

Cases come from the OpenAPI document as in test_schemathesis.py; each one is then made hostile by a Hypothesis
strategy: some of its strings (body, query, path) get a control character at a drawn place, a declared query
parameter may be added holding one, and some bodies get a value nested 33 to 300 deep. Each operation with a body is
also sent raw JSON nested thousands deep. Checks: no 5xx (nor an "unhandled" line in the server's log), and the
status code, content type and body are as documented (a refusal is a documented 400, 404 or 422).

A bounded, derandomised run: CONFERENCE_FUZZ_HOSTILE_EXAMPLES cases per operation (16 by default), half again with
the seeded objects' ids in the path. About a minute.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import support
from tests.fuzz import seeding

schemathesis = pytest.importorskip(
    "schemathesis", reason="schemathesis is not installed (pip install -e '.[test]')"
)
hypothesis = pytest.importorskip("hypothesis", reason="hypothesis (schemathesis' engine) is not installed")
from hypothesis import strategies as st  # noqa: E402  (after the skip: hypothesis may be missing)

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("CONFERENCE_FUZZ_HOSTILE_EXAMPLES", "16"))
WITH_REAL_IDS = max(EXAMPLES // 2, 1)
# What goes into strings (a lone surrogate too, "\ud800" in JSON, is in test_input_hardening.py: the client here
# cannot encode one).
# NUL most often: it is the one PostgreSQL cannot store.
HOSTILE = [
    *["\x00"] * 6,
    "\x01",
    "\r\n",
    "\n",
    "\r",
    "\t",
    "\x0b",
    "\x1b",
    "\x1f",
    "\x7f",
    "\x85",
    "\x9f",
    "\u2028",
]
# The live server has no card gateway: opening a Checkout page answers its documented 503, as in test_schemathesis.
NO_GATEWAY = {"POST /api/v1/registrations/{registration_id}/checkout"}
ORDER = {"GET": 0, "PUT": 1, "PATCH": 2, "POST": 3, "DELETE": 4}


# --- making a case hostile --------------------------------------------------------------------------------------


def _spoil(draw: Any, value: str) -> str:
    char = draw(st.sampled_from(HOSTILE))
    at = draw(st.integers(0, len(value)))
    return value[:at] + char + value[at:]


def _strings(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Where the strings in `value` are (paths of keys and indexes)."""
    if isinstance(value, str):
        return [at]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _strings(v, (*at, i))]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _strings(v, (*at, k))]
    return []


def _replace(value: Any, at: tuple[Any, ...], new: Any) -> Any:
    if not at:
        return new
    head, rest = at[0], at[1:]
    if isinstance(value, list):
        return [_replace(v, rest, new) if i == head else v for i, v in enumerate(value)]
    return {k: _replace(v, rest, new) if k == head else v for k, v in value.items()}


def _poison(draw: Any, value: Any) -> Any:
    """`value` with one or two of its strings spoilt, the others left valid (so the request gets as far as it can
    on the spoilt one: a text field past validation reaches the database)."""
    paths = _strings(value)
    if not paths:
        return value
    for at in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=2, unique=True)):
        inner = value
        for key in at:
            inner = inner[key]
        value = _replace(value, at, _spoil(draw, inner))
    return value


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


def _query_names(operation: Any) -> list[str]:
    return [parameter.name for parameter in operation.query]


def _make_hostile(draw: Any, case: Any, ids: dict[str, Any], *, keep_path: bool) -> None:
    if isinstance(case.body, dict) and case.body:
        # Mostly real ids (and values) where a body names one (a ticket type, a session), so the text gets past
        # the look-ups.
        real = {k: ids[k] for k in case.body if k in ids and draw(st.integers(0, 3))}
        case.body = _poison(draw, {**case.body, **real})
        if draw(st.integers(0, 3)) == 0:  # a quarter of bodies: one value nested far deeper than allowed
            key = draw(st.sampled_from(sorted(case.body)))
            case.body = {**case.body, key: _nested(draw(st.integers(33, 300)))}
    names = _query_names(case.operation)
    if names:
        query = dict(case.query or {})
        for name in names:
            if name not in query and draw(st.booleans()):
                query[name] = "x"
        case.query = _poison(draw, query)
    if not keep_path and case.path_parameters:
        case.path_parameters = _poison(draw, case.path_parameters)


def test_no_operation_answers_hostile_text_with_a_5xx(
    pg_databases: support.DatabaseFactory, tmp_path: Path
) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis import GenerationMode, checks

    url = pg_databases.new()
    log = tmp_path / "server.log"
    failures: list[str] = []
    statuses: dict[str, list[int]] = {}
    raw_deep: dict[str, int] = {}
    calls = 0
    started = time.monotonic()
    try:
        seeded = asyncio.run(seeding.seed(url))
        with support.live_server(url, log_path=log) as base:
            ids = seeding.objects(base, seeded)
            in_bodies: dict[str, Any] = {
                "ticket_type_id": seeded["delegate"],
                "room_id": ids["room_id"],
                "start_slot_id": ids["slot_id"],
                "slot_id": ids["slot_id"],
                "session_id": ids["session_id"],
                "proposal_ids": [ids["proposal_id"]],
                # Rules the document does not spell out, so that bodies get past them to the text.
                "consent": True,
                "region": "London",
                "themes": ["partnership working"],
            }
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

            def run(operation: Any, examples: int, path_parameters: dict[str, str] | None) -> None:
                strategy = operation.as_strategy(
                    GenerationMode.POSITIVE, headers=auth, path_parameters=path_parameters
                )

                @given(case=strategy, data=st.data())
                @settings(
                    max_examples=examples,
                    derandomize=True,
                    database=None,
                    deadline=None,
                    phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                def fuzz(case: Any, data: Any) -> None:
                    nonlocal calls
                    _make_hostile(data.draw, case, in_bodies, keep_path=path_parameters is not None)
                    calls += 1
                    response = case.call(base_url=base, timeout=60)
                    statuses.setdefault(operation.label, []).append(response.status_code)
                    gateway = operation.label in NO_GATEWAY and response.status_code == 503
                    try:
                        case.validate_response(
                            response,
                            checks=[c for c in wanted if not (gateway and c is checks.not_a_server_error)],
                        )
                    except (AssertionError, BaseExceptionGroup) as exc:  # all findings, reported together
                        failures.append(f"{operation.label}: {exc}\n  {case.as_curl_command()}")

                fuzz()

            with httpx.Client(base_url=base, timeout=60, headers=auth) as client:
                for operation in operations:
                    run(operation, EXAMPLES, None)
                    names = [p.name for p in operation.path_parameters]
                    if names and all(name in ids for name in names):
                        real = {name: ids[name] for name in names}
                        run(operation, WITH_REAL_IDS, real)
                    if operation.body:  # and JSON nested thousands deep, raw (no client could encode it)
                        path = operation.path.format(**{name: ids.get(name, "x") for name in names})
                        for deep in (b"[" * 5000 + b"]" * 5000, b'{"a":' * 3000 + b"1" + b"}" * 3000):
                            try:
                                answer = client.request(
                                    operation.method.upper(),
                                    path,
                                    content=deep,
                                    headers={"content-type": "application/json"},
                                )
                            except httpx.HTTPError as exc:  # a 500 that closed the connection, say
                                failures.append(f"{operation.label}: deep JSON: {type(exc).__name__}")
                                continue
                            raw_deep[operation.label] = answer.status_code
                            if answer.status_code >= 500:
                                failures.append(f"{operation.label}: deep JSON answered {answer.status_code}")
    finally:
        pg_databases.drop(url)
    elapsed = time.monotonic() - started
    server_errors = [line for line in log.read_text().splitlines() if "unhandled" in line]
    assert not failures and not server_errors, (
        f"{len(failures)} findings in {calls} calls ({elapsed:.0f} s):\n"
        + "\n".join(dict.fromkeys(failures))
        + "\nserver log:\n"
        + "\n".join(server_errors)
    )
    # Not vacuous: every operation was called, and hostile text was refused (422) by many of them, deep bodies
    # (400) by most of those that take a body.
    assert len(statuses) >= 60 and calls >= 20 * EXAMPLES, (len(statuses), calls)
    refused = [label for label, codes in statuses.items() if 422 in codes]
    assert len(refused) >= 25, f"only {len(refused)} operations refused hostile text: {sorted(refused)}"
    too_deep = [label for label, code in raw_deep.items() if code == 400]
    assert len(too_deep) >= len(raw_deep) * 3 // 4, raw_deep
    print(f"hostile fuzz: {calls} calls to {len(statuses)} operations in {elapsed:.0f} s")
