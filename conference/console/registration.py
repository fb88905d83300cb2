"""One registration in the organisers' console: its page (the delegate, payments, refunds and invoices) and the
actions on it: mark an invoice paid, credit it, approve or reject, cancel under the refund policy, erase the
delegate's personal data, download an invoice.

Organisers only (staff get 403, anonymous browsers are sent to /login and back to the page). Forms run through
conference/web/forms.py's `act`: a service's refusal (errors.DomainError) shows on the registration's page with
its status code, and a done action redirects (303) back to the page with `?done=<what>`, whose sentence in DONE
shows in a role="status" notice. The list of registrations is conference/console/registrations.py.
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference import answers, balances, decisions, personal_data
from conference.console.login import require_console
from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.code_models import Code
from conference.core.formats import conference_zone
from conference.core.models import Conference, Invoice, Registration, Status, TicketType, utcnow
from conference.invoices import invoicing
from conference.payments import records
from conference.questions import all_questions
from conference.web.downloads import private_file
from conference.web.forms import Action, OnError, act, done_message
from conference.web.request import database, settings
from conference.web.templating import render

MAX_REASON = 500
DONE = {
    "paid": "The invoice is marked paid.",
    "credited": "The invoice is credited; the credit note has been emailed to the billing contact.",
    "credited_cancelled": "The invoice is credited and the registration cancelled; the credit note has been emailed "
    "to the billing contact.",
    "approved": "The registration is approved and the delegate emailed.",
    "rejected": "The registration is rejected and the delegate emailed.",
    "cancelled": "The registration is cancelled: the refund policy has been applied and the delegate emailed.",
    "erased": "The delegate's personal data is erased; payments, invoices and anonymous counts are kept.",
    "edited": "The delegate's details are saved.",
    "unchanged": "Nothing was changed: the details were already as given.",
    "substituted": "The place is transferred: the new delegate has been emailed the confirmation with a new manage "
    "link, and the previous delegate told; the old link and badge no longer work.",
    "resent_confirmation": "The confirmation, with the manage link, is on its way to the delegate again.",
    "resent_invoice": "The latest invoice is on its way to the billing contact again.",
}


# --- access -----------------------------------------------------------------------------------------------


def registration_id(request: Request) -> uuid.UUID:
    value = request.path_params["registration_id"]  # the route's uuid convertor has parsed it
    assert isinstance(value, uuid.UUID)
    return value


def _invoice_id(request: Request) -> uuid.UUID:
    value = request.path_params["invoice_id"]
    assert isinstance(value, uuid.UUID)
    return value


def detail_path(registration_id: uuid.UUID) -> str:
    return f"/console/registrations/{registration_id}"


async def organiser(request: Request) -> Actor:
    """The signed-in organiser; a browser that is not signed in comes back to the registration's page."""
    return await require_console(request, "organiser", back=detail_path(registration_id(request)))


# --- the page ----------------------------------------------------------------------------------------------


async def registration_context(db: AsyncSession, registration_id: uuid.UUID) -> dict[str, Any]:
    r = await db.get(Registration, registration_id)
    if r is None:
        raise errors.NotFound("No registration has this id.")
    conference = await db.get(Conference, r.conference_id)
    ticket = await db.get(TicketType, r.ticket_type_id)
    assert conference is not None and ticket is not None
    money_view = await records.payments_view(db, r.id)
    invoices = await invoicing.invoices_public(db, r.id)
    issued = sum(i["gross_pence"] for i in invoices if i["kind"] == "invoice" and i["status"] == "issued")
    return {
        # The registration questions' answers, each as given (with the wording it was asked in, if reworded since).
        "answers": answers.rows(await all_questions(db), r.answers),
        "r": r,
        "conference": conference,
        "ticket": ticket,
        "payments": money_view["payments"],
        "refunds": money_view["refunds"],
        # Refunds that ended without the delegate getting the money back: organisers must settle these by hand.
        "failed_refunds": [f for f in money_view["refunds"] if f["status"] in ("failed", "canceled")],
        "invoices": invoices,
        "outstanding": balances.outstanding_pence(r, ticket, issued),
        # The code it was booked with (conference/codes.py), if any, and the net price that code set.
        "code": await db.get(Code, r.code_id) if r.code_id else None,
    }


