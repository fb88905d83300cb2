"""Group bookings in the JSON API (docs/api.md): book a group, the organisers' list and view, and the lead's
private link (read the group, add a member, cancel one, substitute one, the CSV, the group's invoices)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conference import groups, registration
from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.group_models import GroupBooking
from conference.core.models import Invoice
from conference.invoices import invoicing
from conference.web.auth import require
from conference.web.downloads import private_file
from conference.web.request import (
    caller,
    database,
    path_uuid,
    payment_gateway,
    rate_limit,
    read_json,
    settings,
)


def _lead(group: GroupBooking) -> Actor:
    # The lead acts through their private link: audited under the group's reference (no name, no address).
    return Actor("attendee", group.reference)


async def create_group(request: Request) -> Response:
    await rate_limit(request).check(request, "registrations")
    body = await read_json(request)
    key = request.headers.get("idempotency-key")
    if key is not None and not (1 <= len(key) <= 255):
        raise errors.InvalidInput(fields={"Idempotency-Key": "Use a key of 1 to 255 characters."})
    data = groups.parse(groups.GroupCreate, body)
    s = settings(request)
    async with database(request).transaction() as db:
        result = await groups.book_group(
            db,
            s,
            body=data,
            actor=Actor("anonymous"),
            idempotency_key=f"groups:{key}" if key else None,
            fingerprint=registration.request_fingerprint(body) if key else "",
        )
    if result.group.payment_method == "card" and any(
        m.registration.status.value == "pending_payment" for m in result.members
    ):
        started = await payment_gateway(request).group_checkout(database(request), s, result.group.id)
        result = groups.GroupBooked(
            result.group,
            result.manage_token,
            result.members,
            result.invoice,
            checkout_url=started.url,
            payment_error=started.error,
            replayed=result.replayed,
        )
    return JSONResponse(
        result.public(), status_code=201, headers={"Idempotent-Replayed": "true"} if result.replayed else None
    )


async def list_groups(request: Request) -> Response:
    actor = await caller(request)
    require(actor, "organiser")
    query = request.query_params.get("q", "").strip()[:100]
    try:
        limit = min(max(int(request.query_params.get("limit", "100")), 1), 500)
        offset = max(int(request.query_params.get("offset", "0")), 0)
    except ValueError:
        raise errors.InvalidInput(fields={"limit": "Give whole numbers for limit and offset."}) from None
    async with database(request).read() as db:
        rows = await groups.list_groups(db, query=query, limit=limit, offset=offset)
        data = [await groups.group_public(db, g) for g in rows]
    return JSONResponse({"data": data, "count": len(data)})


async def get_group(request: Request) -> Response:
    group_id = path_uuid(request, "group_id")
    actor = await caller(request)
    require(actor, "organiser")
    async with database(request).read() as db:
        group = await db.get(GroupBooking, group_id)
        if group is None:
            raise errors.NotFound("No group booking has this id.")
        return JSONResponse(await groups.group_public(db, group))


async def _group_of(request: Request, db: Any) -> GroupBooking:
    return await groups.find_by_token(db, request.path_params["token"])


async def lead_view(request: Request) -> Response:
    async with database(request).read() as db:
        group = await _group_of(request, db)
        return JSONResponse(await groups.group_public(db, group))


async def lead_add_member(request: Request) -> Response:
    raw = await read_json(request)
    s = settings(request)
    async with database(request).transaction() as db:
        group = await _group_of(request, db)  # the link first: only its holder learns what the body lacks
        member = groups.parse(groups.MemberCreate, raw)
        added = await groups.add_member(db, s, group_id=group.id, member=member, actor=_lead(group))
        body = await groups.group_public(db, group)
    r = added.registration
    body["added"] = {
        "id": str(r.id),
        "reference": r.reference,
        "email": r.email,
        "status": r.status.value,
        "manage_token": added.manage_token,
    }
    return JSONResponse(body, status_code=201)


async def lead_cancel_member(request: Request) -> Response:
    registration_id = path_uuid(request, "registration_id")
    s = settings(request)
    async with database(request).transaction() as db:
        group = await _group_of(request, db)
        await groups.cancel_member(
            db, s, group_id=group.id, registration_id=registration_id, actor=_lead(group)
        )
        body = await groups.group_public(db, group)
    await payment_gateway(request).close_checkouts(database(request), registration_id)
    return JSONResponse(body)


async def lead_substitute_member(request: Request) -> Response:
    registration_id = path_uuid(request, "registration_id")
    raw = await read_json(request)
    s = settings(request)
    async with database(request).transaction() as db:
        group = await _group_of(request, db)
        member = groups.parse(groups.MemberCreate, raw)
        swapped = await groups.substitute_member(
            db, s, group_id=group.id, registration_id=registration_id, member=member, actor=_lead(group)
        )
        body = await groups.group_public(db, group)
    r = swapped.registration
    body["substituted"] = {
        "id": str(r.id),
        "reference": r.reference,
        "email": r.email,
        "status": r.status.value,
        "manage_token": swapped.manage_token,
    }
    return JSONResponse(body)


async def lead_checkout(request: Request) -> Response:
    """Open (or reuse) the group's one card payment page for every member whose place is held for it."""
    async with database(request).read() as db:
        group = await _group_of(request, db)
    if group.payment_method != "card":
        raise errors.DomainError("This group does not pay by card.")
    started = await payment_gateway(request).group_checkout(database(request), settings(request), group.id)
    if started.url is None:
        raise errors.ServiceUnavailable(
            started.error or "Card payment could not be started; try again shortly."
        )
    return JSONResponse({"checkout_url": started.url})


