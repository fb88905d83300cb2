"""Group bookings in the console: the list with filters (organisation, status, payment) and its CSV, and one group's
page (the lead, the billing, each member with a link to their registration, the invoice and credit notes).

Organisers only (staff get 403, anonymous browsers are sent to /login and back). Read-only: the members' own pages
(conference/console/registration.py) change a member; the lead changes the group from their link.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference import groups, places
from conference.console.login import require_console
from conference.core import audit, errors, spreadsheets
from conference.core.group_models import GroupBooking
from conference.core.models import METHOD_LABELS, Invoice, Registration, Status, TicketType
from conference.web.downloads import private_file
from conference.web.request import database
from conference.web.templating import render

PATH = "/console/groups"
MAX_SHOWN = 500
STATES = {"active": "Active (places held)", "waiting": "Some members waiting", "cancelled": "All cancelled"}
PAYMENTS = {k: METHOD_LABELS.get(k, k) for k in ("invoice", "card", "none")}
HELD = (Status.confirmed, Status.pending_payment, Status.awaiting_approval, Status.awaiting_verification)


def filters(params: Mapping[str, str]) -> dict[str, str]:
    status, payment = params.get("status", ""), params.get("payment", "")
    return {
        "organisation": params.get("organisation", "").strip()[:200],
        "status": status if status in STATES else "",
        "payment": payment if payment in PAYMENTS else "",
    }


async def group_rows(db: AsyncSession, f: dict[str, str]) -> list[dict[str, Any]]:
    """The groups matching the filters, newest first, each with its members counted by status."""
    conference = await places.get_conference(db)
    stmt = sa.select(GroupBooking).where(col(GroupBooking.conference_id) == conference.id)
    if f["organisation"]:
        stmt = stmt.where(
            sa.func.lower(col(GroupBooking.organisation)).contains(f["organisation"].lower(), autoescape=True)
        )
    if f["payment"]:
        stmt = stmt.where(col(GroupBooking.payment_method) == f["payment"])
    found = list(
        (await db.execute(stmt.order_by(col(GroupBooking.created_at).desc()).limit(MAX_SHOWN))).scalars()
    )
    counts: dict[uuid.UUID, dict[str, int]] = {g.id: {} for g in found}
    if found:
        tally = await db.execute(
            sa.select(col(Registration.group_id), col(Registration.status), sa.func.count())
            .where(col(Registration.group_id).in_([g.id for g in found]))
            .group_by(col(Registration.group_id), col(Registration.status))
        )
        for group_id, status, count in tally.all():
            if group_id is not None:
                counts[group_id][Status(status).value] = int(count)
    tickets = {t.id: t for t in (await db.execute(sa.select(TicketType))).scalars()}
    rows = []
    for g in found:
        by_status = counts[g.id]
        held = sum(by_status.get(s.value, 0) for s in HELD)
        waiting = by_status.get(Status.waitlisted.value, 0)
        state = "waiting" if waiting else "active" if held else "cancelled"
        if f["status"] and f["status"] != state:
            continue
        ticket = tickets.get(g.ticket_type_id)
        rows.append(
            {
                "group": g,
                "ticket": ticket.name if ticket else "",
                "held": held,
                "waiting": waiting,
                "cancelled": by_status.get(Status.cancelled.value, 0),
                "members": sum(by_status.values()),
                "state": state,
                "purchase_order": (g.billing or {}).get("purchase_order", ""),
            }
        )
    return rows


async def groups_page(request: Request) -> Response:
    await require_console(request, "organiser", back=PATH)
    f = filters(request.query_params)
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        rows = await group_rows(db, f)
    query = urlencode({k: v for k, v in f.items() if v})
    return render(
        request,
        "console/groups.html",
        {
            "conference": conference,
            "rows": rows,
            "filters": f,
            "states": STATES,
            "payments": PAYMENTS,
            "export_query": query,
            "max_shown": MAX_SHOWN,
        },
    )


CSV_HEADER = [
    "Reference",
    "Organisation",
    "Lead",
    "Lead email",
    "Lead attends",
    "Ticket",
    "Payment",
    "Purchase order",
    "Buyer reference",
    "Members",
    "Places held",
    "Waiting",
    "Cancelled",
    "Status",
    "Booked",
]


async def groups_export(request: Request) -> Response:
    actor = await require_console(request, "organiser", back=PATH)
    f = filters(request.query_params)
    async with database(request).read() as db:
        rows = await group_rows(db, f)
    sheet = spreadsheets.Sheet(
        title="Group bookings",
        header=CSV_HEADER,
        rows=[
            [
                r["group"].reference,
                r["group"].organisation,
                r["group"].lead_name,
                r["group"].lead_email,
                "yes" if r["group"].lead_attends else "no",
                r["ticket"],
                PAYMENTS.get(r["group"].payment_method, r["group"].payment_method),
                r["purchase_order"],
                (r["group"].billing or {}).get("buyer_reference", ""),
                r["members"],
                r["held"],
                r["waiting"],
                r["cancelled"],
                STATES[r["state"]],
                r["group"].created_at,
            ]
            for r in rows
        ],
    )
    async with database(request).transaction() as db:
        # Which filters and how many, never the names (personal data).
        await audit.record(
            db,
            "conference.groups.exported",
            actor=actor,
            subject="groups",
            count=len(rows),
            status=f["status"] or None,
            payment=f["payment"] or None,
            searched=bool(f["organisation"]),
        )
    return private_file(spreadsheets.to_csv(sheet), "group-bookings.csv", spreadsheets.FORMATS["csv"])


async def group_page(request: Request) -> Response:
    group_id = request.path_params["group_id"]
    assert isinstance(group_id, uuid.UUID)
    await require_console(request, "organiser", back=f"{PATH}/{group_id}")
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        group = await db.get(GroupBooking, group_id)
        if group is None or group.conference_id != conference.id:
            raise errors.NotFound("No group booking has this id.")
        members = await groups.members_of(db, group.id)
        documents = list(
            (
                await db.execute(
                    sa.select(Invoice)
                    .where(col(Invoice.group_id) == group.id)
                    .order_by(col(Invoice.created_at))
                )
            ).scalars()
        )
        ticket = await db.get(TicketType, group.ticket_type_id)
    return render(
        request,
        "console/groups_detail.html",
        {
            "conference": conference,
            "group": group,
            "members": members,
            "invoices": documents,
            "ticket": ticket,
        },
    )


routes = [
    Route(PATH, groups_page, methods=["GET"], name="console-groups"),
    Route(f"{PATH}.csv", groups_export, methods=["GET"], name="console-groups-csv"),
    Route(PATH + "/{group_id:uuid}", group_page, methods=["GET"], name="console-group"),
]
