"""The check-in log for organisers: every scan at every door and workshop room, who scanned it and what it answered.

Scans are the busiest writes of the event day, so they are not copied into audit_entry (an extra row a scan on
the door path); the `checkin` table is their audit trail, and this page reads it with the audit log's filters
(who, from, to) plus the list and the answer. Viewing it is audited: it shows delegates' references.
"""

from __future__ import annotations

import math
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from badges import door
from badges.checkin import DOOR, RESULTS, UNDONE
from conference import places
from conference.console.audit import local_midnight, parse_filters
from conference.console.login import require_console
from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.formats import conference_zone
from conference.core.models import Checkin, Registration
from conference.web.forms import act_alone, done_message
from conference.web.request import database
from conference.web.templating import render
from sessions.models import ProgrammeSession

PER_PAGE = 100
RESULT_LABELS = {
    "ok": "Admitted",
    "already_checked_in": "Already checked in",
    "invalid": "Not a valid badge",
    "cancelled": "Cancelled",
    "unpaid": "Unpaid",
    "not_booked": "No seat in this session",
    "no_place": "No place yet",
    UNDONE: "Admitted, then undone",
}
assert set(RESULT_LABELS) == {*RESULTS, UNDONE}
DONE = {
    "needs_shown": "Door staff now see delegates' access needs.",
    "needs_hidden": "Door staff no longer see delegates' access needs.",
}


async def checkin_log(request: Request) -> Response:
    actor = await require_console(request, "organiser")
    params = request.query_params
    f = parse_filters(params)  # actor (the scanning staff), from, to, page
    result = params.get("result", "")
    if result and result not in RESULT_LABELS:
        f.errors["result"] = "Choose an answer from the list."
    where: list[Any] = []
    if f.actor:
        where.append(sa.func.lower(col(Checkin.staff)).contains(f.actor.lower(), autoescape=True))
    if result and not f.errors:
        where.append(col(Checkin.result) == result)
    rows: list[Any] = []
    total, pages = 0, 1
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        zone = conference_zone(conference)
        if f.from_:
            where.append(col(Checkin.scanned_at) >= local_midnight(f.from_, zone))
        if f.to:
            where.append(col(Checkin.scanned_at) < local_midnight(f.to + timedelta(days=1), zone))
        if not f.errors:
            total = int(
                (await db.execute(sa.select(sa.func.count()).select_from(Checkin).where(*where))).scalar_one()
            )
            pages = max(1, math.ceil(total / PER_PAGE))
            f.page = min(f.page, pages)
            rows = list(
                (
                    await db.execute(
                        sa.select(Checkin, col(Registration.reference), col(Registration.name))
                        .outerjoin(Registration, col(Registration.id) == Checkin.registration_id)
                        .where(*where)
                        .order_by(col(Checkin.scanned_at).desc(), col(Checkin.id))
                        .limit(PER_PAGE)
                        .offset((f.page - 1) * PER_PAGE)
                    )
                ).all()
            )
        # The workshop by name (its id as stored in the log is text; compared as an id, whatever the database).
        session_ids = {uuid.UUID(c.list) for c, _, _ in rows if c.list != DOOR}
        titles = (
            {
                str(s.id): s.title
                for s in (
                    await db.execute(
                        sa.select(ProgrammeSession).where(col(ProgrammeSession.id).in_(session_ids))
                    )
                ).scalars()
            }
            if session_ids
            else {}
        )
        needs_shown = await door.access_needs_shown(db)
    async with database(request).transaction() as db:
        await audit.record(
            db,
            "badges.checkins.viewed",
            actor=actor,
            shown=len(rows),
            total=total,
            result=result or None,
            page=f.page,
        )
    query = {
        k: v for k, v in {**f.raw, "result": result}.items() if v and k in ("actor", "from", "to", "result")
    }

    def page_url(page: int) -> str:
        return "?" + urlencode({**query, **({"page": str(page)} if page > 1 else {})})

    first = (f.page - 1) * PER_PAGE + 1 if rows else 0
    return render(
        request,
        "console/checkins.html",
        {
            "rows": rows,
            "titles": titles,
            "labels": RESULT_LABELS,
            "filters": f,
            "result": result,
            "values": {**f.raw, "result": result},
            "errors": f.errors,
            "total": total,
            "pages": pages,
            "first": first,
            "last": first + len(rows) - 1 if rows else 0,
            "conference": conference,
            "filtered": bool(query),
            "previous_url": page_url(f.page - 1) if f.page > 1 else None,
            "next_url": page_url(f.page + 1) if f.page < pages else None,
            "field_labels": {"actor": "Scanned by", "from": "From", "to": "To", "result": "Answer"},
            "needs_shown": needs_shown,
            "message": done_message(request, DONE),
        },
        status_code=422 if f.errors else 200,
    )


async def access_needs_switch(request: Request) -> Response:
    """Organisers: show delegates' access needs to door staff (a discreet flag on the scanner), or stop."""
    actor = await require_console(request, "organiser")

    async def change(values: dict[str, str], actor: Actor) -> str:
        shown = values.get("shown", "")
        if shown not in ("1", "0"):
            raise errors.InvalidInput(fields={"shown": "Choose whether door staff see access needs."})
        await door.show_access_needs(database(request), shown=shown == "1", actor=actor)
        return "needs_shown" if shown == "1" else "needs_hidden"

    async def on_error(exc: errors.DomainError, values: dict[str, str]) -> Response:
        raise exc  # two buttons with fixed values: only a forged post gets here

    back = request.url_for("console-checkins")
    return await act_alone(request, change, actor=actor, back=back, on_error=on_error)


routes = [
    Route("/console/checkins", checkin_log, methods=["GET"], name="console-checkins"),
    Route(
        "/console/checkins/access-needs",
        access_needs_switch,
        methods=["POST"],
        name="console-checkins-access-needs",
    ),
]
