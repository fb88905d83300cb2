"""The organisers' view of delegates' money: registrations, their payments, refunds and invoices, and the actions
on them (mark an invoice paid, credit it, approve or reject, cancel under the refund policy).

Organisers only (staff get 403, anonymous browsers are sent to /login). Every form posts with the CSRF token;
a service's refusal (errors.DomainError) shows on the registration's page with its status code, and a done
action redirects (303) back to the page with `?done=<what>`, shown in a role="status" notice.

Mount `routes` in the app next to `console.routes`.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from conference import balances, delegates, personal_data, places
from conference import registration as bookings
from conference.console.login import LoginRequired, require_console
from conference.core import audit, errors
from conference.core.audit import Actor
from conference.core.formats import day, money, when
from conference.core.models import (
    METHOD_LABELS,
    SECTOR_LABELS,
    STATUS_LABELS,
    Conference,
    Invoice,
    Registration,
    Status,
    TicketType,
    utcnow,
)
from conference.invoices import invoicing
from conference.payments import checkout, records
from conference.web.request import database, mail, settings
from conference.web.templating import form_values, render

PER_PAGE = 50
UK = ZoneInfo("Europe/London")
MAX_QUERY = 200
MAX_REASON = 500

PAYMENT_STATES = {
    "outstanding": "Money outstanding",
    "paid": "Paid (card or invoice)",
    "refunded": "Refunded or credited",
    "free": "Nothing to pay",
}
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
_REFERENCE = re.compile(r"[A-Za-z0-9-]{1,40}")
_WHY = re.compile(r"[a-z_]{1,40}")


FORMAT = {
    "money": money,
    "when": when,
    "day": day,
    "status_labels": STATUS_LABELS,
    "method_labels": METHOD_LABELS,
    "sector_labels": SECTOR_LABELS,
}


# --- access -----------------------------------------------------------------------------------------------


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


async def _organiser(request: Request, back: str | None = None) -> Actor:
    """The signed-in organiser; a browser that is not signed in goes to /login and then to `back` (a page it can
    GET: a form's POST path would answer 405 after signing in)."""
    try:
        return await require_console(request, "organiser")
    except LoginRequired:
        raise LoginRequired(back or _here(request)) from None


def _registration_id(request: Request) -> uuid.UUID:
    value = request.path_params["registration_id"]  # the route's uuid convertor has parsed it
    assert isinstance(value, uuid.UUID)
    return value


def _invoice_id(request: Request) -> uuid.UUID:
    value = request.path_params["invoice_id"]
    assert isinstance(value, uuid.UUID)
    return value


def _detail_path(registration_id: uuid.UUID) -> str:
    return f"/console/registrations/{registration_id}"


# --- the list ----------------------------------------------------------------------------------------------


def _filters(request: Request) -> dict[str, Any]:
    params = request.query_params
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


def _where(conference_id: int, f: dict[str, Any]) -> list[Any]:
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
    """What the list says after a bulk decision (console_delegates.decide_many's redirect): how many, which not."""
    decided = params.get("decided", "")
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
    actor = await _organiser(request)
    f = _filters(request)
    async with database(request).read() as db:
        conference = await places.get_conference(db)
        assert conference.id is not None
        where = _where(conference.id, f)
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
            **FORMAT,
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


# --- one registration --------------------------------------------------------------------------------------


async def _registration_context(db: AsyncSession, registration_id: uuid.UUID) -> dict[str, Any]:
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
        **FORMAT,
        "r": r,
        "conference": conference,
        "ticket": ticket,
        "payments": money_view["payments"],
        "refunds": money_view["refunds"],
        "invoices": invoices,
        "outstanding": balances.outstanding_pence(r, ticket, issued),
        "ticket_gross": checkout.gross_pence(ticket),
    }


