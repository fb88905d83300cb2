"""Invoices in the JSON API: list a registration's invoices, download one as a PDF, mark paid, credit.

Paths are full (/api/v1/...): add `routes` to the app's route list ahead of the /api/v1 Mount, which would
otherwise answer these paths with 404.
"""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PField
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conference import decisions
from conference.core import audit, errors
from conference.core.models import Invoice, Registration
from conference.core.text import Line, Text
from conference.invoices import invoicing
from conference.invoices.invoicing import invoice_public
from conference.web.auth import authenticate, require, require_registration_access
from conference.web.downloads import private_file
from conference.web.request import caller, database, read_json, settings, validate


# Properties to receive when an organiser credits an invoice
class CreditRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: Text = PField(default="", max_length=500)
    # Also cancel the registration (in the same transaction), which frees its place for the waiting list.
    cancel_registration: bool = True


# What an organiser may record on marking an invoice paid (each optional: today, the invoice's total, none)
class MarkPaidRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    paid_on: date | None = None  # the day the money arrived, not after today (in the conference's time zone)
    amount_pence: int | None = PField(default=None, gt=0, le=invoicing.MAX_PAID_PENCE)
    reference: Line = PField(default="", max_length=invoicing.MAX_PAYMENT_REFERENCE)  # the bank's reference


def _uuid(request: Request, name: str) -> uuid.UUID:
    value = request.path_params[name]  # the route's uuid convertor has parsed it
    assert isinstance(value, uuid.UUID)
    return value


async def list_invoices(request: Request) -> Response:
    registration_id = _uuid(request, "registration_id")
    async with database(request).read() as db:
        actor = await authenticate(db, request)
        require_registration_access(actor, registration_id, "organiser")
        if await db.get(Registration, registration_id) is None:
            raise errors.NotFound("No registration has this id.")
        data = await invoicing.invoices_public(db, registration_id)
    return JSONResponse({"data": data, "count": len(data)})


async def invoice_pdf(request: Request) -> Response:
    invoice_id = _uuid(request, "invoice_id")
    s = settings(request)
    async with database(request).read() as db:
        actor = await authenticate(db, request)
        if actor.kind != "attendee":
            require(actor, "organiser")
        invoice = await db.get(Invoice, invoice_id)
        if invoice is None:
            raise errors.NotFound("No invoice has this id.")
        require_registration_access(actor, invoice.registration_id, "organiser")
        if invoice.group_id is not None and invoice.kind == "invoice" and actor.kind == "attendee":
            # A group's invoice lists every member: it is the lead's (their link), not its first member's.
            raise errors.Forbidden("A group's invoice is downloaded from the group lead's link.")
        invoice, pdf = await invoicing.pdf_for(db, s, invoice_id)
    if actor.kind == "organiser":
        async with database(request).transaction() as db:
            await audit.record(db, "conference.invoice.downloaded", actor=actor, subject=invoice.number)
    return private_file(pdf, f"{invoice.number}.pdf", "application/pdf")


async def mark_paid(request: Request) -> Response:
    invoice_id = _uuid(request, "invoice_id")
    actor = await caller(request)
    require(actor, "organiser")
    # The body is optional: no body records today, the invoice's total and no reference, as before.
    raw = await request.body()
    data = validate(MarkPaidRequest, await read_json(request)) if raw.strip() else MarkPaidRequest()
    async with database(request).transaction() as db:
        invoice = await invoicing.mark_paid(
            db,
            settings(request),
            invoice_id=invoice_id,
            actor=actor,
            paid_on=data.paid_on,
            amount_pence=data.amount_pence,
            reference=data.reference,
        )
        r = await db.get(Registration, invoice.registration_id)
        assert r is not None
        body = {**invoice_public(invoice), "registration": {"id": str(r.id), "status": r.status.value}}
    return JSONResponse(body)


async def credit(request: Request) -> Response:
    invoice_id = _uuid(request, "invoice_id")
    actor = await caller(request)
    require(actor, "organiser")
    # The body is optional: no body credits the invoice and cancels the registration.
    raw = await request.body()
    data = validate(CreditRequest, await read_json(request)) if raw.strip() else CreditRequest()
    s = settings(request)
    async with database(request).transaction() as db:
        note, r, _cancelled = await decisions.credit_invoice(
            db,
            settings=s,
            invoice_id=invoice_id,
            actor=actor,
            reason=data.reason,
            cancel=data.cancel_registration,
        )
        original = await db.get(Invoice, note.credits_invoice_id)
        assert original is not None
        body = {
            "credit_note": invoice_public(note, original.number),
            "invoice": invoice_public(original),
            "registration": {"id": str(r.id), "status": r.status.value},
        }
    return JSONResponse(body, status_code=201)


routes = [
    Route(
        "/api/v1/registrations/{registration_id:uuid}/invoices",
        list_invoices,
        methods=["GET"],
        name="api-registration-invoices",
    ),
    Route("/api/v1/invoices/{invoice_id:uuid}.pdf", invoice_pdf, methods=["GET"], name="api-invoice-pdf"),
    Route("/api/v1/invoices/{invoice_id:uuid}/paid", mark_paid, methods=["POST"], name="api-invoice-paid"),
    Route("/api/v1/invoices/{invoice_id:uuid}/credit", credit, methods=["POST"], name="api-invoice-credit"),
]