async def registration_page(
    request: Request, *, problem: errors.DomainError | None = None, status_code: int = 200
) -> Response:
    actor = await organiser(request)
    async with database(request).read() as db:
        context = await registration_context(db, registration_id(request))
    async with database(request).transaction() as db:
        await audit.record(db, "conference.registration.viewed", actor=actor, subject=context["r"].reference)
    return render(
        request,
        "console/registration.html",
        {
            **context,
            "message": done_message(request, DONE) if problem is None else "",
            "problem": problem,
        },
        status_code=status_code,
    )


async def show_registration(request: Request) -> Response:
    return await registration_page(request)


async def show_problem(request: Request, exc: errors.DomainError) -> Response:
    """A refusal, on the registration's page."""
    return await registration_page(request, problem=exc, status_code=exc.status_code)


async def act_on_registration(request: Request, action: Action, on_error: OnError | None = None) -> Response:
    """Run one form's change on this registration; then back to its page with `?done=<what>`. A refusal shows
    on the page (or on `on_error`'s)."""

    async def on_the_page(exc: errors.DomainError, values: dict[str, str]) -> Response:
        return await show_problem(request, exc)

    return await act(
        request,
        action,
        actor=await organiser(request),
        back=request.url_for("console-registration", registration_id=registration_id(request)),
        on_error=on_error or on_the_page,
    )


# --- actions -----------------------------------------------------------------------------------------------


async def _own_invoice(db: AsyncSession, registration_id: uuid.UUID, invoice_id: uuid.UUID) -> Invoice:
    invoice = await db.get(Invoice, invoice_id)
    if invoice is None or invoice.registration_id != registration_id:
        raise errors.NotFound("This registration has no invoice with this id.")
    return invoice


_POUNDS = re.compile(r"£?\s*(\d{1,7})(?:\.(\d{1,2}))?")
PAID_FIELDS = {
    "paid_on": "paid_on",
    "amount_pence": "amount",
    "reference": "reference",
}  # service's -> form's


def payment_record(values: dict[str, str]) -> tuple[date | None, int | None, str]:
    """The mark-paid form's day, amount (pounds and pence, "540" or "£1,080.50") and reference; blank means
    the default (today, the invoice's total, none). InvalidInput names the form's fields."""
    problems: dict[str, str] = {}
    paid_on: date | None = None
    amount: int | None = None
    if raw := values.get("paid_on", "").strip():
        try:
            paid_on = date.fromisoformat(raw)
        except ValueError:
            problems["paid_on"] = "Enter the day the money arrived, like 2026-12-03."
    if raw := values.get("amount", "").strip().replace(",", ""):
        if match := _POUNDS.fullmatch(raw):
            amount = int(match[1]) * 100 + int((match[2] or "0").ljust(2, "0"))
        else:
            problems["amount"] = "Enter the amount received in pounds, like 540.00."
    reference = values.get("reference", "").strip()
    if problems:
        raise errors.InvalidInput(fields=problems)
    return paid_on, amount, reference


