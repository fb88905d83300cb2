"""The audit log, read-only: GET /console/audit (newest first, 100 a page) and GET /console/audit.csv (every entry
the filters match, itself audited as conference.audit.exported).

Filters: `action` (a prefix: "conference.login" matches conference.login.failed and conference.login.succeeded),
`actor` (contains, any case), `subject` (exact), and `from` / `to` (dates, inclusive, in the conference's time zone). There is no
way to change or delete an entry here, or anywhere: the database refuses UPDATE and DELETE on audit_entry
(triggers from migration 0008).

The page names each action in words (conference/console/audit_labels.py); the CSV keeps the codes, which the
filter's values are too.

Organisers only (staff get 403, anonymous browsers are sent to /login).
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from conference import places
from conference.console import audit_labels
from conference.console.login import require_console
from conference.core import audit
from conference.core.db import Database
from conference.core.formats import conference_zone
from conference.core.models import AuditEntry
from conference.core.schemas import MAX_YEAR, MIN_YEAR
from conference.core.spreadsheets import csv_line, csv_lines
from conference.web.request import database
from conference.web.templating import render

PER_PAGE = 100
CSV_BATCH = 1000
LIMITS = {"action": 80, "actor": 120, "subject": 80}
CSV_COLUMNS = ["id", "at", "actor", "action", "subject", "data"]


@dataclass
class Filters:
    action: str = ""
    actor: str = ""
    subject: str = ""
    from_: date | None = None
    to: date | None = None
    page: int = 1
    raw: dict[str, str] = field(default_factory=dict)  # as typed, to put back in the form
    errors: dict[str, str] = field(default_factory=dict)

    def query(self, page: int = 1) -> str:
        query = {k: v for k, v in self.raw.items() if v}
        if page > 1:
            query["page"] = str(page)
        return urlencode(query)


def _date(value: str) -> date:
    return date.fromisoformat(value)


def parse_filters(params: Any) -> Filters:
    f = Filters()
    for name, limit in LIMITS.items():
        value = params.get(name, "").strip()
        if len(value) > limit:
            f.errors[name] = f"Use at most {limit} characters."
        setattr(f, name, value[:limit])
        f.raw[name] = value[:limit]
    for name, attr in (("from", "from_"), ("to", "to")):
        value = params.get(name, "").strip()
        f.raw[name] = value[:10]
        if not value:
            continue
        try:
            day = _date(value)
        except ValueError:
            f.errors[name] = "Enter a date like 2026-12-08."
            continue
        # Far outside these years a day's midnight has no time in UTC (to=9999-12-31 overflowed: a 500).
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            f.errors[name] = f"Enter a date between the years {MIN_YEAR} and {MAX_YEAR}."
            continue
        setattr(f, attr, day)
    if f.from_ and f.to and f.to < f.from_:
        f.errors["to"] = "The end date must be the same as or after the start date."
    try:
        f.page = max(1, int(params.get("page", "1")))
    except ValueError:
        f.page = 1
    return f


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The start of a day in `zone` (the conference's), as UTC (in London, GMT or BST as the date has it)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def where(f: Filters, zone: ZoneInfo) -> list[Any]:
    clauses: list[Any] = []
    if f.action:
        clauses.append(col(AuditEntry.action).startswith(f.action, autoescape=True))
    if f.actor:
        clauses.append(sa.func.lower(AuditEntry.actor).contains(f.actor.lower(), autoescape=True))
    if f.subject:
        clauses.append(col(AuditEntry.subject) == f.subject)
    if f.from_:
        clauses.append(col(AuditEntry.at) >= local_midnight(f.from_, zone))
    if f.to:
        clauses.append(col(AuditEntry.at) < local_midnight(f.to + timedelta(days=1), zone))
    return clauses


def compact(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, sort_keys=True, default=str)


SUMMARY_FIELDS = 3  # the details' first fields shown in words; the whole of them is one click away
SUMMARY_VALUE = 40  # characters of a value shown in the summary


def _short(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return f"{len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, dict):
        return f"{len(value)} field{'' if len(value) == 1 else 's'}"
    text = str(value)
    return text if len(text) <= SUMMARY_VALUE else text[: SUMMARY_VALUE - 1] + "…"


def summary(data: Any) -> str:
    """An entry's details as a short line ("status: confirmed; by: invoice paid; and 2 more"): the page's column
    stays narrow, and `pretty` shows the rest on demand. Empty values are left out; keys in alphabetical order,
    as PostgreSQL's JSONB keeps them in its own order and the CSV sorts them."""
    if not isinstance(data, dict):
        return _short(data)
    shown = [(k, v) for k, v in sorted(data.items()) if v not in (None, "", [], {})]
    parts = [f"{k.replace('_', ' ')}: {_short(v)}" for k, v in shown[:SUMMARY_FIELDS]]
    if len(shown) > SUMMARY_FIELDS:
        parts.append(f"and {len(shown) - SUMMARY_FIELDS} more")
    return "; ".join(parts)


