"""Registration rush: N registrations from C concurrent keep-alive clients against a real `conference serve`.

    .venv/bin/python bench/registration_rush.py                          # SQLite, 1 worker
    .venv/bin/python bench/registration_rush.py --database postgresql    # PostgreSQL, 2 workers

Creates a fresh database (a file in a temp dir; or a scratch PostgreSQL database, dropped afterwards), migrates
it, seeds one conference and a free ticket type, starts `conference serve` with rate limiting off, and sends
the registrations closed-loop: C asyncio workers, each with its own keep-alive HTTP/1.1 connection (plain
asyncio streams, requests encoded in advance), pull requests from a shared queue and wait for each answer
before sending the next. Prints throughput, latency percentiles and non-201 answers, then a baseline from
the same run (single-row insert + commit through the same SQLAlchemy async stack, `Database.transaction()`,
on the same kind of database) and the ratio of the two: the disk's flush rate drifts by an order of magnitude
on some machines, and the ratio drifts much less. Then a mixed run on the same server (`--mixed-percent`,
default 10% of the requests group bookings of 5-10, POST /api/v1/groups; the rest single registrations),
reported as places/s beside the single registrations' figure.
Always exits 0; the PASS/MISS lines report the targets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa

from conference.core.db import Database
from conference.core.migrate import upgrade
from conference.core.models import HOLDING, AuditEntry, Conference, Registration, TicketType
from conference.core.settings import Settings, normalise_database_url

TARGET_RATE = 300.0  # registrations per second
TARGET_P99_MS = 250.0
PG_ADMIN_URL = os.environ.get(
    "CONFERENCE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SECRET = "bench-secret-key-that-is-long-enough-0123456789"


# --- the database -------------------------------------------------------------------------------------------


async def _pg_admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def fresh_database(kind: str, workdir: Path) -> Iterator[str]:
    """A fresh, migrated database; yields its SQLAlchemy URL. A PostgreSQL one is dropped afterwards."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        upgrade(url)
        yield url
        return
    name = f"bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        url = normalise_database_url(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
        upgrade(url)
        yield url
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def settings_for(url: str) -> Settings:
    # The server reads CONFERENCE_SQLITE_SYNCHRONOUS / CONFERENCE_DB_POOL_SIZE from the environment we pass on;
    # the baseline must use the same.
    return Settings(
        database_url=url,
        sqlite_synchronous=os.environ.get("CONFERENCE_SQLITE_SYNCHRONOUS", "NORMAL").upper(),
        db_pool_size=int(os.environ.get("CONFERENCE_DB_POOL_SIZE", "10")),
    )


async def seed(url: str, capacity: int) -> uuid.UUID:
    """One open conference and one free ticket type with no approval (registrations are confirmed at once)."""
    database = Database.from_settings(settings_for(url))
    try:
        async with database.transaction() as db:
            conference = Conference(
                name="Bench Conference",
                venue="Bench Hall",
                capacity=capacity,
                registration_open=True,
                starts_at=datetime(2026, 12, 8, 9, tzinfo=UTC),
                ends_at=datetime(2026, 12, 9, 17, tzinfo=UTC),
            )
            db.add(conference)
            await db.flush()
            assert conference.id is not None
            ticket = TicketType(conference_id=conference.id, name="Delegate", position=1)
            db.add(ticket)
            await db.flush()
            return ticket.id
    finally:
        await database.dispose()


async def baseline(url: str, *, seconds: float = 2.0, at_least: int = 300) -> float:
    """Single-row insert + commit per transaction, one after another, through Database.transaction()."""
    database = Database.from_settings(settings_for(url))
    try:
        for _ in range(20):  # warm the pool, the statement cache and the connection
            async with database.transaction() as db:
                db.add(AuditEntry(actor="bench", action="bench.warmup"))
        n = 0
        start = time.perf_counter()
        while n < at_least or time.perf_counter() - start < seconds:
            async with database.transaction() as db:
                db.add(AuditEntry(actor="bench", action="bench.baseline", subject=str(n)))
            n += 1
        return n / (time.perf_counter() - start)
    finally:
        await database.dispose()