async def registration_page(
    request: Request, *, problem: errors.DomainError | None = None, status_code: int = 200
) -> Response:
    actor = await _organiser(request, _detail_path(_registration_id(request)))
    async with database(request).read() as db:
        context = await _registration_context(db, _registration_id(request))
    async with database(request).transaction() as db:
        await audit.record(db, "conference.registration.viewed", actor=actor, subject=context["r"].reference)
    done = request.query_params.get("done", "")
    return render(
        request,
        "console/registration.html",
        {
            **context,
            "message": DONE.get(done, "") if problem is None else "",
            "problem": problem,
        },
        status_code=status_code,
    )


async def show_registration(request: Request) -> Response:
    return await registration_page(request)


Action = Callable[[AsyncSession, dict[str, str], Actor], Awaitable[str]]


async def _act(
    request: Request,
    action: Action,
    on_error: Callable[[errors.DomainError, dict[str, str]], Awaitable[Response]] | None = None,
) -> Response:
    """Run one form's change in a transaction, then back to the registration's page with `?done=<what>`.

    A service's refusal shows on the page (or on `on_error`'s) with its status code; nothing is changed."""
    registration_id = _registration_id(request)
    actor = await _organiser(request, _detail_path(registration_id))
    values = await form_values(request)
    try:
        async with database(request).transaction() as db:
            done = await action(db, values, actor)
    except errors.DomainError as exc:
        if isinstance(
            exc, (errors.Unauthorised, errors.Forbidden, errors.RateLimited, errors.ServiceUnavailable)
        ):
            raise
        if on_error is not None:
            return await on_error(exc, values)
        return await registration_page(request, problem=exc, status_code=exc.status_code)
    mail(request).wake()
    target = request.url_for("console-registration", registration_id=registration_id)
    return RedirectResponse(target.include_query_params(done=done), 303)


async def _own_invoice(db: AsyncSession, registration_id: uuid.UUID, invoice_id: uuid.UUID) -> Invoice:
    invoice = await db.get(Invoice, invoice_id)
    if invoice is None or invoice.registration_id != registration_id:
        raise errors.NotFound("This registration has no invoice with this id.")
    return invoice


async def mark_invoice_paid(request: Request) -> Response:
    registration_id, invoice_id = _registration_id(request), _invoice_id(request)

    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        await _own_invoice(db, registration_id, invoice_id)
        await invoicing.mark_paid(db, settings(request), invoice_id=invoice_id, actor=actor)
        return "paid"

    return await _act(request, action)


