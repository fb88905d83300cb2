"""The organisers' list of registrations: filtered by status and by what is owed, searched, a page at a time,
with the notice a bulk decision leaves (conference/console/delegates.py's decide_many). One registration's page
and its actions are conference/console/registration.py.

Organisers only (staff get 403, anonymous browsers are sent to /login and back to the list).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference import balances, delegates, places
from conference.console.login import require_console
from conference.core import audit, errors
from conference.core.models import STATUS_LABELS, Registration, Status, TicketType
from conference.web.forms import FLASH
from conference.web.request import database
from conference.web.templating import render

PER_PAGE = 50
MAX_QUERY = 200

PAYMENT_STATES = {
    "outstanding": "Money outstanding",
    "paid": "Paid (card or invoice)",
    "refunded": "Refunded or credited",
    "free": "Nothing to pay",
}
_REFERENCE = re.compile(r"[A-Za-z0-9-]{1,40}")
_WHY = re.compile(r"[a-z_]{1,40}")


# --- the list ----------------------------------------------------------------------------------------------


def list_filters(params: Mapping[str, str]) -> dict[str, Any]:
    """The list's filters, from its query (or from a form that carries them back), each checked."""
    status = params.get("status", "")
    payment = params.get("payment", "")
    try:
        page = max(1, int(params.get("page", "1")))
    except ValueError:
        page = 1
    return {
        "status": status if status in STATUS_LABELS else "",
        "payment": payment if payment in PAYMENT_STATES else "",
        "q": params.get("q", "").strip()[:MAX_QUERY],
        "page": page,
    }


def list_where(conference_id: int, f: dict[str, Any]) -> list[Any]:
    where: list[Any] = [col(Registration.conference_id) == conference_id]
    if f["status"]:
        where.append(col(Registration.status) == Status(f["status"]))
    if f["payment"]:
        where.append(balances.payment_state_filter(f["payment"]))
    if f["q"]:
        needle = f["q"].lower()
        where.append(
            sa.or_(
                *(
                    sa.func.lower(column).contains(needle, autoescape=True)
                    for column in (
                        Registration.name,
                        Registration.email,
                        Registration.organisation,
                        Registration.reference,
                    )
                )
            )
        )
    return where


def _page_url(f: dict[str, Any], page: int) -> str:
    query = {k: f[k] for k in ("q", "status", "payment") if f[k]}
    if page > 1:
        query["page"] = str(page)
    return "/console/registrations" + (f"?{urlencode(query)}" if query else "")


def bulk_notice(params: Any) -> dict[str, Any] | None:
    """What the list says after a bulk decision (delegates.decide_many's redirect, `?done=approved&count=...`):
    how many, and which were not decided and why."""
    decided = params.get(FLASH, "")
    if decided not in ("approved", "rejected"):
        return None
    try:
        count = max(0, int(params.get("count", "0")))
    except ValueError:
        count = 0
    refused = []
    for item in params.get("refused", "").split(",")[: delegates.MAX_BULK]:
        reference, _, why = item.partition(":")
        if _REFERENCE.fullmatch(reference) and _WHY.fullmatch(why):
            label = STATUS_LABELS.get(why)
            refused.append(
                {
                    "reference": reference,
                    "why": f"now {label.lower()}"
                    if label
                    else "not found"
                    if why == "missing"
                    else why.replace("_", " "),
                }
            )
    return {"decided": decided, "count": count, "refused": refused}


async def registrations_page(
    request: Request, *, problem: errors.DomainError | None = None, status_code: int = 200
) -> Response:
    actor = await require_console(request, "organiser")
    f = list_filters(request.query_params)
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        assert conference.id is not None
        where = list_where(conference.id, f)
        total = int(
            (
                await db.execute(sa.select(sa.func.count()).select_from(Registration).where(*where))
            ).scalar_one()
        )
        pages = max(1, math.ceil(total / PER_PAGE))
        f["page"] = min(f["page"], pages)  # past the end (or absurdly large): the last page
        stmt = (
            sa.select(Registration, TicketType, balances.issued_invoices_pence())
            .join(TicketType, col(TicketType.id) == Registration.ticket_type_id)
            .where(*where)
            .order_by(col(Registration.created_at).desc(), col(Registration.number).desc())
            .limit(PER_PAGE)
            .offset((f["page"] - 1) * PER_PAGE)
        )
        rows = [
            {"r": r, "ticket": t, "outstanding": balances.outstanding_pence(r, t, issued)}
            for r, t, issued in (await db.execute(stmt)).all()
        ]
        awaiting = int(
            (
                await db.execute(
                    sa.select(sa.func.count())
                    .select_from(Registration)
                    .where(
                        col(Registration.conference_id) == conference.id,
                        col(Registration.status) == Status.awaiting_approval,
                    )
                )
            ).scalar_one()
        )
    async with database(request).transaction() as db:
        # Which filters, never what was searched for (a name or an email is personal data).
        await audit.record(
            db,
            "conference.registrations.viewed",
            actor=actor,
            status=f["status"] or None,
            payment=f["payment"] or None,
            searched=bool(f["q"]),
            page=f["page"],
            shown=len(rows),
            total=total,
        )
    first = (f["page"] - 1) * PER_PAGE + 1 if rows else 0
    return render(
        request,
        "console/registrations.html",
        {
            "conference": conference,
            "rows": rows,
            "filters": f,
            "total": total,
            "pages": pages,
            "first": first,
            "last": first + len(rows) - 1 if rows else 0,
            "payment_states": PAYMENT_STATES,
            "previous_url": _page_url(f, f["page"] - 1) if f["page"] > 1 else None,
            "next_url": _page_url(f, f["page"] + 1) if f["page"] < pages else None,
            "awaiting": awaiting,
            "bulk": bulk_notice(request.query_params),
            "problem": problem,
            "export_query": urlencode({k: f[k] for k in ("q", "status", "payment") if f[k]}),
        },
        status_code=status_code,
    )


routes = [
    Route("/console/registrations", registrations_page, methods=["GET"], name="console-registrations"),
]
