"""The organisers' live dashboard: the conference's figures and chart series, counts only (no personal data; failed
card refunds are listed by booking reference, for organisers to act on).

Every figure is an aggregate query (GROUP BY), so the cost does not grow with a row per delegate: at 1,000
delegates the whole dashboard is twelve short queries (thirteen when some card refunds have failed). Times are grouped into buckets by the database, as whole
seconds since the epoch divided by the bucket's length (`_epoch_bucket`, compiled for SQLite and PostgreSQL,
whose date functions differ); Python turns the buckets into local days and clock times in the conference's
time zone. Registrations are grouped into 15-minute buckets first (every UTC offset in use is a multiple of
15 minutes, so no bucket straddles two local days), then summed per local day.

`dashboard(db)` returns the whole of it as JSON-ready data; the console page and `GET /api/v1/dashboard`
show the same thing. Series of other packages come through `hooks.on_dashboard_series`: sessions provides
`workshops` (sessions/workshops/fill.py), an empty list when nothing does. Each workshop (and each slot) gets
`fill_percent`, its seats booked as a share of its own capacity (`_with_fill_shares`): rooms of 45 and of 300
seats are compared by how full they are, not by their size.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import col

from conference.balances import issued_invoices_pence, outstanding_pence, payment_state_filter
from conference.core import hooks
from conference.core.formats import conference_zone
from conference.core.models import (
    HOLDING,
    REGIONS,
    SECTOR_LABELS,
    Checkin,
    Conference,
    Refund,
    Registration,
    Sector,
    Status,
    TicketType,
    utcnow,
)
from conference.payments.refunds import IN_PROGRESS, NOT_RETURNED
from conference.places import Availability, get_conference

DOOR = "door"  # badges.checkin.DOOR (not imported: badges imports conference)
ARRIVALS_MINUTES = 5
DAY_BUCKET_SECONDS = 15 * 60
NO_REGION = "Not given"
WORKSHOPS = "workshops"  # the series sessions provides (hooks.on_dashboard_series); empty without it
STATUS_ORDER = (
    Status.confirmed,
    Status.pending_payment,
    Status.awaiting_approval,
    Status.awaiting_verification,
    Status.waitlisted,
    Status.cancelled,
)


# --- time buckets in SQL -----------------------------------------------------------------------------------


class _epoch_bucket(FunctionElement[int]):
    """floor(seconds since 1970-01-01 UTC / `seconds`) of a UTCDateTime column, as an integer."""

    type = sa.BigInteger()
    inherit_cache = True
    name = "epoch_bucket"

    def __init__(self, column: Any, seconds: int) -> None:
        if not isinstance(seconds, int) or seconds <= 0:
            raise ValueError("a bucket is a positive whole number of seconds")
        # The length is a literal (an int, checked above) among the clauses: it is part of the statement cache's
        # key, and SELECT and GROUP BY render the same text (a bound parameter in each would differ).
        super().__init__(column, sa.literal_column(str(seconds)))

    def parts(self, compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
        column, seconds = self.clauses
        return compiler.process(column, **kw), compiler.process(seconds, **kw)


@compiles(_epoch_bucket, "sqlite")
def _epoch_bucket_sqlite(element: _epoch_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps a UTCDateTime as UTC text ('2026-12-08 09:00:00.000000'); strftime('%s') reads it as UTC.
    column, seconds = element.parts(compiler, **kw)
    return f"(CAST(strftime('%s', {column}) AS INTEGER) / {seconds})"


@compiles(_epoch_bucket, "postgresql")
def _epoch_bucket_postgresql(element: _epoch_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    column, seconds = element.parts(compiler, **kw)
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {column}) / {seconds}) AS BIGINT)"


def _bucket_start(bucket: int, seconds: int) -> datetime:
    return datetime.fromtimestamp(int(bucket) * seconds, UTC)


# --- the pieces --------------------------------------------------------------------------------------------


async def _status_counts(db: AsyncSession, conference_id: int) -> dict[Status, int]:
    stmt = (
        sa.select(col(Registration.status), sa.func.count())
        .where(col(Registration.conference_id) == conference_id)
        .group_by(col(Registration.status))
    )
    counts = {s: 0 for s in STATUS_ORDER}
    for status, n in (await db.execute(stmt)).all():
        counts[Status(status)] = int(n)
    return counts


async def _outstanding(db: AsyncSession, conference_id: int) -> dict[str, Any]:
    """Registrations with money outstanding and how much: the registrations console's "Money outstanding" filter
    and its `outstanding_pence`, summed per (ticket type, price, payment method, status) instead of per
    registration (the price: a code may have set a place's own, which a card payment awaited charges)."""
    owing = (
        sa.select(
            col(Registration.ticket_type_id),
            col(Registration.price_pence),
            col(Registration.payment_method),
            col(Registration.status),
            issued_invoices_pence().label("issued"),
        )
        .where(col(Registration.conference_id) == conference_id, payment_state_filter("outstanding"))
        .subquery()
    )
    stmt = sa.select(
        owing.c.ticket_type_id,
        owing.c.price_pence,
        owing.c.payment_method,
        owing.c.status,
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(owing.c.issued), 0),
    ).group_by(owing.c.ticket_type_id, owing.c.price_pence, owing.c.payment_method, owing.c.status)
    groups = (await db.execute(stmt)).all()
    tickets = {
        t.id: t
        for t in (
            await db.execute(sa.select(TicketType).where(col(TicketType.conference_id) == conference_id))
        ).scalars()
    }
    count = pence = 0
    for ticket_type_id, price, method, status, n, issued in groups:
        # What outstanding_pence reads of a registration: its payment method, status and price.
        like = cast(Registration, SimpleNamespace(payment_method=method, status=status, price_pence=price))
        ticket = tickets[ticket_type_id]
        # outstanding_pence is affine in the invoices' amount (the amount itself for an invoice payer, a fixed
        # card price otherwise), so the group's total is f(sum of amounts) plus f(0) for each other member.
        pence += outstanding_pence(like, ticket, int(issued)) + (int(n) - 1) * outstanding_pence(
            like, ticket, 0
        )
        count += int(n)
    return {"count": count, "pence": pence, "currency": "GBP"}