async def sqlite_references(url: str, *, seconds: float = 1.0) -> tuple[float, float]:
    """SQLite only: the baseline's insert+commit through SQLAlchemy's stock aiosqlite adapter (each statement
    on aiosqlite's thread: what Database did before conference/core/sqlite_inline.py), and through bare sqlite3
    (the floor under any stack). Same file, same pragmas, same BEGIN IMMEDIATE."""
    import sqlite3

    from sqlalchemy.ext.asyncio import create_async_engine

    path = sa.make_url(url).database
    assert path
    engine = create_async_engine(url)

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: object, _record: object) -> None:
        dbapi_connection.isolation_level = None  # type: ignore[attr-defined]

    @sa.event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    insert = sa.insert(AuditEntry.__table__)  # type: ignore[attr-defined]
    try:
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            async with engine.begin() as conn:
                await conn.execute(
                    insert,
                    {
                        "actor": "bench",
                        "action": "bench.aiosqlite",
                        "subject": str(n),
                        "at": datetime.now(UTC),
                        "data": {},
                    },
                )
            n += 1
        threaded = n / (time.perf_counter() - start)
    finally:
        await engine.dispose()
    bare = sqlite3.connect(path, isolation_level=None)
    try:
        bare.execute("PRAGMA synchronous=NORMAL")
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            bare.execute("BEGIN IMMEDIATE")
            bare.execute(
                "INSERT INTO audit_entry (at, actor, action, subject, data) VALUES (?, ?, ?, ?, ?)",
                (datetime.now(UTC).isoformat(), "bench", "bench.bare", str(n), "{}"),
            )
            bare.execute("COMMIT")
            n += 1
        return threaded, n / (time.perf_counter() - start)
    finally:
        bare.close()


def print_sqlite_references(references: tuple[float, float] | None, rate: float, what: str) -> None:
    if references is None:
        return
    threaded, bare = references
    print(
        f"  for reference: insert+commit/s through aiosqlite's thread {threaded:.1f} "
        f"({what} ÷ it = {rate / threaded:.2f}), through bare sqlite3 {bare:.1f}"
    )


async def outcome(url: str) -> tuple[int, int]:
    """(registrations stored, places held) after the rush."""
    database = Database.from_settings(settings_for(url))
    try:
        async with database.read() as db:
            total = (await db.execute(sa.select(sa.func.count()).select_from(Registration))).scalar_one()
            held = (
                await db.execute(
                    sa.select(sa.func.count())
                    .select_from(Registration)
                    .where(Registration.status.in_(HOLDING))
                )
            ).scalar_one()
        return int(total), int(held)
    finally:
        await database.dispose()


# --- the server ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of a process and all its descendants, from /proc; None where there is none."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        pending = [pid]
        while pending:
            p = pending.pop()
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        return total
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class Server:
    base: str
    pid: int


@contextmanager
def server(url: str, workers: int, log_path: Path) -> Iterator[Server]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "CONFERENCE_DATABASE_URL": url,
        "CONFERENCE_SECRET_KEY": SECRET,
        "CONFERENCE_BASE_URL": base,
        "CONFERENCE_RATE_LIMIT": "",  # rate limiting off: every request comes from 127.0.0.1
    }
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "conference.server.cli",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"conference serve exited with {proc.returncode}; see {log_path}")
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"conference serve did not start in 30 s; see {log_path}")
                time.sleep(0.1)
            yield Server(base, proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --- the load -----------------------------------------------------------------------------------------------
#
# The load generator speaks HTTP/1.1 itself over asyncio streams rather than through httpx: httpx costs about
# 3 ms of CPU per request, which at 300 requests/s takes most of a core from the server on a 2-core machine.
# Every request is encoded before the clock starts; an answer is read as status line + headers, then
# Content-Length bytes (or chunks), which covers everything uvicorn sends. (httpx still polls /healthz while
# the server starts, outside the clock.)

REQUEST_TIMEOUT = 60.0  # seconds for one request (connect, send, whole answer); then it counts as no answer


def body(ticket_id: uuid.UUID, n: int, run: str) -> dict[str, object]:
    return {
        "name": f"Bench Delegate {n}",
        "email": f"delegate{n}-{run}@leeds.gov.uk",
        "organisation": "Leeds City Council",
        "sector": "local_authority",
        "ticket_type_id": str(ticket_id),
        "consent": True,
    }


def encode_request(
    method: str, path: str, host: str, payload: object = None, headers: dict[str, str] | None = None
) -> bytes:
    """The bytes of one HTTP/1.1 request, with a JSON body when there is a payload."""
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    if payload is None:
        return (head + "\r\n").encode("ascii")
    content = json.dumps(payload, separators=(",", ":")).encode()
    head += f"Content-Type: application/json\r\nContent-Length: {len(content)}\r\n\r\n"
    return head.encode("ascii") + content


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one answer to its last byte, so the next starts in step; (status code, connection stays open)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head[:-4].split(b"\r\n")
    version, _, rest = status_line.partition(b" ")
    status = int(rest[:3])
    headers: dict[bytes, bytes] = {}
    for line in header_lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip().lower()
    keep_alive = version == b"HTTP/1.1" and b"close" not in headers.get(b"connection", b"")
    if b"chunked" in headers.get(b"transfer-encoding", b""):
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)  # hex size [; extensions]
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, up to the empty line
                    pass
                break
            await reader.readexactly(size + 2)  # the chunk and its CRLF
    elif b"content-length" in headers:
        await reader.readexactly(int(headers[b"content-length"]))
    elif status >= 200 and status not in (204, 304):
        await reader.read()  # no length given: the body ends when the server closes the connection
        keep_alive = False
    return status, keep_alive