async def lead_csv(request: Request) -> Response:
    async with database(request).read() as db:
        group = await _group_of(request, db)
        text = await groups.group_csv(db, group.id)
    return private_file(text.encode(), f"group-{group.reference}.csv", "text/csv; charset=utf-8")


async def lead_invoice_pdf(request: Request) -> Response:
    invoice_id = path_uuid(request, "invoice_id")
    s = settings(request)
    async with database(request).read() as db:
        group = await _group_of(request, db)
        invoice = await db.get(Invoice, invoice_id)
        if invoice is None or invoice.group_id != group.id:
            raise errors.NotFound("No invoice of this group has this id.")
        invoice, pdf = await invoicing.pdf_for(db, s, invoice_id)
    async with database(request).transaction() as db:
        await audit.record(db, "conference.invoice.downloaded", actor=_lead(group), subject=invoice.number)
    return private_file(pdf, f"{invoice.number}.pdf", "application/pdf")


routes = [
    Route("/groups", create_group, methods=["POST"], name="api-group-create"),
    Route("/groups", list_groups, methods=["GET"], name="api-groups"),
    Route("/groups/{group_id}", get_group, methods=["GET"], name="api-group"),
    Route("/groups/manage/{token}", lead_view, methods=["GET"], name="api-group-manage"),
    Route("/groups/manage/{token}/members", lead_add_member, methods=["POST"], name="api-group-member-add"),
    Route(
        "/groups/manage/{token}/members/{registration_id}",
        lead_cancel_member,
        methods=["DELETE"],
        name="api-group-member-cancel",
    ),
    Route(
        "/groups/manage/{token}/members/{registration_id}/substitute",
        lead_substitute_member,
        methods=["POST"],
        name="api-group-member-substitute",
    ),
    Route("/groups/manage/{token}/checkout", lead_checkout, methods=["POST"], name="api-group-checkout"),
    Route("/groups/manage/{token}/members.csv", lead_csv, methods=["GET"], name="api-group-csv"),
    Route(
        "/groups/manage/{token}/invoices/{invoice_id}.pdf",
        lead_invoice_pdf,
        methods=["GET"],
        name="api-group-invoice-pdf",
    ),
]
