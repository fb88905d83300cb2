"""The JSON API under /api/v1 (API.md). Endpoints parse, authorise, call a service, and shape the answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conference import answers, decisions, event, personal_data, places, registration
from conference.core import audit, errors, hooks, registration_window, spreadsheets
from conference.core.models import OutboxEmail, Registration, Status, TicketType
from conference.core.schemas import ConferenceUpdate, RegistrationCreate, ResendLink
from conference.payments import checkout, gateway
from conference.web.auth import authenticate, require, require_registration_access
from conference.web.register import register
from conference.web.request import (
    caller,
    database,
    path_uuid,
    payment_gateway,
    rate_limit,
    read_json,
    settings,
    validate,
)


def conference_public(conf: Any, seen: places.Availability) -> dict[str, Any]:
    local = ZoneInfo(conf.timezone)

    def at(moment: datetime | None) -> str | None:
        return moment.astimezone(local).isoformat() if moment else None

    return {
        "name": conf.name,
        "venue": conf.venue,
        "starts_at": conf.starts_at.astimezone(local).isoformat(),
        "ends_at": conf.ends_at.astimezone(local).isoformat(),
        "timezone": conf.timezone,
        "capacity": conf.capacity,
        "registered": seen.registered,
        "remaining": seen.remaining,
        "waitlisted": seen.waitlisted,
        "registration_open": conf.registration_open,
        "retention_days": conf.retention_days,
        # Added with the console's event settings (docs/api.md). `registration_open` stays the organisers' switch;
        # `registration_state` is the switch and the window on the clock now.
        "registration_opens_at": at(conf.registration_opens_at),
        "registration_closes_at": at(conf.registration_closes_at),
        "registration_state": registration_window.state_of(conf).value,
        "refund_full_until": at(conf.refund_full_until),
        "venue_address": conf.venue_address,
        "travel_notes": conf.travel_notes,
        "accessibility_notes": conf.accessibility_notes,
        "privacy_notice": conf.privacy_notice,
        "accessibility_statement": conf.accessibility_statement,
        "contact_email": conf.contact_email,
    }


async def get_conference(request: Request) -> Response:
    async with database(request).read() as db:
        conf = await places.get_conference(db)
        seen = await places.availability(db, conf)
    return JSONResponse(conference_public(conf, seen))


async def patch_conference(request: Request) -> Response:
    actor = await caller(request)
    require(actor, "organiser")
    changes = validate(ConferenceUpdate, await read_json(request)).model_dump(exclude_unset=True)
    # Null clears only what event.NULLABLE names (the service refuses it elsewhere, every such field at once).
    async with database(request).transaction() as db:
        conf = await event.update_conference(db, settings=settings(request), changes=changes, actor=actor)
        seen = await places.availability(db, conf)
    return JSONResponse(conference_public(conf, seen))


def ticket_type_public(t: TicketType, available: bool, card: bool = False) -> dict[str, Any]:
    methods = (
        []
        if t.price_pence == 0
        else [m for m, ok in (("card", card and t.card_allowed), ("invoice", t.invoice_allowed)) if ok]
    )
    return {
        "id": str(t.id),
        "name": t.name,
        "description": t.description,
        "price_pence": t.price_pence,  # net of VAT
        "vat_rate_percent": t.vat_rate_percent,
        "total_pence": checkout.gross_pence(t),  # what a card payment or an invoice charges
        "currency": t.currency,
        "available": available,
        "requires_approval": t.approval.value != "none",
        "payment_methods": methods,
        # The sale window (an early bird's end); null: no limit. Only types on sale now are listed.
        "available_from": t.available_from.isoformat() if t.available_from else None,
        "available_until": t.available_until.isoformat() if t.available_until else None,
        "cap": t.cap,  # the type's own limit on places (null: only the conference's capacity)
        "approval": t.approval.value,  # none, manual or domain
        "invoice_confirms": t.invoice_confirms,
    }


async def list_ticket_types(request: Request) -> Response:
    async with database(request).read() as db:
        conf = await places.get_conference(db)
        types = await places.ticket_types_with_availability(db, conf)
    card = gateway.card_available(settings(request))
    return JSONResponse([ticket_type_public(t, ok, card) for t, ok in types])


async def create_registration(request: Request) -> Response:
    await rate_limit(request).check(request, "registrations")
    body = await read_json(request)
    key = request.headers.get("idempotency-key")
    if key is not None and not (1 <= len(key) <= 255):
        raise errors.InvalidInput(fields={"Idempotency-Key": "Use a key of 1 to 255 characters."})
    data = validate(RegistrationCreate, body)
    result = await register(request, data, idempotency_key=f"registrations:{key}" if key else None, body=body)
    return JSONResponse(
        result.public(), status_code=201, headers={"Idempotent-Replayed": "true"} if result.replayed else None
    )


STAFF_VIEW = (
    "id",
    "reference",
    "status",
    "name",
    "organisation",
    "ticket_type",
    "waitlist_position",
    "sessions",
)


async def registration_public(db: Any, r: Registration) -> dict[str, Any]:
    ticket = await db.get(TicketType, r.ticket_type_id)
    return {
        "id": str(r.id),
        "reference": r.reference,
        "status": r.status.value,
        "name": r.name,
        "email": r.email,
        "organisation": r.organisation,
        "sector": r.sector.value,
        "job_title": r.job_title,
        "region": r.region,
        "dietary": r.dietary,
        "access_needs": r.access_needs,
        "ticket_type": {"id": str(r.ticket_type_id), "name": ticket.name if ticket else ""},
        "waitlist_position": await places.waitlist_position(db, r),
        "created_at": r.created_at.isoformat(),
        "cancelled_at": r.cancelled_at.isoformat() if r.cancelled_at else None,
        "sessions": [],
        # By question id: the answer with the question as it was asked (conference/answers.py); not for staff.
        "answers": answers.public(r.answers),
        # The price the place sold at (after any code), the code and the group booking it came with.
        **await personal_data.booking_terms(db, r),
        **await hooks.collect_registration_details(db, r),
    }


async def get_registration(request: Request) -> Response:
    registration_id = path_uuid(request, "registration_id")
    async with database(request).read() as db:
        actor = await authenticate(db, request)
        require_registration_access(actor, registration_id, "staff", "organiser")
        r = await db.get(Registration, registration_id)
        if r is None:
            raise errors.NotFound("No registration has this id.")
        body = await registration_public(db, r)
        if actor.kind == "staff":
            # Staff see what check-in needs, not the delegate's contact details, dietary or access needs.
            body = {name: body[name] for name in STAFF_VIEW}
        return JSONResponse(body)


async def cancel_registration(request: Request) -> Response:
    registration_id = path_uuid(request, "registration_id")
    actor = await caller(request)
    require_registration_access(actor, registration_id, "organiser")
    async with database(request).transaction() as db:
        r = await decisions.cancel_registration(
            db, settings=settings(request), registration_id=registration_id, actor=actor
        )
        body = await registration_public(db, r)
    await payment_gateway(request).close_checkouts(database(request), registration_id)
    return JSONResponse(body)


async def decide(request: Request, approve: bool) -> Response:
    registration_id = path_uuid(request, "registration_id")
    actor = await caller(request)
    require(actor, "organiser")
    async with database(request).transaction() as db:
        r = await decisions.decide_approval(
            db, settings=settings(request), registration_id=registration_id, approve=approve, actor=actor
        )
        body = await registration_public(db, r)
    return JSONResponse(body)


async def approve_registration(request: Request) -> Response:
    return await decide(request, True)


async def reject_registration(request: Request) -> Response:
    return await decide(request, False)


CSV_COLUMNS = [
    "reference",
    "status",
    "name",
    "email",
    "organisation",
    "sector",
    "job_title",
    "region",
    "ticket_type",
    "dietary",
    "access_needs",
    "waitlist_position",
    "created_at",
]


async def list_registrations(request: Request) -> Response:
    actor = await caller(request)
    require(actor, "organiser")
    status = request.query_params.get("status")
    if status is not None and status not in {s.value for s in Status}:
        raise errors.InvalidInput(
            fields={"status": "Use one of: " + ", ".join(s.value for s in Status) + "."}
        )
    fmt = request.query_params.get("format", "json")
    if fmt not in {"json", "csv"}:
        raise errors.InvalidInput(fields={"format": "Use json or csv."})
    q = request.query_params.get("q", "").strip()
    stmt = sa.select(Registration).order_by(col(Registration.number))
    if status:
        stmt = stmt.where(col(Registration.status) == Status(status))
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(col(Registration.name)).like(like),
                col(Registration.email_key).like(like),
                sa.func.lower(col(Registration.organisation)).like(like),
                sa.func.lower(col(Registration.reference)).like(like),
            )
        )
    async with database(request).read() as db:
        rows = [await registration_public(db, r) for r in (await db.execute(stmt)).scalars()]
    async with database(request).transaction() as db:
        await audit.record(
            db,
            "conference.registrations.exported" if fmt == "csv" else "conference.registrations.listed",
            actor=actor,
            count=len(rows),
            status=status or "",
            q_given=bool(q),
        )
    if fmt == "csv":
        sheet = spreadsheets.Sheet(
            "Registrations",
            CSV_COLUMNS,
            [
                [row["ticket_type"]["name"] if k == "ticket_type" else row.get(k) for k in CSV_COLUMNS]
                for row in rows
            ],
        )
        return Response(
            spreadsheets.to_csv(sheet, bom=False),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="registrations.csv"'},
        )
    return JSONResponse({"data": rows, "count": len(rows)})


async def resend_link(request: Request) -> Response:
    await rate_limit(request).check(request, "resend-link")
    data = validate(ResendLink, await read_json(request))
    async with database(request).transaction() as db:
        await registration.resend_manage_link(db, settings=settings(request), email=str(data.email))
    # The same answer whether or not the address is registered: this endpoint must not reveal who is coming.
    return JSONResponse(
        {"message": "If that address is registered, we have emailed its booking link."}, status_code=202
    )


async def list_outbox(request: Request) -> Response:
    actor = await caller(request)
    require(actor, "organiser")
    async with database(request).read() as db:
        rows = (
            await db.execute(sa.select(OutboxEmail).order_by(col(OutboxEmail.created_at).desc()).limit(500))
        ).scalars()
        data = [
            {
                "id": str(r.id),
                "kind": r.kind,
                "to": r.to_address,
                "status": r.status,
                "attempts": r.attempts,
                "last_error": r.last_error,
                "created_at": r.created_at.isoformat(),
                "sent_at": r.sent_at.isoformat() if r.sent_at else None,
                "registration_id": str(r.registration_id) if r.registration_id else None,
            }
            for r in rows
        ]
    return JSONResponse({"data": data, "count": len(data)})


async def get_personal_data(request: Request) -> Response:
    """Everything held about the delegate (the attendee themselves, or an organiser); every download is audited."""
    registration_id = path_uuid(request, "registration_id")
    actor = await caller(request)
    require_registration_access(actor, registration_id, "organiser")
    if actor.kind == "attendee":
        await rate_limit(request).check(request, "personal-data")
    async with database(request).read() as db:
        data = await personal_data.export_for(db, registration_id=registration_id)
    async with database(request).transaction() as db:
        await personal_data.record_download(db, registration_id=registration_id, actor=actor, via="api")
    return JSONResponse(data, headers={"cache-control": "no-store"})


async def erase_personal_data(request: Request) -> Response:
    """Erase the delegate's personal data (cancelling a place still held); a second call changes nothing."""
    registration_id = path_uuid(request, "registration_id")
    actor = await caller(request)
    require_registration_access(actor, registration_id, "organiser")
    reason = "delegate_request" if actor.kind == "attendee" else "organiser"
    async with database(request).transaction() as db:
        result = await personal_data.erase(
            db, settings=settings(request), registration_id=registration_id, actor=actor, reason=reason
        )
    if result.cancelled:
        await payment_gateway(request).close_checkouts(database(request), registration_id)
    return JSONResponse(result.public())