class Connection:
    """A persistent HTTP/1.1 connection, one request at a time; the next request reopens it after an error."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(self, raw: bytes) -> int:
        """Send a pre-encoded request, read the whole answer; its status code, 0 for no (complete) answer."""
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                if self.stream is None:
                    self.stream = await asyncio.open_connection(self.host, self.port)
                reader, writer = self.stream
                writer.write(raw)
                await writer.drain()
                status, keep_alive = await read_response(reader)
        except (OSError, TimeoutError, EOFError, asyncio.LimitOverrunError, ValueError):
            # Refused, reset, timed out, cut short or garbled: where the next answer would start is unknown.
            self.close()
            return 0
        if not keep_alive:
            self.close()
        return status

    def close(self) -> None:
        if self.stream is not None:
            self.stream[1].close()
            self.stream = None

    async def aclose(self) -> None:
        if self.stream is not None:
            writer = self.stream[1]
            self.close()
            with suppress(OSError):
                await writer.wait_closed()


def registrations(base: str, ticket_id: uuid.UUID, requests: int) -> list[bytes]:
    run = uuid.uuid4().hex[:8]
    host = urlsplit(base).netloc
    return [
        encode_request("POST", "/api/v1/registrations", host, body(ticket_id, n, run))
        for n in range(requests)
    ]


async def rush(
    base: str, raws: list[bytes], *, clients: int, each: list[tuple[int, float]] | None = None
) -> tuple[float, list[float], Counter[int]]:
    """Closed loop: `clients` workers, each on its own keep-alive connection, share one queue of requests
    (encoded in advance). Returns (wall seconds, latencies in seconds, status code counts); `each`, when given,
    is filled with (status code, latency) per request, in the order of `raws`.
    """
    url = urlsplit(base)
    queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
    for item in enumerate(raws):
        queue.put_nowait(item)
    if each is not None:
        each[:] = [(0, 0.0)] * len(raws)
    latencies: list[float] = []
    codes: Counter[int] = Counter()
    conns = [Connection(url.hostname or "127.0.0.1", url.port or 80) for _ in range(clients)]
    try:
        # Open every connection first (a cheap GET each), so the timed part measures the requests only.
        healthz = encode_request("GET", "/healthz", url.netloc)
        warmup = Counter(await asyncio.gather(*[c.request(healthz) for c in conns]))
        if set(warmup) - {200}:
            raise RuntimeError(f"GET /healthz on the {clients} connections: {dict(warmup)} (0 = no answer)")
        start_line = asyncio.Event()

        async def worker(conn: Connection) -> None:
            await start_line.wait()
            while True:
                try:
                    index, raw = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                t0 = time.perf_counter()
                status = await conn.request(raw)
                latency = time.perf_counter() - t0
                codes[status] += 1  # 0: no answer at all (counted as non-201)
                latencies.append(latency)
                if each is not None:
                    each[index] = (status, latency)

        tasks = [asyncio.create_task(worker(c)) for c in conns]
        await asyncio.sleep(0)
        start = time.perf_counter()
        start_line.set()
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - start
    finally:
        await asyncio.gather(*[c.aclose() for c in conns])
    return wall, latencies, codes


# --- the mixed run: group bookings among the single registrations --------------------------------------------

GROUP_SIZES = (5, 10)  # a group books this many places, drawn uniformly


def mixed_plan(requests: int, percent: float, *, seed: int = 20) -> list[int]:
    """The places each request of the mixed run asks for, in sending order: `percent`% of the requests are group
    bookings of 5-10 places, the rest single registrations (1); shuffled with a fixed seed, so runs compare."""
    rng = random.Random(seed)
    groups = round(requests * percent / 100)
    plan = [rng.randint(*GROUP_SIZES) for _ in range(groups)] + [1] * (requests - groups)
    rng.shuffle(plan)
    return plan


def group_body(ticket_id: uuid.UUID, n: int, run: str, size: int) -> dict[str, object]:
    """A free group booking (POST /api/v1/groups): a lead who does not attend and `size` members."""
    return {
        "ticket_type_id": str(ticket_id),
        "lead": {"name": f"Bench Lead {n}", "email": f"lead{n}-{run}@leeds.gov.uk", "attends": False},
        "organisation": "Leeds City Council",
        "sector": "local_authority",
        "members": [
            {"name": f"Bench Member {n}.{m}", "email": f"member{n}.{m}-{run}@leeds.gov.uk"}
            for m in range(size)
        ],
        "payment_method": "none",
        "if_full": "refuse",
    }


def mixed_requests(base: str, ticket_id: uuid.UUID, plan: list[int]) -> list[bytes]:
    run = uuid.uuid4().hex[:8]
    host = urlsplit(base).netloc
    return [
        encode_request("POST", "/api/v1/groups", host, group_body(ticket_id, n, run, size))
        if size > 1
        else encode_request("POST", "/api/v1/registrations", host, body(ticket_id, n, run))
        for n, size in enumerate(plan)
    ]


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * p // 100))  # ceil(n * p / 100)
    return sorted_values[int(rank) - 1]


def run_loop(coro):  # type: ignore[no-untyped-def]
    """uvloop when installed (it is, with uvicorn[standard]): the client's own overhead stays small."""
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