FAILED_REFUNDS_LISTED = 50


async def _refunds(db: AsyncSession, conference_id: int) -> dict[str, Any]:
    """Card refunds that ended without the delegate getting the money back (failed or canceled at Stripe, or
    refused for good), which organisers must settle by hand, and how many are still on their way. One grouped
    query; the failed ones are listed (by booking reference, no names, newest first) only when there are some."""
    on = col(Registration.id) == col(Refund.registration_id)
    mine = col(Registration.conference_id) == conference_id
    groups = (
        await db.execute(
            sa.select(
                col(Refund.status), sa.func.count(), sa.func.coalesce(sa.func.sum(Refund.amount_pence), 0)
            )
            .join(Registration, on)
            .where(mine, col(Refund.status) != "succeeded")
            .group_by(col(Refund.status))
        )
    ).all()
    failed = [(int(n), int(pence)) for status, n, pence in groups if status in NOT_RETURNED]
    listed: Sequence[Any] = ()
    if failed:
        listed = (
            await db.execute(
                sa.select(
                    col(Registration.id),
                    col(Registration.reference),
                    col(Refund.amount_pence),
                    col(Refund.failure_reason),
                )
                .join(Registration, on)
                .where(mine, col(Refund.status).in_(sorted(NOT_RETURNED)))
                .order_by(col(Refund.updated_at).desc())
                .limit(FAILED_REFUNDS_LISTED)
            )
        ).all()
    return {
        "failed": sum(n for n, _ in failed),
        "failed_pence": sum(p for _, p in failed),
        "in_progress": sum(int(n) for status, n, _ in groups if status in IN_PROGRESS),
        "currency": "GBP",
        "failed_list": [
            {"registration_id": str(rid), "reference": ref, "amount_pence": int(amount), "reason": reason}
            for rid, ref, amount, reason in listed
        ],
    }


