"""PostgreSQL stopped for ~2 s and started again under a steady stream of registrations and reads.

Every connection in the server's pools dies with it. Requests during the outage must be answered 503 with the
JSON error `service_unavailable` (never a 500, never a hang), the server must recover by itself once
PostgreSQL is back (no restart), and nothing may be half-written.

Stopping PostgreSQL cuts every connection on the machine: the test holds it down briefly, and does not end
before the server answers again (pg_isready and a real query), also when it fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import support
from tests.resilience.common import Sent, bodies, check_invariants, client, seed

pytestmark = pytest.mark.resilience

CAPACITY = 5000  # places for everyone: what this test watches is the outage, not the waiting list
DOWN_SECONDS = 2.0
REGISTRARS = 6  # concurrent clients registering one after another
READERS = 4  # concurrent clients reading the conference and their own registration
RECOVERED_AFTER = 5  # consecutive successes of every kind of request after PostgreSQL is back
RECOVERY_LIMIT = support.PATIENCE  # seconds after PostgreSQL is back to see them before the test gives up
REQUEST_TIMEOUT = 20.0  # a request taking longer than this counts as a hang


def _cluster() -> tuple[str, str]:
    versions = sorted(
        os.listdir("/etc/postgresql"), key=lambda v: [int(p) for p in v.split(".") if p.isdigit()]
    )
    return versions[-1], "main"


def _pg_ctl(action: str) -> None:
    version, name = _cluster()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action],
        check=True,
        capture_output=True,
        timeout=60,
    )


def _postgres_ready() -> bool:
    ready = subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"], timeout=10).returncode == 0
    return ready and support.postgres_available()  # and a real query answers


def _wait_ready(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not _postgres_ready():
        if time.monotonic() > deadline:
            raise RuntimeError("PostgreSQL did not come back")
        time.sleep(0.2)


@pytest.fixture
def restartable_postgres(pg_url: str) -> Any:
    """Skips unless this machine's PostgreSQL cluster can be restarted from here; restores it whatever happens."""
    local = "@127.0.0.1:" in support.PG_ADMIN_URL or "@localhost:" in support.PG_ADMIN_URL
    if not (
        local and os.geteuid() == 0 and shutil.which("pg_ctlcluster") and os.path.isdir("/etc/postgresql")
    ):
        support.skip_or_fail(
            "restarting PostgreSQL needs root, pg_ctlcluster and a local cluster",
            "CONFERENCE_REQUIRE_POSTGRES",
        )
    yield
    if not _postgres_ready():
        with suppress(subprocess.CalledProcessError):  # already starting: wait for it below
            _pg_ctl("start")
        _wait_ready()


@dataclass
class Outcome:
    kind: str
    at: float
    status: int | None  # None: no answer (connection error or timeout)
    took: float = 0.0
    body: Any = None
    error: str = ""


async def _load(
    base: str,
    ticket_bodies: list[dict[str, Any]],
    stop: threading.Event,
    outcomes: list[Outcome],
    sent: list[Sent],
) -> None:
    pending = iter(ticket_bodies)
    mine: list[tuple[str, str]] = []  # (id, manage token) of registrations answered 201

    async def record(kind: str, request: Any) -> httpx.Response | None:
        start = time.monotonic()
        try:
            response = await request
        except Exception as exc:  # noqa: BLE001 - a hang or a dropped connection: the test fails on it
            now = time.monotonic()
            outcomes.append(Outcome(kind, now, None, now - start, error=type(exc).__name__))
            return None
        try:
            body = response.json()
        except ValueError:
            body = response.text[:200]
        now = time.monotonic()
        outcomes.append(Outcome(kind, now, response.status_code, now - start, body))
        return response

    async def registrar(c: httpx.AsyncClient) -> None:
        while not stop.is_set():
            s = Sent(next(pending))
            sent.append(s)
            s.response = await record("register", c.post("/api/v1/registrations", json=s.body))
            if s.created:
                assert s.response is not None
                mine.append((s.response.json()["id"], s.response.json()["manage_token"]))
            await asyncio.sleep(0.02)

    async def reader(c: httpx.AsyncClient, n: int) -> None:
        while not stop.is_set():
            await record("conference", c.get("/api/v1/conference"))
            if mine:
                rid, token = mine[n % len(mine)]
                await record(
                    "own registration",
                    c.get(f"/api/v1/registrations/{rid}", headers={"authorization": f"Bearer {token}"}),
                )
            n += 1
            await asyncio.sleep(0.02)

    async with client(base, REGISTRARS + READERS, timeout=REQUEST_TIMEOUT) as c:
        await asyncio.gather(
            *(registrar(c) for _ in range(REGISTRARS)), *(reader(c, i) for i in range(READERS))
        )


