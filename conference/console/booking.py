"""Add a registration by hand, in the organisers' console (conference/bookings.py does it).

Organisers only. The form lists every ticket type, hidden ones included, with the delegate's fields, and
complimentary, don't-email and over-capacity boxes. It posts through conference/web/forms.py's `act`: back to the
form (303) with `?done=<status>&registration=<id>`, and the page names the booking from its id; a refusal shows
the form again with every problem by field, as typed.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference import bookings, places, tickets
from conference.console.login import require_console
from conference.core import errors
from conference.core.audit import Actor
from conference.core.models import REGIONS, SECTOR_LABELS, Registration
from conference.payments import gateway
from conference.web.forms import Done, act, done_message, field_problems
from conference.web.register import FIELD_LABELS
from conference.web.request import database, settings
from conference.web.templating import render

PATH = "/console/bookings/new"
LABELS = {
    **FIELD_LABELS,
    "complimentary": "Complimentary",
    "no_email": "Don't email the delegate",
    "over_capacity": "Book over capacity",
}
DONE = {
    "confirmed": "The registration is added and confirmed.",
    "pending_payment": "The registration is added; the place is held until payment arrives.",
    "waitlisted": "The conference is full, so the delegate is on the waiting list.",
    "over_capacity": "The registration is added over capacity, as you chose; the audit log records it.",
}


async def _page(
    request: Request,
    *,
    values: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    await require_console(request, "organiser", back=PATH)
    booked: Registration | None = None
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        seen = await places.availability(db, conference)
        rows = await tickets.list_ticket_types(db, conference)
        raw = request.query_params.get("registration", "")
        if problems is None and raw:
            try:
                booked = await db.get(Registration, uuid.UUID(raw))
            except ValueError:
                booked = None
    context: dict[str, Any] = {
        "conference": conference,
        "seen": seen,
        "rows": rows,
        "values": values if values is not None else {},
        "errors": problems or {},
        "labels": LABELS,
        "sectors": SECTOR_LABELS,
        "regions": REGIONS,
        "card_available": gateway.card_available(settings(request)),
        "message": "" if problems else done_message(request, DONE),
        "booked": booked,
    }
    return render(request, "console/booking_form.html", context, status_code=status_code)


async def new_booking(request: Request) -> Response:
    return await _page(request)


async def book(request: Request) -> Response:
    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> Done:
        made = await bookings.book_by_hand(db, settings=settings(request), values=values, actor=actor)
        what = "over_capacity" if made.over_capacity else made.status.value
        return Done(what, {"registration": str(made.registration_id)})

    async def on_error(exc: errors.DomainError, values: dict[str, str]) -> Response:
        # A refusal naming its field (an email already registered, a type's cap reached) says so by the field.
        problems = dict(exc.fields) if exc.fields else field_problems(exc)
        return await _page(request, values=values, problems=problems, status_code=exc.status_code)

    actor = await require_console(request, "organiser", back=PATH)
    return await act(request, action, actor=actor, back=PATH, on_error=on_error)


routes = [
    Route(PATH, new_booking, methods=["GET"], name="console-booking-new"),
    Route("/console/bookings", book, methods=["POST"], name="console-booking-create"),
]
