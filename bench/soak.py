"""Soak: a realistic mix of traffic for a bounded time against real `conference serve` instances, watching memory.

    .venv/bin/python bench/soak.py --minutes 10                      # PostgreSQL, 2 instances x 2 workers
    .venv/bin/python bench/soak.py --database sqlite --minutes 10    # SQLite, 1 instance x 2 workers

Seeds a conference (a large capacity, so registrations keep being confirmed), a programme of workshops, N
confirmed delegates (inserted directly, with real manage tokens and badge codes) and a staff token, starts a
mail sink (aiosmtpd) so the outbox really sends, then starts the instances. C clients, each with its own
keep-alive connection to one instance (round robin), loop over a weighted mix with a short pause between
requests: registrations, seat bookings, manage pages, programme pages and door check-in scans. Every
--report-seconds it prints, for that window, throughput and p50/p99 latency per operation, unexpected answers,
and the resident memory (VmRSS) of every server process: the uvicorn parent and each worker. At the end, a
summary of the whole run and each process's memory growth from the first report to the last: a leak shows as
growth that keeps climbing report after report, not as the one-off rise of the first minute (caches, pools).
Always exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa
from checkin_rush import badge_codes, seed_delegates  # the same directory, like registration_rush
from registration_rush import (  # the same directory: run as a script from the repository root
    encode_request,
    fresh_database,
    percentile,
    server,
    settings_for,
)

from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import OutboxEmail
from conference.web.auth import create_api_token
from sessions.models import Kind, RoomCreate, SessionCreate, TimeSlotCreate
from sessions.workshops import programme

# The mix, as weights: a morning when registration is open, delegates book workshops and look at their pages,
# the programme is read, and the first delegates arrive at the door.
MIX = {"register": 15, "book_seat": 15, "manage_page": 25, "programme_page": 20, "checkin": 25}
# Answers that are the service doing its job (a second booking of the same workshop is refused with 409).
EXPECTED = {
    "register": {201},
    "book_seat": {201, 409},
    "manage_page": {200},
    "programme_page": {200},
    "checkin": {200},
}
REQUEST_TIMEOUT = 30.0


# --- seeding ------------------------------------------------------------------------------------------------


@dataclass
class Seed:
    ticket: uuid.UUID
    tokens: list[str]  # manage tokens of the seeded delegates
    ids: list[uuid.UUID]
    badges: list[str]  # their badge codes
    staff: str
    sessions: list[uuid.UUID]


async def seed(url: str, delegates: int) -> Seed:
    database = Database.from_settings(settings_for(url))
    try:
        async with database.transaction() as db:
            ticket, rows, tokens = await seed_delegates(db, delegates, label="Soak", capacity=1_000_000)
            ids = [r["id"] for r in rows]
            staff = await create_api_token(db, role="staff", name="Soak door")
        actor = Actor("organiser", "soak")
        sessions = []
        async with database.transaction() as db:
            rooms = [
                await programme.create_room(db, data=RoomCreate(name=f"Room {r}", capacity=40), actor=actor)
                for r in range(3)
            ]
            start = datetime(2026, 12, 8, 10, tzinfo=UTC)
            for s in range(3):
                at = start + timedelta(hours=2 * s)
                slot = await programme.create_slot(
                    db, data=TimeSlotCreate(starts_at=at, ends_at=at + timedelta(hours=1)), actor=actor
                )
                for room in rooms:
                    session = await programme.create_session(
                        db,
                        data=SessionCreate(
                            title=f"Workshop {s}-{room.name}",
                            kind=Kind.workshop,
                            room_id=room.id,
                            start_slot_id=slot.id,
                            theme="Digital",
                            speakers="A Speaker",
                        ),
                        actor=actor,
                    )
                    sessions.append(session.id)
    finally:
        await database.dispose()
    return Seed(ticket.id, tokens, ids, badge_codes(url, rows), staff, sessions)


# --- the mail sink --------------------------------------------------------------------------------------------


class Sink:
    """Accepts every message and counts it (aiosmtpd, from the test extra)."""

    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.received += 1
        return "250 Message accepted for delivery"


@contextmanager
def mail_sink() -> Iterator[tuple[Sink | None, str | None]]:
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        print("aiosmtpd is not installed (pip install -e '.[test]'): emails are kept, not sent")
        yield None, None
        return
    from registration_rush import free_port

    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()


# --- memory -------------------------------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        p = pending.pop()
        found.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def label(pid: int, instance: int, parent: int) -> str:
    if pid == parent:
        return f"instance {instance} parent"
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        cmd = ""
    kind = "resource tracker" if "resource_tracker" in cmd else "worker"
    return f"instance {instance} {kind} {pid}"


def memory(parents: list[int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i, parent in enumerate(parents, 1):
        for pid in process_tree(parent):
            kib = rss_kib(pid)
            if kib is not None:
                out[label(pid, i, parent)] = kib
    return out


# --- the load -----------------------------------------------------------------------------------------------


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    """One HTTP/1.1 answer, whole: (status, connection stays open, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head[:-4].split(b"\r\n")
    version, _, rest = status_line.partition(b" ")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip().lower()
    keep_alive = version == b"HTTP/1.1" and b"close" not in headers.get(b"connection", b"")
    body = b""
    if b"chunked" in headers.get(b"transfer-encoding", b""):
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass
                break
            parts.append((await reader.readexactly(size + 2))[:-2])
        body = b"".join(parts)
    elif b"content-length" in headers:
        body = await reader.readexactly(int(headers[b"content-length"]))
    return int(rest[:3]), keep_alive, body


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    unexpected: Counter[tuple[str, int]] = field(default_factory=Counter)

    def add(self, op: str, seconds: float, status: int) -> None:
        self.latencies[op].append(seconds)
        if status not in EXPECTED[op]:
            self.unexpected[(op, status)] += 1


@dataclass
class Load:
    seed: Seed
    run: str
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    window: Stats = field(default_factory=Stats)
    total: Stats = field(default_factory=Stats)
    registered: list[tuple[str, str]] = field(default_factory=list)  # (id, token) of soak registrations
    counter: int = 0


async def client_loop(load: Load, base: str, think: float, rng: random.Random) -> None:
    parts = urlsplit(base)
    host = parts.netloc
    ops, weights = list(MIX), list(MIX.values())
    staff = {"Authorization": f"Bearer {load.seed.staff}"}
    reader = writer = None
    while not load.stop.is_set():
        op = rng.choices(ops, weights)[0]
        if op == "register":
            load.counter += 1
            request = encode_request(
                "POST",
                "/api/v1/registrations",
                host,
                {
                    "name": f"Soak Walk-in {load.counter}",
                    "email": f"walkin{load.counter}-{load.run}@leeds.gov.uk",
                    "organisation": "Leeds City Council",
                    "sector": "local_authority",
                    "ticket_type_id": str(load.seed.ticket),
                    "consent": True,
                },
            )
        elif op == "book_seat":
            n = rng.randrange(len(load.seed.ids))
            request = encode_request(
                "POST",
                f"/api/v1/registrations/{load.seed.ids[n]}/sessions",
                host,
                {"session_id": str(rng.choice(load.seed.sessions))},
                {"Authorization": f"Bearer {load.seed.tokens[n]}"},
            )
        elif op == "manage_page":
            token = (
                rng.choice(load.registered)[1]
                if load.registered and rng.random() < 0.5
                else rng.choice(load.seed.tokens)
            )
            request = encode_request("GET", f"/manage/{token}", host, headers={"Accept": "text/html"})
        elif op == "programme_page":
            request = encode_request("GET", "/programme", host, headers={"Accept": "text/html"})
        else:
            request = encode_request(
                "POST",
                "/api/v1/checkins",
                host,
                {"code": rng.choice(load.seed.badges), "list": "door", "device": f"soak-{id(rng)}"},
                staff,
            )
        start = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
            assert reader is not None
            writer.write(request)
            status, keep_alive, body = await asyncio.wait_for(read_answer(reader), REQUEST_TIMEOUT)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            status, keep_alive, body = 0, False, b""
        elapsed = time.perf_counter() - start
        load.window.add(op, elapsed, status)
        load.total.add(op, elapsed, status)
        if op == "register" and status == 201:
            answer = json.loads(body)
            load.registered.append((answer["id"], answer["manage_token"]))
        if not keep_alive and writer is not None:
            writer.close()
            reader = writer = None
        await asyncio.sleep(think * rng.uniform(0.5, 1.5))
    if writer is not None:
        writer.close()


def print_window(title: str, stats: Stats, seconds: float, rss: dict[str, int] | None) -> None:
    print(title)
    print(f"  {'operation':<16}{'count':>8}{'per s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  unexpected")
    for op in MIX:
        lat = sorted(x * 1000 for x in stats.latencies.get(op, []))
        bad = {status: n for (o, status), n in stats.unexpected.items() if o == op}
        if not lat:
            print(f"  {op:<16}{0:>8}")
            continue
        print(
            f"  {op:<16}{len(lat):>8}{len(lat) / seconds:>9.1f}{percentile(lat, 50):>9.1f}"
            f"{percentile(lat, 99):>9.1f}{lat[-1]:>9.1f}  {bad or ''}"
        )
    if rss is not None:
        print("  RSS MiB  " + "  ".join(f"{name}: {kib / 1024:.1f}" for name, kib in rss.items()))


async def drive(
    load: Load, bases: list[str], clients: int, think: float, seconds: float, every: float, parents: list[int]
) -> tuple[list[tuple[float, dict[str, int]]], float]:
    rng = random.Random(8)
    tasks = [
        asyncio.create_task(client_loop(load, bases[i % len(bases)], think, random.Random(rng.random())))
        for i in range(clients)
    ]
    samples = [(0.0, memory(parents))]
    start = time.monotonic()
    window_start = start
    while (now := time.monotonic()) - start < seconds:
        await asyncio.sleep(min(every, seconds - (now - start)))
        now = time.monotonic()
        rss = memory(parents)
        samples.append((now - start, rss))
        print_window(
            f"[{now - start:6.0f} s] last {now - window_start:.0f} s", load.window, now - window_start, rss
        )
        load.window = Stats()
        window_start = now
    load.stop.set()
    await asyncio.gather(*tasks)
    return samples, time.monotonic() - start


async def outbox_state(url: str) -> Counter[str]:
    database = Database.from_settings(settings_for(url))
    try:
        async with database.read() as db:
            rows = (
                await db.execute(sa.select(OutboxEmail.status, sa.func.count()).group_by(OutboxEmail.status))
            ).all()
        return Counter({status: n for status, n in rows})
    finally:
        await database.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--instances", type=int, default=None, help="default 2 on PostgreSQL, 1 on SQLite")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers per instance (default 2)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent keep-alive clients (default 16)")
    parser.add_argument("--think-ms", type=float, default=50.0, help="mean pause between a client's requests")
    parser.add_argument(
        "--delegates", type=int, default=2000, help="seeded confirmed delegates (default 2000)"
    )
    parser.add_argument("--report-seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    instances = args.instances or (1 if args.database == "sqlite" else 2)
    if args.database == "sqlite" and instances > 1:
        parser.error("SQLite is one file on one machine: --instances 1")

    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    try:
        with (
            fresh_database(args.database, workdir) as url,
            mail_sink() as (sink, smtp_url),
            ExitStack() as stack,
        ):
            seeded = asyncio.run(seed(url, args.delegates))
            if smtp_url:
                os.environ["CONFERENCE_SMTP_URL"] = smtp_url  # server() passes the environment on
            servers = [
                stack.enter_context(server(url, args.workers, workdir / f"server{i}.log"))
                for i in range(instances)
            ]
            time.sleep(1)  # let every worker of every instance finish starting
            parents = [s.pid for s in servers]
            print(
                f"soak: {args.database}, {instances} instance(s) x {args.workers} worker(s), {args.clients} clients, "
                f"think {args.think_ms:.0f} ms, {args.minutes:g} min, mix {MIX}, mail "
                f"{'to a sink' if sink else 'kept'}"
            )
            load = Load(seeded, uuid.uuid4().hex[:8])
            samples, wall = asyncio.run(
                drive(
                    load,
                    [s.base for s in servers],
                    args.clients,
                    args.think_ms / 1000,
                    args.minutes * 60,
                    args.report_seconds,
                    parents,
                )
            )
            time.sleep(3)  # the mail workers catch up
            outbox = asyncio.run(outbox_state(url))
            logs = {p.name: p.read_text(errors="replace") for p in workdir.glob("server*.log")}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print_window(f"summary: {wall:.0f} s", load.total, wall, None)
    errors = sum(load.total.unexpected.values())
    print(
        f"  unexpected answers   {errors}  {dict(load.total.unexpected) or ''}  (status 0: no answer / timeout)"
    )
    print(f"  outbox               {dict(outbox)}; mail sink received {sink.received if sink else '-'}")
    tracebacks = sum(text.count('"level": "ERROR"') for text in logs.values())
    print(f"  server log errors    {tracebacks}")
    first = samples[1][1] if len(samples) > 1 else samples[0][1]
    first_at = samples[1][0] if len(samples) > 1 else 0.0
    last_at, last = samples[-1]
    print(
        f"memory (VmRSS, MiB): at start, at the first report ({first_at:.0f} s), at the end ({last_at:.0f} s)"
    )
    print(f"  {'process':<36}{'start':>8}{'first':>8}{'end':>8}{'growth':>9}{'per min':>9}")
    minutes = max((last_at - first_at) / 60, 1e-9)
    for name in samples[0][1]:
        start_kib = samples[0][1][name]
        a, b = first.get(name), last.get(name)
        if a is None or b is None:
            print(f"  {name:<36}{start_kib / 1024:>8.1f}  (gone before the end)")
            continue
        growth = (b - a) / 1024
        rate = f"{growth / minutes:>9.2f}" if last_at > first_at else f"{'-':>9}"
        print(f"  {name:<36}{start_kib / 1024:>8.1f}{a / 1024:>8.1f}{b / 1024:>8.1f}{growth:>+9.1f}{rate}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
