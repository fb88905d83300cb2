"""HTML pages for delegates: the event and its registration form, the confirmation, the manage page.

They work without JavaScript; forms carry a CSRF token (conference.web.templating) and re-render with an error
summary that links to each field.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from conference import decisions, personal_data, places, registration
from conference.core import errors
from conference.core.audit import Actor
from conference.core.models import REGIONS, SECTOR_LABELS, Status, TicketType
from conference.core.schemas import RegistrationCreate, ResendLink
from conference.invoices import invoicing
from conference.payments import gateway, records
from conference.web.downloads import private_file
from conference.web.register import FIELD_LABELS, FIELD_ORDER, register
from conference.web.request import database, payment_gateway, rate_limit, settings
from conference.web.templating import FormRefused, form_values, render

STATUS_TEXT = {
    Status.confirmed: "Your place is confirmed",
    Status.pending_payment: "We are holding your place until payment arrives",
    Status.awaiting_approval: "Your registration is waiting for approval",
    Status.waitlisted: "You are on the waiting list",
    Status.cancelled: "This registration is cancelled",
    Status.awaiting_verification: "We are holding your place until you confirm your email address",
}


async def _page_context(request: Request) -> dict[str, Any]:
    async with database(request).read() as db:
        conf = await places.get_conference(db)
        seen = await places.availability(db, conf)
        types = await places.ticket_types_with_availability(db, conf)
    return {
        "conference": conf,
        "seen": seen,
        "ticket_types": types,
        "sectors": SECTOR_LABELS,
        "regions": REGIONS,
        "labels": FIELD_LABELS,
        "paid_types": any(t.price_pence for t, _ in types),
        "card_available": gateway.card_available(settings(request)),
        "hold_minutes": settings(request).payment_hold_minutes,
    }


async def home(request: Request) -> Response:
    return render(
        request, "conference/register.html", {**await _page_context(request), "values": {}, "errors": {}}
    )


async def register_form(request: Request) -> Response:
    await rate_limit(request).check(request, "registrations")
    refused: dict[str, str] = {}
    try:
        values = await form_values(request)
    except FormRefused as exc:  # a control character: the form again as typed (less it), saying where
        values, refused = exc.values, _form_fields(exc.fields or {})
    data: dict[str, Any] = {
        k: values.get(k, "")
        for k in FIELD_ORDER
        if k in RegistrationCreate.model_fields and k not in {"consent", "payment_method"}
    }
    data["consent"] = values.get("consent") == "yes"
    context = await _page_context(request)
    priced = {str(t.id) for t, _ in context["ticket_types"] if t.price_pence}
    # The payment section only applies to a priced ticket (the page has no script to hide it otherwise).
    if values.get("payment_method") and data["ticket_type_id"] in priced:
        data["payment_method"] = values["payment_method"]
        if values["payment_method"] == "invoice":
            data["billing"] = {k: values.get(f"billing_{k}", "") for k in BILLING_FIELDS}
    problems: dict[str, str] = {}
    if not data["ticket_type_id"]:
        problems["ticket_type_id"] = "Choose a ticket type."
    if not data["sector"]:
        problems["sector"] = "Choose the sector you work in."
    if not problems:
        try:
            parsed = RegistrationCreate.model_validate(data)
        except ValidationError as exc:
            problems = _form_fields(errors.from_validation_error(exc).fields or {})
    problems.update(refused)
    if not problems:
        try:
            result = await register(request, parsed)
        except errors.InvalidInput as exc:
            problems = _form_fields(exc.fields or {})
        except errors.AlreadyRegistered:
            return render(
                request,
                "conference/register.html",
                {
                    **context,
                    "values": values,
                    "errors": {"email": errors.AlreadyRegistered.message},
                    "already_registered": True,
                },
                status_code=409,
            )
        else:
            if result.checkout_url:
                return RedirectResponse(result.checkout_url, 303)  # Stripe Checkout, then /payment/return
            token = result.manage_token
            return RedirectResponse(request.url_for("manage", token=token).include_query_params(new="1"), 303)
    ordered = {
        k: problems[k]
        for k in sorted(problems, key=lambda k: FIELD_ORDER.index(k) if k in FIELD_ORDER else 99)
    }
    context = await _page_context(request)  # again: the places left may have changed meanwhile
    return render(
        request, "conference/register.html", {**context, "values": values, "errors": ordered}, status_code=422
    )


BILLING_FIELDS = ["organisation", "contact_name", "email", "address", "purchase_order"]


def _form_fields(fields: dict[str, str]) -> dict[str, str]:
    # Nested API names (billing.email) become the form's field names (billing_email).
    named = {k.replace(".", "_"): v for k, v in fields.items()}
    if "billing" in named:  # no billing details at all: point at the first one
        named.setdefault("billing_organisation", named.pop("billing"))
    return named


async def resend_link_form(request: Request) -> Response:
    await rate_limit(request).check(request, "resend-link")
    values = await form_values(request)
    try:
        data = ResendLink.model_validate({"email": values.get("email", "")})
    except ValidationError:
        return render(
            request,
            "conference/message.html",
            {"title": "Check the email address", "text": "Enter an email address like name@council.gov.uk."},
            status_code=422,
        )
    async with database(request).transaction() as db:
        await registration.resend_manage_link(db, settings=settings(request), email=str(data.email))
    return render(
        request,
        "conference/message.html",
        {
            "title": "Check your email",
            "text": "If that address is registered, we have sent the link to manage the booking to it.",
        },
    )


async def by_token(request: Request) -> Any:
    async with database(request).read() as db:
        r = await registration.find_by_token(db, request.path_params["token"])
        if r is None:
            raise errors.NotFound(
                "This booking link is not valid. Ask for a new one from the registration page."
            )
        conf = await places.get_conference(db)
        position = await places.waitlist_position(db, r)
        ticket = await db.get(TicketType, r.ticket_type_id)
    return r, conf, position, ticket


async def manage(request: Request) -> Response:
    r, conf, position, ticket = await by_token(request)
    async with database(request).read() as db:
        money = await records.payments_view(db, r.id)
        invoices = await invoicing.invoices_for(db, r.id)
    hold = (
        r.hold_expires_at.astimezone(ZoneInfo(conf.timezone)).strftime("%H:%M on %-d %B")
        if r.hold_expires_at
        else ""
    )
    return render(
        request,
        "conference/manage.html",
        {
            "r": r,
            "conference": conf,
            "position": position,
            "ticket": ticket,
            "invoices": invoices,
            "payments": money["payments"],
            "hold_until": hold,
            "status_text": STATUS_TEXT[r.status],
            "new": request.query_params.get("new") == "1",
            "verify_sent": request.query_params.get("verify") == "sent",
            "token": request.path_params["token"],
            "sectors": SECTOR_LABELS,
        },
    )


async def manage_cancel_confirm(request: Request) -> Response:
    r, conf, _position, _ticket = await by_token(request)
    return render(
        request, "conference/cancel.html", {"r": r, "conference": conf, "token": request.path_params["token"]}
    )


async def manage_cancel(request: Request) -> Response:
    r, _conf, _position, _ticket = await by_token(request)
    await form_values(request)
    if r.status != Status.cancelled:
        async with database(request).transaction() as db:
            await decisions.cancel_registration(
                db,
                settings=settings(request),
                registration_id=r.id,
                actor=Actor("attendee", r.reference, r.id),
            )
        await payment_gateway(request).close_checkouts(database(request), r.id)
    return RedirectResponse(request.url_for("manage", token=request.path_params["token"]), 303)


async def manage_pay(request: Request) -> Response:
    r, _conf, _position, _ticket = await by_token(request)
    await form_values(request)
    checkout = await payment_gateway(request).checkout(database(request), settings(request), r.id)
    if checkout.url is None:
        return render(
            request,
            "conference/message.html",
            {
                "title": "Card payment is unavailable",
                "text": checkout.error or "",
                "back": str(request.url_for("manage", token=request.path_params["token"])),
            },
            status_code=503,
        )
    return RedirectResponse(checkout.url, 303)


async def manage_invoice_pdf(request: Request) -> Response:
    r, _conf, _position, _ticket = await by_token(request)
    try:
        invoice_id = uuid.UUID(request.path_params["invoice_id"])
    except ValueError:
        raise errors.NotFound("No invoice has this id.") from None
    async with database(request).read() as db:
        invoice, pdf = await invoicing.pdf_for(db, settings(request), invoice_id)
    if invoice.registration_id != r.id:
        raise errors.NotFound("No invoice has this id.")
    return private_file(pdf, f"{invoice.number}.pdf", "application/pdf")


async def manage_data(request: Request) -> Response:
    """The "Download my data" link: everything held about the delegate, as a JSON file (audited, rate limited)."""
    await rate_limit(request).check(request, "personal-data")
    r, _conf, _position, _ticket = await by_token(request)
    actor = Actor("attendee", r.reference, r.id)
    async with database(request).read() as db:
        data = await personal_data.export_for(db, registration_id=r.id)
    async with database(request).transaction() as db:
        await personal_data.record_download(db, registration_id=r.id, actor=actor, via="manage")
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={
            "content-disposition": f'attachment; filename="personal-data-{r.reference}.json"',
            "cache-control": "no-store",
        },
    )


async def manage_erase_confirm(request: Request) -> Response:
    r, conf, _position, _ticket = await by_token(request)
    return render(
        request,
        "conference/erase.html",
        {
            "r": r,
            "conference": conf,
            "token": request.path_params["token"],
            "will_cancel": personal_data.will_cancel(r, conf),
            "policy_applies": personal_data.refund_policy_applies(conf),
        },
    )


async def manage_erase(request: Request) -> Response:
    """Erase the delegate's personal data (cancelling the place first); the link stops working afterwards."""
    r, conf, _position, _ticket = await by_token(request)
    await form_values(request)
    async with database(request).transaction() as db:
        result = await personal_data.erase(
            db,
            settings=settings(request),
            registration_id=r.id,
            actor=Actor("attendee", r.reference, r.id),
            reason="delegate_request",
        )
    if result.cancelled:
        await payment_gateway(request).close_checkouts(database(request), r.id)
    return render(request, "conference/erased.html", {"result": result, "conference": conf})


routes = [
    Route("/manage/{token}/pay", manage_pay, methods=["POST"], name="manage-pay"),
    Route(
        "/manage/{token}/invoices/{invoice_id}.pdf",
        manage_invoice_pdf,
        methods=["GET"],
        name="manage-invoice-pdf",
    ),
    Route("/", home, methods=["GET"], name="home"),
    Route("/register", register_form, methods=["POST"], name="register"),
    Route("/resend-link", resend_link_form, methods=["POST"], name="resend-link"),
    Route("/manage/{token}", manage, methods=["GET"], name="manage"),
    Route("/manage/{token}/cancel", manage_cancel_confirm, methods=["GET"], name="manage-cancel-confirm"),
    Route("/manage/{token}/cancel", manage_cancel, methods=["POST"], name="manage-cancel"),
    Route("/manage/{token}/data.json", manage_data, methods=["GET"], name="manage-data"),
    Route("/manage/{token}/erase", manage_erase_confirm, methods=["GET"], name="manage-erase-confirm"),
    Route("/manage/{token}/erase", manage_erase, methods=["POST"], name="manage-erase"),
]
