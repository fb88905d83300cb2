"""HTML pages for delegates: the event and its registration form, the confirmation, the manage page.

They work without JavaScript; forms carry a CSRF token (conference.web.templating) and re-render with an error
summary that links to each field.
"""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from conference import answers, codes, decisions, personal_data, places, registration, self_service
from conference.core import errors, hooks, registration_window
from conference.core.audit import Actor
from conference.core.group_models import GroupBooking
from conference.core.models import REGIONS, SECTOR_LABELS, PaymentMethod, Status, TicketType, utcnow
from conference.core.schemas import BillingDetails, RegistrationCreate, ResendLink
from conference.invoices import invoicing
from conference.payments import gateway, records
from conference.questions import all_questions
from conference.web import downloads
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
        asked = await all_questions(db, include_hidden=False)
    # The registration questions for the ticket types on offer; one asked of some types only says which (the page
    # has no script to show it only when they are chosen, and the answer is checked for the chosen type).
    names = {str(t.id): t.name for t, _ in types}
    shown = [q for q in asked if not q.ticket_type_ids or any(t in names for t in q.ticket_type_ids)]
    notes = {
        str(q.id): "Only for " + " and ".join(names[t] for t in q.ticket_type_ids if t in names) + " tickets."
        for q in shown
        if q.ticket_type_ids
    }
    return {
        "questions": shown,
        "question_notes": notes,
        "answer_values": {},
        "conference": conf,
        # The switch and the window on the clock now: the form opens and closes by itself (core/registration_window).
        "registration_state": registration_window.state_of(conf).value,
        "seen": seen,
        "ticket_types": types,
        "sectors": SECTOR_LABELS,
        "regions": REGIONS,
        "labels": {**FIELD_LABELS, **{answers.form_field(q): q.label for q in shown}},
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
    priced = {str(t.id): t for t, _ in context["ticket_types"] if t.price_pence}
    # The payment section applies to a priced ticket only: a free ticket's form never asks for it, whatever it sent.
    paying = priced.get(str(data["ticket_type_id"]))
    code_problems, free = await _code_preview(request, context, data)
    if free:
        paying = None  # a code that makes the place free: no payment section, whatever it sent
    if values.get("payment_method") and paying is not None:
        data["payment_method"] = values["payment_method"]
        if values["payment_method"] == "invoice":
            data["billing"] = {k: values.get(f"billing_{k}", "") for k in BILLING_FIELDS}
    # Every field is checked in one pass, so the summary lists every problem at once (issue 18: an empty form
    # used to show 2 of its 6 problems, then the other 4 once those were fixed).
    problems: dict[str, str] = {}
    parsed: RegistrationCreate | None = None
    try:
        parsed = RegistrationCreate.model_validate(data)
    except ValidationError as exc:
        problems = _form_fields(errors.from_validation_error(exc).fields or {})
    # The form's own words for its two choices (the API's point at the ids to look up).
    if "ticket_type_id" in problems or not data["ticket_type_id"]:
        problems["ticket_type_id"] = "Choose a ticket type."
    if "sector" in problems or not data["sector"]:
        problems["sector"] = "Choose the sector you work in."
    if paying is not None:
        problems.update(_payment_problems(request, paying, data, problems))
    # The answers, checked with everything else (all problems at once) for the ticket type chosen.
    form = await request.form()
    chosen = str(data["ticket_type_id"]) or None
    data["answers"] = answers.form_answers(context["questions"], form, chosen)
    try:
        answers.check_answers(context["questions"], ticket_type_id=chosen, given=data["answers"])
    except errors.InvalidInput as exc:
        problems.update(_form_fields(exc.fields or {}))
    problems.update(code_problems)
    problems.update(refused)
    answer_values = answers.form_state(context["questions"], form)
    if not problems and parsed is not None:
        parsed = parsed.model_copy(update={"answers": data["answers"]})
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
                    "answer_values": answer_values,
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
    ordered = {k: problems[k] for k in sorted(problems, key=_field_position)}
    context = await _page_context(request)  # again: the places left may have changed meanwhile
    return render(
        request,
        "conference/register.html",
        {**context, "values": values, "answer_values": answer_values, "errors": ordered},
        status_code=422,
    )


async def _code_preview(
    request: Request, context: dict[str, Any], data: dict[str, Any]
) -> tuple[dict[str, str], bool]:
    """The code's problems, shown with the rest (all at once), and whether it makes the chosen ticket free (then
    no payment details are asked). Only a preview without the lock: the registration redeems it under the lock."""
    chosen = next((t for t, _ in context["ticket_types"] if str(t.id) == str(data["ticket_type_id"])), None)
    if not data.get("code") or chosen is None:
        return {}, False
    async with database(request).read() as db:
        try:
            found = await codes.redeem(
                db, conference=context["conference"], text=str(data["code"]), ticket=chosen
            )
        except errors.InvalidInput as exc:
            return _form_fields(exc.fields or {}), False
    return {}, found.sets_price and found.price_pence(chosen.price_pence) == 0


def _payment_problems(
    request: Request, ticket: TicketType, data: dict[str, Any], found: dict[str, str]
) -> dict[str, str]:
    """The payment's own problems for a priced ticket (registration.payment_method's rules: a method the ticket
    takes, billing details for an invoice), found with the rest rather than after them. Nothing when the
    method or the billing details are already refused field by field."""
    if "payment_method" in found or any(k.startswith("billing_") for k in found):
        return {}
    billing = BillingDetails.model_validate(data["billing"]) if data.get("billing") else None
    method = PaymentMethod(data["payment_method"]) if data.get("payment_method") else None
    # Only the payment's two fields are read (the rest was checked above, or is refused already).
    fields: dict[str, Any] = {"payment_method": method, "billing": billing}
    chosen = RegistrationCreate.model_construct(**fields)
    try:
        registration.payment_method(settings(request), ticket, chosen)
    except errors.InvalidInput as exc:
        return _form_fields(exc.fields or {})
    return {}


def _field_position(name: str) -> float:
    # The form's order: the questions come just before the consent (in their own order: a stable sort).
    if name in FIELD_ORDER:
        return FIELD_ORDER.index(name)
    return FIELD_ORDER.index("consent") - 0.5 if name.startswith("answers_") else 99


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
        # The "Lost your link?" page, with the problem in its error summary and what was typed kept.
        return render(
            request,
            "conference/lost_link.html",
            {
                "values": {"email": values.get("email", "")},
                "errors": {"lost-link-email": "Enter an email address like name@council.gov.uk."},
            },
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
            raise self_service.InvalidManageLink()  # its page has the "Lost your link?" form
        conf = await places.get_conference(db)
        position = await places.waitlist_position(db, r)
        ticket = await db.get(TicketType, r.ticket_type_id)
    return r, conf, position, ticket


async def manage(request: Request) -> Response:
    r, conf, position, ticket = await by_token(request)
    async with database(request).read() as db:
        money = await records.payments_view(db, r.id)
        invoices = await invoicing.invoices_for(db, r.id)
        every = await all_questions(db)
        # The e-ticket's QR (badges/ticket.py, through the hook): inline SVG drawn from the badge code alone.
        ticket_qr = await hooks.ticket_qr(db, settings(request), r)
        # A member of a group booking: the group's lead pays for the place (conference/groups.py), not the member.
        group = await db.get(GroupBooking, r.group_id) if r.group_id is not None else None
    return render(
        request,
        "conference/manage.html",
        {
            "r": r,
            "group": group,
            "conference": conf,
            # After the event: its certificate, feedback and library first; no ticket, no cancelling.
            "event_over": conf.ends_at <= utcnow(),
            "position": position,
            "ticket": ticket,
            "invoices": invoices,
            "payments": money["payments"],
            "status_text": STATUS_TEXT[r.status],
            "new": request.query_params.get("new") == "1",
            "verify_sent": request.query_params.get("verify") == "sent",
            "token": request.path_params["token"],
            "ticket_qr": Markup(ticket_qr) if ticket_qr else None,
            "ticket_path": hooks.ticket_path(request.path_params["token"]),
            "sectors": SECTOR_LABELS,
            # The registration questions: the answers given (as given), and whether they may still be changed.
            "answers": answers.rows(every, r.answers),
            "answers_asked": bool(answers.asked_of(every, r.ticket_type_id)),
            "answers_open": answers.can_change(r, conf),
            "answers_until": answers.editable_until(conf),
            "answers_saved": request.query_params.get("answers") == "saved",
            # Self-service (pages/self_service.py): details and the place itself, until the same deadline.
            "changes_open": self_service.can_change(r, conf),
            "changes_until": self_service.editable_until(conf),
            # Back from the details form (pages/self_service.py): "saved", or "email" when the address changed.
            "details_saved": request.query_params.get("details", ""),
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
    if r.group_id is not None:  # the group's lead pays for every member's place, from the group's page
        return render(
            request,
            "conference/message.html",
            {
                "title": "Your group's organiser pays for your place",
                "text": "Your place is part of a group booking: its organiser pays for it, so there is nothing "
                "for you to pay.",
                "back": str(request.url_for("manage", token=request.path_params["token"])),
            },
            status_code=409,
        )
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
    return await downloads.invoice_pdf(
        request, owned=lambda invoice: invoice.registration_id == r.id, not_owned="No invoice has this id."
    )


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
