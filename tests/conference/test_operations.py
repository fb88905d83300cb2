"""Operations: /readyz, /metrics (in-process and across uvicorn workers), request ids, JSON logs, the body
timeout and the security headers (docs/operations.md)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import signal
import socket
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from conference.core import logs
from conference.core.db import Database
from conference.core.migrate import alembic_config
from conference.core.models import OutboxEmail
from conference.core.settings import Settings
from conference.mail import sender
from conference.server import readiness
from conference.server.app import create_app
from conference.web.auth import create_api_token
from conference.web.middleware import BodyLimit
from tests import support
from tests.factories import make_conference, registration_body
from tests.support import make_settings

METRICS_TOKEN = "metrics-token-for-tests-0123456789"
AUTH = {"authorization": f"Bearer {METRICS_TOKEN}"}


@pytest.fixture
async def metered(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app with /metrics switched on."""
    async with running(make_settings(database_url, CONFERENCE_METRICS_TOKEN=METRICS_TOKEN)) as client:
        yield client


class running:
    """An app on `settings` through its lifespan, and a client for it."""

    def __init__(self, settings: Settings, base_url: str = "http://testserver") -> None:
        self.app = create_app(settings)
        self.base_url = base_url

    async def __aenter__(self) -> httpx.AsyncClient:
        self.lifespan = self.app.router.lifespan_context(self.app)
        await self.lifespan.__aenter__()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=self.base_url)
        return self.client

    async def __aexit__(self, *exc: Any) -> None:
        await self.client.aclose()
        await self.lifespan.__aexit__(*exc)


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value in a Prometheus exposition, summed over the series that match `labels`; 0 if none."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics", headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


