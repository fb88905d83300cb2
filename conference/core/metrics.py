"""Prometheus metrics (the official prometheus_client), served at GET /metrics to holders of the metrics token.

`conference serve` runs several uvicorn worker processes; each keeps its own counters, so the client library's
multiprocess mode is used: `conference serve` makes a fresh directory for this instance and sets
PROMETHEUS_MULTIPROC_DIR before the workers start, every worker writes its values to memory-mapped files there,
and whichever worker answers a scrape adds up all the files. Without that variable (the tests, a plain
`uvicorn conference.server.app:create_app`) the metrics live in the process's default registry. The choice is
made here, when these metrics are made, from the environment as it is then (see `_storage`), and a scrape reads
where the values are written.

Labels never hold a raw path, a token, an id or anything a client typed: the route is the route's template
(`/manage/{token}`), the method one of the standard ones, the status a number.

The mail queue's depth is read from the database when scraped (one indexed count), so it is right whichever
worker or server is asked, and `database_up` says whether that read worked.
"""

from __future__ import annotations

import asyncio
import glob
import hmac
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlmodel import col
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from conference.core import errors
from conference.core.db import UNAVAILABLE, Database
from conference.core.models import OutboxEmail


def _storage() -> str | None:
    """The multiprocess directory these metrics write to, or None for the process's memory.

    prometheus_client chooses between values in memory and values in files once, when it is first imported,
    from PROMETHEUS_MULTIPROC_DIR. Had anything imported it before `conference serve` named the directory, every
    metric below would count in memory while a scrape read the (empty) directory: no counters at all. So the
    choice is made again here, as the metrics are made; the library keeps the value class in `values.ValueClass`
    for exactly this (its metrics look it up each time a value is made).
    """
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
    if path is not None and not getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]  # prometheus_client leaves this function unannotated
    return path


_DIRECTORY = _storage()

# The `_created` timestamps double the series and are not exported in multiprocess mode anyway.
disable_created_metrics()  # type: ignore[no-untyped-call]  # prometheus_client leaves this function unannotated

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Requests here take from under a millisecond (a cached page) to seconds (a PDF of every badge).
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["method", "route"],
    buckets=BUCKETS,
)
# livesum: the sum over live workers (a dead worker's share is dropped, see _forget_dead_workers).
HTTP_IN_PROGRESS = Gauge(
    "http_requests_in_progress", "HTTP requests being answered now.", multiprocess_mode="livesum"
)
REGISTRATIONS = Counter("registrations_total", "Registrations written, by the status they got.", ["status"])
CHECKINS = Counter(
    "checkins_total", "Badge scans answered at the door and at sessions, by result.", ["result"]
)
MAIL_SENT = Counter("mail_sent_total", "Emails handed to the mail server.")
MAIL_FAILED = Counter(
    "mail_failed_total",
    "Failed email delivery attempts (retry: tried again later; gave_up: marked failed).",
    ["outcome"],
)

_QUEUE_DEPTH = (
    sa.select(col(OutboxEmail.status), sa.func.count())
    .where(col(OutboxEmail.status).in_(("queued", "sending")))
    .group_by(col(OutboxEmail.status))
)
_SCRAPE_DB_TIMEOUT = 5.0


# The labelled series of each (method, route, status) seen, so a request skips the label lookup (a third of
# this module's cost per request). Bounded: methods are normalised, routes are templates, statuses few.
_series: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    method = method if method in METHODS else "OTHER"
    series = _series.get((method, route, status))
    if series is None:
        series = _series[(method, route, status)] = (
            HTTP_REQUESTS.labels(method, route, str(status)),
            HTTP_DURATION.labels(method, route),
        )
    series[0].inc()
    series[1].observe(seconds)


def count_registrations(statuses: Iterable[str]) -> None:
    """Registrations just committed (group_commit), by the status each got."""
    for status in statuses:
        REGISTRATIONS.labels(status).inc()


def multiprocess_dir() -> str | None:
    """Where the values are (chosen once, by `_storage`), so a scrape reads what the metrics wrote."""
    return _DIRECTORY


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _forget_dead_workers(path: str) -> None:
    """mark_process_dead for every worker that has gone (uvicorn restarts a crashed worker under a new pid).

    Only live gauges keep per-process files that must go; counters and histograms of a dead worker stay, so
    the totals never go backwards.
    """
    for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        match = re.search(r"_(\d+)\.db$", name)
        if match and not _pid_alive(int(match.group(1))):
            multiprocess.mark_process_dead(int(match.group(1)), path)  # type: ignore[no-untyped-call]  # prometheus_client leaves this function unannotated


def worker_stopped() -> None:
    """A worker's own bookkeeping as it shuts down (the lifespan's end)."""
    path = multiprocess_dir()
    if path is not None:
        multiprocess.mark_process_dead(os.getpid(), path)  # type: ignore[no-untyped-call]  # prometheus_client leaves this function unannotated


class _Snapshot(Collector):
    def __init__(self, families: Sequence[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


async def _scrape_time_families(database: Database) -> list[Metric]:
    up = GaugeMetricFamily("database_up", "1 if the database answered the scrape's query, else 0.")
    depth = GaugeMetricFamily(
        "mail_queue_depth", "Emails waiting to be sent (queued) or being sent (sending).", labels=["status"]
    )
    try:
        async with asyncio.timeout(_SCRAPE_DB_TIMEOUT):
            async with database.read() as db:
                counts = {status: count for status, count in (await db.execute(_QUEUE_DEPTH)).all()}
    except UNAVAILABLE:
        up.add_metric([], 0)
        return [up]
    up.add_metric([], 1)
    for status in ("queued", "sending"):
        depth.add_metric([status], counts.get(status, 0))
    return [up, depth]


def _exposition(families: Sequence[Metric]) -> bytes:
    path = multiprocess_dir()
    if path is not None:
        _forget_dead_workers(path)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path)  # type: ignore[no-untyped-call]  # prometheus_client leaves __init__ unannotated
    else:
        registry = REGISTRY
    scrape = CollectorRegistry()
    scrape.register(_Snapshot(families))
    return generate_latest(registry) + generate_latest(scrape)


def _authorised(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # Constant time: how much of the token a guess got right must not show in the answer's timing.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


async def metrics_endpoint(request: Request) -> Response:
    token = request.app.state.settings.metrics_token
    if token is None:
        raise errors.NotFound()  # off: indistinguishable from a path that does not exist
    if not _authorised(request, str(token)):
        raise errors.Unauthorised(
            "Send the metrics token (CONFERENCE_METRICS_TOKEN) as 'Authorization: Bearer <token>'."
        )
    families = await _scrape_time_families(request.app.state.database)
    # Reading every worker's files is file I/O: off the event loop.
    body = await run_in_threadpool(_exposition, families)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"cache-control": "no-store"})