routes = [
    Route("/conference", get_conference, methods=["GET"], name="api-conference"),
    Route("/conference", patch_conference, methods=["PATCH"], name="api-conference-update"),
    Route("/ticket-types", list_ticket_types, methods=["GET"], name="api-ticket-types"),
    Route("/registrations", create_registration, methods=["POST"], name="api-registration-create"),
    Route("/registrations", list_registrations, methods=["GET"], name="api-registrations"),
    Route("/registrations/resend-link", resend_link, methods=["POST"], name="api-resend-link"),
    Route("/registrations/{registration_id}", get_registration, methods=["GET"], name="api-registration"),
    Route(
        "/registrations/{registration_id}",
        cancel_registration,
        methods=["DELETE"],
        name="api-registration-cancel",
    ),
    Route(
        "/registrations/{registration_id}/approve",
        approve_registration,
        methods=["POST"],
        name="api-registration-approve",
    ),
    Route(
        "/registrations/{registration_id}/reject",
        reject_registration,
        methods=["POST"],
        name="api-registration-reject",
    ),
    Route("/outbox", list_outbox, methods=["GET"], name="api-outbox"),
    Route(
        "/registrations/{registration_id}/personal-data",
        get_personal_data,
        methods=["GET"],
        name="api-personal-data",
    ),
    Route(
        "/registrations/{registration_id}/erasure",
        erase_personal_data,
        methods=["POST"],
        name="api-personal-data-erasure",
    ),
]