@contextmanager
def json_log() -> Iterator[io.StringIO]:
    """Every log record made meanwhile, formatted (at once, as in production) by conference.core.logs.JsonFormatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


# --- /readyz -----------------------------------------------------------------------------------------------


async def test_readyz_on_a_migrated_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert response.json() == {"status": "ready", "database": "ok", "migrations": head}


async def test_readyz_when_migrations_are_behind(client: httpx.AsyncClient, database: Database) -> None:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = scripts.get_current_head()
    assert head is not None
    previous = scripts.get_revision(head).down_revision
    assert isinstance(previous, str)
    async with database.transaction() as db:
        await db.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": previous})
    response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["error"]["check"] == "migrations" and body["database"] == "ok"
    assert (body["migrations"], body["expected"]) == (previous, head)
    assert "conference db upgrade" in body["error"]["message"]

    async with database.transaction() as db:  # a revision this code has no script for: newer code migrated it
        await db.execute(sa.text("UPDATE alembic_version SET version_num = 'ffff_from_the_future'"))
    unknown = await client.get("/readyz")
    assert unknown.status_code == 503 and "does not know" in unknown.json()["error"]["message"]


async def test_readyz_when_the_database_is_unreachable(tmp_path: Path) -> None:
    closed_port = support.free_port()  # nothing listens there
    for url in (
        f"sqlite+aiosqlite:///{tmp_path}/no-such-directory/conference.db",
        f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port}/conference",
    ):
        async with running(make_settings(url)) as client:
            response = await client.get("/readyz")
            assert response.status_code == 503, (url, response.text)
            body = response.json()
            assert body["database"] == "unreachable" and body["error"]["check"] == "database", body
            assert (await client.get("/healthz")).status_code == 200  # the process itself is fine


async def test_readyz_when_the_database_has_no_schema(tmp_path: Path) -> None:
    async with running(make_settings(f"sqlite+aiosqlite:///{tmp_path}/empty.db")) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"]["check"] == "migrations" and response.json()["database"] == "ok"
    assert "conference db upgrade" in response.json()["error"]["message"]


def test_head_revision_is_read_once() -> None:
    assert readiness.revisions() is readiness.revisions()


# --- request ids and logs ----------------------------------------------------------------------------------


async def test_request_id_is_echoed_generated_or_replaced(client: httpx.AsyncClient) -> None:
    given = "edge-7f3a.01_B"
    assert (await client.get("/healthz", headers={"x-request-id": given})).headers["x-request-id"] == given
    made = (await client.get("/healthz")).headers["x-request-id"]
    other = (await client.get("/healthz")).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made) and made != other
    for bad in (b"x" * 65, b"has space", b"semi;colon", b"back\\slash", b"", "ünï".encode()):
        answered = (await client.get("/healthz", headers=[(b"x-request-id", bad)])).headers["x-request-id"]
        assert answered.encode() != bad and re.fullmatch(r"[0-9a-f]{32}", answered), bad
    # On errors too (404 from routing, 413 from the body limit).
    assert "x-request-id" in (await client.get("/no/such/page")).headers
    too_big = await client.post(
        "/api/v1/registrations", content=b"x" * (65 * 1024), headers={"content-type": "application/json"}
    )
    assert too_big.status_code == 413 and "x-request-id" in too_big.headers


async def test_request_log_is_json_with_the_id_and_no_personal_data(
    client: httpx.AsyncClient, database: Database
) -> None:
    tickets = await make_conference(database)
    body = registration_body(tickets["delegate"], name="Zebedee Quixotic-Logtest")
    with json_log() as stream:
        response = await client.post(
            "/api/v1/registrations?utm=campaign-secret", json=body, headers={"x-request-id": "reg-req-1"}
        )
        assert response.status_code == 201, response.text
        token = response.json()["manage_token"]
        manage = await client.get(f"/manage/{token}", headers={"accept": "text/html"})
        assert manage.status_code == 200
    records = lines(stream)
    request_lines = [r for r in records if r["logger"] == "conference.request"]
    assert [(r["method"], r["route"], r["status"]) for r in request_lines] == [
        ("POST", "/api/v1/registrations", 201),
        ("GET", "/manage/{token}", 200),
    ]
    first = request_lines[0]
    assert first["request_id"] == "reg-req-1" and first["level"] == "INFO"
    assert set(first) >= {"time", "level", "logger", "message", "request_id", "duration_ms"}
    assert request_lines[1]["request_id"] == manage.headers["x-request-id"]
    # What the server logged (the test client's own httpx logger quotes its URL, query and all).
    everything = "\n".join(
        json.dumps(r) for r in records if not r["logger"].startswith(("httpx", "httpcore"))
    )
    for secret in (body["email"], body["name"], token, "campaign-secret", "127.0.0.1"):
        assert secret not in everything, secret


async def test_a_failing_request_is_logged_with_its_id_and_counted(database_url: str) -> None:
    async def boom(request: Any) -> Any:
        raise RuntimeError("cannot email someone@leeds.gov.uk")

    app = create_app(make_settings(database_url, CONFERENCE_METRICS_TOKEN=METRICS_TOKEN))
    app.router.routes.append(Route("/boom/{token}", boom))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            with json_log() as stream:
                response = await client.get("/boom/m_secret-link", headers={"x-request-id": "boom-1"})
            text = await scrape(client)
    assert response.status_code == 500 and response.json()["error"]["code"] == "internal_error"
    mine = [r for r in lines(stream) if r["logger"].startswith("conference")]
    assert {(r["logger"], r["request_id"]) for r in mine} == {
        ("conference", "boom-1"),
        ("conference.request", "boom-1"),
    }
    (request_line,) = [r for r in mine if r["logger"] == "conference.request"]
    assert (request_line["route"], request_line["status"], request_line["error"]) == (
        "/boom/{token}",
        500,
        "RuntimeError",
    )
    server_side = json.dumps(mine)  # (the test client's own httpx log line quotes its URL)
    assert "someone@" not in server_side and "m_secret-link" not in server_side
    assert sample(text, "http_requests_total", route="/boom/{token}", status="500") == 1


def test_exceptions_are_logged_without_their_text() -> None:
    with json_log() as stream:
        try:
            raise ValueError("duplicate key (email_key)=(someone@leeds.gov.uk)")
        except ValueError:
            logging.getLogger("conference.test").exception("mail worker tick failed")
    (record,) = [r for r in lines(stream) if r["logger"] == "conference.test"]
    assert record["exception"]["type"] == "builtins.ValueError" and record["exception"]["at"]
    assert "someone@" not in json.dumps(record) and record["request_id"] is None


def test_serve_log_config_routes_uvicorn_through_the_json_formatter() -> None:
    config = logs.log_config("warning")
    assert config["root"]["level"] == "WARNING"
    assert config["formatters"]["json"]["()"] == "conference.core.logs.JsonFormatter"
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        assert config["loggers"][name] == {"handlers": [], "level": "WARNING", "propagate": True}


# --- /metrics ----------------------------------------------------------------------------------------------


async def test_metrics_are_off_without_the_setting(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics", headers=AUTH)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


async def test_metrics_need_the_token(metered: httpx.AsyncClient) -> None:
    for headers in (
        {},
        {"authorization": "Bearer wrong"},
        {"authorization": f"Basic {METRICS_TOKEN}"},
        {"authorization": f"Bearer {METRICS_TOKEN}x"},
    ):
        response = await metered.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
    assert (
        await metered.get("/metrics", headers={"authorization": f"bearer {METRICS_TOKEN}"})
    ).status_code == 200


async def test_metrics_count_requests_registrations_and_checkins(
    metered: httpx.AsyncClient, database: Database
) -> None:
    tickets = await make_conference(database)
    async with database.transaction() as db:
        staff = {"authorization": f"Bearer {await create_api_token(db, role='staff', name='Door')}"}
    before = await scrape(metered)

    made = await metered.post("/api/v1/registrations", json=registration_body(tickets["delegate"]))
    assert made.status_code == 201 and made.json()["status"] == "confirmed"
    token = made.json()["manage_token"]
    assert (await metered.get(f"/manage/{token}")).status_code == 200
    scan = {"reference": made.json()["reference"], "list": "door"}
    assert (await metered.post("/api/v1/checkins", json=scan, headers=staff)).json()["result"] == "ok"
    assert (await metered.post("/api/v1/checkins", json=scan, headers=staff)).json()[
        "result"
    ] == "already_checked_in"
    await metered.get("/no/such/page")

    after = await scrape(metered)

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("registrations_total", status="confirmed") == 1
    assert grew("checkins_total", result="ok") == 1
    assert grew("checkins_total", result="already_checked_in") == 1
    assert grew("http_requests_total", method="POST", route="/api/v1/registrations", status="201") == 1
    assert grew("http_requests_total", method="GET", route="/manage/{token}", status="200") == 1
    assert grew("http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert grew("http_request_duration_seconds_count", method="POST", route="/api/v1/checkins") == 2
    # Labels hold templates only: no token, reference or raw path.
    assert token not in after and made.json()["reference"] not in after and "/no/such/page" not in after
    assert sample(after, "database_up") == 1


async def test_mail_queue_depth_and_delivery_counts(
    metered: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    tickets = await make_conference(database)
    for _ in range(2):  # each queues its confirmation (kept: no mail server in tests)
        assert (
            await metered.post("/api/v1/registrations", json=registration_body(tickets["delegate"]))
        ).status_code == 201
    async with database.transaction() as db:
        await db.execute(sa.update(OutboxEmail).values(status="queued"))
        db.add(
            OutboxEmail(
                kind="registration",
                to_address="someone@example.org",
                status="sending",
                lease_until=datetime.now(UTC) + timedelta(minutes=2),
            )
        )  # another sender holds it
        db.add(OutboxEmail(kind="registration", to_address="someone@example.org", status="sent"))
    before = await scrape(metered)
    assert sample(before, "mail_queue_depth", status="queued") == 2
    assert sample(before, "mail_queue_depth", status="sending") == 1

    class Transport:  # the first message goes, the second meets a refused connection
        calls = 0

        async def send(self, message: Any) -> None:
            self.calls += 1
            if self.calls == 2:
                raise ConnectionRefusedError("smtp down")

    assert await sender.deliver_due(database, settings, Transport()) == 1  # type: ignore[arg-type]
    after = await scrape(metered)
    assert sample(after, "mail_sent_total") - sample(before, "mail_sent_total") == 1
    assert (
        sample(after, "mail_failed_total", outcome="retry")
        - sample(before, "mail_failed_total", outcome="retry")
        == 1
    )
    assert sample(after, "mail_queue_depth", status="queued") == 1  # the failed one, queued again
    assert sample(after, "mail_queue_depth", status="sending") == 1


async def test_metrics_still_answer_when_the_database_is_down(tmp_path: Path) -> None:
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/missing/x.db", CONFERENCE_METRICS_TOKEN=METRICS_TOKEN
    )
    async with running(settings) as client:
        text = await scrape(client)
    assert sample(text, "database_up") == 0 and "mail_queue_depth" not in text


# --- slow bodies, security headers --------------------------------------------------------------------------


async def test_a_body_that_trickles_in_too_slowly_is_refused_with_408(database_url: str) -> None:
    async def trickle() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        await asyncio.sleep(30)  # the client stalls; the server's limit is 0.2 s
        yield b'x"}'

    settings = make_settings(database_url, CONFERENCE_BODY_TIMEOUT_SECONDS="0.2")
    async with running(settings) as client:
        response = await client.post(
            "/api/v1/registrations",
            content=trickle(),
            headers={"content-type": "application/json", "content-length": "20"},
        )
    assert response.status_code == 408
    assert response.json()["error"]["code"] == "request_timeout"
    assert response.headers["connection"] == "close"


async def test_the_body_timeout_leaves_a_finished_body_alone() -> None:
    """After the body, receive() waits for a disconnect (streamed answers listen for it): not timed."""
    answers: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["body"] == b"done"
        assert (await receive())["type"] == "http.disconnect"  # arrives after the body limit's deadline
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    messages = iter([{"type": "http.request", "body": b"done", "more_body": False}])

    async def receive() -> Message:
        message = next(messages, None)
        if message is None:
            await asyncio.sleep(0.3)
            return {"type": "http.disconnect"}
        return message

    async def send(message: Message) -> None:
        answers.append(message)

    await BodyLimit(app, max_bytes=100, timeout=0.05)({"type": "http", "headers": []}, receive, send)
    assert answers[0]["status"] == 200


async def test_hsts_only_when_the_base_url_is_https(database_url: str) -> None:
    https = make_settings(database_url, CONFERENCE_BASE_URL="https://conference.example")
    async with running(https, base_url="https://conference.example") as client:
        secure = await client.get("/healthz")
    assert secure.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    async with running(make_settings(database_url), base_url="https://testserver") as client:
        plain = await client.get("/healthz")
    assert "strict-transport-security" not in plain.headers
    for response in (secure, plain):
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"


# --- several workers ---------------------------------------------------------------------------------------


def _readyz_by_worker(metrics_dir: str) -> dict[int, float]:
    """GET /readyz answers per worker pid, read from each worker's own counter file."""
    counts: dict[int, float] = {}
    for path in Path(metrics_dir).glob("counter_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        for metric in MultiProcessCollector.merge([str(path)]):  # type: ignore[no-untyped-call]
            for s in metric.samples:
                if s.name == "http_requests_total" and s.labels.get("route") == "/readyz":
                    counts[pid] = counts.get(pid, 0) + s.value
    return counts


def _head_answer(port: int, head: bytes) -> bytes:
    """What the server sends back on a new connection given `head`, until it answers or closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
        conn.sendall(head)
        return conn.recv(200)


def test_serve_with_two_workers(database_url: str, tmp_path: Path) -> None:
    """`conference serve --workers 2`: N requests, whichever worker answered each, scrape to N in total; a worker
    killed and restarted keeps its counts, and its live gauge is dropped. And the request head's limits:
    too large is 431, too slow is closed (conference/web/httpguard.py)."""
    env = {
        "CONFERENCE_METRICS_TOKEN": METRICS_TOKEN,
        "TMPDIR": str(tmp_path),  # serve's metrics dir lands here
        "CONFERENCE_HEADER_TIMEOUT_SECONDS": "1",
    }
    # Left by a server killed outright (its pid is gone), and by one still running (this process): serve
    # removes the first only.
    killed, running_ = (
        tmp_path / "conference-metrics-999999999-x",
        tmp_path / f"conference-metrics-{os.getpid()}-y",
    )
    killed.mkdir(), running_.mkdir()
    with support.live_server(database_url, workers=2, env=env) as base:
        assert not killed.exists() and running_.exists()
        (metrics_dir,) = [str(p) for p in tmp_path.glob("conference-metrics-*") if p != running_]
        port = int(base.rsplit(":", 1)[1])
        big = _head_answer(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n")
        assert big.startswith(b"HTTP/1.1 431 "), big
        assert (
            _head_answer(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a") == b""
        )  # closed unanswered
        assert _head_answer(port, b"") == b""  # a connection that never says anything is closed too
        with httpx.Client(base_url=base) as keep_alive:  # while ordinary requests on one connection go on
            assert [keep_alive.get("/healthz").status_code for _ in range(3)] == [200, 200, 200]

        def burst(n: int) -> None:  # new connections from several threads, so both workers get some
            def one(_: int) -> int:
                return httpx.get(base + "/readyz", timeout=10).status_code

            with ThreadPoolExecutor(8) as pool:
                assert set(pool.map(one, range(n))) == {200}

        sent = 0
        for _ in range(10):
            burst(24)
            sent += 24
            if len(_readyz_by_worker(metrics_dir)) >= 2:
                break
        per_worker = _readyz_by_worker(metrics_dir)
        assert len(per_worker) == 2, f"one worker answered all {sent} requests: {per_worker}"
        text = httpx.get(base + "/metrics", headers=AUTH, timeout=10).text
        assert sample(text, "http_requests_total", method="GET", route="/readyz", status="200") == sent
        assert sum(per_worker.values()) == sent

        # Kill one worker: uvicorn starts another; the dead one's counts stay, its live gauge file goes.
        victim = min(per_worker)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while Path(metrics_dir, f"gauge_livesum_{victim}.db").exists():
            assert time.monotonic() < deadline, "the dead worker's live gauge was never dropped"
            with suppress(httpx.HTTPError):
                text = httpx.get(base + "/metrics", headers=AUTH, timeout=5).text
            time.sleep(0.2)
        text = httpx.get(base + "/metrics", headers=AUTH, timeout=10).text
        assert sample(text, "http_requests_total", method="GET", route="/readyz", status="200") == sent
        assert sample(text, "http_requests_in_progress") == 1  # this scrape, on a live worker
    assert not Path(metrics_dir).exists()  # serve removes its directory when it stops