# --- main ---------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--requests", type=int, default=1000, help="registrations to send (default 1000)")
    parser.add_argument(
        "--clients", type=int, default=100, help="concurrent keep-alive clients (default 100)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="uvicorn worker processes (default 1 on SQLite, 2 on PostgreSQL)",
    )
    parser.add_argument(
        "--capacity",
        type=int,
        default=None,
        help="the conference's capacity (default max(1000, requests) + the mixed run's places: every request "
        "gets its places)",
    )
    parser.add_argument(
        "--mixed-percent",
        type=float,
        default=10.0,
        help="after the single registrations, a mixed run of as many requests with this percentage of group "
        "bookings of 5-10 (default 10; 0: no mixed run)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (SQLite file, server log)")
    args = parser.parse_args(argv)
    workers = args.workers or (1 if args.database == "sqlite" else 2)
    plan = mixed_plan(args.requests, args.mixed_percent) if args.mixed_percent > 0 else []
    capacity = args.capacity if args.capacity is not None else max(1000, args.requests) + sum(plan)
    each: list[tuple[int, float]] = []
    mixed_wall, mixed_cpu = 0.0, None

    workdir = Path(tempfile.mkdtemp(prefix="registration-rush-"))
    log_path = workdir / "server.log"
    try:
        with fresh_database(args.database, workdir) as url:
            ticket_id = asyncio.run(seed(url, capacity))
            base_before = asyncio.run(baseline(url))
            with server(url, workers, log_path) as srv:
                server_cpu0, client_cpu0 = cpu_seconds(srv.pid), time.process_time()
                raws = registrations(srv.base, ticket_id, args.requests)
                wall, latencies, codes = run_loop(rush(srv.base, raws, clients=args.clients))
                server_cpu1, client_cpu1 = cpu_seconds(srv.pid), time.process_time()
                if plan:
                    # The same server and database, straight after: places/s beside registrations/s.
                    mixed_raws = mixed_requests(srv.base, ticket_id, plan)
                    mixed_cpu0 = cpu_seconds(srv.pid)
                    mixed_wall, _, _ = run_loop(rush(srv.base, mixed_raws, clients=args.clients, each=each))
                    mixed_cpu1 = cpu_seconds(srv.pid)
                    if mixed_cpu0 is not None and mixed_cpu1 is not None:
                        mixed_cpu = mixed_cpu1 - mixed_cpu0
            base_after = asyncio.run(baseline(url))
            references = asyncio.run(sqlite_references(url)) if args.database == "sqlite" else None
            stored, held = asyncio.run(outcome(url))
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    ok = codes.get(201, 0)
    rate = ok / wall if wall > 0 else 0.0
    lat = sorted(x * 1000 for x in latencies)
    p50, p90, p99 = (percentile(lat, p) for p in (50, 90, 99))
    raw = (base_before + base_after) / 2
    non_201 = sum(n for code, n in codes.items() if code != 201)

    print(
        f"registration rush: {args.database}, {workers} worker(s), {args.requests} registrations, "
        f"{args.clients} clients (closed loop, keep-alive), capacity {capacity}"
    )
    print(f"  registrations/s      {rate:8.1f}   ({ok} answered 201 in {wall:.2f} s)")
    print(
        f"  latency ms           p50 {p50:.1f}  p90 {p90:.1f}  p99 {p99:.1f}  max {lat[-1] if lat else float('nan'):.1f}"
    )
    print(
        f"  non-201 answers      {non_201}"
        + (
            f"   {dict(sorted((c, n) for c, n in codes.items() if c != 201))} (0 = no answer)"
            if non_201
            else ""
        )
    )
    print(f"  stored / places held {stored} / {held}" + ("   (after both runs)" if plan else ""))
    if server_cpu0 is not None and server_cpu1 is not None:
        used = server_cpu1 - server_cpu0
        print(
            f"  server CPU           {used:.2f} s = {used / args.requests * 1000:.2f} ms per request, "
            f"{used / wall:.2f} of {os.cpu_count()} cores busy"
        )
    client = client_cpu1 - client_cpu0
    print(
        f"  client CPU           {client:.2f} s = {client / args.requests * 1000:.2f} ms per request "
        f"(this load generator shares the machine)"
    )
    print("baseline: single-row insert + commit via Database.transaction(), one connection, same database")
    print(f"  insert+commit/s      {raw:8.1f}   (before {base_before:.1f}, after {base_after:.1f})")
    print(f"  ratio                {rate / raw:8.3f}   registrations/s ÷ insert+commit/s")
    print_sqlite_references(references, rate, "registrations/s")
    if max(base_before, base_after) > 2 * min(base_before, base_after):
        print(
            "  note: the baseline moved more than 2x during the run (the disk's flush rate changed?); rerun"
        )
    print("targets (with this load):")
    print(
        f"  {'PASS' if rate >= TARGET_RATE else 'MISS'}  registrations/s >= {TARGET_RATE:.0f}   ({rate:.1f})"
    )
    print(
        f"  {'PASS' if p99 < TARGET_P99_MS else 'MISS'}  p99 latency < {TARGET_P99_MS:.0f} ms   ({p99:.1f} ms)"
    )
    print(f"  {'PASS' if non_201 == 0 else 'MISS'}  every answer 201   ({non_201} not)")
    if plan:
        print_mixed(plan, each, mixed_wall, mixed_cpu, rate=rate, raw=raw, clients=args.clients)
    return 0