async def _sectors_and_regions(
    db: AsyncSession, conference_id: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    stmt = (
        sa.select(col(Registration.sector), col(Registration.region), sa.func.count())
        .where(col(Registration.conference_id) == conference_id, col(Registration.status).in_(HOLDING))
        .group_by(col(Registration.sector), col(Registration.region))
    )
    by_sector: dict[str, int] = {}
    by_region: dict[str, int] = {}
    for sector, region, n in (await db.execute(stmt)).all():
        key = Sector(sector).value
        by_sector[key] = by_sector.get(key, 0) + int(n)
        by_region[region or ""] = by_region.get(region or "", 0) + int(n)
    sectors = [
        {"sector": s.value, "label": label, "count": by_sector.get(s.value, 0)}
        for s, label in SECTOR_LABELS.items()
    ]
    known = [
        *REGIONS,
        *sorted(r for r in by_region if r and r not in REGIONS),
    ]  # a region since dropped stays
    regions = [{"region": r, "label": r, "count": by_region.get(r, 0)} for r in known]
    regions.append({"region": "", "label": NO_REGION, "count": by_region.get("", 0)})
    return sectors, regions


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


async def _registrations_over_time(
    db: AsyncSession, conference: Conference, zone: ZoneInfo, now: datetime
) -> dict[str, Any]:
    """Per local day, cumulative: places taken (registrations holding a place now, by the day they registered)
    and the same with the waiting list. Cancelled registrations are left out."""
    bucket = _epoch_bucket(Registration.created_at, DAY_BUCKET_SECONDS)
    holding = sa.func.sum(sa.case((col(Registration.status).in_(HOLDING), 1), else_=0))
    stmt = (
        sa.select(bucket, holding, sa.func.count())
        .where(col(Registration.conference_id) == conference.id, col(Registration.status) != Status.cancelled)
        .group_by(bucket)
    )
    per_day: dict[date, tuple[int, int]] = {}
    for b, held, live in (await db.execute(stmt)).all():
        day = _bucket_start(b, DAY_BUCKET_SECONDS).astimezone(zone).date()
        h, n = per_day.get(day, (0, 0))
        per_day[day] = (h + int(held or 0), n + int(live))
    if not per_day:
        return {"days": [], "places_taken": [], "with_waiting_list": [], "capacity": conference.capacity}
    first, last = min(per_day), max(per_day)
    today = now.astimezone(zone).date()
    if last < today <= conference.ends_at.astimezone(zone).date():
        last = today  # a quiet day so far still shows (and the line reaches today)
    days, places, live_total = [], [], []
    h_sum = n_sum = 0
    for day in _days(first, last):
        h, n = per_day.get(day, (0, 0))
        h_sum, n_sum = h_sum + h, n_sum + n
        days.append(day.isoformat())
        places.append(h_sum)
        live_total.append(n_sum)
    return {
        "days": days,
        "places_taken": places,
        "with_waiting_list": live_total,
        "capacity": conference.capacity,
    }


async def _arrivals(db: AsyncSession, zone: ZoneInfo, now: datetime) -> dict[str, Any]:
    """Door admissions (check-ins with result ok) so far, and per 5 minutes on the day of the latest one (from its
    first to its last, or to now while that day lasts)."""
    seconds = ARRIVALS_MINUTES * 60
    bucket = _epoch_bucket(Checkin.scanned_at, seconds)
    # No join to registration for its conference: check-ins belong to the deployment's one conference (as the
    # door list reads them), and a join here let PostgreSQL pick a nested loop on stale statistics (a door rush
    # grows the table faster than autovacuum analyses it): 50-70 ms at 1,000 arrivals instead of 1 ms.
    stmt = (
        sa.select(bucket, sa.func.count())
        .where(col(Checkin.list) == DOOR, col(Checkin.result) == "ok")
        .group_by(bucket)
    )
    buckets = {int(b): int(n) for b, n in (await db.execute(stmt)).all()}
    so_far = sum(buckets.values())
    if not buckets:
        return {"so_far": 0, "day": None, "interval_minutes": ARRIVALS_MINUTES, "buckets": []}
    day = _bucket_start(max(buckets), seconds).astimezone(zone).date()
    on_day = [b for b in buckets if _bucket_start(b, seconds).astimezone(zone).date() == day]
    first, last = min(on_day), max(on_day)
    current = int(now.timestamp()) // seconds
    if current > last and _bucket_start(current, seconds).astimezone(zone).date() == day:
        last = current
    series = []
    for b in range(first, last + 1):
        starts = _bucket_start(b, seconds).astimezone(zone)
        series.append(
            {"starts_at": starts.isoformat(), "label": f"{starts:%H:%M}", "count": buckets.get(b, 0)}
        )
    return {"so_far": so_far, "day": day.isoformat(), "interval_minutes": ARRIVALS_MINUTES, "buckets": series}


def fill_percent(booked: int, capacity: int) -> float:
    """Seats booked as a percentage of the seats there are, to one decimal place (100.0 when full; over 100
    only if seats were added by hand past the room's size; 0.0 for a workshop with no seats)."""
    if capacity <= 0:
        return 0.0
    return round(100 * booked / capacity, 1)


def _with_fill_shares(slots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The workshops series with each slot's and each workshop's fill as a share of its own capacity."""
    return [
        {
            **slot,
            "fill_percent": fill_percent(slot["booked"], slot["capacity"]),
            "sessions": [
                {**s, "fill_percent": fill_percent(s["booked"], s["capacity"])} for s in slot["sessions"]
            ],
        }
        for slot in slots
    ]


# --- the whole dashboard -----------------------------------------------------------------------------------


async def dashboard(db: AsyncSession, *, now: datetime | None = None) -> dict[str, Any]:
    """The conference's live figures and chart series (counts and sums only: nobody's name or details)."""
    now = now or utcnow()
    conference = await get_conference(db)
    assert conference.id is not None
    zone = conference_zone(conference)
    counts = await _status_counts(db, conference.id)
    places = Availability(
        capacity=conference.capacity,
        registered=sum(counts[s] for s in HOLDING),
        waitlisted=counts[Status.waitlisted],
    )
    sectors, regions = await _sectors_and_regions(db, conference.id)
    arrivals = await _arrivals(db, zone, now)
    provided = await hooks.collect_dashboard_series(db, conference.id, zone)
    return {
        "generated_at": now.astimezone(zone).isoformat(),
        "conference": {
            "name": conference.name,
            "capacity": conference.capacity,
            "timezone": zone.key,
            "registration_open": conference.registration_open,
        },
        "registrations": {
            "live": sum(n for s, n in counts.items() if s != Status.cancelled),
            "by_status": {s.value: counts[s] for s in STATUS_ORDER},
        },
        "places": {"capacity": places.capacity, "taken": places.registered, "left": places.remaining},
        "waiting_list": places.waitlisted,
        "payments_outstanding": await _outstanding(db, conference.id),
        "refunds": await _refunds(db, conference.id),
        "arrivals": {"so_far": arrivals["so_far"], "confirmed": counts[Status.confirmed]},
        "series": {
            "registrations_over_time": await _registrations_over_time(db, conference, zone, now),
            "sectors": sectors,
            "regions": regions,
            "workshops": _with_fill_shares(provided.pop(WORKSHOPS, [])),
            "arrivals": {k: v for k, v in arrivals.items() if k != "so_far"},
            **provided,
        },
    }