def pretty(data: Any) -> str:
    """The whole of an entry's details, indented, as the CSV has them."""
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def families(actions: list[str]) -> dict[str, list[str]]:
    """Actions grouped by their first two parts ("conference.login": [conference.login.failed, ...])."""
    grouped: dict[str, list[str]] = {}
    for action in sorted(actions):
        grouped.setdefault(".".join(action.split(".")[:2]), []).append(action)
    return grouped


async def audit_page(request: Request) -> Response:
    await require_console(request, "organiser")
    f = parse_filters(request.query_params)
    rows: list[AuditEntry] = []
    total, pages = 0, 1
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        actions = list((await db.execute(sa.select(col(AuditEntry.action)).distinct())).scalars())
        if not f.errors:
            clauses = where(f, conference_zone(conference))
            total = int(
                (
                    await db.execute(sa.select(sa.func.count()).select_from(AuditEntry).where(*clauses))
                ).scalar_one()
            )
            pages = max(1, math.ceil(total / PER_PAGE))
            f.page = min(f.page, pages)
            rows = list(
                (
                    await db.execute(
                        sa.select(AuditEntry)
                        .where(*clauses)
                        .order_by(col(AuditEntry.id).desc())
                        .limit(PER_PAGE)
                        .offset((f.page - 1) * PER_PAGE)
                    )
                ).scalars()
            )
    first = (f.page - 1) * PER_PAGE + 1 if rows else 0
    return render(
        request,
        "console/audit.html",
        {
            "rows": rows,
            "filters": f,
            "values": f.raw,
            "errors": f.errors,
            "total": total,
            "pages": pages,
            "first": first,
            "last": first + len(rows) - 1 if rows else 0,
            "families": families(actions),
            "conference": conference,
            "summary": summary,
            "pretty": pretty,
            "action_label": audit_labels.label,
            "family_label": audit_labels.family_label,
            "known_action": f.action in actions or f.action in families(actions),
            "labels": {"action": "Action", "actor": "Who", "subject": "Subject", "from": "From", "to": "To"},
            "filtered": any(f.raw.values()),
            "previous_url": f"?{f.query(f.page - 1)}" if f.page > 1 else None,
            "next_url": f"?{f.query(f.page + 1)}" if f.page < pages else None,
            "csv_url": request.url_for("console-audit-csv").include_query_params(
                **{k: v for k, v in f.raw.items() if v}
            ),
        },
        status_code=422 if f.errors else 200,
    )


async def _csv_rows(db_factory: Database, clauses: list[Any], newest: int) -> AsyncIterator[str]:
    yield csv_line(CSV_COLUMNS)
    below = newest + 1
    while True:
        async with db_factory.read() as db:
            batch = list(
                (
                    await db.execute(
                        sa.select(AuditEntry)
                        .where(*clauses, col(AuditEntry.id) < below)
                        .order_by(col(AuditEntry.id).desc())
                        .limit(CSV_BATCH)
                    )
                ).scalars()
            )
        if not batch:
            return
        yield csv_lines(
            [e.id, e.at.isoformat(), e.actor, e.action, e.subject, compact(e.data)] for e in batch
        )
        assert batch[-1].id is not None
        below = batch[-1].id


async def audit_csv(request: Request) -> Response:
    actor = await require_console(request, "organiser")
    f = parse_filters(request.query_params)
    if f.errors:
        return await audit_page(request)
    async with database(request).transaction() as db:
        clauses = where(f, conference_zone(await places.get_conference(db)))
        # Entries written from here on (this one included) are not part of the export: it is the log up to now.
        newest = (await db.execute(sa.select(sa.func.max(AuditEntry.id)))).scalar_one_or_none() or 0
        count = int(
            (
                await db.execute(
                    sa.select(sa.func.count())
                    .select_from(AuditEntry)
                    .where(*clauses, col(AuditEntry.id) <= newest)
                )
            ).scalar_one()
        )
        await audit.record(
            db,
            "conference.audit.exported",
            actor=actor,
            action_prefix=f.action or None,
            actor_filtered=bool(f.actor),
            subject_filter=f.subject or None,
            from_date=f.from_.isoformat() if f.from_ else None,
            to_date=f.to.isoformat() if f.to else None,
            rows=count,
        )
    return StreamingResponse(
        _csv_rows(database(request), clauses, int(newest)),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="audit.csv"', "cache-control": "no-store"},
    )


routes = [
    Route("/console/audit", audit_page, methods=["GET"], name="console-audit"),
    Route("/console/audit.csv", audit_csv, methods=["GET"], name="console-audit-csv"),
]