async def _credit_page(
    request: Request,
    *,
    values: dict[str, str] | None = None,
    form_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    registration_id, invoice_id = _registration_id(request), _invoice_id(request)
    await _organiser(request, _detail_path(registration_id))
    async with database(request).read() as db:
        context = await _registration_context(db, registration_id)
        invoice = await _own_invoice(db, registration_id, invoice_id)
    if invoice.kind != "invoice" or invoice.status == "credited":
        refusal = invoicing.NotAnInvoice() if invoice.kind != "invoice" else invoicing.AlreadyCredited()
        return await registration_page(request, problem=refusal, status_code=refusal.status_code)
    return render(
        request,
        "console/credit.html",
        {
            **context,
            "invoice": invoice,
            "values": values or {"cancel_registration": "yes"},
            "errors": form_errors or {},
            "max_reason": MAX_REASON,
        },
        status_code=status_code,
    )


async def credit_invoice_confirm(request: Request) -> Response:
    return await _credit_page(request)


async def credit_invoice(request: Request) -> Response:
    """Credit the invoice; unless the form says otherwise, also cancel the registration (as the API does)."""
    registration_id, invoice_id = _registration_id(request), _invoice_id(request)
    s = settings(request)

    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        reason = values.get("reason", "").strip()
        if len(reason) > MAX_REASON:
            raise errors.InvalidInput(fields={"reason": f"Use at most {MAX_REASON} characters."})
        cancel = values.get("cancel_registration", "yes") != "no"
        await _own_invoice(db, registration_id, invoice_id)
        _note, _r, cancelled = await bookings.credit_invoice(
            db, settings=s, invoice_id=invoice_id, actor=actor, reason=reason, cancel=cancel
        )
        return "credited_cancelled" if cancelled else "credited"

    async def on_error(exc: errors.DomainError, values: dict[str, str]) -> Response:
        if isinstance(exc, errors.InvalidInput) and exc.fields and set(exc.fields) <= {"reason"}:
            return await _credit_page(
                request, values=values, form_errors=dict(exc.fields), status_code=exc.status_code
            )
        return await registration_page(request, problem=exc, status_code=exc.status_code)

    return await _act(request, action, on_error)


async def _decide(request: Request, approve: bool) -> Response:
    registration_id = _registration_id(request)

    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        await bookings.decide_approval(
            db, settings=settings(request), registration_id=registration_id, approve=approve, actor=actor
        )
        return "approved" if approve else "rejected"

    return await _act(request, action)


async def approve(request: Request) -> Response:
    return await _decide(request, True)


async def reject(request: Request) -> Response:
    return await _decide(request, False)


async def cancel_confirm(request: Request) -> Response:
    registration_id = _registration_id(request)
    await _organiser(request, _detail_path(registration_id))
    async with database(request).read() as db:
        context = await _registration_context(db, registration_id)
    if context["r"].status == Status.cancelled:
        return await registration_page(request, problem=errors.AlreadyCancelled(), status_code=409)
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
    registration_id = _registration_id(request)

    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        # The organiser's Actor makes the cancel_reason "organiser": the refund/credit policy applies.
        await bookings.cancel_registration(
            db, settings=settings(request), registration_id=registration_id, actor=actor
        )
        return "cancelled"

    return await _act(request, action)


async def erase_confirm(request: Request) -> Response:
    registration_id = _registration_id(request)
    await _organiser(request, _detail_path(registration_id))
    async with database(request).read() as db:
        context = await _registration_context(db, registration_id)
    if context["r"].erased_at is not None:
        return await registration_page(request, problem=personal_data.AlreadyErased(), status_code=409)
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
    registration_id = _registration_id(request)

    async def action(db: AsyncSession, values: dict[str, str], actor: Actor) -> str:
        result = await personal_data.erase(
            db, settings=settings(request), registration_id=registration_id, actor=actor, reason="organiser"
        )
        if result.already:
            raise personal_data.AlreadyErased()
        return "erased"

    return await _act(request, action)


async def invoice_pdf(request: Request) -> Response:
    invoice_id = _invoice_id(request)
    actor = await _organiser(request)
    async with database(request).read() as db:
        invoice, pdf = await invoicing.pdf_for(db, settings(request), invoice_id)
    async with database(request).transaction() as db:
        await audit.record(db, "conference.invoice.downloaded", actor=actor, subject=invoice.number)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "content-disposition": f'attachment; filename="{invoice.number}.pdf"',
            "cache-control": "private, no-store",
        },
    )


_ONE = "/console/registrations/{registration_id:uuid}"
_INVOICE = _ONE + "/invoices/{invoice_id:uuid}"

routes = [
    Route("/console/registrations", registrations_page, methods=["GET"], name="console-registrations"),
    Route(_ONE, show_registration, methods=["GET"], name="console-registration"),
    Route(_ONE + "/approve", approve, methods=["POST"], name="console-registration-approve"),
    Route(_ONE + "/reject", reject, methods=["POST"], name="console-registration-reject"),
    Route(_ONE + "/cancel", cancel_confirm, methods=["GET"], name="console-registration-cancel-confirm"),
    Route(_ONE + "/cancel", cancel, methods=["POST"], name="console-registration-cancel"),
    Route(_ONE + "/erase", erase_confirm, methods=["GET"], name="console-registration-erase-confirm"),
    Route(_ONE + "/erase", erase, methods=["POST"], name="console-registration-erase"),
    Route(_INVOICE + "/paid", mark_invoice_paid, methods=["POST"], name="console-invoice-paid"),
    Route(
        _INVOICE + "/credit", credit_invoice_confirm, methods=["GET"], name="console-invoice-credit-confirm"
    ),
    Route(_INVOICE + "/credit", credit_invoice, methods=["POST"], name="console-invoice-credit"),
    Route(
        "/console/invoices/{invoice_id:uuid}.pdf", invoice_pdf, methods=["GET"], name="console-invoice-pdf"
    ),
]