async def _invoice_page(
    request: Request,
    form: Literal["paid", "credit"],
    *,
    values: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The form that marks an invoice paid or credits it, or the reason it cannot be used on this invoice."""
    this, invoice_id = registration_id(request), _invoice_id(request)
    await organiser(request)
    async with database(request).read() as db:
        context = await registration_context(db, this)
        invoice = await _own_invoice(db, this, invoice_id)
    if form == "paid" and (invoice.kind != "invoice" or invoice.status != "issued"):
        refusal: errors.DomainError | None = (
            invoicing.NotAnInvoice()
            if invoice.kind != "invoice"
            else invoicing.AlreadyPaid()
            if invoice.status == "paid"
            else invoicing.AlreadyCredited()
        )
    elif form == "credit" and (invoice.kind != "invoice" or invoice.status == "credited"):
        refusal = invoicing.NotAnInvoice() if invoice.kind != "invoice" else invoicing.AlreadyCredited()
    else:
        refusal = None
    if refusal is not None:
        return await show_problem(request, refusal)
    if form == "paid":
        today = utcnow().astimezone(conference_zone(context["conference"])).date()
        defaults = {
            "paid_on": today.isoformat(),
            "amount": f"{invoice.gross_pence / 100:.2f}",
            "reference": "",
        }
        template = "console/invoice_paid.html"
        extra = {
            "today": today,
            "values": values if values is not None else defaults,
            "max_reference": invoicing.MAX_PAYMENT_REFERENCE,
        }
    else:
        template = "console/credit.html"
        extra = {"values": values or {"cancel_registration": "yes"}, "max_reason": MAX_REASON}
    return render(
        request,
        template,
        {**context, "invoice": invoice, **extra, "errors": problems or {}},
        status_code=status_code,
    )


async def mark_invoice_paid_form(request: Request) -> Response:
    return await _invoice_page(request, "paid")


async def mark_invoice_paid(request: Request) -> Response:
    """Record the payment as the form gives it: the day, the amount and the bank's reference."""
    this, invoice_id = registration_id(request), _invoice_id(request)

    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        paid_on, amount, reference = payment_record(values)
        await _own_invoice(db, this, invoice_id)
        await invoicing.mark_paid(
            db,
            settings(request),
            invoice_id=invoice_id,
            actor=actor,
            paid_on=paid_on,
            amount_pence=amount,
            reference=reference,
        )
        return "paid"

    async def on_error(exc: errors.DomainError, values: dict[str, str]) -> Response:
        if isinstance(exc, errors.InvalidInput) and exc.fields:
            problems = {PAID_FIELDS.get(k, k): v for k, v in exc.fields.items()}
            if set(problems) <= set(PAID_FIELDS.values()):
                return await _invoice_page(
                    request, "paid", values=values, problems=problems, status_code=exc.status_code
                )
        return await show_problem(request, exc)

    return await act_on_registration(request, action, on_error)


async def credit_invoice_confirm(request: Request) -> Response:
    return await _invoice_page(request, "credit")


async def credit_invoice(request: Request) -> Response:
    """Credit the invoice; unless the form says otherwise, also cancel the registration (as the API does)."""
    this, invoice_id = registration_id(request), _invoice_id(request)
    s = settings(request)

    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        reason = values.get("reason", "").strip()
        if len(reason) > MAX_REASON:
            raise errors.InvalidInput(fields={"reason": f"Use at most {MAX_REASON} characters."})
        cancel = values.get("cancel_registration", "yes") != "no"
        await _own_invoice(db, this, invoice_id)
        _note, _r, cancelled = await decisions.credit_invoice(
            db, settings=s, invoice_id=invoice_id, actor=actor, reason=reason, cancel=cancel
        )
        return "credited_cancelled" if cancelled else "credited"

    async def on_error(exc: errors.DomainError, values: dict[str, str]) -> Response:
        if isinstance(exc, errors.InvalidInput) and exc.fields and set(exc.fields) <= {"reason"}:
            return await _invoice_page(
                request, "credit", values=values, problems=dict(exc.fields), status_code=exc.status_code
            )
        return await show_problem(request, exc)

    return await act_on_registration(request, action, on_error)


async def _decide(request: Request, approve: bool) -> Response:
    this = registration_id(request)

    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        await decisions.decide_approval(
            db, settings=settings(request), registration_id=this, approve=approve, actor=actor
        )
        return "approved" if approve else "rejected"

    return await act_on_registration(request, action)


async def approve(request: Request) -> Response:
    return await _decide(request, True)


async def reject(request: Request) -> Response:
    return await _decide(request, False)


async def cancel_confirm(request: Request) -> Response:
    this = registration_id(request)
    await organiser(request)
    async with database(request).read() as db:
        context = await registration_context(db, this)
    if context["r"].status == Status.cancelled:
        return await show_problem(request, errors.AlreadyCancelled())
    conference: Conference = context["conference"]
    policy_applies = conference.refund_full_until is None or utcnow() <= conference.refund_full_until
    refundable = sum(
        p["amount_pence"] - p["refunded_pence"] for p in context["payments"] if p["status"] == "paid"
    )
    open_invoices = [
        i for i in context["invoices"] if i["kind"] == "invoice" and i["status"] in invoicing.OPEN
    ]
    return render(
        request,
        "console/cancel.html",
        {
            **context,
            "policy_applies": policy_applies,
            "refundable": refundable,
            "open_invoices": open_invoices,
        },
    )


async def cancel(request: Request) -> Response:
    this = registration_id(request)

    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        # The organiser's Actor makes the cancel_reason "organiser": the refund/credit policy applies.
        await decisions.cancel_registration(db, settings=settings(request), registration_id=this, actor=actor)
        return "cancelled"

    return await act_on_registration(request, action)


async def erase_confirm(request: Request) -> Response:
    this = registration_id(request)
    await organiser(request)
    async with database(request).read() as db:
        context = await registration_context(db, this)
    if context["r"].erased_at is not None:
        return await show_problem(request, personal_data.AlreadyErased())
    return render(
        request,
        "console/erase.html",
        {
            **context,
            "will_cancel": personal_data.will_cancel(context["r"], context["conference"]),
            "policy_applies": personal_data.refund_policy_applies(context["conference"]),
        },
    )


async def erase(request: Request) -> Response:
    this = registration_id(request)

    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        result = await personal_data.erase(
            db, settings=settings(request), registration_id=this, actor=actor, reason="organiser"
        )
        if result.already:
            raise personal_data.AlreadyErased()
        return "erased"

    return await act_on_registration(request, action)


async def invoice_pdf(request: Request) -> Response:
    invoice_id = _invoice_id(request)
    actor = await require_console(request, "organiser")
    async with database(request).read() as db:
        invoice, pdf = await invoicing.pdf_for(db, settings(request), invoice_id)
    async with database(request).transaction() as db:
        await audit.record(db, "conference.invoice.downloaded", actor=actor, subject=invoice.number)
    return private_file(pdf, f"{invoice.number}.pdf", "application/pdf")


ONE = "/console/registrations/{registration_id:uuid}"
_INVOICE = ONE + "/invoices/{invoice_id:uuid}"

routes = [
    Route(ONE, show_registration, methods=["GET"], name="console-registration"),
    Route(ONE + "/approve", approve, methods=["POST"], name="console-registration-approve"),
    Route(ONE + "/reject", reject, methods=["POST"], name="console-registration-reject"),
    Route(ONE + "/cancel", cancel_confirm, methods=["GET"], name="console-registration-cancel-confirm"),
    Route(ONE + "/cancel", cancel, methods=["POST"], name="console-registration-cancel"),
    Route(ONE + "/erase", erase_confirm, methods=["GET"], name="console-registration-erase-confirm"),
    Route(ONE + "/erase", erase, methods=["POST"], name="console-registration-erase"),
    Route(_INVOICE + "/paid", mark_invoice_paid_form, methods=["GET"], name="console-invoice-paid-form"),
    Route(_INVOICE + "/paid", mark_invoice_paid, methods=["POST"], name="console-invoice-paid"),
    Route(
        _INVOICE + "/credit", credit_invoice_confirm, methods=["GET"], name="console-invoice-credit-confirm"
    ),
    Route(_INVOICE + "/credit", credit_invoice, methods=["POST"], name="console-invoice-credit"),
    Route(
        "/console/invoices/{invoice_id:uuid}.pdf", invoice_pdf, methods=["GET"], name="console-invoice-pdf"
    ),
]