def print_mixed(
    plan: list[int],
    each: list[tuple[int, float]],
    wall: float,
    server_cpu: float | None,
    *,
    rate: float,
    raw: float,
    clients: int,
) -> None:
    """The mixed run's figures, beside the single registrations' from the same run."""
    groups = [(size, status, latency) for size, (status, latency) in zip(plan, each, strict=True) if size > 1]
    alone = [(status, latency) for size, (status, latency) in zip(plan, each, strict=True) if size == 1]
    places = sum(size for size, (status, _) in zip(plan, each, strict=True) if status == 201)
    asked = sum(plan)
    places_rate = places / wall if wall > 0 else 0.0
    non_201 = Counter(status for status, _ in each if status != 201)
    print(
        f"mixed run: {len(plan)} requests on the same server straight after, {len(groups)} of them group bookings "
        f"of {GROUP_SIZES[0]}-{GROUP_SIZES[1]} ({sum(s for s, _, _ in groups)} places), {len(alone)} single "
        f"registrations; {asked} places asked for, {clients} clients"
    )
    print(
        f"  places/s             {places_rate:8.1f}   ({places} places held by 201 answers in {wall:.2f} s)"
    )
    print(f"  requests/s           {len(plan) / wall if wall > 0 else 0.0:8.1f}")
    for what, latencies in (
        ("groups", sorted(latency * 1000 for _, _, latency in groups)),
        ("singles", sorted(latency * 1000 for _, latency in alone)),
    ):
        p50, p90, p99 = (percentile(latencies, p) for p in (50, 90, 99))
        print(
            f"  latency ms, {what:<8} p50 {p50:.1f}  p90 {p90:.1f}  p99 {p99:.1f}  "
            f"max {latencies[-1] if latencies else float('nan'):.1f}"
        )
    print(
        f"  non-201 answers      {sum(non_201.values())}"
        + (f"   {dict(sorted(non_201.items()))} (0 = no answer)" if non_201 else "")
    )
    if server_cpu is not None:
        print(
            f"  server CPU           {server_cpu:.2f} s = {server_cpu / max(places, 1) * 1000:.2f} ms per place"
        )
    print(f"  ratio                {places_rate / raw:8.3f}   places/s ÷ insert+commit/s")
    print(
        f"  beside the singles   {places_rate / rate if rate else float('nan'):8.3f}   places/s ÷ registrations/s "
        f"of the single run above ({rate:.1f}/s, ratio {rate / raw:.3f})"
    )


if __name__ == "__main__":
    raise SystemExit(main())