def _recovered(outcomes: list[Outcome], since: float) -> bool:
    for kind in ("register", "conference", "own registration"):
        tail = [o for o in outcomes if o.kind == kind and o.at > since][-RECOVERED_AFTER:]
        if len(tail) < RECOVERED_AFTER or not all(o.status in (200, 201) for o in tail):
            return False
    return True


def test_postgres_restart_under_load_answers_503_then_recovers(
    pg_url: str, restartable_postgres: None, tmp_path: Path
) -> None:
    seeded = seed(pg_url, capacity=CAPACITY)
    outcomes: list[Outcome] = []
    sent: list[Sent] = []
    stop = threading.Event()
    with support.live_server(pg_url, workers=2, log_path=tmp_path / "server.log") as base:
        load = threading.Thread(
            target=lambda: asyncio.run(_load(base, bodies(seeded.ticket, 20000), stop, outcomes, sent))
        )
        load.start()
        try:
            time.sleep(2)  # steady load first, with the pools full of live connections
            down_at = time.monotonic()
            _pg_ctl("stop")  # fast shutdown: open transactions rolled back, every connection cut
            time.sleep(DOWN_SECONDS)
            _pg_ctl("start")
            _wait_ready()
            back_at = time.monotonic()
            deadline = back_at + RECOVERY_LIMIT
            while not _recovered(outcomes, back_at) and time.monotonic() < deadline:
                time.sleep(0.2)
            recovered_at = time.monotonic()
        finally:
            stop.set()
            load.join(timeout=2 * REQUEST_TIMEOUT)
        assert not load.is_alive(), "the load's requests hung"
        # The same server, never restarted, still answers.
        assert httpx.get(f"{base}/api/v1/conference", timeout=10).status_code == 200

    codes = Counter(o.status for o in outcomes)
    summary = (
        f"{dict(codes)}; down {back_at - down_at:.1f} s, recovered {recovered_at - back_at:.1f} s after "
        f"PostgreSQL was back; slowest answer {max(o.took for o in outcomes):.1f} s; "
        f"errors {Counter(o.error for o in outcomes if o.error)}"
    )
    print(summary)
    assert _recovered(outcomes, back_at), f"the server did not recover by itself: {summary}"
    assert None not in codes, f"requests without an answer (hang or dropped connection): {summary}"
    assert set(codes) <= {200, 201, 503}, f"answers other than success or 503: {summary}; " + str(
        [o.body for o in outcomes if o.status not in (200, 201, 503)][:3]
    )
    assert codes[503] > 0, f"no request met the outage: the test did not test it ({summary})"
    unavailable = [o.body for o in outcomes if o.status == 503]
    assert all(b["error"]["code"] == "service_unavailable" for b in unavailable), unavailable[:3]
    # Outside the outage everything succeeded; 503s only while PostgreSQL was down or just coming back.
    assert all(down_at - 1 <= o.at <= recovered_at for o in outcomes if o.status == 503)

    # A registration answered 503 may still have been written (the answer lost, not the commit), so only the
    # 201s are checked one by one; everything stored is whole either way.
    check_invariants(pg_url, sent)
